"""Wheel odometry corrected by visual odometry increments (control/visual_fusion.py)."""
import math

import pytest
from hypothesis import given, strategies as st

from mining_rover.control.visual_fusion import VisualOdometryFusion, between, compose

poses = st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(-math.pi, math.pi))


@given(poses, poses)
def test_between_undoes_compose(a, b):
    d = between(a, b)
    c = compose(a, d)
    assert c[0] == pytest.approx(b[0], abs=1e-9) and c[1] == pytest.approx(b[1], abs=1e-9)
    assert math.cos(c[2] - b[2]) == pytest.approx(1.0, abs=1e-12)


def _drive(f, t0, t1, wheel, dt=0.02):
    """Wheel poses along the function wheel(t) from t0 to t1, fed at 50 Hz."""
    n = int(round((t1 - t0) / dt))
    for i in range(n + 1):
        t = t0 + i * dt
        f.add_wheel(t, wheel(t))


def test_without_visual_frames_the_output_is_the_wheel_odometry():
    f = VisualOdometryFusion()
    _drive(f, 0.0, 2.0, lambda t: (0.1 * t, 0.0, 0.0))
    assert f.fused((0.2, 0.0, 0.0)) == (0.2, 0.0, 0.0)


def test_a_slide_the_wheels_miss_is_taken_from_vision_and_kept():
    # the rover turns in place; the wheels report no translation but it slid 5 cm to
    # its left in each 0.5 s camera interval
    f = VisualOdometryFusion(translation_weight=1.0, yaw_weight=0.0)
    wheel = lambda t: (0.0, 0.0, 0.2 * t)
    _drive(f, 0.0, 3.0, wheel)
    assert f.add_visual(0.0, 0.0, None) == 'anchored'
    for k in range(1, 5):
        t0, t1 = 0.5 * (k - 1), 0.5 * k
        assert f.add_visual(t0, t1, (0.0, 0.05, 0.1)) == 'visual'
    x, y, yaw = f.fused(wheel(3.0))
    # heading stays the wheels' (yaw_weight 0); the slides add up in the odom frame
    expect = (0.0, 0.0, 0.0)
    for k in range(1, 5):
        expect = compose(expect, (0.0, 0.05, 0.1))
    assert (x, y) == pytest.approx(expect[:2], abs=1e-9)
    assert yaw == pytest.approx(0.6, abs=1e-9)      # the newest wheel heading
    assert f.visual_intervals == 4


def test_between_frames_the_wheel_increments_carry_on_from_the_corrected_pose():
    f = VisualOdometryFusion()
    wheel = lambda t: (0.2 * t, 0.0, 0.0)           # wheels over-read: 0.2 m/s
    _drive(f, 0.0, 1.2, wheel)
    f.add_visual(0.0, 0.0, None)
    f.add_visual(0.0, 1.0, (0.1, 0.0, 0.0))         # vision: only 0.1 m in that second
    x, y, _ = f.fused(wheel(1.2))
    assert x == pytest.approx(0.1 + 0.2 * 0.2) and y == pytest.approx(0.0)


def test_unmeasured_and_disconnected_intervals_take_the_wheels():
    f = VisualOdometryFusion(max_gap_s=1.0)
    wheel = lambda t: (0.1 * t, 0.0, 0.0)
    _drive(f, 0.0, 5.0, wheel)
    f.add_visual(0.0, 0.0, None)
    assert f.add_visual(0.0, 0.5, None) == 'wheels'                  # tracking lost
    assert f.add_visual(0.7, 1.0, (9.0, 9.0, 1.0)) == 'wheels'       # not from the last frame
    assert f.add_visual(1.0, 2.5, (9.0, 9.0, 1.0)) == 'wheels'       # longer than max_gap_s
    assert f.add_visual(2.5, 3.0, (math.nan, 0.0, 0.0)) == 'wheels'  # not finite
    assert f.add_visual(2.0, 2.5, (0.05, 0.0, 0.0)).startswith('ignored')   # older than the anchor
    assert f.add_visual(3.0, 9.0, (0.05, 0.0, 0.0)).startswith('ignored')   # no wheel data yet
    assert f.fused(wheel(5.0)) == pytest.approx((0.5, 0.0, 0.0))
    assert f.visual_intervals == 0 and f.wheel_intervals == 4


def test_yaw_weight_blends_the_headings_and_late_frames_find_their_wheel_pose():
    f = VisualOdometryFusion(yaw_weight=0.5, history_s=10.0, max_yaw_disagreement_rad=1.0)
    wheel = lambda t: (0.0, 0.0, 0.1 * t)
    _drive(f, 0.0, 4.0, wheel)
    f.add_visual(1.0, 1.0, None)                       # frames arrive long after their time
    assert f.wheel_at(1.01) == pytest.approx((0.0, 0.0, 0.101))   # interpolated
    f.add_visual(1.0, 2.0, (0.0, 0.0, 0.2))            # vision 0.2 rad, wheels 0.1 rad
    assert f.fused(wheel(2.0))[2] == pytest.approx(0.25)
    assert f.fused(wheel(4.0))[2] == pytest.approx(0.45)


def test_history_is_bounded_and_reset_forgets_everything():
    f = VisualOdometryFusion(history_s=1.0, max_translation_disagreement_m=10.0)
    _drive(f, 0.0, 5.0, lambda t: (t, 0.0, 0.0))
    assert f.wheel_at(3.5) is None and f.wheel_at(4.5) is not None
    f.add_wheel(4.0, (0.0, 0.0, 0.0))                  # out of order: dropped
    assert f.wheel_at(5.0) == pytest.approx((5.0, 0.0, 0.0))
    f.add_visual(4.5, 4.5, None)
    f.add_visual(4.5, 5.0, (0.0, 0.0, 0.0))
    assert f.fused((5.0, 0.0, 0.0))[0] == pytest.approx(4.5)
    f.reset()
    assert f.fused((5.0, 0.0, 0.0)) == (5.0, 0.0, 0.0) and f.wheel_at(5.0) is None


@pytest.mark.parametrize('kw', [dict(translation_weight=1.5), dict(yaw_weight=-0.1),
                                dict(max_gap_s=0.0), dict(history_s=math.nan)])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        VisualOdometryFusion(**kw)


def test_a_visual_increment_that_disagrees_with_gyro_and_wheels_is_rejected():
    f = VisualOdometryFusion(max_yaw_disagreement_rad=0.1, max_translation_disagreement_m=0.25)
    wheel = lambda t: (0.1 * t, 0.0, 0.0)          # straight on, no turn
    _drive(f, 0.0, 3.0, wheel)
    f.add_visual(0.0, 0.0, None)
    assert f.add_visual(0.0, 0.5, (0.05, 0.0, 0.7)).startswith('rejected')    # a turn that never was
    assert f.add_visual(0.5, 1.0, (0.6, 0.0, 0.0)).startswith('rejected')     # 0.55 m more than the wheels
    assert f.add_visual(1.0, 1.5, (0.05, 0.04, 0.02)) == 'visual'              # a small slide is believed
    x, y, yaw = f.fused(wheel(3.0))
    assert (x, y) == pytest.approx((0.3, 0.04 + 0.15 * math.sin(0.01)), abs=1e-4)
    assert yaw == pytest.approx(0.01)
    assert f.rejected_intervals == 2 and f.visual_intervals == 1
