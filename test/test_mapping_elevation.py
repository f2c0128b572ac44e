"""Elevation map fusion: Kalman math, aggregation, variance growth, clean-up (no ROS)."""
import numpy as np
import pytest

from mining_rover.mapping.elevation_map import ElevationMap, MapParams, height_variance


def small_map(**kw):
    return ElevationMap(MapParams(resolution_m=0.1, size_m=4.0, follow_robot=False, **kw))


def cell_points(m, x, y, z, n=1):
    return np.tile([[x, y, z]], (n, 1))


def test_first_measurement_then_kalman_update():
    m = small_map(max_points_per_cell=1)
    m.fuse(cell_points(m, 0.05, 0.05, 1.0), np.array([0.01]))
    assert m.height_at(0.05, 0.05) == pytest.approx(1.0)
    assert m.variance[m.cell_index(0.05, 0.05)[:2]] == pytest.approx(0.01)
    m.fuse(cell_points(m, 0.05, 0.05, 1.2), np.array([0.03]))
    # K = 0.01 / 0.04 = 0.25: h = 1.0 + 0.25 * 0.2, P = 0.75 * 0.01
    assert m.height_at(0.05, 0.05) == pytest.approx(1.05, abs=1e-6)
    assert m.variance[m.cell_index(0.05, 0.05)[:2]] == pytest.approx(0.0075, rel=1e-5)


def test_converges_and_variance_shrinks_as_1_over_n():
    rng = np.random.default_rng(0)
    m = small_map(max_points_per_cell=1, min_variance_m2=1e-8)
    sigma, truth = 0.05, 0.3
    variances = []
    for _ in range(200):
        m.fuse(cell_points(m, 1.0, 1.0, truth + rng.normal(0, sigma)), np.array([sigma ** 2]))
        variances.append(float(m.variance[m.cell_index(1.0, 1.0)[:2]]))
    assert variances[-1] == pytest.approx(sigma ** 2 / 200, rel=1e-3)
    assert all(b < a for a, b in zip(variances, variances[1:]))
    # 4-sigma of the posterior: sigma / sqrt(200) = 3.5 mm
    assert m.height_at(1.0, 1.0) == pytest.approx(truth, abs=4 * sigma / np.sqrt(200))


def test_points_in_one_cell_are_weighted_and_capped():
    m = small_map(max_points_per_cell=4)
    pts = np.array([[0.5, 0.5, 0.0], [0.52, 0.51, 1.0]] * 8)
    var = np.array([0.01, 0.04] * 8)
    m.fuse(pts, var)
    # inverse-variance mean: (0/0.01 + 1/0.04) / (1/0.01 + 1/0.04) = 0.2
    assert m.height_at(0.5, 0.5) == pytest.approx(0.2, abs=1e-6)
    # 16 points but only 4 independent: variance = 1 / sum(w) * 16 / 4
    assert m.variance[m.cell_index(0.5, 0.5)[:2]] == pytest.approx(4 / (8 * 125.0), rel=1e-5)


def test_outlier_restarts_cell_and_nan_is_ignored():
    m = small_map()
    for _ in range(5):
        m.fuse(cell_points(m, 0.0, 0.0, 0.0), np.array([1e-4]))
    m.fuse(np.array([[0.0, 0.0, 0.5], [np.nan, 0, 0], [0.1, 0.1, np.inf]]), np.array([1e-4, 1e-4, 1e-4]))
    assert m.height_at(0.0, 0.0) == pytest.approx(0.5)    # terrain changed (dug, dumped)
    assert np.count_nonzero(m.known()) == 1


def test_variance_growth_forgets_and_stale_cells():
    m = small_map(max_variance_m2=0.01, stale_after_s=5.0)
    m.fuse(np.array([[0.0, 0.0, 0.1], [1.0, 1.0, 0.1]]), np.array([0.001, 0.005]), stamp_s=0.0)
    m.grow_variance(0.006)
    assert np.isfinite(m.height_at(0.0, 0.0)) and np.isnan(m.height_at(1.0, 1.0))
    assert m.clear_stale(now_s=10.0) == 1
    assert not m.known().any()


