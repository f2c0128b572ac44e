"""Site planner (coarse route + fine corridor): cost within 2 % of the fine-grid optimum
(scipy Dijkstra over every cell), refusals with a reason, the widening fallback."""
import numpy as np
import pytest
from scipy import ndimage
from scipy.sparse.csgraph import dijkstra

from mining_rover.planning.astar import LETHAL, Grid, PlannerConfig, build_graph, path_cost
from mining_rover.planning.site_planner import (BLOCKED_PENALTY, SiteConfig, SitePlanner, coarse_multipliers,
                                                compose_site_grid, route_blocked)

RES = 0.05


def _terrain(n=240, seed=0):
    """Spatially correlated cost (0..40) with lethal discs (rocks, crater rims) at a density
    that leaves the corners clear."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((n, n)), 6)
    c = np.clip(12 + 12 * noise / noise.std(), 0, 40).astype(np.int16)
    yy, xx = np.mgrid[0:n, 0:n]
    for _ in range(25):
        cy, cx, r = rng.integers(0, n), rng.integers(0, n), rng.integers(2, 14)
        d = np.hypot(yy - cy, xx - cx)
        c[(d < r) & (d > 0.7 * r) & (np.abs(xx - cx) > 9)] = LETHAL    # rims with two gaps
    c[:16, :16] = 0
    c[-16:, -16:] = 0
    return c


def _optimum(mult, start, goal):
    """Least cost over the whole fine grid (one scipy Dijkstra, no corridor)."""
    H, W = mult.shape
    dist = dijkstra(build_graph(mult, RES), directed=False, indices=start[0] * W + start[1])
    return float(dist[goal[0] * W + goal[1]])


CFG = PlannerConfig(robot_radius_m=0.2, inflation_radius_m=0.5)


@pytest.mark.parametrize('seed', range(6))
def test_cost_within_two_percent_of_fine_optimum(seed):
    """2 %: the issue's bound for a multi-resolution planner (#18 point 5)."""
    planner = SitePlanner(Grid(_terrain(seed=seed), RES, (0.0, 0.0)), CFG)
    result = planner.plan((0.2, 0.2), (11.8, 11.8))
    assert result.ok, result.reason
    best = _optimum(planner.mult, tuple(result.cells[0]), tuple(result.cells[-1]))
    assert result.cost == pytest.approx(path_cost(result.cells, planner.mult, RES), rel=1e-9)
    assert best <= result.cost <= 1.02 * best
    # 8-connected, and only over traversable cells
    assert np.all(np.abs(np.diff(result.cells, axis=0)).max(axis=1) == 1)
    assert np.all(np.isfinite(planner.mult[result.cells[:, 0], result.cells[:, 1]]))


def test_coarse_block_passable_when_any_cell_is():
    m = np.full((16, 16), np.inf)
    m[3, 3] = 2.0
    m[12, 9], m[13, 10] = 1.0, 3.0
    c = coarse_multipliers(m, 8)
    assert c[0, 0] == pytest.approx(2.0 * (1 + BLOCKED_PENALTY * 63 / 64))    # 1 of 64 free
    assert c[1, 1] == pytest.approx(2.0 * (1 + BLOCKED_PENALTY * 62 / 64))
    assert np.isinf(c[0, 1]) and np.isinf(c[1, 0])
    # a grid that is not a multiple of the block side: the ragged edge counts as blocked
    edge = coarse_multipliers(np.ones((10, 10)), 8)
    assert edge[0, 0] == 1.0 and edge[1, 1] == pytest.approx(1.0 + BLOCKED_PENALTY * 60 / 64)


def test_thick_wall_refused_at_the_coarse_level():
    c = np.zeros((160, 160), np.int16)
    c[:, 70:90] = LETHAL
    result = SitePlanner(Grid(c, RES, (0.0, 0.0)), CFG).plan((0.5, 4.0), (7.5, 4.0))
    assert not result.ok
    assert 'unreachable' in result.reason and 'blocks' in result.reason


def test_goal_in_obstacle_refused_with_reason():
    c = np.zeros((160, 160), np.int16)
    c[60:120, 60:120] = LETHAL
    planner = SitePlanner(Grid(c, RES, (0.0, 0.0)), CFG)
    result = planner.plan((0.5, 0.5), (4.5, 4.5))
    assert not result.ok and 'in an obstacle' in result.reason
    snapped = planner.plan((0.5, 0.5), (2.9, 4.5))     # just inside the inflated edge
    assert snapped.ok and snapped.goal_snapped


