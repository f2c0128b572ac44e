"""The mission report: summary.json, report.png and a self-contained report.html.

matplotlib with the Agg backend (no display). Mission figures are judged against
simulator truth, so the title and the table put the rover's own tally (the executive's
/mission/status) beside the simulator's (/sim/regolith: dug, on the berm, spilled, still
in the drums), and masses print in the unit a person reads (``format_mass``: a helium-3
yield is micrograms, not 0.0 kg). The map is drawn in the ``map`` frame (metres,
REP-105), zoomed to where the rover worked with the whole site as an inset: the true
terrain height in colour under a hillshade, the world's true craters and rocks, what the
mapping node believed were hazards, the planner's dig sites, the start, where the rover
actually dug and dumped, the dig and berm zones, and the path driven (ground truth and
odometry). Every curve has a legend entry; node exit codes and fault events (summary
``fault_events``: a list of {t, kind, detail}) are listed under the table. The world is
passed in as a ``Terrain`` so that the report needs nothing but arrays
(``terrain_from_world`` adapts a mining_rover.sim.world WorldSpec).
"""
from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mining_rover.runner.timeline import Timeline, lunabotics_scores


@dataclass
class Terrain:
    """True terrain for the map panel. heights[iy, ix] in metres, row 0 at the lowest y;
    origin_xy is the corner of cell (0, 0) in the map frame."""
    heights: np.ndarray | None = None
    resolution_m: float = 1.0
    origin_xy: tuple = (0.0, 0.0)
    craters: list = field(default_factory=list)   # (x, y, radius_m)
    rocks: list = field(default_factory=list)     # (x, y, radius_m)
    dig_zone: tuple | None = None                 # (x, y, radius_m)
    berm_zone: tuple | None = None                # (x, y, radius_m)
    start_xy_yaw: tuple | None = None

    def extent(self):
        if self.heights is None:
            return None
        ny, nx = self.heights.shape
        x0, y0 = self.origin_xy
        return (x0, x0 + nx * self.resolution_m, y0, y0 + ny * self.resolution_m)


def _circle(item) -> tuple | None:
    """(x, y, radius) of a crater/rock record, whatever shape the world module gives."""
    for names in (('x', 'y'), ('cx', 'cy')):
        if all(hasattr(item, n) for n in names):
            x, y = (float(getattr(item, n)) for n in names)
            break
    else:
        centre = getattr(item, 'centre_xy', None) or getattr(item, 'center_xy', None) \
            or getattr(item, 'xy', None)
        if centre is not None:
            x, y = float(centre[0]), float(centre[1])
        elif isinstance(item, (tuple, list)) and len(item) >= 3:
            return float(item[0]), float(item[1]), float(item[2])
        elif isinstance(item, dict):
            c = item.get('centre_xy') or item.get('center_xy') or (item.get('x'), item.get('y'))
            r = (item.get('radius_m') or item.get('radius')
                 or 0.5 * (item.get('diameter_m') or item.get('diameter') or 0.0))
            return float(c[0]), float(c[1]), float(r)
        else:
            return None
    for name in ('radius_m', 'radius', 'rim_radius_m'):
        if hasattr(item, name):
            return x, y, float(getattr(item, name))
    for name in ('diameter_m', 'diameter', 'size_m', 'size'):
        if hasattr(item, name):
            return x, y, 0.5 * float(getattr(item, name))
    if hasattr(item, 'height_m'):
        return x, y, float(item.height_m)
    return x, y, 0.25


def _zone(z) -> tuple | None:
    if z is None:
        return None
    if hasattr(z, 'centre_xy'):
        return float(z.centre_xy[0]), float(z.centre_xy[1]), float(z.radius)
    z = tuple(z)
    if len(z) == 2:  # ((x, y), r)
        return float(z[0][0]), float(z[0][1]), float(z[1])
    return float(z[0]), float(z[1]), float(z[2])


