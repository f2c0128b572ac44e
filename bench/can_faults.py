"""Benchmark: CAN faults -> safe state -> recovery, odrive_can backend against the fake ODrive.

Four wheel axes on a python-can virtual bus, the host's bus wrapped in FaultyBus. For each
injected fault, with every wheel turning: time from injection until the fake ODrive has
every axis at zero setpoint or disarmed (its ground truth, not the driver's belief);
then the fault is removed, ``clear_errors()`` is called, and recovery = every axis back
in CLOSED_LOOP_CONTROL and following a new setpoint within 3 s.

Faults: heartbeat loss (an axis goes silent), motor error (DRV_FAULT), controller-side
disarm (ESTOP_REQUESTED on one axis), a bus-off error frame, and the bus gone (send and
receive raise; here the ODrive's own axis watchdog, 0.1 s, is what stops the motors).
A garbage flood (unknown ids, wrong lengths, NaN payloads, error frames) must *not*
trip anything: ``garbage_false_trips``.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

NAME = 'can_faults'
DESCRIPTION = ('ODrive CAN faults (heartbeat loss, motor error, controller disarm, bus-off frame, '
               'bus gone) x 5 (x 2 with --quick): time to safe state and recovery after clear errors')

NODES = [0, 1, 2, 3]
SAFE_GOAL_MS = 200.0


def _wait(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return bool(predicate())


def run(quick: bool = False) -> dict:
    from fake_odrive import FakeOdrive, FaultyBus
    from mining_rover.benchmarking import metric
    from mining_rover.drivers.odrive_can import AxisConfig, OdriveCanBackend, virtual_bus_factory

    repeats = 2 if quick else 5
    channel = f'bench_can_faults_{os.getpid()}'
    fake = FakeOdrive(channel, NODES, heartbeat_period_s=0.02, watchdog_timeout_s=0.1).start()
    holder = {}

    def factory():
        holder['bus'] = FaultyBus(virtual_bus_factory(channel)())
        return holder['bus']

    joints = [f'wheel_{n}' for n in NODES]
    backend = OdriveCanBackend([AxisConfig(j, 'wheel', n) for j, n in zip(joints, NODES)], factory,
                               heartbeat_timeout_s=0.1, reopen_period_s=0.05)
    if backend.start():
        raise RuntimeError(f'fake ODrive did not come up: {backend.start()}')

    def drive():
        backend.set_wheel_velocities({j: 3.0 for j in joints})
        return _wait(lambda: all(fake.axis(n).input_vel != 0.0 and fake.axis(n).state == 8
                                 for n in NODES), 3.0)

    faults = {
        'heartbeat_loss': (lambda: fake.heartbeat_loss(2), lambda: fake.heartbeat_loss(2, False)),
        'motor_error': (lambda: fake.motor_error(1, 0x20), lambda: None),
        'controller_disarm': (lambda: fake.motor_error(3, 0x02000000), lambda: None),
        'bus_off_frame': (lambda: fake.error_frames(1, bus_off=True), lambda: None),
        'bus_gone': (lambda: setattr(holder['bus'], 'fail', True),
                     lambda: setattr(holder['bus'], 'fail', False)),
    }
    per_fault, total, safe, recovered, worst = {}, 0, 0, 0, 0.0
    try:
        for name, (inject, undo) in faults.items():
            times = []
            for _ in range(repeats):
                if not drive():
                    raise RuntimeError(f'{name}: wheels not turning before injection')
                total += 1
                t0 = time.monotonic()
                inject()
                ok = _wait(lambda: fake.all_stopped(NODES), 1.0)
                ms = (fake.last_stop_time(NODES) - t0) * 1e3 if ok else float('inf')
                times.append(ms)
                safe += ms <= SAFE_GOAL_MS
                worst = max(worst, ms)
                _wait(lambda: bool(backend.faults()), 1.0)
                undo()
                time.sleep(0.05)
                if _wait(lambda: backend.clear_errors(), 2.0) and _wait(
                        lambda: not backend.faults() and set(backend.axis_states().values())
                        == {'CLOSED_LOOP_CONTROL'}, 3.0) and drive():
                    recovered += 1
            per_fault[name] = max(times)
        garbage_before = sum(backend.stats()[k] for k in ('unknown_node', 'bad_dlc', 'extended_id',
                                                          'unexpected_cmd', 'bad_payload', 'error_frames'))
        drive()
        fake.garbage(200)
        fake.error_frames(20)
        time.sleep(0.3)
        false_trips = len(backend.faults()) + (0 if not fake.all_stopped(NODES) else 1)
        garbage = sum(backend.stats()[k] for k in ('unknown_node', 'bad_dlc', 'extended_id',
                                                   'unexpected_cmd', 'bad_payload', 'error_frames'))
    finally:
        backend.close()
        fake.stop()
    out = {
        'faults_total': metric(total, 'count'),
        'faults_safe_within_200ms': metric(safe, 'count', f'>= {total}'),
        'faults_recovered': metric(recovered, 'count', f'>= {total}'),
        'safe_state_max_ms': metric(worst, 'ms', f'<= {SAFE_GOAL_MS:g}'),
    }
    for name, ms in per_fault.items():
        out[f'safe_ms_{name}'] = metric(ms, 'ms', f'<= {SAFE_GOAL_MS:g}')
    out['garbage_frames_ignored'] = metric(garbage - garbage_before, 'count', '>= 220')
    out['garbage_false_trips'] = metric(false_trips, 'count', '== 0')
    return out


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:28s} {m.value!s:>12} {m.unit:6s} {m.goal}')
