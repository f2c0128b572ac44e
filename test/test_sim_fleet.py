"""Two rovers in one embedded simulator world (issue #22): each drives, digs, counts its
hazards and renders on its own, and each one's cameras see the other."""
import math
import re

import numpy as np
import pytest

from mining_rover.sim.fleet import RoverSpec, check_rovers, collision_bits, fleet_specs, world_keep_clear
from mining_rover.sim.simulator import Simulator

WHEELS = ('front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint')


def _drive(view, speed_radps):
    for j in WHEELS:
        view.set_command(j, speed_radps)


def _xy(view):
    return view.ground_truth_pose()[:2, 3].copy()


@pytest.fixture(scope='module')
def fleet():
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48,
                    rovers=['r1', 'r2'])
    yield sim
    sim.close()


def test_a_fleet_is_one_model_with_prefixed_names(fleet):
    import mujoco
    m = fleet.model
    assert fleet.rover_names == ['r1', 'r2']
    for name in ('r1/base_link', 'r2/base_link', 'r1/left_camera_optical_frame'):
        assert mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name) >= 0, name
    assert mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, 'base_link') < 0
    assert m.nu == 2 * len(fleet.contract.joints)
    one = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    try:   # same rover: the same mass in each, and the default rover keeps the URDF's names
        assert mujoco.mj_name2id(one.model, mujoco.mjtObj.mjOBJ_BODY, 'base_link') == 1
        for r in ('r1', 'r2'):
            assert fleet.rover_view(r).regolith_telemetry()['rover_mass_kg'] == pytest.approx(
                one.regolith_telemetry()['rover_mass_kg'], rel=1e-12)
    finally:
        one.close()
    # side by side: r2 starts FLEET_SPACING_M beside r1, same heading, off the berm and boards
    x, y, yaw = fleet.world.zones.start_xy_yaw
    clear = world_keep_clear(fleet.world)
    p2 = fleet_specs(['r1', 'r2'], (x, y, yaw), keep_clear=clear)[1].start_xy_yaw
    assert all(math.hypot(p2[0] - cx, p2[1] - cy) >= r + 1.2 for cx, cy, r in clear)
    assert _xy(fleet.rover_view('r2')) == pytest.approx(p2[:2], abs=1e-6)


def test_each_rover_moves_on_its_own_commands_only(fleet):
    fleet.reset()
    r1, r2 = fleet.rover_view('r1'), fleet.rover_view('r2')
    fleet.step(250)                        # settle
    a1, a2 = _xy(r1), _xy(r2)
    _drive(r2, 2.0)                        # r2's command does not move r1
    fleet.step(1000)
    assert np.linalg.norm(_xy(r2) - a2) > 0.2
    assert np.linalg.norm(_xy(r1) - a1) < 0.01
    assert r2.joint_state()['front_left_wheel_joint'][1] == pytest.approx(2.0, abs=0.3)
    assert abs(r1.joint_state()['front_left_wheel_joint'][1]) < 0.05
    _drive(r2, 0.0)
    _drive(r1, -2.0)                       # and r1's does not move r2
    fleet.step(300)                        # r2 brakes
    b1, b2 = _xy(r1), _xy(r2)
    fleet.step(1000)
    assert np.linalg.norm(_xy(r1) - b1) > 0.2
    assert np.linalg.norm(_xy(r2) - b2) < 0.01
    # the IMU of the rover that turns in place sees the turn, the other's does not
    _drive(r1, 0.0)
    for j, s in zip(WHEELS, (-2.0, 2.0, -2.0, 2.0)):
        r2.set_command(j, s)
    fleet.step(500)
    assert abs(r2.imu()['angular_velocity'][2]) > 0.05
    assert abs(r1.imu()['angular_velocity'][2]) < 0.01