def terrain_from_world(spec) -> Terrain:
    """Adapt a WorldSpec (mining_rover.sim.world) to a Terrain; missing parts are left out."""
    zones = getattr(spec, 'zones', None)
    hazards = getattr(spec, 'hazards', None)
    heights = getattr(spec, 'heights', None)
    origin = getattr(spec, 'origin_xy', (0.0, 0.0))
    return Terrain(
        heights=None if heights is None else np.asarray(heights, dtype=float),
        resolution_m=float(getattr(spec, 'resolution_m', 1.0)),
        origin_xy=(float(origin[0]), float(origin[1])),
        craters=[c for c in (_circle(c) for c in getattr(hazards, 'craters', ()) or ()) if c],
        rocks=[r for r in (_circle(r) for r in getattr(hazards, 'rocks', ()) or ()) if r],
        dig_zone=_zone(getattr(zones, 'dig_zone', None)),
        berm_zone=_zone(getattr(zones, 'berm_zone', None)),
        start_xy_yaw=getattr(zones, 'start_xy_yaw', None),
    )


def hillshade(heights: np.ndarray, resolution_m: float, azimuth_deg: float = 315.0,
              altitude_deg: float = 20.0) -> np.ndarray:
    """Lambertian shading in [0, 1] of a height grid (row 0 = lowest y), sun from
    azimuth (clockwise from +y) and altitude; a low sun as at the lunar poles."""
    h = np.nan_to_num(np.asarray(heights, dtype=float), nan=float(np.nanmean(heights)))
    dz_dy, dz_dx = np.gradient(h, resolution_m)
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(-dz_dx, -dz_dy)  # downhill direction, clockwise from +y
    az, alt = math.radians(azimuth_deg), math.radians(altitude_deg)
    shade = (math.sin(alt) * np.cos(slope)
             + math.cos(alt) * np.sin(slope) * np.cos(az - aspect))
    return np.clip(shade, 0.0, 1.0)


def write_summary(out_dir: Path, summary: dict) -> Path:
    """Write ``summary`` as out_dir/summary.json atomically (temporary file, then rename)."""
    path = Path(out_dir) / 'summary.json'
    tmp = path.with_suffix('.json.tmp')
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False, default=_json_default) + '\n')
    tmp.replace(path)
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, set)):
        return list(o)
    return str(o)


#: Display names of the target resources (planning/resource.py RESOURCES).
RESOURCE_NAMES = {'helium3': 'helium-3', 'rare_earth': 'rare-earth elements',
                  'platinum_group': 'platinum-group metals'}

#: Mass units from large to small: (symbol, kilograms per unit). A mass prints in the
#: largest unit it reaches one of (helium-3 yields are micrograms, not 0.0 kg).
MASS_UNITS = (('kg', 1.0), ('g', 1e-3), ('mg', 1e-6), ('µg', 1e-9))


def format_mass(kg, digits: int = 3) -> str:
    """A mass in kilograms as a person reads it: '16.8 kg', '250 g', '3.2 mg', '45 µg'
    (``digits`` significant digits); '0 kg' for zero, '-' for None, below 1 µg in µg."""
    if kg is None or (isinstance(kg, float) and not math.isfinite(kg)):
        return '-'
    kg = float(kg)
    if kg == 0.0:
        return '0 kg'
    for unit, scale in MASS_UNITS:
        if abs(kg) >= scale:
            break
    return f'{kg / scale:.{digits}g} {unit}'


def resource_name(key) -> str:
    """Human-readable name of a resource key (e.g. 'helium3' -> 'helium-3')."""
    return RESOURCE_NAMES.get(str(key), str(key or 'resource'))


def _fmt_kg(v) -> str:
    return '-' if v is None else f'{v:.2f} kg'


