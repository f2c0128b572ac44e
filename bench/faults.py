"""Benchmark: fault-injected lunar missions through `mining-rover sim --faults`.

Runs the fault plan config/faults/every_kind.yaml (every kind; every node killed once)
in a short fixed-seed mission at the south-pole world, and the same mission without
faults as the baseline, in the same run. Per fault (summary.json ``fault_events``):
injected when, whether the motors truly stopped (simulator joint speeds) and how long it
took (``unsafe_s``, promise: twice the drivers' command watchdog), whether the mission
worked again, the tally it lost and the hazards it met. The table gives the issue's
metrics (faults_survived of N, tally_lost_kg, max_unsafe_s, hazard_contacts) and the
delivered regolith against the baseline's. ``--quick`` runs config/faults/quick.yaml
(kills of the executive and a driver, a partition, a bus-off) in a shorter mission.
Reports land in bench/results/faults/.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

NAME = 'faults'
DESCRIPTION = ('fault-injected lunar missions (every fault kind, every node killed once) against '
               'the same mission without faults: faults survived, tally lost, longest unsafe '
               'interval, hazard contacts')

WORLD = 'moon_south_pole'
SEED = 1
PLAN, DURATION_S = 'every_kind.yaml', 300.0
QUICK_PLAN, QUICK_DURATION_S = 'quick.yaml', 120.0
#: A short mission has no time for the full survey (as test/test_system_mission.py).
SHORT_MISSION = {'mission_node': {'mapping_timeout_s': 10.0, 'excavate_time_limit_s': 20.0,
                                  'site_wait_s': 3.0, 'plan_wait_s': 2.0}}


def _nan(v):
    return float('nan') if v is None else v


def run(quick: bool = False, out_dir: Path | None = None) -> dict:
    from mining_rover.benchmarking import metric
    from mining_rover.mission_runner import MissionOptions, run_mission
    from mining_rover.paths import share_dir
    from mining_rover.runner.faults import watchdog_timeouts

    out = out_dir or Path(__file__).resolve().parent / 'results' / NAME
    plan = share_dir() / 'config' / 'faults' / (QUICK_PLAN if quick else PLAN)
    duration = QUICK_DURATION_S if quick else DURATION_S

    def mission(name, fault_plan):
        return run_mission(MissionOptions(world=WORLD, duration_s=duration, out_dir=out / name, seed=SEED,
                                          rtf=0.0, param_overrides=SHORT_MISSION, fault_plan=fault_plan,
                                          startup_timeout_s=180.0))

    _code0, base = mission('baseline', None)
    _code, s = mission('faulted', plan)
    f = s.get('faults') or {}
    events = s.get('fault_events') or []
    promise = max([e['promise_s'] for e in events if e.get('promise_s')] or
                  [2.0 * max(watchdog_timeouts().values())])
    n = f.get('faults_total', 0)
    metrics = {
        'faults_survived': metric(f.get('faults_survived', 0), f'of {n}', f'>= {n}'),
        'tally_lost_kg': metric(_nan(f.get('tally_lost_kg')), 'kg', '== 0'),
        'max_unsafe_s': metric(_nan(f.get('max_unsafe_s')), 's sim', f'<= {promise:g}'),
        'hazard_contacts': metric(f.get('hazard_contacts', 0), '', '== 0'),
        'delivered_kg': metric(_nan(s.get('regolith_delivered_kg')), 'kg'),
        'baseline_delivered_kg': metric(_nan(base.get('regolith_delivered_kg')), 'kg'),
        'sim_berm_mass_kg': metric(_nan(s.get('sim_berm_mass_kg')), 'kg'),
        'baseline_sim_berm_mass_kg': metric(_nan(base.get('sim_berm_mass_kg')), 'kg'),
        'real_time_factor': metric(_nan(s.get('real_time_factor')), ''),
    }
    for e in events:
        key = f"{e['kind']}{'_' + e['target'] if e['target'] else ''}"
        metrics[f'unsafe_s.{key}'] = metric(_nan(e['unsafe_s']) if e['unsafe_s'] is not None else math.nan,
                                            's sim', f"<= {e['promise_s']:g}" if e['promise_s'] else '')
        metrics[f'survived.{key}'] = metric(1 if e['survived'] else 0, '', '== 1')
    print(fault_table(events), file=sys.stderr)
    (out / 'fault_events.json').write_text(json.dumps(events, indent=1))
    return metrics


def fault_table(events: list) -> str:
    """The fault events as a fixed-width table (the README's)."""
    head = f"{'t s':>6}  {'fault':34s} {'stopped in s':>12} {'promise s':>9} {'recovered':>9} " \
           f"{'lost kg':>7} {'hazards':>7}  reason"
    rows = [head]
    for e in events:
        what = e['kind'] + (f"({e['target']})" if e['target'] else '')
        t = '-' if e['t'] is None else f"{e['t']:.1f}"
        u = '-' if e['unsafe_s'] is None else f"{e['unsafe_s']:.2f}"
        p = '-' if e['promise_s'] is None else f"{e['promise_s']:g}"
        rows.append(f"{t:>6}  {what:34s} {u:>12} {p:>9} {e['recovered']!s:>9} "
                    f"{e['tally_lost_kg']:>7.2f} {e['hazard_contacts']:>7}  {e['reason']}")
    return '\n'.join(rows)


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:40s} {m.value!s:>12} {m.unit:8s} {m.goal}')
