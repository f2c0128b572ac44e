"""Fault plans (runner/faults.py): every bad plan is one line naming the entry and key,
`mining-rover sim --faults` exits 2 on it before anything starts; the judging of an
event against the simulator's truth (no ROS: a fake stack and fed truth)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mining_rover.paths import share_dir
from mining_rover.runner.faults import (KINDS, FaultInjector, FaultPlanError, load_plan, parse_plan,
                                        plan_context)

JOINTS, STATES = plan_context()


def parse(raw, duration_s=100.0):
    return parse_plan(raw, duration_s, 'plan.yaml', JOINTS, STATES)


def test_every_example_plan_parses_and_one_has_every_kind():
    plans = sorted((share_dir() / 'config' / 'faults').glob('*.yaml'))
    assert plans
    kinds = set()
    for path in plans:
        faults = load_plan(path, 600.0, JOINTS, STATES)
        kinds |= {f.kind for f in faults}
    assert kinds == set(KINDS)


@pytest.mark.parametrize('raw, words', [
    (None, ['empty']),
    ({'at_s': 1}, ['expected a list']),
    (['kill'], ['faults[0]', 'expected a mapping']),
    ([{'at_s': 5, 'kind': 'meteor'}], ['faults[0].kind', "'meteor'", 'kill, camera_blackout']),
    ([{'at_s': 5}], ['faults[0].kind', 'None']),
    ([{'at_s': 100, 'kind': 'camera_blackout'}], ['faults[0].at_s', 'outside the mission']),
    ([{'at_s': -1, 'kind': 'camera_blackout'}], ['faults[0].at_s', 'outside']),
    ([{'at_s': 'soon', 'kind': 'clock_jump'}], ['faults[0].at_s', 'not a number']),
    ([{'at_s': 95, 'kind': 'camera_frozen', 'duration_s': 10}], ['duration_s', 'after the mission']),
    ([{'at_s': 5, 'kind': 'camera_frozen', 'duration_s': 0}], ['duration_s', 'outside']),
    ([{'at_s': 5, 'kind': 'kill'}], ["needs 'node'"]),
    ([{'at_s': 5, 'kind': 'kill', 'node': 'sim_node'}], ['faults[0].node', 'the simulator is the world']),
    ([{'at_s': 5, 'kind': 'kill', 'node': 'nav_node'}], ['faults[0].node', "'nav_node'", 'mission_node']),
    ([{'at_s': 5, 'kind': 'kill', 'node': 'drive_node', 'duration_s': 3}], ["unknown key 'duration_s'"]),
    ([{'at_s': 5, 'kind': 'wheel_motor_error', 'joint': 'front_drum_joint'}], ['not a wheel joint']),
    ([{'at_s': 5, 'kind': 'drum_stall', 'joint': 'rear_left_wheel_joint'}], ['not a drum joint']),
    ([{'at_s': 5, 'kind': 'drum_stall', 'during': 'DIGGING'}], ['during', 'not an executive state']),
    ([{'at_s': 1, 'kind': 'clock_jump'}, {'at_s': 2, 'kind': 'clock_jump', 'jump_s': 0}],
     ['faults[1].jump_s']),
])
def test_bad_plans_are_one_line_naming_entry_and_key(raw, words):
    with pytest.raises(FaultPlanError) as err:
        parse(raw)
    text = str(err.value)
    assert '\n' not in text and text.startswith('plan.yaml')
    for w in words:
        assert w in text, text


def test_a_good_plan_keeps_defaults_and_during():
    faults = parse([{'at_s': 10, 'kind': 'drum_stall', 'during': 'EXCAVATE'},
                    {'at_s': 20, 'kind': 'dds_partition'}])
    assert (faults[0].joint, faults[0].duration_s, faults[0].during) == ('all', 3.0, 'EXCAVATE')
    assert faults[1].duration_s == 5.0


@pytest.mark.parametrize('text, words', [
    ('- {at_s: 5, kind: meteor}\n', ["'meteor' is not a fault kind"]),
    ('- {at_s: 500, kind: kill, node: drive_node}\n', ['outside the mission (0 .. 60 s)']),
    ('- {at_s: 5, kind: kill, node: sim_node}\n', ["'sim_node'"]),
    ('[1\n', ['not YAML (line 2)']),
])
def test_sim_refuses_a_bad_plan_with_one_line_and_exit_2(tmp_path, text, words):
    plan = tmp_path / 'plan.yaml'
    plan.write_text(text)
    out = tmp_path / 'out'
    r = subprocess.run([sys.executable, '-m', 'mining_rover.cli', 'sim', '--duration', '60',
                        '--faults', str(plan), '--out', str(out)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(plan) in lines[0] and 'Traceback' not in r.stderr
    for w in words:
        assert w in lines[0]
    assert not out.exists(), 'nothing may start on a bad plan'


def test_a_missing_plan_is_one_line(tmp_path):
    with pytest.raises(FaultPlanError, match='cannot read the fault plan'):
        load_plan(tmp_path / 'nope.yaml', 60.0)


# -- judging ---------------------------------------------------------------------------
class FakeProc:
    def __init__(self, pid):
        self.pid, self.alive_ = pid, True

    def alive(self):
        return self.alive_


class FakeStack:
    def __init__(self):
        self.procs = {'mission_node': FakeProc(10), 'drive_node': FakeProc(11)}
        self.respawns = {}
        self.signals = []

    def send_signal(self, name, sig):
        self.signals.append((name, sig))
        if sig == signal.SIGKILL:
            self.procs[name].alive_ = False
        return True

    def respawn(self, name):
        self.respawns.setdefault(name, []).append((-9, 0.0))
        self.procs[name] = FakeProc(99)


WHEELS = ['front_left_wheel_joint', 'front_right_wheel_joint']


def run_events(plan, truth, statuses, t_end):
    """Step an injector over sim time with wheel speeds ``truth(t)`` and statuses
    ``statuses(t)`` (respawning killed nodes one step later)."""
    stack, sent = FakeStack(), []
    inj = FaultInjector(parse(plan), stack, sent.append, {'wheel': 0.5, 'drum': 1.0}, log=lambda s: None)
    t = 0.0
    while t < t_end:
        for name, p in list(stack.procs.items()):
            if not p.alive():
                stack.respawn(name)
        inj.on_joint_states(t, WHEELS + ['front_drum_joint'], [truth(t)] * 2 + [0.0])
        inj.on_hazards(0)
        inj.step(t, statuses(t), t)
        t = round(t + 0.02, 6)
    inj.close(t, statuses(t), t)
    return inj.results(), stack, sent


def working(t):
    return {'state': 'HAUL', 'regolith_delivered_kg': '12.0', 'cycles': '1'}


def test_kill_of_the_executive_survived_when_wheels_stop_within_twice_the_watchdog():
    (rows, m), stack, _ = run_events([{'at_s': 5, 'kind': 'kill', 'node': 'mission_node'}],
                                     lambda t: 3.0 if t < 5.6 else 0.0, working, 20.0)
    assert ('mission_node', signal.SIGKILL) in stack.signals
    assert rows[0]['survived'] and rows[0]['recovered']
    assert rows[0]['unsafe_s'] == pytest.approx(0.6, abs=0.03)
    assert m['faults_survived'] == 1 and m['max_unsafe_s'] == rows[0]['unsafe_s']


def test_wheels_that_keep_turning_past_the_promise_are_not_survived():
    (rows, m), _, _ = run_events([{'at_s': 5, 'kind': 'kill', 'node': 'mission_node'}],
                                 lambda t: 3.0 if t < 6.5 else 0.0, working, 20.0)
    assert rows[0]['unsafe_s'] == pytest.approx(1.5, abs=0.03) and rows[0]['promise_s'] == 2.0
    assert not rows[0]['survived'] and 'promise' in rows[0]['reason']


def test_a_tally_that_goes_down_after_a_kill_is_lost():
    (rows, m), _, _ = run_events(
        [{'at_s': 5, 'kind': 'kill', 'node': 'mission_node'}], lambda t: 0.0,
        lambda t: {'state': 'HAUL', 'regolith_delivered_kg': '12.0' if t < 5.5 else '0.0', 'cycles': '1'},
        20.0)
    assert rows[0]['tally_lost_kg'] == 12.0 and m['tally_lost_kg'] == 12.0 and not rows[0]['survived']
    assert rows[0]['tally_before_kg'] == 12.0


def test_a_fault_that_leaves_the_executive_in_fault_is_not_recovered_and_says_why():
    (rows, _), _, sent = run_events(
        [{'at_s': 5, 'kind': 'wheel_motor_error', 'duration_s': 2, 'recover_s': 5}], lambda t: 0.0,
        lambda t: ({'state': 'FAULT', 'fault_reason': 'driver fault: x'} if t > 5 else working(t)), 30.0)
    assert [json.loads(s)['on'] for s in sent] == [True, False]
    assert not rows[0]['recovered'] and 'FAULT' in rows[0]['reason'] and 'driver fault' in rows[0]['reason']


def test_a_partition_stops_and_resumes_the_executive():
    (rows, _), stack, _ = run_events([{'at_s': 5, 'kind': 'dds_partition', 'duration_s': 5}],
                                     lambda t: 0.0, working, 30.0)
    assert stack.signals == [('mission_node', signal.SIGSTOP), ('mission_node', signal.SIGCONT)]
    assert rows[0]['survived']


def test_a_during_fault_waits_for_its_state():
    (rows, _), _, sent = run_events(
        [{'at_s': 5, 'kind': 'drum_stall', 'during': 'EXCAVATE'}], lambda t: 0.0,
        lambda t: {'state': 'EXCAVATE' if t >= 12 else 'HAUL', 'cycles': '0'}, 40.0)
    assert rows[0]['t'] == pytest.approx(12.0, abs=0.03)
    assert {json.loads(s)['joint'] for s in sent} == {'front_drum_joint', 'rear_drum_joint'}


def test_the_faults_benchmark_is_found_and_tabulates_its_events():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_modules import load_bench

    from mining_rover.benchmarking import discover
    assert 'faults' in discover()
    bench = load_bench('faults')
    (rows, _m), _, _ = run_events([{'at_s': 5, 'kind': 'kill', 'node': 'mission_node'},
                                   {'at_s': 9, 'kind': 'camera_frozen', 'duration_s': 2}],
                                  lambda t: 3.0 if t < 5.4 else 0.0, working, 30.0)
    table = bench.fault_table(rows).splitlines()
    assert len(table) == 3
    assert 'kill(mission_node)' in table[1] and '0.40' in table[1] and 'True' in table[1]
    assert 'camera_frozen' in table[2] and ' - ' in table[2]


def test_a_fault_due_while_another_is_judged_waits_for_it():
    (rows, _), _, _ = run_events(
        [{'at_s': 5, 'kind': 'dds_partition', 'duration_s': 5}, {'at_s': 6, 'kind': 'camera_blackout'}],
        lambda t: 0.0, working, 40.0)
    assert rows[0]['t'] == pytest.approx(5.0, abs=0.03)
    assert rows[1]['t'] == pytest.approx(10.0, abs=0.05)     # when the partition ended and recovered
    assert all(r['survived'] for r in rows)