#: (label, rover-tally key, sim-truth key, formatter) of the tally table: the rover's own
#: count beside the simulator's (mission figures are judged against truth).
TALLY_ROWS = (
    ('dug', 'regolith_excavated_kg', 'sim_excavated_kg', _fmt_kg),
    ('taken into the drums (dug less overflow)', 'regolith_excavated_kg', 'sim_taken_kg', _fmt_kg),
    ('delivered to the berm', 'regolith_delivered_kg', 'sim_berm_mass_kg', _fmt_kg),
    ('dumped off the berm zone', 'dumped_outside_kg', 'sim_dumped_outside_kg', _fmt_kg),
    ('spilled', 'haul_spill_kg', 'sim_spilled_kg', _fmt_kg),
    ('still in the drums', None, 'sim_carried_kg', _fmt_kg),
    ('berm volume', 'berm_volume_m3', 'sim_berm_volume_m3',
     lambda v: '-' if v is None else f'{1000 * v:.3g} L'),
    ('hazard contacts', 'hazard_contacts', 'sim_hazard_contacts', lambda v: '-' if v is None else str(v)),
)


def tally_rows(summary: dict) -> list[list[str]]:
    """[label, rover tally, sim truth] rows; the spilled row gives its share of the dug."""
    rows = []
    for label, mine, truth, fmt in TALLY_ROWS:
        t = fmt(summary.get(truth))
        if truth == 'sim_spilled_kg' and summary.get('sim_spilled_fraction') is not None:
            t += f' ({100 * summary["sim_spilled_fraction"]:.0f} % of dug)'
        rows.append([label, fmt(summary.get(mine)) if mine else 'not measured', t])
    rows.append([f"{resource_name(summary.get('target_resource'))} yield",
                 format_mass(summary.get('target_resource_kg')) + ' (estimate)', 'not simulated'])
    return rows


def _zoom_box(terrain: Terrain, timeline: Timeline, pad_m: float = 2.5):
    """(lo, hi) corners of where the rover worked: its path, the zones, the planned dig
    sites, the digs and dumps, padded and made square; None with nothing to show."""
    pts = [(r[1], r[2]) for r in timeline.truth_path]
    pts += [(r[1], r[2]) for r in timeline.odom_path]
    for z in filter(None, (terrain.dig_zone, terrain.berm_zone)):
        pts += [(z[0] - z[2], z[1] - z[2]), (z[0] + z[2], z[1] + z[2])]
    pts += [(m.x, m.y) for m in timeline.dig_sites]
    pts += [(e[1], e[2]) for e in timeline.dig_events + timeline.dump_events]
    if terrain.start_xy_yaw is not None:
        pts.append(tuple(terrain.start_xy_yaw[:2]))
    if not pts:
        return None
    a = np.array(pts, dtype=float)
    lo, hi = a.min(axis=0) - pad_m, a.max(axis=0) + pad_m
    centre, half = (lo + hi) / 2, max(hi - lo) / 2
    lo, hi = centre - half, centre + half
    ext = terrain.extent()
    if ext is not None:   # never zoom out past the site
        lo, hi = np.maximum(lo, (ext[0], ext[2])), np.minimum(hi, (ext[1], ext[3]))
    return lo, hi


def _height_window(terrain: Terrain, lo, hi):
    """(vmin, vmax) of the heights inside the zoom box (2nd-98th percentile), so the
    colour scale shows the relief where the rover worked, not the deepest far crater."""
    h = terrain.heights
    x0, _, y0, _ = terrain.extent()
    ix = slice(max(int((lo[0] - x0) / terrain.resolution_m), 0),
               max(int((hi[0] - x0) / terrain.resolution_m) + 1, 1))
    iy = slice(max(int((lo[1] - y0) / terrain.resolution_m), 0),
               max(int((hi[1] - y0) / terrain.resolution_m) + 1, 1))
    window = h[iy, ix]
    window = window[np.isfinite(window)] if window.size else window
    if window.size == 0:
        window = h[np.isfinite(h)]
    vmin, vmax = np.percentile(window, [2, 98]) if window.size else (0.0, 1.0)
    return float(vmin), float(max(vmax, vmin + 1e-3))


