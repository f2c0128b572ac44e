"""A sweep's aggregate: ``sweep.json``, ``sweep.png`` and a self-contained ``sweep.html``.

Read from the missions' directories (``sweep_mission.json`` written by the task,
``summary.json`` by the runner), so the aggregate of a resumed or interrupted sweep
covers every mission of the request, whichever run produced it. Figures are judged by
the simulator's truth: kg/h truth = sim_berm_mass_kg / sim_time_s * 3600 (what reached
the berm, not the executive's tally); the tally/truth ratio shows how far the rover's
own count is from it.
"""
from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

from mining_rover.runner.timeline import truth_figures

#: Per-mission figures derived from summary.json, with their units.
DERIVED = {
    'kg_per_hour_truth': 'kg/h',
    'tally_truth_ratio': '',
    'cycles': '',
    'hazard_contacts': '',
    'energy_wh_per_kg': 'Wh/kg',
    'real_time_factor': '',
}


def derived(summary: dict) -> dict:
    """kg/h by truth, tally/truth ratio (runner/timeline.py ``truth_figures``), energy
    per kg by truth (None where undefined)."""
    truth = summary.get('sim_berm_mass_kg')
    energy = summary.get('energy_wh')
    figures = truth_figures(summary)
    return {
        'kg_per_hour_truth': figures['kg_per_hour_truth'],
        'tally_truth_ratio': figures['tally_truth_ratio'],
        'energy_wh_per_kg': energy / truth if energy is not None and truth else None,
    }


