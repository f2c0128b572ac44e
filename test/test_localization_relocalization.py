"""Re-localization against the rover's own map: a cloud laid into the reference at a known
pose is matched back from a wrong prior (shift and turn recovered), flat ground and too
little overlap are refused with the reason, the covariance is honest, and a pose that is
not good enough is never laid into the reference."""
import math

import numpy as np
import pytest

from mining_rover.localization.relocalization import (MapRelocalizer, RelocParams, bin_cells,
                                                       level_points)


def _terrain(x, y):
    """Lunar-like relief near a base (m): a berm-sized mound, a 1.5 m crater (bowl and
    rim), a few rocks and a gentle undulation; every feature 0.05-0.4 m high."""
    z = 0.4 * np.exp(-((x - 3.0) ** 2 + (y - 1.0) ** 2) / (2 * 0.8 ** 2))
    r = np.hypot(x - 2.0, y + 2.5)
    z += -0.15 * np.exp(-(r / 0.6) ** 2) + 0.06 * np.exp(-((r - 0.8) / 0.2) ** 2)
    for rx, ry, rh in ((4.0, -1.0, 0.2), (1.5, 2.5, 0.15), (3.5, 3.0, 0.25), (5.0, 0.5, 0.12)):
        z += rh * np.exp(-((x - rx) ** 2 + (y - ry) ** 2) / (2 * 0.15 ** 2))
    return z + 0.05 * np.sin(0.9 * x) * np.cos(0.7 * y)


def _cloud(pose, height=_terrain, n=20000, seed=0, noise_m=0.005):
    """A stereo-like cloud in front of the rover at map ``pose``, in the level body frame
    (what level_points gives): a 60 deg wedge 0.8-5 m out."""
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.uniform(0.8 ** 2, 5.0 ** 2, n))
    b = rng.uniform(-math.radians(30), math.radians(30), n)
    bx, by = r * np.cos(b), r * np.sin(b)
    x, y, yaw = pose
    mx = x + math.cos(yaw) * bx - math.sin(yaw) * by
    my = y + math.sin(yaw) * bx + math.cos(yaw) * by
    return np.column_stack([bx, by, height(mx, my) + rng.normal(0, noise_m, n)])


def _reference(truth, height=_terrain):
    loc = MapRelocalizer(RelocParams(size_m=30.0))
    for i, dyaw in enumerate((-0.3, 0.0, 0.3)):
        pose = (truth[0], truth[1], truth[2] + dyaw)
        assert loc.absorb(_cloud(pose, height, seed=i), pose, sigma_xy_m=0.01) > 0
    return loc


@pytest.mark.parametrize('err', [(0.25, -0.15, 0.03), (-0.4, 0.3, -0.04), (0.0, 0.0, 0.0)])
def test_recovers_a_known_shift_and_turn(err):
    truth = (0.0, 0.0, 0.1)
    loc = _reference(truth)
    prior = (truth[0] + err[0], truth[1] + err[1], truth[2] + err[2])
    m = loc.match(_cloud(truth, seed=7), prior)
    assert m.ok, m.reason
    # 1 cm: the cloud's noise is 5 mm per point and ~1500 cells are matched; a bias of
    # a whole 0.1 m cell (a search that stopped at its grid) fails this
    assert math.hypot(m.x - truth[0], m.y - truth[1]) < 0.01
    assert abs(m.yaw - truth[2]) < 0.005
    assert m.correction_m == pytest.approx(math.hypot(err[0], err[1]), abs=0.01)
    sd = math.sqrt(max(np.linalg.eigvalsh(m.cov[:2, :2])))
    assert 0.02 < sd < 0.08        # reference_sd_m (0.03) plus the fit's own


def test_featureless_patch_is_refused():
    flat = lambda x, y: 0.002 * x + 0.0 * y       # a gentle plane: fits any shift
    truth = (0.0, 0.0, 0.0)
    loc = _reference(truth, flat)
    m = loc.match(_cloud(truth, flat, seed=7), (0.2, 0.1, 0.0))
    assert not m.ok
    assert any(w in m.reason for w in ('featureless', 'ambiguous', 'sd', 'correlation'))


def test_no_overlap_is_refused():
    loc = _reference((0.0, 0.0, 0.0))
    m = loc.match(_cloud((0.0, 0.0, math.pi), seed=3), (0.0, 0.0, math.pi))   # looking away
    assert not m.ok and 'off the reference' in m.reason


