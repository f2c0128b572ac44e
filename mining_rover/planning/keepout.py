"""Keep-out discs on a costmap: places the executive has found the rover cannot drive
(it got stuck there: planning/executive/phases/recover.py) made lethal for the planner,
which then inflates them like any other obstacle.

Pure numpy. Costs follow nav_msgs/OccupancyGrid (0..100, -1 unknown; lethal 100); the
grid's cell (row, col) centre is at origin + (col + 0.5, row + 0.5) * resolution.
"""
from __future__ import annotations

import math

import numpy as np

LETHAL = 100


def apply_keepouts(costs: np.ndarray, resolution: float, origin_xy, spots) -> np.ndarray:
    """A copy of ``costs`` with every cell whose centre lies within a spot's radius set
    lethal; ``spots`` is an iterable of (x, y, radius) in the grid's frame (m). Spots off
    the grid change nothing; the input is never modified."""
    out = np.array(costs, copy=True)
    if out.ndim != 2 or out.size == 0:
        return out
    h, w = out.shape
    ox, oy = float(origin_xy[0]), float(origin_xy[1])
    for x, y, r in spots:
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(r)) or r <= 0.0:
            continue
        c0 = max(0, int(math.floor((x - r - ox) / resolution)))
        c1 = min(w, int(math.ceil((x + r - ox) / resolution)) + 1)
        r0 = max(0, int(math.floor((y - r - oy) / resolution)))
        r1 = min(h, int(math.ceil((y + r - oy) / resolution)) + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        cx = ox + (cols + 0.5) * resolution
        cy = oy + (rows + 0.5) * resolution
        inside = (cx - x) ** 2 + (cy - y) ** 2 <= r * r
        out[r0:r1, c0:c1][inside] = LETHAL
    return out