def test_visibility_cleanup_removes_a_vanished_obstacle():
    m = small_map()
    m.fuse(cell_points(m, 1.0, 0.0, 0.5, 3), np.full(3, 1e-4))     # a 'rock' at x = 1
    ground = np.column_stack([np.linspace(1.5, 1.9, 20), np.zeros(20), np.zeros(20)])
    m.fuse(ground, np.full(20, 1e-4), sensor_xyz=(-1.9, 0.0, 0.8))  # seen through it now
    assert np.isnan(m.height_at(1.0, 0.0))
    assert np.isfinite(m.height_at(1.7, 0.0))


def test_follow_robot_shifts_by_whole_cells():
    m = ElevationMap(MapParams(resolution_m=0.1, size_m=4.0, follow_robot=True, recentre_distance_m=0.5))
    m.fuse(cell_points(m, 0.45, 0.25, 0.3), np.array([1e-3]))
    assert m.move_to(1.0, 0.0)
    assert m.height_at(0.45, 0.25) == pytest.approx(0.3)
    assert np.count_nonzero(m.known()) == 1
    assert m.move_to(50.0, 0.0) and not m.known().any()


def test_height_variance_projects_depth_error_on_the_vertical():
    # camera looking straight down (optical z = map -z): all depth error is vertical
    R_down = np.diag([1.0, -1.0, -1.0])
    v = height_variance(np.array([[0.0, 0.0, 2.0]]), np.array([0.1]), R_down)
    assert v[0] == pytest.approx(0.01)
    # level camera, point on the optical axis: depth error is horizontal
    R_level = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)
    assert height_variance(np.array([[0.0, 0.0, 5.0]]), np.array([0.1]), R_level)[0] == pytest.approx(0.0)


def test_bad_shapes_raise():
    m = small_map()
    with pytest.raises(ValueError):
        m.fuse(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError):
        MapParams(resolution_m=0.0)


def test_noisy_far_cells_stay_unknown_instead_of_lethal():
    """A patch of flat ground seen with decimetre noise (far stereo) must not wall the
    rover in: the mapper leaves it unknown; the same patch seen precisely is free."""
    from mining_rover.mapping.terrain_mapper import TerrainMapper
    from mining_rover.mapping.traversability import LETHAL, UNKNOWN

    rng = np.random.default_rng(3)
    xs, ys = np.meshgrid(np.arange(1.0, 3.0, 0.02), np.arange(-1.0, 1.0, 0.02))
    flat = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])

    def costmap(sigma):
        m = TerrainMapper(MapParams(size_m=8.0, follow_robot=False), classify_sigma_m=0.05)
        pts = flat + np.column_stack([np.zeros((len(flat), 2)), rng.normal(0, sigma, len(flat))])
        m.map.fuse(pts, np.full(len(pts), sigma ** 2))
        cost = m.costmap()
        r, c, _ = (int(v) for v in m.map.cell_index(2.0, 0.0))
        return cost[r - 10:r + 10, c - 10:c + 10]

    noisy = costmap(0.2)
    assert np.all(noisy == UNKNOWN)
    precise = costmap(0.005)
    assert np.all((precise >= 0) & (precise < LETHAL))
    with pytest.raises(ValueError):
        TerrainMapper(classify_sigma_m=0.0)


def test_self_filter_drops_the_rovers_own_drum():
    """Points on the rover's body (the cameras see the front drum) are never mapped."""
    from mining_rover.mapping.terrain_mapper import TerrainMapper

    # camera 1 m up at the base origin, looking straight down (optical z = -base z)
    T_base_cam = np.eye(4)
    T_base_cam[:3, :3] = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    T_base_cam[2, 3] = 1.0
    drum = np.array([[0.0, -0.9, 0.8], [0.1, -0.9, 0.8]])       # base (0.9, 0, 0.2): on the rover
    ground = np.array([[0.0, -2.0, 1.0], [0.1, -2.0, 1.0]])     # base (2.0, 0, 0): terrain
    pts = np.vstack([drum, ground]).astype(np.float32)
    for box, fused in ((None, 4), ((-1.15, 1.15, -0.5, 0.5, -0.3, 1.2), 2)):
        m = TerrainMapper(MapParams(size_m=8.0, follow_robot=False, visibility_cleanup=False),
                          T_base_cam=T_base_cam, self_box=box)
        m.integrate(pts, np.eye(4))
        assert np.isfinite(m.map.height).sum() == fused
        if box is not None:
            assert np.nanmax(m.map.height) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        TerrainMapper(self_box=(1.0, -1.0, 0, 1, 0, 1))
