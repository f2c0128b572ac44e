"""Path planner on a 400 x 400 lunar costmap (craters and rocks) against networkx's A*.

Both search the same 8-connected graph with the same edge costs (GridPlanner's
inflation and multipliers), from the same start to the same goals, in the same run;
networkx gets the octile heuristic. planner_ms is the whole plan (inflation, graph,
search, smoothing); networkx's graph is built from the same multiplier grid (outside the
timer in networkx_search_ms, inside it in networkx_ms: a planner rebuilds its graph for
every new costmap, so the end-to-end time is the honest comparison; both are reported).
cost_ratio compares the least costs the two searches return.
"""
from __future__ import annotations

import math
import statistics
import time

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.planning.astar import (SQRT2, Grid, GridPlanner, PlannerConfig, _FORWARD,
                                         octile_m, path_cost)

NAME = 'planner'
DESCRIPTION = '400x400 costmap: inflation + search + smoothing vs networkx A* (same graph, equal cost)'
RESOLUTION = 0.1


def lunar_costmap(size: int = 400, seed: int = 7) -> np.ndarray:
    """Craters (lethal rims, costly bowls), rocks (lethal) and rough ground (0..40)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    costs = rng.integers(0, 25, (size, size)).astype(np.int16)
    for _ in range(30):
        cy, cx = rng.integers(0, size, 2)
        r = rng.integers(6, 30)
        d = np.hypot(yy - cy, xx - cx)
        costs[(d < r) & (d > 0.75 * r)] = 100
        costs[d <= 0.75 * r] = np.maximum(costs[d <= 0.75 * r], 40)
        costs[(d < r) & (np.abs(xx - cx) < 2) & (yy < cy)] = 40   # an entry gap in each rim
    rocks = rng.random((size, size)) < 0.0015
    costs[rocks] = 100
    for rows in (slice(0, 12), slice(size - 12, size)):
        for cols in (slice(0, 12), slice(size - 12, size)):
            costs[rows, cols] = 0
    return costs


def networkx_graph(mult: np.ndarray, res: float):
    """The same 8-connected graph and edge costs as GridPlanner, as a networkx Graph."""
    import networkx as nx
    H, W = mult.shape
    G = nx.Graph()
    for dr, dc in _FORWARD:
        for r in range(H):
            r2 = r + dr
            if r2 >= H:
                continue
            for c in range(W):
                c2 = c + dc
                if not 0 <= c2 < W:
                    continue
                w = 0.5 * (mult[r, c] + mult[r2, c2]) * res * (SQRT2 if dr and dc else 1.0)
                if math.isfinite(w):
                    G.add_edge((r, c), (r2, c2), weight=w)
    return G


def networkx_cost(G, mult, res, start, goal):
    import networkx as nx
    t0 = time.perf_counter()
    path = nx.astar_path(G, start, goal, heuristic=lambda a, b: octile_m(a, b, res), weight='weight')
    ms = (time.perf_counter() - t0) * 1000.0
    return path_cost(path, mult, res), ms


def run(quick: bool = False) -> dict:
    costs = lunar_costmap()
    cfg = PlannerConfig(robot_radius_m=0.45, inflation_radius_m=1.2)
    grid = Grid(costs, RESOLUTION, (0.0, 0.0))
    start, goals = (0.25, 0.25), [(39.7, 39.7), (39.7, 0.3), (0.3, 39.7)]
    if quick:
        goals = goals[:1]
    ours, search_ms, theirs, theirs_search, ratios = [], [], [], [], []
    G = graph_ms = None
    for goal in goals:
        times, stimes = [], []
        for _ in range(3 if quick else 7):
            t0 = time.perf_counter()
            planner = GridPlanner(grid, cfg)
            t1 = time.perf_counter()
            result = planner.plan(start, goal)
            t2 = time.perf_counter()
            times.append((t2 - t0) * 1000.0)
            stimes.append((t2 - t1) * 1000.0)
        assert result.ok, result.reason
        ours.append(statistics.median(times))
        search_ms.append(statistics.median(stimes))
        if G is None:
            t0 = time.perf_counter()
            G = networkx_graph(planner._search_mult, RESOLUTION)
            graph_ms = (time.perf_counter() - t0) * 1000.0
        nx_cost, nx_ms = networkx_cost(G, planner._search_mult, RESOLUTION,
                                       tuple(result.cells[0]), tuple(result.cells[-1]))
        theirs_search.append(nx_ms)
        theirs.append(graph_ms + nx_ms)
        ratios.append(result.cost / nx_cost)
    planner_ms = statistics.median(ours)
    networkx_ms = statistics.median(theirs)
    return {
        # Ours: costmap -> inflation -> graph -> search -> smoothed path.
        'planner_ms': metric(planner_ms, 'ms', '<= 50'),
        # networkx: the same multiplier grid -> graph -> astar_path (no inflation, no smoothing).
        'networkx_ms': metric(networkx_ms, 'ms'),
        'speedup': metric(networkx_ms / planner_ms, 'x', '>= 10'),
        # The search alone on a prebuilt graph: ours (graph + Dijkstra + smoothing) vs astar_path.
        'search_ms': metric(statistics.median(search_ms), 'ms'),
        'networkx_search_ms': metric(statistics.median(theirs_search), 'ms'),
        'search_speedup': metric(statistics.median(theirs_search) / statistics.median(search_ms), 'x'),
        'cost_ratio': metric(max(ratios), '', '<= 1.01'),
    }


if __name__ == '__main__':
    for k, m in run().items():
        print(f'{k:12s} {m.value:10.4g} {m.unit:3s} {m.goal:8s} {m.met}')
