"""Site-wide coarse map fed from the fine local map: far cells kept, aggregates and
variance right, lethal never lost, bad input refused."""
import numpy as np
import pytest

from mining_rover.mapping.elevation_map import ElevationMap, MapParams
from mining_rover.mapping.global_map import LETHAL, GlobalMap, GlobalMapParams


def _fine_map(centre, rng, slope=0.1):
    """A 10 m fine map at 5 cm on a tilted plane with 1 cm noise, variance (1 cm)^2."""
    m = ElevationMap(MapParams(resolution_m=0.05, size_m=10.0, recentre_distance_m=1.0), centre)
    xs = np.linspace(centre[0] - 4.9, centre[0] + 4.9, 200)
    X, Y = np.meshgrid(xs, xs - centre[0] + centre[1])
    Z = slope * X + rng.normal(0, 0.01, X.shape)
    pts = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    m.fuse(pts, np.full(len(pts), 1e-4))
    return m


def test_far_cells_are_kept_after_the_local_map_moves_on():
    rng = np.random.default_rng(0)
    g = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=64.0))
    local = _fine_map((-20.0, -20.0), rng)
    cost = np.where(local.known(), 10, -1).astype(np.int16)
    assert g.absorb(local.height, local.variance, cost, local.origin, local.resolution, 1.0) > 1000
    # the rover drives 40 m on: the fine map forgets the first place, the site map keeps it
    local.move_to(20.0, 20.0)
    assert not local.known().any()
    later = _fine_map((20.0, 20.0), rng)
    g.absorb(later.height, later.variance, np.where(later.known(), 0, -1), later.origin,
             later.resolution, 2.0)
    row, col, inside = g.cell_index(np.array([-20.0, 20.0]), np.array([-20.0, 20.0]))
    assert inside.all()
    assert np.all(np.isfinite(g.height[row, col]))
    assert g.cost[row[0], col[0]] == 10 and g.cost[row[1], col[1]] == 0
    # the coarse height is the mean of the plane over the cell (slope 0.1: cell centre x)
    assert g.height[row[0], col[0]] == pytest.approx(0.1 * (g.origin[0] + (col[0] + 0.5) * 0.25), abs=0.01)
    far = g.cell_index(0.0, 0.0)
    assert np.isnan(g.height[far[0], far[1]]) and g.cost[far[0], far[1]] == -1


def test_variance_is_fine_variance_plus_height_spread():
    """A 0.25 m cell of 5 x 5 fine cells on a 0.1 slope (heights 0..0.02 m), each of
    variance 1e-4: the cell's variance is 1e-4 plus the spread of those heights."""
    g = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=10.0))
    H = np.zeros((5, 5))
    H[:, :] = np.arange(5) * 0.005
    var = np.full((5, 5), 1e-4)
    g.absorb(H, var, None, g.origin, 0.05)
    assert g.height[0, 0] == pytest.approx(0.01)
    assert g.variance[0, 0] == pytest.approx(1e-4 + np.var(np.arange(5) * 0.005), rel=1e-5)
    # growth with driving; beyond max_variance_m2 the height is unknown again
    g.grow_variance(0.01)
    assert g.variance[0, 0] == pytest.approx(0.01 + 1e-4 + np.var(np.arange(5) * 0.005), rel=1e-4)
    g.grow_variance(1.0)
    assert np.isnan(g.height[0, 0])


def test_sparse_cells_wait_but_a_lethal_cell_is_never_lost():
    g = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=10.0, min_known_fraction=0.5))
    H = np.full((10, 10), np.nan)
    V = np.full((10, 10), np.nan)
    C = np.full((10, 10), -1, np.int16)
    H[0, 0], V[0, 0], C[0, 0] = 0.3, 1e-4, LETHAL      # one rock cell in the first coarse cell
    H[5:10, 5:10], V[5:10, 5:10], C[5:10, 5:10] = 0.0, 1e-4, 20
    g.absorb(H, V, C, g.origin, 0.05)
    assert g.cost[0, 0] == LETHAL and np.isnan(g.height[0, 0])     # 1 of 25 known: height waits
    assert g.cost[1, 1] == 20 and g.height[1, 1] == pytest.approx(0.0)
    assert g.cost[0, 1] == -1


def test_outside_and_bad_input():
    g = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=10.0))
    assert g.absorb(np.zeros((4, 4)), np.full((4, 4), 1e-4), None, (100.0, 100.0), 0.05) == 0
    with pytest.raises(ValueError, match='shape'):
        g.absorb(np.zeros((4, 4)), np.zeros((3, 4)), None, (0.0, 0.0), 0.05)
    with pytest.raises(ValueError, match='size_m'):
        GlobalMapParams(resolution_m=0.25, size_m=0.5)
