"""Grid planner: equal cost to networkx's A* on the same graph, Nav2 inflation, bad inputs."""
import math

import networkx as nx
import numpy as np
import pytest

from mining_rover.planning.astar import (INSCRIBED, LETHAL, SQRT2, Grid, GridPlanner, PlannerConfig,
                                         _FORWARD, inflate, octile_m, path_cost, plan_path)

RES = 0.1


def _random_map(n=60, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 60, (n, n)).astype(np.int16)
    yy, xx = np.mgrid[0:n, 0:n]
    for _ in range(6):
        cy, cx, r = rng.integers(5, n - 5), rng.integers(5, n - 5), rng.integers(2, 6)
        c[np.hypot(yy - cy, xx - cx) < r] = LETHAL
    c[:4, :4] = 0
    c[-4:, -4:] = 0
    return c


def _nx_cost(mult, start, goal):
    H, W = mult.shape
    G = nx.Graph()
    for dr, dc in _FORWARD:
        for r in range(H - dr):
            for c in range(max(0, -dc), min(W, W - dc)):
                w = 0.5 * (mult[r, c] + mult[r + dr, c + dc]) * RES * (SQRT2 if dr and dc else 1.0)
                if math.isfinite(w):
                    G.add_edge((r, c), (r + dr, c + dc), weight=w)
    path = nx.astar_path(G, start, goal, heuristic=lambda a, b: octile_m(a, b, RES))
    return path_cost(path, mult, RES)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_cost_equals_networkx_astar(seed):
    """Same graph, same edge costs: the least cost agrees to 1e-9 (both are exact)."""
    grid = Grid(_random_map(seed=seed), RES, (0.0, 0.0))
    planner = GridPlanner(grid, PlannerConfig(robot_radius_m=0.15, inflation_radius_m=0.4))
    result = planner.plan((0.15, 0.15), (5.85, 5.85))
    assert result.ok, result.reason
    assert result.cost == pytest.approx(path_cost(result.cells, planner._search_mult, RES), rel=1e-9)
    assert result.cost == pytest.approx(_nx_cost(planner._search_mult, tuple(result.cells[0]),
                                                 tuple(result.cells[-1])), rel=1e-9)


def test_path_avoids_lethal_and_smoothing_stays_clear():
    c = np.zeros((80, 80), np.int16)
    c[10:70, 40] = LETHAL          # a wall with gaps at both ends
    res = plan_path(c, RES, (0.0, 0.0), (1.0, 4.0), (7.0, 4.0), PlannerConfig(robot_radius_m=0.3))
    assert res.ok
    infl = inflate(c, RES, 0.3, 1.2, 3.0)
    assert np.all(infl[res.cells[:, 0], res.cells[:, 1]] < INSCRIBED)
    # every segment of the smoothed path is clear of inscribed cells
    for a, b in zip(res.path_xy[:-1], res.path_xy[1:]):
        for t in np.linspace(0, 1, 50):
            x, y = a + t * (b - a)
            assert infl[int(y / RES), int(x / RES)] < INSCRIBED
    assert len(res.path_xy) < len(res.cells)
    assert np.allclose(res.path_xy[0], (1.0, 4.0)) and np.allclose(res.path_xy[-1], (7.0, 4.0))


def test_inflation_is_nav2_shaped():
    c = np.zeros((41, 41), np.int16)
    c[20, 20] = LETHAL
    out = inflate(c, RES, 0.3, 1.0, 3.0)
    assert out[20, 20] == LETHAL
    assert out[20, 23] == INSCRIBED             # 0.3 m: inscribed
    d = 0.6
    assert out[20, 26] == int(np.floor((INSCRIBED - 1) * math.exp(-3.0 * (d - 0.3))))
    assert out[20, 31] == 0                     # beyond the inflation radius
    assert np.all(np.diff(out[20, 23:31].astype(int)) <= 0)   # decays outward


def test_unknown_as_parameter():
    c = np.full((30, 30), -1, np.int16)
    c[:, :3] = 0
    c[:, -3:] = 0
    allowed = plan_path(c, RES, (0.0, 0.0), (0.15, 1.5), (2.85, 1.5), PlannerConfig(robot_radius_m=0.0))
    assert allowed.ok
    refused = plan_path(c, RES, (0.0, 0.0), (0.15, 1.5), (2.85, 1.5),
                        PlannerConfig(robot_radius_m=0.0, allow_unknown=False))
    assert not refused.ok and 'unreachable' in refused.reason


def test_goal_in_obstacle_snaps_or_is_rejected():
    c = np.zeros((60, 60), np.int16)
    c[28:33, 28:33] = LETHAL
    snapped = plan_path(c, RES, (0.0, 0.0), (0.5, 0.5), (3.05, 3.05),
                        PlannerConfig(robot_radius_m=0.2, goal_snap_radius_m=1.0))
    assert snapped.ok and snapped.goal_snapped
    end = snapped.path_xy[-1]
    assert 0.3 < math.hypot(end[0] - 3.05, end[1] - 3.05) <= 1.0
    rejected = plan_path(c, RES, (0.0, 0.0), (0.5, 0.5), (3.05, 3.05),
                         PlannerConfig(robot_radius_m=0.2, goal_snap_radius_m=0.1))
    assert not rejected.ok and 'obstacle' in rejected.reason


def test_enclosed_goal_and_outside_points():
    c = np.zeros((60, 60), np.int16)
    c[20:40, 20] = c[20:40, 40] = c[20, 20:41] = c[40, 20:41] = LETHAL
    res = plan_path(c, RES, (0.0, 0.0), (0.5, 0.5), (3.0, 3.0), PlannerConfig(robot_radius_m=0.0,
                                                                              goal_snap_radius_m=0.5))
    assert not res.ok and 'unreachable' in res.reason
    assert 'outside' in plan_path(c, RES, (0, 0), (0.5, 0.5), (30.0, 3.0)).reason
    assert 'outside' in plan_path(c, RES, (0, 0), (-1.0, 0.5), (3.0, 3.0)).reason


def test_start_inside_inflation_can_leave():
    c = np.zeros((40, 40), np.int16)
    c[20, 20] = LETHAL
    res = plan_path(c, RES, (0.0, 0.0), (2.15, 2.05), (0.5, 0.5), PlannerConfig(robot_radius_m=0.3))
    assert res.ok


def test_empty_grid_is_refused():
    with pytest.raises(ValueError):
        GridPlanner(Grid(np.zeros((0, 0), np.int16), RES, (0.0, 0.0)))


def test_cost_to_many_points():
    c = np.zeros((30, 30), np.int16)
    planner = GridPlanner(Grid(c, RES, (0.0, 0.0)), PlannerConfig(robot_radius_m=0.0, cost_weight=0.0))
    d = planner.cost_to((0.05, 0.05), [(1.05, 0.05), (10.0, 10.0)])
    assert d[0] == pytest.approx(1.0) and math.isinf(d[1])
