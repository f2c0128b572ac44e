"""Benchmark: CPU cost of the whole stack per simulated second, and of each node.

A short mission through the mission runner (the same graph as `make sim`); each node
process's CPU time (user + system, /proc/<pid>/stat) is read when the simulator clock
first moves and again at the end, before the nodes stop, so start-up (imports, building
the MuJoCo model) is left out. ``cpu_s_per_sim_s`` is the stack's CPU seconds per
simulated second: the stack holds real time on N cores only while it is below N, so
the goal is the 2 cores the project's reference machine has. ``cpu_cores_used`` (CPU
per wall second in the same window) is the measured baseline it is compared against.

A second run applies config/jetson.yaml (the Orin's rates and sizes: stereo at 5 Hz on
the half-size pair, a 32 m map published at 1 Hz, sites every 4 s) with the simulated
camera at the stereo rate; ``jetson_*`` figures count only the nodes that run on the
rover (not sim_node, not the runner's monitor): the CPU budget README's Jetson section
quotes, measured on this machine.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

NAME = 'stack_cpu'
DESCRIPTION = 'CPU seconds per simulated second, whole stack and per node, over a short mission'

WORLD = 'moon_south_pole'
DURATION_S = 120.0
QUICK_DURATION_S = 40.0
REFERENCE_CORES = 2


def cpu_per_sim_second(summary: dict) -> dict:
    """{'': total, node: ...} CPU s per sim s from a summary's cpu_window; {} if none."""
    window = summary.get('cpu_window') or {}
    sim_s = window.get('sim_s') or 0.0
    if sim_s <= 0:
        return {}
    per = {n: c / sim_s for n, c in window['cpu_s'].items()}
    per[''] = sum(window['cpu_s'].values()) / sim_s
    return per


#: Not on the rover: the simulator and the runner's own monitor.
OFF_ROVER = ('sim_node', 'monitor')


def jetson_overrides(path: Path | None = None) -> dict:
    """{node: {param: value}} from config/jetson.yaml, plus the simulated camera at the
    stereo rate the Jetson file sets (a real camera streams faster; stereo_node keeps to
    its process_rate_hz)."""
    import yaml

    from mining_rover.paths import param_sections
    path = path or Path(__file__).resolve().parent.parent / 'config' / 'jetson.yaml'
    doc = yaml.safe_load(path.read_text()) or {}
    out = param_sections(doc, str(path))
    rate = out.get('stereo_node', {}).get('process_rate_hz')
    if rate:
        out.setdefault('sim_node', {})['camera_rate_hz'] = float(rate)
    return out


def _mission(quick: bool, overrides: dict) -> tuple:
    from mining_rover.mission_runner import MissionOptions, run_mission
    with tempfile.TemporaryDirectory(prefix='stack_cpu_') as tmp:
        return run_mission(MissionOptions(world=WORLD, duration_s=QUICK_DURATION_S if quick else DURATION_S,
                                          out_dir=Path(tmp), seed=1, rtf=0.0, record=True,
                                          param_overrides=overrides))


def run(quick: bool = False) -> dict:
    from mining_rover.benchmarking import metric

    code, s = _mission(quick, {})
    per = cpu_per_sim_second(s)
    window = s.get('cpu_window') or {}
    nan = float('nan')
    metrics = {
        'cpu_s_per_sim_s': metric(per.get('', nan), 'cpu s/sim s', f'<= {REFERENCE_CORES}'),
        'cpu_cores_used': metric(sum(window.get('cpu_s', {}).values()) / window['wall_s']
                                 if window.get('wall_s') else nan, 'cores'),
        'real_time_factor': metric(s.get('real_time_factor') or nan, ''),
        'sim_time_s': metric(window.get('sim_s', nan), 's'),
        'completed': metric(1 if code == 0 else 0, '', '== 1'),
    }
    for node in sorted(k for k in per if k):
        metrics[f'cpu_s_per_sim_s_{node}'] = metric(per[node], 'cpu s/sim s')
    code_j, s_j = _mission(quick, jetson_overrides())
    per_j = cpu_per_sim_second(s_j)
    rover = {n: v for n, v in per_j.items() if n and n not in OFF_ROVER}
    metrics['jetson_cpu_s_per_sim_s'] = metric(sum(rover.values()) if rover else nan, 'cpu s/sim s')
    metrics['jetson_completed'] = metric(1 if code_j == 0 else 0, '', '== 1')
    for node in sorted(rover):
        metrics[f'jetson_cpu_s_per_sim_s_{node}'] = metric(rover[node], 'cpu s/sim s')
    return metrics


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:36s} {m.value!s:>12} {m.unit:12s} {m.goal}')