PATH_TRUTH, PATH_ODOM = 'path (ground truth)', 'path (odometry)'


def _draw_terrain(ax, terrain: Terrain, vmin=None, vmax=None, shade_alpha: float = 0.45):
    """Heights in colour under a hillshade; returns the colour image (for a colour bar)."""
    ext = terrain.extent()
    im = ax.imshow(terrain.heights, cmap='gist_earth', origin='lower', extent=ext, vmin=vmin,
                   vmax=vmax, interpolation='bilinear')
    ax.imshow(hillshade(terrain.heights, terrain.resolution_m), cmap='gray', origin='lower', extent=ext,
              vmin=0, vmax=1, alpha=shade_alpha, interpolation='bilinear')
    return im


def _draw_paths(ax, timeline: Timeline, lw: float = 1.4):
    if timeline.truth_path:
        p = np.array([(r[1], r[2]) for r in timeline.truth_path])
        ax.plot(p[:, 0], p[:, 1], '-', c='yellow', lw=lw, zorder=3, label=PATH_TRUTH)
    if timeline.odom_path:
        p = np.array([(r[1], r[2]) for r in timeline.odom_path])
        ax.plot(p[:, 0], p[:, 1], '--', c='cyan', lw=0.7 * lw, zorder=3, label=PATH_ODOM)


def _draw_map(ax, terrain: Terrain, timeline: Timeline, fig=None):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle
    ext = terrain.extent()
    box = _zoom_box(terrain, timeline)
    colour = None
    if ext is not None:
        vmin, vmax = _height_window(terrain, *box) if box is not None else (None, None)
        colour = _draw_terrain(ax, terrain, vmin, vmax)
    else:
        ax.set_facecolor('0.85')
    for x, y, r in terrain.craters:
        ax.add_patch(Circle((x, y), r, fill=False, ec='tab:red', lw=1.2))
    for x, y, r in terrain.rocks:
        ax.add_patch(Circle((x, y), max(r, 0.1), fill=True, fc='tab:red', ec='darkred', alpha=0.7))
    for m in timeline.hazards:
        ax.add_patch(Circle((m.x, m.y), max(0.5 * m.size_m if m.ns == 'craters' else m.size_m, 0.1),
                            fill=False, ec='orange', lw=1.0, ls='--'))
    if terrain.dig_zone:
        x, y, r = terrain.dig_zone
        ax.add_patch(Circle((x, y), r, fill=False, ec='tab:green', lw=1.5, ls=':'))
    if terrain.berm_zone:
        x, y, r = terrain.berm_zone
        ax.add_patch(Circle((x, y), r, fill=True, fc='tab:blue', alpha=0.25, ec='tab:blue', lw=1.5))
    if timeline.dig_sites:
        ax.scatter([m.x for m in timeline.dig_sites], [m.y for m in timeline.dig_sites], marker='^',
                   s=30, c='tab:green', ec='k', lw=0.5, zorder=4)
    _draw_paths(ax, timeline)
    if timeline.dig_events:
        ax.scatter([e[1] for e in timeline.dig_events], [e[2] for e in timeline.dig_events],
                   marker='X', s=70, c='lime', ec='k', lw=0.6, zorder=5)
    if timeline.dump_events:
        ax.scatter([e[1] for e in timeline.dump_events], [e[2] for e in timeline.dump_events],
                   marker='v', s=70, c='magenta', ec='k', lw=0.6, zorder=5)
    if terrain.start_xy_yaw is not None:
        x, y, yaw = terrain.start_xy_yaw
        ax.plot([x], [y], 'o', ms=9, c='white', mec='k', zorder=6)
        ax.annotate('', (x + 0.8 * math.cos(yaw), y + 0.8 * math.sin(yaw)), (x, y),
                    arrowprops={'arrowstyle': '->', 'color': 'white', 'lw': 1.5}, zorder=6)
    if box is not None:
        ax.set_xlim(box[0][0], box[1][0])
        ax.set_ylim(box[0][1], box[1][1])
    ax.set_aspect('equal')
    ax.set_xlabel('x (m, map)')
    ax.set_ylabel('y (m, map)')
    ax.set_title('where the rover worked: terrain height, hazards, zones, path')
    legend = [Line2D([], [], c='yellow', lw=1.4, label=PATH_TRUTH),
              Line2D([], [], c='cyan', ls='--', label=PATH_ODOM),
              Line2D([], [], marker='o', ls='', ms=8, c='white', mec='k', label='start'),
              Line2D([], [], marker='^', ls='', c='tab:green', mec='k', label='planned dig site'),
              Line2D([], [], marker='X', ls='', ms=8, c='lime', mec='k', label='dug here'),
              Line2D([], [], marker='v', ls='', ms=8, c='magenta', mec='k', label='dumped here'),
              Line2D([], [], c='tab:green', ls=':', label='dig zone'),
              Line2D([], [], marker='o', ls='', ms=10, c='tab:blue', alpha=0.4, label='berm zone'),
              Line2D([], [], marker='o', ls='', mfc='none', mec='tab:red', label='true crater'),
              Line2D([], [], marker='o', ls='', c='tab:red', label='true rock'),
              Line2D([], [], marker='o', ls='', mfc='none', mec='orange', label='mapped hazard')]
    ax.legend(handles=legend, loc='lower left', fontsize=7, framealpha=0.85, ncol=2)
    if fig is not None and colour is not None:
        fig.colorbar(colour, ax=ax, shrink=0.6, pad=0.02, label='terrain height (m, map)')
    if ext is not None and box is not None:
        _draw_inset(ax, terrain, timeline, box)


