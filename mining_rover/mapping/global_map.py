"""Coarse elevation and cost over the whole site, fed from the fine local map.

Pure numpy (no rclpy). The fine ElevationMap (mapping/elevation_map.py) follows the rover
and forgets what leaves it; this grid is fixed in the ``map`` frame, covers the site
(default 96 m square at 0.25 m: 384 x 384 cells) and keeps what the rover saw anywhere.
Same layout as the fine map and nav_msgs/OccupancyGrid: ``height[row, col]`` is the cell
whose lower-left corner is ``origin + (col, row) * resolution``; unknown is NaN (height,
variance) or -1 (cost).

``absorb`` takes a snapshot of the fine map (its fused heights, variances and costmap),
not single clouds: it runs at the mapping node's publish rate, so the per-cloud fusion
cost is untouched. Each coarse cell that enough known fine cells fall into is *replaced*
by their aggregate (the fine cells are already the fused estimate; fusing them again
every snapshot would count the same measurements many times over):

* height: inverse-variance weighted mean of the fine heights (m);
* variance: weighted mean of the fine variances (their errors are correlated, so not
  divided by the count) plus the weighted spread of the fine heights about the mean, i.e.
  how far a point in the cell may lie from the cell's one height (m^2);
* cost: the highest fine cost (0..100), and lethal whenever any known fine cell is,
  even below ``min_known_fraction``: a rock seen at the edge of view is never lost.

Cells the fine map no longer knows keep their last value; ``grow_variance`` adds pose
uncertainty to them as the rover drives (heights far behind were placed with an older
pose), and cells beyond ``max_variance_m2`` keep their cost but lose their height.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

LETHAL = 100


@dataclass(frozen=True)
class GlobalMapParams:
    """The site grid: cell size and side (m), centre (m, map frame), update rule."""
    resolution_m: float = 0.25
    size_m: float = 96.0
    centre_x: float = 0.0
    centre_y: float = 0.0
    min_known_fraction: float = 0.25   # of a coarse cell's fine cells, to update it
    max_variance_m2: float = 0.25      # beyond (0.5 m)^2 a coarse height is unknown again

    def __post_init__(self):
        if not 0.01 <= self.resolution_m <= 5.0:
            raise ValueError(f'resolution_m must be in [0.01, 5], got {self.resolution_m}')
        if not self.resolution_m * 4 <= self.size_m <= 2000.0:
            raise ValueError(f'size_m must be in [4 * resolution_m, 2000], got {self.size_m}')
        if not 0.0 < self.min_known_fraction <= 1.0:
            raise ValueError(f'min_known_fraction must be in (0, 1], got {self.min_known_fraction}')
        if not self.max_variance_m2 > 0.0:
            raise ValueError(f'max_variance_m2 must be > 0, got {self.max_variance_m2}')
        if not (np.isfinite(self.centre_x) and np.isfinite(self.centre_y)):
            raise ValueError(f'centre must be finite, got ({self.centre_x}, {self.centre_y})')

    @classmethod
    def from_dict(cls, values: dict) -> 'GlobalMapParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


class GlobalMap:
    """The site grid. Create once; ``absorb`` fine-map snapshots; read height/variance/cost."""

    def __init__(self, params: GlobalMapParams = GlobalMapParams()):
        self.params = params
        self.resolution = float(params.resolution_m)
        self.n = int(round(params.size_m / self.resolution))
        half = self.n * self.resolution / 2.0
        self.origin = np.floor((np.array([params.centre_x, params.centre_y]) - half)
                               / self.resolution) * self.resolution
        self.height = np.full((self.n, self.n), np.nan, np.float32)
        self.variance = np.full((self.n, self.n), np.nan, np.float32)
        self.cost = np.full((self.n, self.n), -1, np.int16)
        self.last_seen_s = np.full((self.n, self.n), -np.inf)

    def cell_index(self, x, y) -> tuple:
        """(row, col, inside) for map coordinates (m)."""
        col = np.floor((np.asarray(x) - self.origin[0]) / self.resolution).astype(np.int64)
        row = np.floor((np.asarray(y) - self.origin[1]) / self.resolution).astype(np.int64)
        return row, col, (col >= 0) & (col < self.n) & (row >= 0) & (row < self.n)

    def known(self) -> np.ndarray:
        return np.isfinite(self.height)

    def absorb(self, height: np.ndarray, variance: np.ndarray, cost: np.ndarray | None,
               origin_xy, resolution: float, stamp_s: float = 0.0) -> int:
        """Take in a fine-map snapshot: ``height``/``variance`` (H x W, m / m^2, NaN unknown),
        ``cost`` (same grid, 0..100, -1 unknown; None: heights only), placed with
        ``origin_xy`` (m) and ``resolution`` (m). Fine cells are assigned to coarse cells by
        their centres. Returns the number of coarse cells updated."""
        h = np.asarray(height, np.float64)
        v = np.asarray(variance, np.float64)
        if h.ndim != 2 or v.shape != h.shape or (cost is not None and np.shape(cost) != h.shape):
            raise ValueError(f'height, variance and cost must share one 2-D shape, got {h.shape}, '
                             f'{v.shape}, {None if cost is None else np.shape(cost)}')
        if not resolution > 0.0:
            raise ValueError(f'resolution must be > 0, got {resolution}')
        H, W = h.shape
        xs = origin_xy[0] + (np.arange(W) + 0.5) * resolution
        ys = origin_xy[1] + (np.arange(H) + 0.5) * resolution
        cols = np.floor((xs - self.origin[0]) / self.resolution).astype(np.int64)
        rows = np.floor((ys - self.origin[1]) / self.resolution).astype(np.int64)
        col_in, row_in = (cols >= 0) & (cols < self.n), (rows >= 0) & (rows < self.n)
        if not col_in.any() or not row_in.any():
            return 0
        # Fine columns (rows) map onto coarse ones in order, so each coarse cell's fine
        # cells are one contiguous block: sums and maxima by np.ufunc.reduceat.
        ci, ri = cols[col_in], rows[row_in]
        cb = np.flatnonzero(np.r_[True, np.diff(ci) != 0])
        rb = np.flatnonzero(np.r_[True, np.diff(ri) != 0])
        at = np.ix_(ri[rb], ci[cb])

        def blocks(a, op=np.add):
            return op.reduceat(op.reduceat(a, cb, axis=1), rb, axis=0)

        h, v = h[np.ix_(row_in, col_in)], v[np.ix_(row_in, col_in)]
        ok = np.isfinite(h) & np.isfinite(v) & (v > 0.0)
        w = np.where(ok, 1.0 / np.where(ok, v, 1.0), 0.0)
        hz = np.where(ok, h, 0.0)
        count, sw = blocks(ok.astype(np.int64)), blocks(w)
        swz, swzz = blocks(w * hz), blocks(w * hz * hz)
        per_cell = (self.resolution / resolution) ** 2
        need = max(1.0, self.params.min_known_fraction * per_cell)
        update = count >= need
        with np.errstate(invalid='ignore', divide='ignore'):
            mean = swz / sw
            spread = np.maximum(swzz / sw - mean * mean, 0.0)
            var = count / sw + spread        # weighted mean variance: sum(w v) / sum(w) = count / sum(w)
        for grid, new in ((self.height, mean), (self.variance, var), (self.last_seen_s, stamp_s)):
            old = grid[at]
            grid[at] = np.where(update, new, old)
        if cost is None:
            return int(np.count_nonzero(update))
        c = np.asarray(cost)[np.ix_(row_in, col_in)].astype(np.int16)
        top = blocks(c, np.maximum)
        n_cost = blocks((c >= 0).astype(np.int64))
        cost_update = (n_cost >= need) | (top >= LETHAL)
        self.cost[at] = np.where(cost_update, top, self.cost[at])
        return int(np.count_nonzero(update | cost_update))

    def grow_variance(self, added_m2: float) -> None:
        """Add ``added_m2`` (m^2) to every known height's variance; forget heights beyond
        ``max_variance_m2`` (their costs stay: a hazard seen is kept)."""
        if added_m2 > 0.0:
            self.variance += np.float32(added_m2)
        gone = self.variance > self.params.max_variance_m2
        self.height[gone] = np.nan
        self.variance[gone] = np.nan