def test_wrong_terrain_is_refused():
    truth = (0.0, 0.0, 0.0)
    loc = _reference(truth)
    other = lambda x, y: _terrain(-y + 7.0, x - 3.0)          # the same kind of ground, elsewhere
    m = loc.match(_cloud(truth, other, seed=5), truth)
    assert not m.ok


def test_uncertain_pose_is_not_absorbed():
    loc = MapRelocalizer(RelocParams(size_m=30.0))
    assert loc.absorb(_cloud((0.0, 0.0, 0.0)), (0.0, 0.0, 0.0), sigma_xy_m=0.2) == 0
    assert not np.isfinite(loc.reference.height).any()
    assert loc.absorb(_cloud((0.0, 0.0, 0.0)), (0.0, 0.0, 0.0), sigma_xy_m=0.02) > 0


def test_level_points_takes_out_the_tilt_and_the_heading():
    pitch, yaw = 0.2, 0.7
    cp, sp, cy, sy = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    R = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]]) @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, (5.0, -2.0, 0.3)
    p_body = np.array([[2.0, 0.5, -0.4]])
    lv = level_points(p_body, T, (5.0, -2.0, yaw))
    # level frame: heading removed, tilt kept in the geometry (z is the world's up)
    expect = np.array([[cp * 2.0 + sp * -0.4, 0.5, 0.3 - sp * 2.0 + cp * -0.4]])
    assert lv == pytest.approx(expect)


def test_bin_cells_means_per_cell():
    xy = np.array([[0.01, 0.01], [0.09, 0.02], [0.15, 0.05]])
    c, h, v = bin_cells(xy, np.array([1.0, 3.0, 5.0]), 0.1)
    order = np.argsort(c[:, 0])
    assert c[order] == pytest.approx(np.array([[0.05, 0.05], [0.15, 0.05]]))
    assert h[order] == pytest.approx([2.0, 5.0]) and v[order] == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize('kw', [{'resolution_m': 0.0}, {'min_ncc': 1.5}, {'max_range_m': 0.5},
                                {'search_m': float('nan')}])
def test_bad_params_name_the_key(kw):
    with pytest.raises(ValueError, match=next(iter(kw)) if 'max_range' not in str(kw) else 'max_range_m'):
        RelocParams(**kw)


def test_clouds_before_a_board_fix_are_laid_down_through_the_corrected_pose():
    """The rover sees ground while its pose is uncertain (the filter's map <- odom 0.36 m
    off: the cloud is kept, not laid down), drives 1 m and gets a board fix: the kept cloud
    goes into the reference where the *corrected* map <- odom puts it."""
    from mining_rover.localization.relocalization import compose
    loc = MapRelocalizer(RelocParams(size_m=30.0))
    offset = (-0.3, 0.2, 0.0)                 # odom = offset (+) truth; map <- odom = (0.3, -0.2, 0)
    truth0 = (0.0, 0.0, 0.1)
    what, _ = loc.step(_cloud(truth0, seed=1), compose(offset, truth0), (0.0, 0.0, 0.0), 0.2, 'fiducial',
                       False)
    assert what == 'idle' and loc.absorbed == 0
    truth1 = (math.cos(0.1), math.sin(0.1), 0.1)
    what, n = loc.step(_cloud(truth1, seed=2), compose(offset, truth1), (0.3, -0.2, 0.0), 0.01, 'fiducial',
                       True)
    assert what == 'absorbed' and loc.absorbed == 2
    # the ground seen only from the first pose (0.9-1.7 m ahead of it) is in the reference, in place
    r = np.linspace(0.9, 1.7, 9)
    b = np.linspace(-0.4, 0.4, 9)
    R, B = np.meshgrid(r, b)
    x, y = R * np.cos(B + 0.1), R * np.sin(B + 0.1)
    row, col, inside = loc.reference.cell_index(x, y)
    got = loc.reference.height[row, col]
    assert np.isfinite(got).mean() > 0.9
    xc = loc.reference.origin[0] + (col + 0.5) * loc.reference.resolution
    yc = loc.reference.origin[1] + (row + 0.5) * loc.reference.resolution
    assert np.nanmedian(np.abs(got - _terrain(xc, yc))) < 0.02    # 0.36 m off would be ~0.1 m