def _draw_inset(ax, terrain: Terrain, timeline: Timeline, box):
    """The whole site, small, with the zoomed map's box on it."""
    from matplotlib.patches import Circle, Rectangle
    inset = ax.inset_axes([0.71, 0.66, 0.28, 0.28])
    _draw_terrain(inset, terrain, shade_alpha=0.55)
    for z, c in ((terrain.dig_zone, 'tab:green'), (terrain.berm_zone, 'tab:blue')):
        if z:
            inset.add_patch(Circle(z[:2], z[2], fill=False, ec=c, lw=1.0))
    _draw_paths(inset, timeline, lw=0.8)
    (x0, y0), (x1, y1) = box
    inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec='red', lw=1.2))
    ext = terrain.extent()
    inset.set_xlim(ext[0], ext[1])
    inset.set_ylim(ext[2], ext[3])
    inset.set_aspect('equal')
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_title('whole site (red: this map)', fontsize=7, pad=2)


def _draw_series(ax, timeline: Timeline, summary: dict | None = None):
    """Regolith (rover tally solid, sim truth dotted) and energy on a second axis; one
    legend for every curve of both axes; fault events as vertical lines."""
    t, kg = timeline.series('regolith_excavated_kg')
    ax.plot(t, kg, c='tab:brown', label='dug (rover tally)')
    t, kg = timeline.series('regolith_delivered_kg')
    ax.plot(t, kg, c='tab:blue', label='delivered (rover tally)')
    for key, colour, label in (('excavated_kg', 'tab:brown', 'dug (sim truth)'),
                               ('berm_mass_kg', 'tab:blue', 'on the berm (sim truth)'),
                               ('spilled_kg', 'tab:red', 'spilled (sim truth)'),
                               ('carried_kg', 'tab:purple', 'in the drums (sim truth)')):
        ts, vs = timeline.series(key, 'regolith')
        if ts:
            ax.plot(ts, vs, c=colour, ls=':', lw=1.6, label=label)
    ax.set_xlabel('sim time (s)')
    ax.set_ylabel('regolith (kg)')
    ax2 = ax.twinx()
    te, wh = timeline.series('energy_wh')
    ax2.plot(te, wh, c='tab:orange', lw=1.2, label='energy used (rover, Wh, right axis)')
    ax2.set_ylabel('energy (Wh)', color='tab:orange')
    for ev in (summary or {}).get('fault_events') or []:
        t_ev = _number(ev.get('t') if isinstance(ev, dict) else None)
        if t_ev is not None:
            ax.axvline(t_ev, c='k', ls='-.', lw=0.8, label='fault event')
    ax.set_title('regolith: rover tally and sim truth; energy used')
    entries = {}   # one legend for both axes, each label once (every fault line shares one)
    for h, label in zip(*map(lambda a, b: a + b, ax.get_legend_handles_labels(),
                             ax2.get_legend_handles_labels())):
        entries.setdefault(label, h)
    handles, labels = list(entries.values()), list(entries)
    if handles:   # headroom above the curves for the legend
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.55 * (hi - lo))
        lo2, hi2 = ax2.get_ylim()
        ax2.set_ylim(lo2, hi2 + 0.55 * (hi2 - lo2))
        ax.legend(handles, labels, loc='upper left', fontsize=7, framealpha=0.9, ncol=3)
    ax.grid(alpha=0.3)
    return ax, ax2


