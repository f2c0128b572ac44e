"""The map-frame pose filter: covariance grows without fixes, a fix pulls the estimate and
shrinks the covariance, a contradicting or malformed fix is refused, late fixes are carried
forward by odometry, and map -> odom composes to the filter's pose."""
import math

import numpy as np
import pytest

from mining_rover.localization.filter import FilterConfig, PoseFilter, wrap


def _drive(f, n=200, step=0.05, turn=0.01, t0=0.0, start=(0.0, 0.0, 0.0)):
    """Odometry poses of an arc driven at ``step`` m and ``turn`` rad per sample, 10 Hz."""
    x, y, yaw = start
    sig = []
    for i in range(n):
        x += step * math.cos(yaw)
        y += step * math.sin(yaw)
        yaw = wrap(yaw + turn)
        f.predict_odometry((x, y, yaw), t0 + 0.1 * i)
        sig.append(f.status().sigma_xy_m)
    return (x, y, yaw), sig


def test_covariance_only_grows_without_fixes():
    f = PoseFilter((1.0, 2.0, 0.3))
    _, sig = _drive(f)
    assert all(b >= a for a, b in zip(sig, sig[1:]))
    assert sig[-1] > 1.8 * sig[0]   # 10 m driven: 0.05 m -> ~0.11 m
    st = f.status()
    assert st.since_fix_s == math.inf and st.fixes_accepted == 0
    # the odometry's increments are composed onto the start pose
    assert f.pose[:2] != pytest.approx([1.0, 2.0])


def test_standing_still_keeps_the_covariance():
    f = PoseFilter((0.0, 0.0, 0.0))
    for i in range(50):
        f.predict_odometry((0.0, 0.0, 0.0), 0.1 * i)
    assert f.status().sigma_xy_m == pytest.approx(FilterConfig().initial_sd_m)


def test_fix_pulls_the_estimate_and_shrinks_the_covariance():
    f = PoseFilter((0.0, 0.0, 0.0))
    (x, y, yaw), _ = _drive(f, n=100)
    before = f.status().sigma_xy_m
    truth = np.array([x + 0.12, y - 0.1, wrap(yaw + 0.01)])   # odometry drifted 3 % of 5 m
    R = np.diag([0.02 ** 2, 0.02 ** 2, 0.005 ** 2])
    assert f.update_fix(truth, R, t=9.9)
    assert np.linalg.norm(f.pose[:2] - truth[:2]) < 0.03
    assert f.status().sigma_xy_m < 0.5 * before
    st = f.status(now=10.0)
    assert st.fixes_accepted == 1 and st.since_fix_m == 0.0 and st.since_fix_s == pytest.approx(0.1)


def test_contradicting_fix_is_refused():
    f = PoseFilter((0.0, 0.0, 0.0))
    _drive(f, n=20)
    pose = f.pose.copy()
    R = np.diag([0.02 ** 2, 0.02 ** 2, 0.005 ** 2])
    assert not f.update_fix(pose + [3.0, 0.0, 0.0], R, t=1.9)   # 3 m off a ~5 cm estimate
    assert 'sigma' in f.last_reject_reason and f.rejected == 1
    assert f.pose == pytest.approx(pose)


@pytest.mark.parametrize('cov', [np.full((3, 3), np.nan), -np.eye(3), np.eye(2)])
def test_malformed_fix_is_refused(cov):
    f = PoseFilter((0.0, 0.0, 0.0))
    assert not f.update_fix((0.0, 0.0, 0.0), cov, t=0.0)
    assert f.rejected == 1


def test_late_fix_is_carried_forward_by_odometry():
    f = PoseFilter((0.0, 0.0, 0.0))
    for i in range(30):   # straight along x at 0.1 m per sample
        f.predict_odometry((0.1 * i, 0.0, 0.0), 0.1 * i)
    # a fix of the pose at t = 1.0 s (x = 1.0 m), 1.9 s late: now the rover is at 2.9 m
    assert f.update_fix((1.0, 0.05, 0.0), np.diag([1e-4, 1e-4, 1e-5]), t=1.0)
    assert f.pose[0] == pytest.approx(2.9, abs=0.02)
    assert f.pose[1] == pytest.approx(0.05, abs=0.02)


