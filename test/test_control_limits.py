"""Limiter properties (hypothesis), actuator clamps, non-finite input, thermal derate."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from mining_rover.control.limits import (ARM_WEIGHT_SHARE, ActuatorLimits, ArmSwingLimits, MotionLimiter,
                                         ThermalDerate, finite)

targets = st.lists(st.one_of(st.floats(-50, 50, allow_nan=False),
                             st.sampled_from([math.nan, math.inf, -math.inf, 1e300])),
                   min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(targets=targets, vmax=st.floats(0.1, 5), amax=st.floats(0.1, 10), jmax=st.floats(0.0, 50),
       dt=st.floats(0.005, 0.1))
def test_limiter_never_exceeds_velocity_accel_jerk(targets, vmax, amax, jmax, dt):
    lim = MotionLimiter(vmax, amax, jmax)
    prev_v, prev_a = 0.0, 0.0
    for t in targets:
        for _ in range(5):
            v = lim.step(t, dt)
            a = (v - prev_v) / dt
            assert math.isfinite(v)
            assert abs(v) <= vmax + 1e-9
            assert abs(a) <= amax * (1 + 1e-9) + 1e-9
            if jmax > 0:
                assert abs(a - prev_a) <= jmax * dt * (1 + 1e-6) + 1e-9
            prev_v, prev_a = v, a


@settings(max_examples=60, deadline=None)
@given(target=st.floats(-3, 3), jmax=st.sampled_from([0.0, 5.0, 20.0]))
def test_limiter_reaches_target(target, jmax):
    lim = MotionLimiter(3.0, 2.0, jmax)
    for _ in range(2000):
        lim.step(target, 0.01)
    assert lim.value == pytest.approx(target, abs=2e-3)


def test_non_finite_target_means_zero():
    lim = MotionLimiter(1.0, 100.0)
    lim.step(1.0, 0.1)
    assert lim.step(math.nan, 0.1) == 0.0


def test_actuator_clamp_reports():
    lim = ActuatorLimits('arm', max_velocity=1.0, lower=-0.8, upper=0.6)
    assert not lim.clamp_velocity(0.5).clamped
    r = lim.clamp_velocity(-7.0)
    assert r.clamped and r.value == -1.0 and 'beyond limit' in r.reason
    assert lim.clamp_velocity(math.inf).value == 0.0
    assert lim.clamp_velocity(0.9, scale=0.5).value == 0.5     # derated limit
    assert lim.clamp_position(0.7).value == 0.6
    assert lim.clamp_position(math.nan) is None
    assert lim.clamp_count == 5


def test_thermal_derate_linear_stop_before_rating_and_hysteresis():
    td = ThermalDerate(derate_start_c=100, stop_c=130, rated_c=155, hysteresis_c=10)
    assert td.scale(25) == 1.0
    assert td.scale(100) == 1.0
    assert td.scale(115) == pytest.approx(0.5)
    assert td.scale(129) == pytest.approx(1 / 30)
    assert td.scale(130) == 0.0 and td.stopped        # stops 25 C below the rating
    assert td.scale(125) == 0.0                        # hysteresis: still too hot
    assert td.scale(119) == pytest.approx(11 / 30)    # cooled below 120: runs, derated
    with pytest.raises(ValueError):
        ThermalDerate(derate_start_c=140, stop_c=130)


def test_finite():
    assert finite(1, 2.0) and not finite(1, math.nan) and not finite('x') and not finite(None)


def test_traversal_limits_scale_with_gravity_by_froude_number_and_traction():
    import math
    from mining_rover.control.limits import MAX_FROUDE, TRACTION_MU, TraversalLimits
    moon = TraversalLimits.for_gravity(1.62, 0.6, 0.7)
    psyche = TraversalLimits.for_gravity(0.144, 0.6, 0.7)
    # the same Froude number: v^2 / (g L) equal on both bodies
    for lim, g in ((moon, 1.62), (psyche, 0.144)):
        assert lim.max_linear_mps ** 2 / (g * 0.6) == pytest.approx(MAX_FROUDE)
        assert lim.max_linear_accel == pytest.approx(TRACTION_MU * g)
        assert lim.max_angular_radps == pytest.approx(lim.max_linear_mps / 0.35)
    assert psyche.max_linear_mps / moon.max_linear_mps == pytest.approx(math.sqrt(0.144 / 1.62))
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match='gravity'):
            TraversalLimits.for_gravity(bad, 0.6, 0.7)


def test_sites_lower_the_limits_only_where_gravity_demands():
    from mining_rover.planning.mission import MissionConfig
    from mining_rover.site import NOMINAL_DRIVE, gravity_limits, site_parameters
    for g in (1.62, 3.72, 9.81):             # Moon, Mars, Earth: the configuration stands
        assert gravity_limits(g) == ({}, {})
    mission, drive = gravity_limits(0.144)   # Psyche
    assert 0.1 < mission['max_linear_mps'] < MissionConfig().max_linear_mps
    assert mission['max_angular_radps'] < MissionConfig().max_angular_radps
    assert drive['max_linear_accel'] == pytest.approx(0.072)
    assert drive['max_linear_accel'] < NOMINAL_DRIVE['max_linear_accel']
    site = site_parameters('psyche')
    assert site['mission']['max_linear_mps'] == mission['max_linear_mps']
    assert site['drive']['max_linear_accel'] == drive['max_linear_accel']
    # the rubble pile's milligravity gives limits far below any useful speed, but legal ones
    m, d = gravity_limits(5e-5)
    assert 0 < m['max_linear_mps'] < 0.01 and 0 < d['max_linear_accel'] < 1e-4


def test_arm_swing_limits_keep_the_wheels_loaded():
    rover, swung, arm = 79.5, 52.0, 0.45
    moon = ArmSwingLimits.for_gravity(1.62, rover, swung, arm, 1.0, 2.0)
    assert moon.max_radps == 1.0                        # the motor's rating rules on the Moon
    psyche = ArmSwingLimits.for_gravity(0.144, rover, swung, arm, 1.0, 2.0)
    assert psyche.max_radps < 0.4 and psyche.max_radps2 < 0.15
    # the peak pivot reaction m L (alpha + omega^2) stays within half the weight
    reaction = swung * arm * (psyche.max_radps2 + psyche.max_radps ** 2)
    assert reaction == pytest.approx(ARM_WEIGHT_SHARE * rover * 0.144)
    assert ArmSwingLimits.for_gravity(0.0, rover, swung, arm, 1.0, 2.0) == ArmSwingLimits(1.0, 2.0)
    for bad in ((-1.0, rover, swung, arm, 1.0, 2.0), (0.144, rover, 0.0, arm, 1.0, 2.0),
                (math.nan, rover, swung, arm, 1.0, 2.0), (0.144, rover, swung, arm, 1.0, 2.0, 1.5)):
        with pytest.raises(ValueError):
            ArmSwingLimits.for_gravity(*bad)


def test_swing_time_is_a_trapezoid():
    lim = ArmSwingLimits(1.0, 2.0)
    assert lim.swing_time_s(0.0) == 0.0
    assert lim.swing_time_s(0.5) == pytest.approx(2.0 * math.sqrt(0.5 / 2.0))   # triangular
    assert lim.swing_time_s(-1.2) == pytest.approx(1.2 / 1.0 + 1.0 / 2.0)      # cruise at 1 rad/s
    times = [lim.swing_time_s(a) for a in (0.1, 0.4, 0.5, 0.6, 1.0)]
    assert times == sorted(times)
