"""The mission report: summary.json, report.png and a self-contained report.html.

matplotlib with the Agg backend (no display). The map is drawn in the ``map`` frame
(metres, REP-105): the true terrain as a hillshade with the world's true craters and
rocks, what the mapping node believed were hazards, the planner's dig sites, where the
rover actually dug, the dig and berm zones, and the path driven (ground truth and
odometry). The world is passed in as a ``Terrain`` so that the report needs nothing
but arrays (``terrain_from_world`` adapts a mining_rover.sim.world WorldSpec).
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
            r = item.get('radius_m') or item.get('radius') or 0.5 * (item.get('diameter_m') or item.get('diameter') or 0.0)
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


def _draw_map(ax, terrain: Terrain, timeline: Timeline):
    from matplotlib.patches import Circle
    ext = terrain.extent()
    if ext is not None:
        ax.imshow(hillshade(terrain.heights, terrain.resolution_m), cmap='gray', origin='lower',
                  extent=ext, vmin=0, vmax=1, interpolation='bilinear')
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
        ax.add_patch(Circle((x, y), r, fill=True, fc='tab:blue', alpha=0.2, ec='tab:blue', lw=1.5))
    if timeline.dig_sites:
        ax.scatter([m.x for m in timeline.dig_sites], [m.y for m in timeline.dig_sites], marker='^',
                   s=30, c='tab:green', ec='k', lw=0.5, zorder=4)
    if timeline.dig_events:
        ax.scatter([e[1] for e in timeline.dig_events], [e[2] for e in timeline.dig_events],
                   marker='x', s=40, c='lime', zorder=5)
    if timeline.truth_path:
        p = np.array([(r[1], r[2]) for r in timeline.truth_path])
        ax.plot(p[:, 0], p[:, 1], '-', c='yellow', lw=1.4)
    if timeline.odom_path:
        p = np.array([(r[1], r[2]) for r in timeline.odom_path])
        ax.plot(p[:, 0], p[:, 1], '--', c='cyan', lw=1.0)
    if terrain.start_xy_yaw is not None:
        x, y, yaw = terrain.start_xy_yaw
        ax.plot([x], [y], 'o', c='white', mec='k')
    # focus on where things happened when the world is much larger than the mission
    pts = [(x, y) for x, y, _ in filter(None, (terrain.dig_zone, terrain.berm_zone))]
    pts += [(r[1], r[2]) for r in timeline.truth_path]
    if pts:
        a = np.array(pts)
        pad = 3.0
        lo, hi = a.min(axis=0) - pad, a.max(axis=0) + pad
        # and every hazard near that area, so a near miss is seen whole
        near = [(x, y, r) for x, y, r in terrain.craters + terrain.rocks
                if lo[0] - 5.0 < x < hi[0] + 5.0 and lo[1] - 5.0 < y < hi[1] + 5.0]
        for x, y, r in near:
            lo = np.minimum(lo, (x - r - 0.5, y - r - 0.5))
            hi = np.maximum(hi, (x + r + 0.5, y + r + 0.5))
        if ext is not None:
            lo = np.maximum(lo, (ext[0], ext[2]))
            hi = np.minimum(hi, (ext[1], ext[3]))
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
    ax.set_aspect('equal')
    ax.set_xlabel('x (m, map)')
    ax.set_ylabel('y (m, map)')
    ax.set_title('terrain (hillshade), hazards, zones and path')
    from matplotlib.lines import Line2D
    legend = [Line2D([], [], c='yellow', lw=1.4, label='path (ground truth)'),
              Line2D([], [], c='cyan', ls='--', label='path (odometry)'),
              Line2D([], [], marker='o', ls='', mfc='none', mec='tab:red', label='true crater'),
              Line2D([], [], marker='o', ls='', c='tab:red', label='true rock'),
              Line2D([], [], marker='o', ls='', mfc='none', mec='orange', label='mapped hazard'),
              Line2D([], [], marker='^', ls='', c='tab:green', label='planned dig site'),
              Line2D([], [], marker='x', ls='', c='lime', label='dug here'),
              Line2D([], [], marker='o', ls='', c='tab:blue', alpha=0.4, label='berm zone')]
    ax.legend(handles=legend, loc='upper left', fontsize=7, framealpha=0.8)


def _draw_series(ax, timeline: Timeline):
    t, kg = timeline.series('regolith_delivered_kg')
    ax.plot(t, kg, c='tab:blue', label='delivered (mission)')
    ts, sim_kg = timeline.series('berm_mass_kg', 'regolith')
    if ts:
        ax.plot(ts, sim_kg, c='tab:blue', ls=':', label='berm mass (sim truth)')
    ax.set_xlabel('sim time (s)')
    ax.set_ylabel('regolith (kg)', color='tab:blue')
    ax2 = ax.twinx()
    te, wh = timeline.series('energy_wh')
    ax2.plot(te, wh, c='tab:orange', label='energy')
    ax2.set_ylabel('energy (Wh)', color='tab:orange')
    ax.set_title('regolith delivered and energy used')
    ax.legend(loc='upper left', fontsize=7)
    ax.grid(alpha=0.3)


def _draw_table(ax, summary: dict, scores: dict):
    ax.axis('off')
    keys = ('world', 'gravity_mps2', 'sim_time_s', 'real_time_factor', 'cycles',
            'regolith_delivered_kg', 'kg_per_hour', 'kg_per_wh', 'energy_wh',
            'target_resource_kg', 'hazard_contacts', 'estop_events', 'mission_state')
    rows = [[k, _fmt(summary.get(k))] for k in keys]
    if summary.get('sim_propellant_used_kg'):   # hold-down thrust fired (a rubble pile)
        rows.append(['hold-down propellant_kg', _fmt(summary['sim_propellant_used_kg'])])
    rows += [[k.split(' (')[0], _fmt(v)] for k, v in scores.items()]
    table = ax.table(cellText=rows, colLabels=['figure', 'value'], cellLoc='left', bbox=[0.0, 0.0, 1.0, 0.94])
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    ax.set_title('summary and Lunabotics-style scores')


def _fmt(v) -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.4g}'
    return str(v)


def write_png(path: Path, summary: dict, timeline: Timeline, terrain: Terrain | None) -> Path:
    import matplotlib
    matplotlib.use('Agg', force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, no display
    fig = Figure(figsize=(14, 8), dpi=100)
    grid = fig.add_gridspec(2, 2, width_ratios=(1.25, 1.0))
    _draw_map(fig.add_subplot(grid[:, 0]), terrain or Terrain(), timeline)
    _draw_series(fig.add_subplot(grid[0, 1]), timeline)
    _draw_table(fig.add_subplot(grid[1, 1]), summary,
                summary.get('lunabotics_scores') or lunabotics_scores(summary))
    fig.suptitle(f"mining_rover mission: {summary.get('world')}  "
                 f"({_fmt(summary.get('sim_time_s'))} s sim, {_fmt(summary.get('regolith_delivered_kg'))} kg delivered)")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def _html_table(rows: list[dict]) -> str:
    if not rows:
        return '<p>no completed cycles</p>'
    head = ''.join(f'<th>{html.escape(k)}</th>' for k in rows[0])
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(_fmt(v))}</td>' for v in r.values()) + '</tr>'
                   for r in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def write_html(path: Path, summary: dict, png_path: Path, logs: list | None = None) -> Path:
    png = base64.b64encode(Path(png_path).read_bytes()).decode()
    scalar = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    figures = ''.join(f'<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>'
                      for k, v in scalar.items())
    scores = summary.get('lunabotics_scores') or {}
    score_rows = ''.join(f'<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>'
                         for k, v in scores.items())
    links = ''.join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>' for p in (logs or []))
    doc = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mining_rover mission report: {html.escape(str(summary.get('world')))}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;margin:0.5em 0}}
td,th{{border:1px solid #bbb;padding:2px 8px;text-align:left;font-size:0.9em}} img{{max-width:100%}}</style>
</head><body>
<h1>mining_rover mission report</h1>
<p>World <b>{html.escape(str(summary.get('world')))}</b>, {_fmt(summary.get('sim_time_s'))} s of simulated time
in {_fmt(summary.get('wall_time_s'))} s wall time (real-time factor {_fmt(summary.get('real_time_factor'))}).
Recording: <a href="mission.mcap">mission.mcap</a> (Foxglove, ros2 bag); figures: <a href="summary.json">summary.json</a>.</p>
<img src="data:image/png;base64,{png}" alt="mission report">
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