def test_digging_and_faults_are_booked_per_rover(fleet):
    fleet.reset()
    r1, r2 = fleet.rover_view('r1'), fleet.rover_view('r2')
    fleet.step(200)
    r1.set_command('front_arm_joint', 0.25)
    r1.set_command('front_drum_joint', 4.0)
    _drive(r1, 0.5)
    fleet.step(2500)
    t1, t2 = r1.regolith_telemetry(), r2.regolith_telemetry()
    assert t1['excavated_kg'] > 5.0 and t1['carried_kg'] > 0.0
    assert t2['excavated_kg'] == 0.0 and t2['carried_kg'] == 0.0
    assert t1['rover_mass_kg'] == pytest.approx(t2['rover_mass_kg'] + t1['carried_kg'], rel=1e-9)
    assert r1.drum_loads()['front_drum_joint'] != (0.0, 0.0, 0.0)
    assert r2.drum_loads()['front_drum_joint'] == (0.0, 0.0, 0.0)
    # a bus-off on r1's controllers stops r1 only
    r1.motor_faults.set_bus_off(True)
    wheel = 'front_left_wheel_joint'
    assert r1.motor_faults.status(wheel) and not r2.motor_faults.status(wheel)
    r1.motor_faults.set_bus_off(False)
    # motors: r1's cutting drum draws current, r2's idle one none
    drum = 'front_drum_joint'
    assert r1.motor_state()[drum]['current_a'] > 10 * r2.motor_state()[drum]['current_a']


def test_hazard_contacts_are_counted_per_rover():
    sim = Simulator(world='moon_south_pole', camera_width=64, camera_height=48, rovers=['r1', 'r2'])
    try:
        crater = max(sim.world.hazards.craters, key=lambda c: c['radius'])
        r2 = sim.rover_view('r2')
        r2.set_base_state(pos=[crater['x'], crater['y'], sim.true_height(crater['x'], crater['y']) + 0.4])
        sim.step(50)
        assert r2.regolith_telemetry()['hazard_contacts'] >= 1
        assert sim.rover_view('r1').regolith_telemetry()['hazard_contacts'] == 0
    finally:
        sim.close()


def _seen_fraction(a, b):
    """Fraction of pixels whose brightness changed by more than 30 of 255."""
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 30).mean())


def test_each_rover_sees_the_other():
    # face to face, 3 m apart on flat ground; then the other one is taken away
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=160, camera_height=120,
                    rovers=[RoverSpec('r1', (0.0, 0.0, 0.0)), RoverSpec('r2', (3.0, 0.0, math.pi))])
    try:
        sim.step(100)
        r1, r2 = sim.rover_view('r1'), sim.rover_view('r2')
        with_r2 = r1.render_stereo()[0]
        with_r1 = r2.render_stereo()[0]
        far = sim.world.origin_xy[0] + 2.0
        r2.set_base_state(pos=[far, far, 0.5])
        without_r2 = r1.render_stereo()[0]
        assert _seen_fraction(with_r2, without_r2) > 0.05
        r2.set_base_state(pos=[3.0, 0.0, 0.2], yaw=math.pi)
        r1.set_base_state(pos=[far, far, 0.5])
        without_r1 = r2.render_stereo()[0]
        assert _seen_fraction(with_r1, without_r1) > 0.05
        # each camera pose is its own rover's
        assert r1.camera_pose('left')[0, 3] != pytest.approx(r2.camera_pose('left')[0, 3], abs=0.5)
    finally:
        sim.close()


@pytest.mark.parametrize('rovers, message', [
    ([], 'at least one rover'),
    (['r1', 'r1'], "'r1' appears twice"),
    (['', 'r2'], 'unnamed rover must be alone'),
    (['1r'], 'is not a rover name'),
    ([RoverSpec('r1', (0.0, math.nan, 0.0))], 'must be (x, y, yaw)'),
])
def test_bad_rover_lists_are_refused(rovers, message):
    with pytest.raises(ValueError, match='rovers: .*' + re.escape(message)):
        check_rovers(rovers)


def test_collision_bits_keep_a_rover_off_itself_and_on_the_others():
    assert collision_bits(0, 1) == (2, 1)      # one rover: as always
    n = 3
    bits = [collision_bits(i, n) for i in range(n)]
    for i, (ti, ai) in enumerate(bits):
        assert ti & 2 and ai & 1                       # meets the terrain (contype 1, conaffinity 2)
        assert not (ti & ai)                           # never itself
        for j, (tj, aj) in enumerate(bits):
            if i != j:
                assert ti & aj or tj & ai              # always the others