def percentile(values: list, q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]; None when empty."""
    xs = sorted(v for v in values if v is not None and math.isfinite(v))
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _stats(values: list) -> dict:
    n = sum(1 for v in values if v is not None and math.isfinite(v))
    return {'n': n, 'median': percentile(values, 50), 'p10': percentile(values, 10),
            'p90': percentile(values, 90)}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def mission_row(m, request) -> dict:
    """One row: world, parameters, seed, outcome (complete / failed / interrupted / todo)
    with its reason, every scalar summary figure and the derived ones, and paths."""
    out = m.directory(request.out_dir)
    record = _read(out / 'sweep_mission.json') or {}
    summary = _read(out / 'summary.json') or {}
    row = {'key': m.key, 'world': m.world, 'param_set': m.param_set, 'params': dict(m.params),
           'seed': m.seed, 'outcome': record.get('outcome', 'todo'),
           'reason': record.get('reason', 'not run'), 'detail': record.get('detail', ''),
           'wall_s': record.get('wall_s'), 'ros_domain_id': record.get('ros_domain_id'),
           'disk_bytes': record.get('disk_bytes'), 'host': record.get('host'),
           'dir': str(out.relative_to(request.out_dir)),
           'report': str((out / 'report.html').relative_to(request.out_dir))
           if (out / 'report.html').exists() else None}
    if record.get('log_tail'):
        row['log_tail'] = record['log_tail']
    row['summary'] = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    row.update(derived(summary))
    for k in ('cycles', 'hazard_contacts', 'real_time_factor', 'sim_hazard_contacts'):
        row[k] = summary.get(k)
    return row


def groups(rows: list) -> list:
    """Per world and parameter set: count, outcome counts by reason, and median/p10/p90 of
    each DERIVED figure over the complete missions."""
    out = []
    keys = []
    for r in rows:
        if (r['world'], r['param_set']) not in keys:
            keys.append((r['world'], r['param_set']))
    for world, pset in keys:
        members = [r for r in rows if r['world'] == world and r['param_set'] == pset]
        ok = [r for r in members if r['outcome'] == 'complete']
        reasons: dict = {}
        for r in members:
            reasons[r['reason']] = reasons.get(r['reason'], 0) + 1
        g = {'world': world, 'param_set': pset, 'params': members[0]['params'],
             'count': len(members), 'complete': len(ok), 'outcomes_by_reason': reasons}
        for name in DERIVED:
            g[name] = _stats([r.get(name) for r in ok])
        out.append(g)
    return out


def write_aggregate(out_dir: Path, request, all_missions: list) -> dict:
    """Write sweep.json, sweep.png and sweep.html; returns the sweep.json content."""
    out_dir = Path(out_dir)
    rows = [mission_row(m, request) for m in all_missions]
    outcomes: dict = {}
    reasons: dict = {}
    for r in rows:
        outcomes[r['outcome']] = outcomes.get(r['outcome'], 0) + 1
        reasons[r['reason']] = reasons.get(r['reason'], 0) + 1
    data = {'request': {'worlds': request.worlds, 'seeds': request.seeds,
                        'duration_s': request.duration_s, 'site': request.site,
                        'params': request.params, 'record_mcap': request.record},
            'outcomes': outcomes, 'outcomes_by_reason': reasons,
            'units': DERIVED, 'groups': groups(rows), 'missions': rows}
    tmp = out_dir / 'sweep.json.tmp'
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(out_dir / 'sweep.json')
    png = write_png(out_dir / 'sweep.png', rows)
    (out_dir / 'sweep.html').write_text(html_page(data, png))
    return data


#: Box-plot panels: figure, title.
PANELS = (('kg_per_hour_truth', 'kg/h on the berm (sim truth)'),
          ('tally_truth_ratio', 'tally / truth'),
          ('energy_wh_per_kg', 'energy per kg on the berm, Wh/kg'),
          ('cycles', 'cycles'),
          ('hazard_contacts', 'hazard contacts'),
          ('real_time_factor', 'real-time factor'))


def write_png(path: Path, rows: list) -> Path | None:
    """One box plot per figure, one box per world / parameter set (complete missions),
    each sample drawn on top so that a box of two is still readable."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = []
    for r in rows:
        label = f"{r['world']}\n{r['param_set']}".replace('+', '\n')
        if label not in labels:
            labels.append(label)
    rows_n = (len(PANELS) + 1) // 2
    fig, axes = plt.subplots(rows_n, 2, figsize=(2 * max(5.0, 2.2 * len(labels) + 1.5), 3.2 * rows_n),
                             squeeze=False)
    for ax, (name, title) in zip(axes.ravel(), PANELS):
        data = []
        for label in labels:
            data.append([r[name] for r in rows if r['outcome'] == 'complete' and r.get(name) is not None
                         and f"{r['world']}\n{r['param_set']}".replace('+', '\n') == label])
        positions = list(range(1, len(labels) + 1))
        filled = [(p, d) for p, d in zip(positions, data) if d]
        if filled:
            ax.boxplot([d for _, d in filled], positions=[p for p, _ in filled], widths=0.5,
                       whis=(10, 90), showfliers=False)
            for p, d in filled:
                ax.plot([p] * len(d), d, 'o', color='tab:blue', alpha=0.6, markersize=4,
                        label='one mission' if p == filled[0][0] else None)
            ax.legend(loc='upper right', fontsize=7)
        ax.set_xticks(positions)
        # tick labels without the node prefix ('planner_node.'): the full names are in sweep.json
        ax.set_xticklabels([f"{re.sub(r'[A-Za-z0-9_]+_node[.]', '', lb)}\n(n={len(d)})"
                            for lb, d in zip(labels, data)], fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.grid(axis='y', alpha=0.3)
    fig.suptitle('complete missions per world / parameter set (box: median and quartiles; '
                 'whiskers: p10-p90)', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _fmt(v, digits=2) -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.{digits}f}'
    return str(v)


def html_page(data: dict, png: Path | None) -> str:
    """The sweep report as one HTML page: per world and parameter set, medians and [p10, p90]."""
    e = html.escape
    img = ''
    if png is not None and Path(png).exists():
        img = ('<img alt="box plots per world and parameter set" src="data:image/png;base64,'
               + base64.b64encode(Path(png).read_bytes()).decode() + '">')
    head = ('<tr><th>world</th><th>parameters</th><th>missions</th><th>complete</th><th>outcomes</th>'
            + ''.join(f'<th>{e(n)} {e(u)}<br>median [p10, p90]</th>' for n, u in DERIVED.items()) + '</tr>')
    body = []
    for g in data['groups']:
        cells = ''.join(f"<td>{_fmt(g[n]['median'])} [{_fmt(g[n]['p10'])}, {_fmt(g[n]['p90'])}]</td>"
                        for n in DERIVED)
        reasons = ', '.join(f'{k}: {v}' for k, v in sorted(g['outcomes_by_reason'].items()))
        body.append(f"<tr><td>{e(g['world'])}</td><td>{e(g['param_set'])}</td><td>{g['count']}</td>"
                    f"<td>{g['complete']}</td><td>{e(reasons)}</td>{cells}</tr>")
    flagged = [r for r in data['missions']
               if r['outcome'] != 'complete' or (r.get('hazard_contacts') or 0) > 0]
    frows = []
    for r in flagged:
        link = (f"<a href=\"{e(r['report'])}\">report</a>" if r.get('report') else '-')
        logs = f"<a href=\"{e(r['dir'])}/logs/\">logs</a> <a href=\"{e(r['dir'])}/runner.log\">runner.log</a>"
        frows.append(f"<tr><td>{e(r['world'])}</td><td>{e(r['param_set'])}</td><td>{r['seed']}</td>"
                     f"<td>{e(r['outcome'])}</td><td>{e(r['reason'])}</td><td>{e(r['detail'] or '')}</td>"
                     f"<td>{_fmt(r.get('hazard_contacts'))}</td><td>{link} {logs}</td></tr>")
    flagged_html = ('<table><tr><th>world</th><th>parameters</th><th>seed</th><th>outcome</th>'
                    '<th>reason</th><th>detail</th><th>hazard contacts</th><th>files</th></tr>'
                    + ''.join(frows) + '</table>') if frows else '<p>none</p>'
    req = data['request']
    outcome_text = ', '.join(f'{k}: {v}' for k, v in sorted(data['outcomes_by_reason'].items()))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mining_rover sweep</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 6px;font-size:13px;text-align:left}}</style></head><body>
<h1>Mission sweep</h1>
<p>{len(data['missions'])} missions: worlds {e(', '.join(req['worlds']))}; seeds {e(str(req['seeds']))};
{req['duration_s']:g} s (sim) each; site {e(req['site'])}; parameters {e(json.dumps(req['params']))}.
Outcomes: {e(outcome_text)}.</p>
<p>Figures by simulator truth: kg/h = sim_berm_mass_kg / sim_time_s &times; 3600; tally/truth =
the executive's delivered tally over the berm mass; Wh/kg = energy over the berm mass.
Statistics over complete missions only.</p>
<h2>Per world and parameter set</h2>
<table>{head}{''.join(body)}</table>
<h2>Failed or hazardous missions</h2>
{flagged_html}
<h2>Distributions</h2>
{img}
</body></html>
"""