def _number(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _draw_table(ax, summary: dict, scores: dict):
    ax.axis('off')
    rows = [[label, mine, truth] for label, mine, truth in tally_rows(summary)]
    run = [
        ('cycles', _fmt(summary.get('cycles'))),
        ('energy used', '-' if summary.get('energy_wh') is None else f"{summary['energy_wh']:.3g} Wh"),
        ('rate (rover tally)', '-' if summary.get('kg_per_hour') is None else
         f"{summary['kg_per_hour']:.4g} kg/h, {_fmt(summary.get('kg_per_wh'))} kg/Wh"),
        ('rate by truth; delivered tally / truth',
         ('-' if summary.get('kg_per_hour_truth') is None else f"{summary['kg_per_hour_truth']:.4g} kg/h")
         + f"; {_fmt(summary.get('tally_truth_ratio'))}"),
        ('stuck events, re-surveys', f"{_fmt(summary.get('stuck_events'))}, "
                                     f"{_fmt(summary.get('resurveys'))}"),
        ('mission state at the end', f"{summary.get('mission_state') or '-'}"
         + (f" ({summary['fault_reason']})" if summary.get('fault_reason') else '')),
        ('e-stops', _fmt(summary.get('estop_events'))),
        ('run',
         f"{summary.get('outcome') or '-'}"
         + (f": {summary['outcome_reason']}" if summary.get('outcome_reason') else '')
         + f", rtf {_fmt(summary.get('real_time_factor'))}"),
        ('Lunabotics-style score', _fmt(scores.get('total'))),
    ]
    if summary.get('sim_propellant_used_kg'):   # hold-down thrust fired (a rubble pile)
        run.insert(2, ('hold-down propellant (sim truth)', format_mass(summary['sim_propellant_used_kg'])))
    rows += [[label, value, ''] for label, value in run]
    table = ax.table(cellText=rows, colLabels=['figure', 'rover tally', 'sim truth'], cellLoc='left',
                     colWidths=[0.34, 0.33, 0.33], bbox=[0.0, 0.0, 1.0, 1.0])
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight='bold')
        if c == 2 and 0 < r <= len(TALLY_ROWS) + 1:
            cell.set_facecolor('#eef6ee')
    ax.set_title('rover tally beside sim truth', fontsize=10)


