"""The benchmark runner behind `mining-rover bench` (and `make bench`).

A benchmark is a module ``bench/<name>.py`` with::

    NAME = 'ros_conversions'          # what `mining-rover bench NAME` selects
    DESCRIPTION = 'one line'
    def run(quick: bool = False) -> dict[str, Metric]: ...

Each returns metrics, with any baseline it is compared against measured in the same
run and reported as a metric of its own. The runner prints one table and writes JSON
shaped ``{bench: {metric: {"value", "unit", "goal", "met"}}}``.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Metric:
    """One benchmark figure: its value and unit, the goal it is judged against, and whether it met it."""
    value: float
    unit: str = ''
    goal: str = ''        # human-readable, e.g. '>= 25', '<= 1.6', '' for context only
    met: bool | None = None  # None where the metric has no goal

    def as_json(self) -> dict:
        d = asdict(self)
        v = d['value']
        if isinstance(v, float) and not math.isfinite(v):
            d['value'] = None
        return d


def goal_met(value: float, goal: str) -> bool | None:
    """Evaluate a goal string such as '>= 25', '<= 1.6', '== 0' against value."""
    goal = goal.strip()
    if not goal:
        return None
    for op in ('>=', '<=', '==', '>', '<'):
        if goal.startswith(op):
            target = float(goal[len(op):].split()[0])
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return False
            return {'>=': value >= target, '<=': value <= target, '==': value == target,
                    '>': value > target, '<': value < target}[op]
    raise ValueError(f'cannot parse goal {goal!r}; use ">= x", "<= x", "== x"')


def metric(value, unit: str = '', goal: str = '') -> Metric:
    """A metric whose `met` is computed from its goal string."""
    return Metric(value=value, unit=unit, goal=goal, met=goal_met(value, goal))


def bench_dir() -> Path:
    """bench/ at the repository root (benchmarks are a developer tool, not installed)."""
    here = Path(__file__).resolve().parent.parent / 'bench'
    if not here.is_dir():
        raise FileNotFoundError(f'{here} not found: run benchmarks from a source checkout')
    return here


def discover(directory: Path | None = None) -> dict:
    """{NAME: module path} for every bench/*.py that defines NAME and run()."""
    directory = directory or bench_dir()
    found = {}
    for path in sorted(directory.glob('*.py')):
        if path.name.startswith('_'):
            continue
        text = path.read_text()
        if 'NAME' in text and 'def run(' in text:
            found[path.stem] = path
    return found


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f'mining_rover_bench_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def format_table(results: dict) -> str:
    """Render {bench: {metric: Metric.as_json()}} as a plain-text table, one row per metric."""
    rows = [('bench', 'metric', 'value', 'unit', 'goal', 'met')]
    for bench, metrics in results.items():
        for name, m in metrics.items():
            v = m['value']
            if isinstance(v, float):
                v = f'{v:.4g}'
            met = {True: 'yes', False: 'NO', None: ''}[m['met']]
            rows.append((bench, name, str(v), m['unit'], m['goal'], met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        lines.append('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def run_benchmarks(names: list, json_path: str | None, quick: bool = False,
                   out=sys.stdout) -> int:
    """Run the named benchmarks (all when empty); print the table; write JSON.

    Returns 0 when every benchmark ran (goals not met are reported, not failed),
    1 when one raised or a name is unknown.
    """
    # The simulator renders off-screen; EGL is what works headless (OSMesa does not).
    os.environ.setdefault('MUJOCO_GL', 'egl')
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    available = discover()
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f'unknown benchmark(s) {unknown}; available: {sorted(available)}', file=sys.stderr)
        return 1
    selected = names or sorted(available)
    results, status = {}, 0
    for name in selected:
        t0 = time.perf_counter()
        print(f'[bench] {name} ...', file=out, flush=True)
        try:
            module = _load(available[name])
            metrics = module.run(quick=quick)
            results[module.NAME] = {k: (m.as_json() if isinstance(m, Metric) else m)
                                    for k, m in metrics.items()}
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            results[name] = {'error': {'value': None, 'unit': '', 'goal': 'runs', 'met': False}}
            status = 1
        print(f'[bench] {name} done in {time.perf_counter() - t0:.1f} s', file=out, flush=True)
    print(format_table(results), file=out)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(results, indent=2))
        print(f'wrote {json_path}', file=out)
    return status
