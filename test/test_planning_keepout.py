"""Keep-out discs (planning/keepout.py): the cells they cover turn lethal, nothing else
changes, and the planner's route goes round them."""
from __future__ import annotations

import numpy as np

from mining_rover.planning.astar import Grid, GridPlanner, PlannerConfig
from mining_rover.planning.keepout import LETHAL, apply_keepouts


def test_cells_within_a_spot_turn_lethal_and_the_input_is_untouched():
    costs = np.zeros((40, 40), np.int16)
    costs[0, 0] = -1
    out = apply_keepouts(costs, 0.1, (-2.0, -2.0), [(0.0, 0.0, 0.3), (50.0, 0.0, 1.0)])
    assert costs.max() == 0                           # a copy
    rows, cols = np.nonzero(out == LETHAL)
    cx, cy = -2.0 + (cols + 0.5) * 0.1, -2.0 + (rows + 0.5) * 0.1
    assert np.all(np.hypot(cx, cy) <= 0.3 + 1e-9)
    # every cell centre inside the disc: pi r^2 / res^2 ~ 28 cells
    assert 24 <= len(rows) <= 32 and out[0, 0] == -1
    assert np.array_equal(apply_keepouts(costs, 0.1, (-2.0, -2.0), []), costs)


def test_a_route_goes_round_a_spot_the_rover_got_stuck_at():
    costs = np.zeros((60, 100), np.int16)             # 5 x 3 m, flat and free
    grid = Grid(costs, 0.05, (0.0, 0.0))
    cfg = PlannerConfig(robot_radius_m=0.3, inflation_radius_m=0.6)
    straight = GridPlanner(grid, cfg).plan((0.5, 1.5), (4.5, 1.5))
    assert straight.ok and np.abs(straight.path_xy[:, 1] - 1.5).max() < 0.05
    spot = (2.5, 1.5, 0.3)
    kept = Grid(apply_keepouts(costs, 0.05, (0.0, 0.0), [spot]), 0.05, (0.0, 0.0))
    around = GridPlanner(kept, cfg).plan((0.5, 1.5), (4.5, 1.5))
    assert around.ok
    gap = np.hypot(around.path_xy[:, 0] - spot[0], around.path_xy[:, 1] - spot[1]).min()
    assert gap >= spot[2] + cfg.robot_radius_m - 0.05   # the body clears the spot