def run_events(summary: dict) -> list[str]:
    """Lines about the run's processes: node exit codes (non-zero first) and fault events."""
    lines = []
    codes = summary.get('node_exit_codes') or {}
    if codes:
        def describe(code):
            if code is None:
                return 'still running'
            if code < 0:
                return f'{code} (stopped by signal {-code})'
            return str(code)
        bad = {n: c for n, c in codes.items() if c not in (0, -2, -15)}
        lines.append('node exit codes: ' + ', '.join(f'{n} {describe(c)}' for n, c in codes.items()))
        if bad:
            lines.append('nodes that failed: ' + ', '.join(f'{n} ({describe(c)})' for n, c in bad.items()))
    events = summary.get('fault_events')
    if events:
        lines.append(f'{len(events)} fault event(s):')
        for ev in events:
            ev = ev if isinstance(ev, dict) else {'detail': str(ev)}
            t = _number(ev.get('t'))
            lines.append(f"  t={'?' if t is None else f'{t:.1f}'} s  "
                         f"{ev.get('kind', '?')}: {ev.get('detail', '')}")
    elif 'fault_events' in summary:
        lines.append('fault events: none')
    return lines


def _draw_events(ax, summary: dict):
    import textwrap
    ax.axis('off')
    lines = run_events(summary) or ['no node exit codes recorded']
    wrapped = []
    for line in lines:
        wrapped += textwrap.wrap(line, 110, subsequent_indent='    ') or ['']
    ax.text(0.0, 1.0, '\n'.join(wrapped[:9] + (['...'] if len(wrapped) > 9 else [])), va='top',
            ha='left', fontsize=7.5, family='monospace', transform=ax.transAxes)


def title(summary: dict) -> str:
    """Two lines: the run, then truth beside the rover's tally and the resource yield."""
    spilled = summary.get('sim_spilled_fraction')
    line1 = (f"mining_rover mission: {summary.get('world')}, {_fmt(summary.get('sim_time_s'))} s sim, "
             f"{summary.get('outcome') or 'ended'}"
             + (f" ({summary['outcome_reason']})" if summary.get('outcome_reason') else ''))
    line2 = (f"sim truth: {_fmt_kg(summary.get('sim_berm_mass_kg'))} on the berm, "
             f"{_fmt_kg(summary.get('sim_excavated_kg'))} dug, "
             f"{_fmt_kg(summary.get('sim_spilled_kg'))} spilled"
             + (f' ({100 * spilled:.0f} % of dug)' if spilled is not None else '')
             + f", {_fmt_kg(summary.get('sim_carried_kg'))} still in the drums  |  rover tally: "
             f"{_fmt_kg(summary.get('regolith_delivered_kg'))} delivered, "
             f"{_fmt_kg(summary.get('regolith_excavated_kg'))} dug, "
             f"{resource_name(summary.get('target_resource'))} "
             f"{format_mass(summary.get('target_resource_kg'))} "
             "(estimate)")
    return f'{line1}\n{line2}'


def _fmt(v) -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.4g}'
    return str(v)


