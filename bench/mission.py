"""Benchmark: a fixed-seed 15-minute lunar mining mission through `mining-rover sim`.

The same runner as `make sim` (mining_rover.mission_runner): the embedded simulator and
the whole stack as ROS 2 node processes, 900 s of simulated time at the south-pole
world, seed 1. Metrics carry summary.json's names and values; the goals are the issue's
(30 kg/h delivered, no hazard contact, at least real time on this machine). The
executive's tally is checked against the simulator's ground truth in the same run
(delivered vs berm mass). The report lands in bench/results/mission/.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

NAME = 'mission'
DESCRIPTION = ('900 s (sim) fixed-seed lunar mission through the mission runner: kg/h, '
               'kg/Wh, hazard contacts, real-time factor; tally vs simulator ground truth')

WORLD = 'moon_south_pole'
SEED = 1
DURATION_S = 900.0
QUICK_DURATION_S = 120.0

#: summary.json figure -> (unit, goal)
FIGURES = {
    'kg_per_hour': ('kg/h', '>= 30'),
    'hazard_contacts': ('', '== 0'),
    'real_time_factor': ('', '>= 1'),
    'regolith_delivered_kg': ('kg', ''),
    'regolith_excavated_kg': ('kg', ''),
    'cycles': ('', ''),
    'berm_volume_m3': ('m3', ''),
    'kg_per_wh': ('kg/Wh', ''),
    'energy_wh': ('Wh', ''),
    'target_resource_kg': ('kg', ''),
    'estop_events': ('', ''),
    'sim_time_s': ('s', ''),
    'wall_time_s': ('s', ''),
    'gravity_mps2': ('m/s^2', ''),
}


def _value(v):
    return float('nan') if v is None else v


def run(quick: bool = False, out_dir: Path | None = None) -> dict:
    from mining_rover.benchmarking import metric
    from mining_rover.mission_runner import MissionOptions, run_mission

    out = out_dir or Path(__file__).resolve().parent / 'results' / NAME
    code, s = run_mission(MissionOptions(world=WORLD, duration_s=QUICK_DURATION_S if quick else DURATION_S,
                                         out_dir=out, seed=SEED, rtf=0.0))
    metrics = {k: metric(_value(s.get(k)), unit, goal) for k, (unit, goal) in FIGURES.items()}
    delivered, truth = s.get('regolith_delivered_kg'), s.get('sim_berm_mass_kg')
    ratio = delivered / truth if delivered is not None and truth else float('nan')
    metrics['delivered_vs_sim_berm_mass_ratio'] = metric(ratio, '')
    metrics['completed'] = metric(1 if code == 0 else 0, '', '== 1')
    if not math.isnan(ratio) and truth is not None:
        metrics['sim_berm_mass_kg'] = metric(truth, 'kg')
    return metrics


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:36s} {m.value!s:>12} {m.unit:6s} {m.goal}')
