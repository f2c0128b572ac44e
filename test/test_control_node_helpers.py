"""The arithmetic drive_node and excavator_node used to do in their callbacks, now pure
functions in control/ (no ROS): the visual-odometry increment, the tilt that switches the
hold-down off, the wheel/drum averaging, the drum loads, the stowed drum position, the
arm swing sizing and the control loop's time step."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from transforms3d.euler import euler2mat

from mining_rover.control.holddown import effective_gravity, tilt_rad, tipped
from mining_rover.control.limits import ArmSwingLimits, ControlTicker, finite_mean
from mining_rover.control.odometry import drum_loads_kg, stowed_drum_x_m
from mining_rover.control.visual_fusion import between, planar_increment

angles = st.floats(-math.pi, math.pi)
coords = st.floats(-50.0, 50.0)


def _pose(x, y, yaw, roll=0.0, pitch=0.0, z=0.0):
    T = np.eye(4)
    T[:3, :3] = euler2mat(roll, pitch, yaw, 'sxyz')
    T[:3, 3] = (x, y, z)
    return T


@given(coords, coords, angles, coords, coords, angles)
def test_planar_increment_is_se2_between_for_planar_poses(x0, y0, a0, x1, y1, a1):
    """For poses in the plane the increment is the SE(2) a^-1 (+) b the fusion uses."""
    got = planar_increment(_pose(x0, y0, a0), _pose(x1, y1, a1))
    want = between((x0, y0, a0), (x1, y1, a1))
    assert got[:2] == pytest.approx(want[:2], abs=1e-9)
    assert math.remainder(got[2] - want[2], 2 * math.pi) == pytest.approx(0.0, abs=1e-9)


def test_planar_increment_is_in_the_earlier_frame():
    # facing +y, then 1 m further along +y and turned 0.1 rad left: 1 m ahead, 0.1 rad
    dx, dy, dyaw = planar_increment(_pose(2.0, 3.0, math.pi / 2), _pose(2.0, 4.0, math.pi / 2 + 0.1))
    assert (dx, dy, dyaw) == pytest.approx((1.0, 0.0, 0.1), abs=1e-12)


@given(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_tilt_is_the_angle_between_body_z_and_vertical(roll, pitch):
    z_body = euler2mat(roll, pitch, 0.3, 'sxyz')[:, 2]
    assert tilt_rad(roll, pitch) == pytest.approx(math.acos(max(-1.0, min(1.0, z_body[2]))), abs=1e-7)


def test_tipped_needs_a_known_attitude_beyond_the_limit():
    assert tipped(2.0, 0.0, 1.57) and not tipped(0.2, 0.0, 1.57)
    assert not tipped(None, 0.0, 0.1) and not tipped(0.0, None, 0.1) and not tipped(math.nan, 0.0, 0.1)
    assert tipped(0.0, -1.0, 0.5)          # pitched nose-down counts like rolled


def test_finite_mean_leaves_out_missing_feedback():
    assert finite_mean([1.0, math.nan, 3.0]) == 2.0
    assert math.isnan(finite_mean([math.nan, math.inf])) and math.isnan(finite_mean([]))
    assert finite_mean(iter([2.0])) == 2.0


def test_drum_loads_sum_per_end_and_reject_what_is_no_mass():
    front, rear, bad = drum_loads_kg({'fill_kg': '9', 'fill_kg.front_drum_joint': '3.5',
                                      'fill_kg.rear_drum_joint': '2.0', 'fill_kg.rear_spare': 'nan',
                                      'fill_kg.front_x': '-1', 'fill_kg.front_y': 'lots', 'stalled': '1'})
    assert (front, rear) == (3.5, 2.0)
    assert sorted(bad) == ['fill_kg.front_x', 'fill_kg.front_y', 'fill_kg.rear_spare']


def test_stowed_drum_position_from_the_arm_geometry():
    # rover.yaml: pivot 0.45 m, arm 0.45 m; stowed at -0.4 rad: 0.864 m (the old 0.86 default)
    assert stowed_drum_x_m(0.45, 0.45, -0.4) == pytest.approx(0.45 + 0.45 * math.cos(0.4))
    assert stowed_drum_x_m(0.45, 0.45, 0.0) == pytest.approx(0.9)


def test_arm_swing_for_a_rover_loads_the_wheels_with_the_holddown_thrust():
    args = dict(rover_mass_kg=80.0, arm_mass_kg=2.5, drum_mass_kg=5.5, drum_capacity_kg=9.0,
                arm_length_m=0.45, rated_radps=2.0, rated_radps2=2.0)
    swung = 2.0 * (2.5 + 5.5 + 9.0)
    g = 0.06   # Psyche-like
    bare = ArmSwingLimits.for_rover(g, 0.0, **args)
    assert bare == ArmSwingLimits.for_gravity(g, 80.0, swung, 0.45, 2.0, 2.0)
    pressed = ArmSwingLimits.for_rover(g, 5.0, **args)
    assert pressed == ArmSwingLimits.for_gravity(effective_gravity(g, 5.0, 80.0), 80.0, swung, 0.45, 2.0, 2.0)
    assert pressed.max_radps2 > bare.max_radps2
    assert ArmSwingLimits.for_rover(0.0, 5.0, **args) == ArmSwingLimits(2.0, 2.0)   # body unknown: rated


def test_dump_raise_time_covers_the_longest_swing_to_the_dump_angle():
    swing = ArmSwingLimits(0.35, 0.12)
    t = swing.dump_raise_time_s(-0.8, 0.6, -0.6, 1.5)
    assert t == pytest.approx(swing.swing_time_s(1.2)) and t > 1.5
    assert ArmSwingLimits(5.0, 50.0).dump_raise_time_s(-0.8, 0.6, -0.6, 1.5) == 1.5


def test_control_ticker_steps_on_its_clock_and_never_backwards():
    t = ControlTicker(50.0)
    assert t.step(100.0) == pytest.approx(0.02)          # first tick: nominal
    assert t.step(100.05) == pytest.approx(0.05)         # a late tick: the real gap
    assert t.step(3.0) == pytest.approx(0.02)            # clock went back (sim reset): nominal
    assert t.step(3.01) == pytest.approx(0.01)
    due = [t.due(10.0) for _ in range(10) if t.step(4.0 + _ * 0.02) > 0]
    assert sum(due) == 2                                  # every 5th tick at 10 Hz from 50 Hz
    with pytest.raises(ValueError):
        ControlTicker(0.0)