def report_figure(summary: dict, timeline: Timeline, terrain: Terrain | None):
    """The report as a matplotlib Figure (no pyplot: no global state, no display)."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    from matplotlib.figure import Figure
    fig = Figure(figsize=(16, 9.5), dpi=100)
    grid = fig.add_gridspec(3, 2, width_ratios=(1.2, 1.0), height_ratios=(1.0, 1.05, 0.28))
    _draw_map(fig.add_subplot(grid[:, 0]), terrain or Terrain(), timeline, fig)
    _draw_series(fig.add_subplot(grid[0, 1]), timeline, summary)
    _draw_table(fig.add_subplot(grid[1, 1]), summary,
                summary.get('lunabotics_scores') or lunabotics_scores(summary))
    _draw_events(fig.add_subplot(grid[2, 1]), summary)
    fig.suptitle(title(summary), fontsize=11)
    fig.tight_layout()
    return fig


def write_png(path: Path, summary: dict, timeline: Timeline, terrain: Terrain | None) -> Path:
    """Draw the mission report figure and save it to ``path``."""
    report_figure(summary, timeline, terrain).savefig(path)
    return Path(path)


def _html_table(rows: list[dict]) -> str:
    if not rows:
        return '<p>no completed cycles</p>'
    head = ''.join(f'<th>{html.escape(k)}</th>' for k in rows[0])
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(format_mass(v) if k.endswith("_kg") else _fmt(v))}'
                                    '</td>'
                                    for k, v in r.items()) + '</tr>'
                   for r in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def write_html(path: Path, summary: dict, png_path: Path, logs: list | None = None) -> Path:
    """Write the self-contained HTML report (figure embedded, tables, log links) to ``path``."""
    png = base64.b64encode(Path(png_path).read_bytes()).decode()
    scalar = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    figures = ''.join(f'<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>'
                      for k, v in scalar.items())
    scores = summary.get('lunabotics_scores') or {}
    score_rows = ''.join(f'<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>'
                         for k, v in scores.items())
    links = ''.join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>' for p in (logs or []))
    tally = ''.join('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in row) + '</tr>'
                    for row in tally_rows(summary))
    codes = summary.get('node_exit_codes') or {}
    code_rows = ''.join(f'<tr><th>{html.escape(n)}</th><td>{html.escape(_fmt(c))}</td></tr>'
                        for n, c in codes.items()) or '<tr><td>none recorded</td></tr>'
    events = summary.get('fault_events') or []
    event_rows = ''.join(
        '<tr>' + ''.join(f'<td>{html.escape(_fmt(ev.get(k)))}</td>'
                         for k in ('t', 'kind', 'detail')) + '</tr>'
        for ev in (e if isinstance(e, dict) else {'detail': str(e)} for e in events))
    event_table = (f'<table><tr><th>t (s)</th><th>kind</th><th>detail</th></tr>{event_rows}</table>'
                   if events else '<p>none</p>')
    world = html.escape(str(summary.get('world')))
    rtf = _fmt(summary.get('real_time_factor'))
    doc = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mining_rover mission report: {world}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;margin:0.5em 0}}
td,th{{border:1px solid #bbb;padding:2px 8px;text-align:left;font-size:0.9em}} img{{max-width:100%}}</style>
</head><body>
<h1>mining_rover mission report</h1>
<p>World <b>{world}</b>, {_fmt(summary.get('sim_time_s'))} s of simulated time
in {_fmt(summary.get('wall_time_s'))} s wall time (real-time factor {rtf}).
Recording: <a href="mission.mcap">mission.mcap</a> (Foxglove, ros2 bag); \
figures: <a href="summary.json">summary.json</a>.</p>
<p><b>{html.escape(title(summary)).replace(chr(10), '<br>')}</b></p>
<img src="data:image/png;base64,{png}" alt="mission report">
<h2>Rover tally beside sim truth</h2>
<p>The rover's own count (the executive's tally, what it would report on the Moon) beside the
simulator's ground truth (never shown to the rover).</p>
<table><tr><th>figure</th><th>rover tally</th><th>sim truth</th></tr>{tally}</table>
<h2>Node exit codes</h2><p>0: clean stop; -2/-15: stopped by the runner's SIGINT/SIGTERM.</p>
<table>{code_rows}</table>
<h2>Fault events</h2>{event_table}
<h2>Per-cycle</h2>{_html_table(summary.get('cycle_table') or [])}
<h2>Lunabotics-style scores</h2><p>Indicative weights, not the official rules.</p><table>{score_rows}</table>
<h2>Figures</h2><table>{figures}</table>
<h2>Node logs</h2><ul>{links}</ul>
</body></html>
"""
    Path(path).write_text(doc)
    return Path(path)


def write_report(out_dir: Path, summary: dict, timeline: Timeline, terrain: Terrain | None = None,
                 logs: list | None = None) -> dict:
    """Write summary.json, report.png and report.html into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    paths = {'summary': write_summary(out_dir, summary)}
    paths['png'] = write_png(out_dir / 'report.png', summary, timeline, terrain)
    paths['html'] = write_html(out_dir / 'report.html', summary, paths['png'], logs)
    return paths
