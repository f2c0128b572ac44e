"""The simulated motor controllers' faults (sim/motor_faults.py) in the embedded simulator:
the command watchdog stops a wheel whose commands stop, a controller in error gives no
torque and ignores commands, a jammed drum does not turn, a bus-off loses every command,
a clock jump moves time but not the rover."""
from __future__ import annotations

import pytest

pytest.importorskip('mujoco')

from mining_rover.sim.motor_faults import BUS_OFF_TEXT, MOTOR_ERROR_TEXT
from mining_rover.sim.simulator import Simulator

WHEEL, DRUM = 'front_left_wheel_joint', 'front_drum_joint'


@pytest.fixture(scope='module')
def sim():
    s = Simulator(world='moon_south_pole', camera_width=64, camera_height=48, flat=True, motor_watchdog_s=0.2)
    yield s
    s.close()


def speed(sim, joint):
    return sim.joint_state()[joint][1]


def run(sim, seconds, refresh=None):
    """Step ``seconds``; re-send ``refresh`` {joint: command} every 20 ms like a driver."""
    for _ in range(int(round(seconds / 0.02))):
        for j, v in (refresh or {}).items():
            sim.set_command(j, v)
        sim.step(int(round(0.02 / sim.dt)))


def test_the_watchdog_stops_a_wheel_whose_commands_stop_and_only_then(sim):
    sim.reset()
    run(sim, 0.6, {WHEEL: 3.0})
    assert speed(sim, WHEEL) > 2.0
    run(sim, 0.15)                       # under the 0.2 s watchdog: still commanded
    assert sim.data.ctrl[sim._act[WHEEL]] == 3.0
    run(sim, 0.5)
    assert sim.data.ctrl[sim._act[WHEEL]] == 0.0 and abs(speed(sim, WHEEL)) < 0.3
    assert sim.motor_faults.watchdog_trips >= 1


def test_a_controller_in_error_gives_no_torque_ignores_commands_and_reports_it(sim):
    sim.reset()
    run(sim, 0.4, {WHEEL: 3.0})
    sim.motor_faults.set_motor_error(WHEEL, True)
    assert sim.motor_faults.status(WHEEL) == MOTOR_ERROR_TEXT and sim.motor_faults.status(DRUM) == ''
    run(sim, 0.3, {WHEEL: 3.0})
    assert abs(sim.joint_state()[WHEEL][2]) < 1e-9        # no torque at all
    assert sim.data.ctrl[sim._act[WHEEL]] == 0.0            # the commands were lost
    sim.motor_faults.set_motor_error(WHEEL, False)
    run(sim, 0.6, {WHEEL: 3.0})
    assert speed(sim, WHEEL) > 2.0 and sim.motor_faults.status(WHEEL) == ''


def test_a_jammed_drum_does_not_turn_and_its_motor_pushes_at_its_limit(sim):
    sim.reset()
    sim.motor_faults.set_jam(DRUM, True)
    run(sim, 0.4, {DRUM: 4.0})
    assert abs(speed(sim, DRUM)) < 1e-9
    assert abs(sim.joint_state()[DRUM][2]) >= 0.99 * float(sim.robot.joints[DRUM].effort)
    sim.motor_faults.set_jam(DRUM, False)
    run(sim, 0.6, {DRUM: 4.0})
    assert speed(sim, DRUM) > 3.0


def test_bus_off_loses_every_command_and_every_controller_reports_it(sim):
    sim.reset()
    run(sim, 0.4, {WHEEL: 3.0, DRUM: 4.0})
    sim.motor_faults.set_bus_off(True)
    assert {sim.motor_faults.status(j) for j in (WHEEL, DRUM)} == {BUS_OFF_TEXT}
    run(sim, 0.8, {WHEEL: 3.0, DRUM: 4.0})
    assert abs(speed(sim, WHEEL)) < 0.3 and abs(speed(sim, DRUM)) < 0.3
    sim.motor_faults.set_bus_off(False)
    run(sim, 0.6, {WHEEL: 3.0})
    assert speed(sim, WHEEL) > 2.0


def test_a_clock_jump_moves_time_not_the_rover(sim):
    sim.reset()
    run(sim, 0.2)
    t0, pose0 = sim.time, sim.ground_truth_pose().copy()
    sim.jump_clock(5.0)
    assert sim.time == pytest.approx(t0 + 5.0)
    assert abs(sim.ground_truth_pose() - pose0).max() < 1e-9
    with pytest.raises(ValueError, match='clock jump'):
        sim.jump_clock(-1.0)


def test_reset_clears_every_fault(sim):
    sim.motor_faults.set_motor_error(WHEEL, True)
    sim.motor_faults.set_jam(DRUM, True)
    sim.motor_faults.set_bus_off(True)
    sim.reset()
    assert not sim.motor_faults.errors and not sim.motor_faults.jams and not sim.motor_faults.bus_off
    run(sim, 0.6, {WHEEL: 3.0})
    assert speed(sim, WHEEL) > 2.0


WHEELS = ('front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint')


def test_stuck_the_wheels_turn_the_rover_stays_and_backing_off_frees_it(sim):
    sim.reset()
    sim.motor_faults.set_stuck(True)                      # armed: placed once it drives on
    run(sim, 1.0)
    assert sim.motor_faults.stuck is None
    run(sim, 1.0, {w: 2.0 for w in WHEELS})
    assert sim.motor_faults.stuck is not None
    x0 = sim.ground_truth_pose()[:2, 3].copy()
    run(sim, 2.0, {w: 2.0 for w in WHEELS})
    moved = float(abs(sim.ground_truth_pose()[:2, 3] - x0).max())
    assert moved < 0.03                                   # still, by truth ...
    assert min(speed(sim, w) for w in WHEELS) > 1.5       # ... with every wheel turning
    assert {sim.motor_faults.status(w) for w in WHEELS} == {''}   # no controller says so
    run(sim, 2.0, {w: -2.0 for w in WHEELS})              # reversing is free
    back = sim.ground_truth_pose()[:2, 3]
    assert float(((back - x0) ** 2).sum()) ** 0.5 > 0.3
    sim.motor_faults.set_stuck(False)
    assert sim.motor_faults.stuck is None and not sim.motor_faults.stuck_armed
