"""Skid-steer kinematics: round trips, known values, wheel-limit scaling."""
import math

import pytest
from hypothesis import given, strategies as st

from mining_rover.control.kinematics import SkidSteer, skid_steer_from_rover

finite = st.floats(-5.0, 5.0, allow_nan=False)


@given(v=finite, w=finite, slip=st.floats(1.0, 2.0))
def test_twist_wheels_round_trip(v, w, slip):
    k = SkidSteer(0.7, 0.2, slip)
    v2, w2 = k.wheels_to_twist(*k.twist_to_wheels(v, w))
    assert v2 == pytest.approx(v, abs=1e-9)
    assert w2 == pytest.approx(w, abs=1e-9)


def test_known_values_from_rover_yaml():
    k = skid_steer_from_rover()
    assert (k.track_width_m, k.wheel_radius_m) == (0.70, 0.20)
    # 1 m/s straight: both wheels 1 / 0.2 = 5 rad/s.
    assert k.twist_to_wheels(1.0, 0.0) == pytest.approx((5.0, 5.0))
    # Turn in place at 1 rad/s: rims at +-0.35 m/s -> +-1.75 rad/s, left backwards.
    assert k.twist_to_wheels(0.0, 1.0) == pytest.approx((-1.75, 1.75))
    # A slip factor of 1.5 needs 1.5x the wheel speed difference for the same turn.
    k15 = skid_steer_from_rover(1.5)
    assert k15.twist_to_wheels(0.0, 1.0) == pytest.approx((-2.625, 2.625))


def test_scale_to_wheel_limit_keeps_curvature():
    k = SkidSteer(0.7, 0.2)
    left, right = k.twist_to_wheels(2.0, 1.0)
    sl, sr = k.scale_to_wheel_limit(left, right, 6.0)
    assert max(abs(sl), abs(sr)) == pytest.approx(6.0)
    assert sl / sr == pytest.approx(left / right)
    v, w = k.wheels_to_twist(sl, sr)
    assert v / w == pytest.approx(2.0 / 1.0)


@pytest.mark.parametrize('kwargs', [dict(track_width_m=0.0, wheel_radius_m=0.2),
                                    dict(track_width_m=0.7, wheel_radius_m=math.nan),
                                    dict(track_width_m=0.7, wheel_radius_m=0.2, slip_factor=0.5)])
def test_bad_geometry_rejected(kwargs):
    with pytest.raises(ValueError):
        SkidSteer(**kwargs)