def test_map_to_odom_composes_to_the_pose():
    f = PoseFilter((0.0, 0.0, 0.0))
    (x, y, yaw), _ = _drive(f, n=80, turn=0.02)
    f.update_fix((x + 0.1, y + 0.1, wrap(yaw + 0.02)), np.diag([1e-4, 1e-4, 1e-5]), t=7.9)
    mx, my, myaw = f.map_to_odom()
    c, s = math.cos(myaw), math.sin(myaw)
    composed = (mx + c * x - s * y, my + s * x + c * y, wrap(myaw + yaw))
    assert composed == pytest.approx(tuple(f.pose), abs=1e-9)


@pytest.mark.parametrize('kw', [{'along_track_m_per_sqrt_m': 0.0}, {'gate_chi2': float('nan')}])
def test_bad_filter_config_names_the_key(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        FilterConfig(**kw)


def test_agreeing_refused_fixes_reset_a_wrong_estimate():
    """Odometry slid 1 m without knowing: one fix is refused, but three that agree win."""
    f = PoseFilter((0.0, 0.0, 0.0))
    _drive(f, n=20, turn=0.0)
    truth = f.pose + [1.0, 0.0, 0.0]
    R = np.diag([0.02 ** 2, 0.02 ** 2, 0.005 ** 2])
    assert not f.update_fix(truth, R, t=1.9)
    assert not f.update_fix(truth, R, t=1.9)
    assert f.update_fix(truth, R, t=1.9)
    assert f.resets == 1 and f.pose[:2] == pytest.approx(truth[:2], abs=0.03)


def test_disagreeing_outliers_never_reset():
    f = PoseFilter((0.0, 0.0, 0.0))
    _drive(f, n=20, turn=0.0)
    pose = f.pose.copy()
    R = np.diag([0.02 ** 2, 0.02 ** 2, 0.005 ** 2])
    for k, off in enumerate(([1.0, 0, 0], [0, -1.0, 0], [-1.0, 0.5, 0], [0.7, 0.7, 0])):
        assert not f.update_fix(pose + off, R, t=1.9)
    assert f.resets == 0 and f.pose == pytest.approx(pose)


def test_turning_in_place_widens_the_position():
    """A skid-steer turning in place wanders where its odometry sees no motion: a half
    turn must leave the position sd at >= 5 cm (measured: 6 cm of wander in a dump)."""
    f = PoseFilter((0.0, 0.0, 0.0), FilterConfig(initial_sd_m=0.01))
    for i in range(61):
        f.predict_odometry((0.0, 0.0, wrap(math.pi * i / 60)), 0.1 * i)
    assert f.status().sigma_xy_m >= 0.05


def test_uncertainty_does_not_depend_on_the_odometry_rate():
    """The same 5 m arc reported in 10 or in 500 increments gives the same covariance
    (random-walk noise per metre and per radian, not per message)."""
    sig = []
    for n in (10, 500):
        f = PoseFilter((0.0, 0.0, 0.0))
        _drive(f, n=n + 1, step=5.0 / n, turn=1.0 / n)
        sig.append(f.status().sigma_xy_m)
    assert sig[0] == pytest.approx(sig[1], rel=0.1)


def test_map_fixes_are_counted_apart_and_never_reset():
    """A map match (the rover's own map) is fused like a fiducial fix when it agrees, but
    three that agree on a jump of 1 m do not override the estimate: only the boards may."""
    f = PoseFilter((0.0, 0.0, 0.0))
    odom, _ = _drive(f, n=20, turn=0.0)
    R = np.diag([0.02 ** 2, 0.02 ** 2, 0.005 ** 2])
    near = f.pose + [0.03, -0.02, 0.0]
    assert f.update_fix(near, R, t=1.9, source='map')
    assert f.accepted_by == {'map': 1}
    assert f.distance_since('map') == 0.0 and f.distance_since('fiducial') == math.inf
    pose = f.pose.copy()
    for _ in range(4):
        assert not f.update_fix(pose + [1.0, 0.0, 0.0], R, t=1.9, source='map')
    assert f.resets == 0 and f.pose == pytest.approx(pose)
    assert 'map fix' in f.last_reject_reason
    _drive(f, n=10, turn=0.0, t0=2.0, start=odom)
    assert f.distance_since('map') == pytest.approx(0.5, abs=0.01)
    assert f.update_fix(f.pose, R, t=3.0)      # a board fix: counted as such
    assert f.accepted_by == {'map': 1, 'fiducial': 1} and f.distance_since('fiducial') == 0.0