def test_thin_wall_hidden_from_the_coarse_level_falls_back_to_the_full_grid():
    """A one-cell wall leaves every block it crosses half free, so the coarse route goes
    straight through it; the only gap is far outside the widened corridors: the whole
    fine grid is searched and the route found, at the optimum."""
    cfg = PlannerConfig(robot_radius_m=0.0, inflation_radius_m=0.0, smooth=False)
    c = np.zeros((400, 200), np.int16)
    c[:390, 100] = LETHAL
    planner = SitePlanner(Grid(c, RES, (0.0, 0.0)), cfg, SiteConfig(corridor_blocks=1, widen_tries=1))
    result = planner.plan((2.5, 0.5), (7.5, 0.5))
    assert result.ok, result.reason
    assert planner.last_level == 'full'
    assert result.cost == pytest.approx(_optimum(planner.mult, tuple(result.cells[0]),
                                                 tuple(result.cells[-1])), rel=1e-9)
    enclosed = np.zeros((160, 160), np.int16)
    enclosed[60:100, 60] = enclosed[60:100, 100] = LETHAL
    enclosed[60, 60:101] = enclosed[100, 60:101] = LETHAL
    boxed = SitePlanner(Grid(enclosed, RES, (0.0, 0.0)), cfg).plan((0.5, 0.5), (4.0, 4.0))
    assert not boxed.ok and 'unreachable' in boxed.reason


def test_start_inside_inflation_can_leave():
    c = np.zeros((160, 160), np.int16)
    c[40, 40] = LETHAL
    result = SitePlanner(Grid(c, RES, (0.0, 0.0)), CFG).plan((2.1, 2.1), (7.0, 7.0))
    assert result.ok, result.reason


def test_bad_settings_and_points_are_refused():
    with pytest.raises(ValueError, match='coarse_factor'):
        SitePlanner(Grid(np.zeros((20, 20), np.int16), RES), CFG, SiteConfig(coarse_factor=1))
    planner = SitePlanner(Grid(np.zeros((20, 20), np.int16), RES), CFG)
    assert 'outside' in planner.plan((-1.0, 0.1), (0.5, 0.5)).reason
    assert 'outside' in planner.plan((0.1, 0.1), (5.0, 0.5)).reason


def test_composed_grid_takes_local_then_site_then_unknown():
    local_costs = np.full((40, 40), -1, np.int16)
    local_costs[:20, :] = 7                                   # the near half is known
    local = Grid(local_costs, RES, (-1.0, -1.0))              # 2 m square around the origin
    site_costs = np.full((40, 40), 30, np.int16)              # 0.25 m cells over 10 m ...
    site_costs[:, 24:] = -1                                   # ... seen only up to x = 1 m
    site_costs[4, 4] = LETHAL                                 # a rock seen long ago at (-3.9, -3.9)
    site = Grid(site_costs, 0.25, (-5.0, -5.0))
    g = compose_site_grid(local, site, [(0.0, 0.0), (3.0, 0.5)], margin_m=1.0)
    assert g.resolution == RES
    at = lambda x, y: g.costs[g.to_cell((x, y))]
    assert at(0.0, -0.5) == 7                                 # local known
    assert at(0.0, 0.5) == 30                                 # local unknown: the site map
    assert at(3.5, 0.5) == -1                                 # neither: unknown
    assert g.origin_xy[0] <= -1.0 and g.origin_xy[0] + g.costs.shape[1] * RES >= 4.0
    wide = compose_site_grid(local, site, [(0.0, 0.0), (-3.9, -3.9)], margin_m=0.5)
    assert wide.costs[wide.to_cell((-3.85, -3.85))] == LETHAL
    with pytest.raises(ValueError, match='max_side_m'):
        compose_site_grid(local, site, [(0.0, 0.0), (300.0, 0.0)], margin_m=1.0)


def test_route_blocked_only_by_lethal_ground_ahead():
    c = np.zeros((100, 100), np.int16)
    grid = Grid(c, RES, (0.0, 0.0))
    route = np.array([[0.5, 2.5], [4.5, 2.5]])
    assert not route_blocked(route, grid, CFG, (0.5, 2.5))
    c2 = c.copy()
    c2[50, 60] = LETHAL                                      # a rock ahead, on the route
    assert route_blocked(route, Grid(c2, RES, (0.0, 0.0)), CFG, (0.5, 2.5))
    # behind the rover it no longer matters
    assert not route_blocked(route, Grid(c2, RES, (0.0, 0.0)), CFG, (4.0, 2.5))
    c3 = c.copy()
    c3[5, 60] = LETHAL                                       # 2 m aside: clear of the route
    assert not route_blocked(route, Grid(c3, RES, (0.0, 0.0)), CFG, (0.5, 2.5))
