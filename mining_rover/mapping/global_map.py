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


def _whole_groups(idx: np.ndarray, full: int) -> np.ndarray:
    """For sorted coarse indices of consecutive fine rows (or columns): True where the
    fine row's coarse row has at least ``full`` fine rows here."""
    starts = np.flatnonzero(np.r_[True, np.diff(idx) != 0])
    lengths = np.diff(np.r_[starts, len(idx)])
    return np.repeat(lengths >= full, lengths)


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
               origin_xy, resolution: float, stamp_s: float = 0.0, changed: np.ndarray | None = None,
               margin_m: float = 0.0) -> int:
        """Take in a fine-map snapshot: ``height``/``variance`` (H x W, m / m^2, NaN unknown),
        ``cost`` (same grid, 0..100, -1 unknown; None: heights only), placed with
        ``origin_xy`` (m) and ``resolution`` (m). Fine cells are assigned to coarse cells by
        their centres. ``changed`` (H x W bool: the fine cells updated since the last
        snapshot) limits the work to the coarse cells within ``margin_m`` of their bounding
        box (a fused cell changes the costs of its neighbours too). Returns the number of
        coarse cells updated."""
        h, v = np.asarray(height), np.asarray(variance)
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
        if changed is not None:
            if np.shape(changed) != h.shape:
                raise ValueError(f'changed must have the shape {h.shape}, got {np.shape(changed)}')
            any_r, any_c = np.flatnonzero(np.any(changed, axis=1)), np.flatnonzero(np.any(changed, axis=0))
            if not any_r.size:
                return 0
            m = int(np.ceil(margin_m / resolution))
            r_lo, r_hi = rows[max(any_r[0] - m, 0)], rows[min(any_r[-1] + m, H - 1)]
            c_lo, c_hi = cols[max(any_c[0] - m, 0)], cols[min(any_c[-1] + m, W - 1)]
            row_in &= (rows >= r_lo) & (rows <= r_hi)       # whole coarse cells only
            col_in &= (cols >= c_lo) & (cols <= c_hi)
        # A coarse cell only partly under the fine map (at its edge) keeps its value: the
        # part seen is no better an aggregate than the whole seen before.
        full = max(1, int(round(self.resolution / resolution)))
        row_in[row_in] &= _whole_groups(rows[row_in], full)
        col_in[col_in] &= _whole_groups(cols[col_in], full)
        if not col_in.any() or not row_in.any():
            return 0
        # Fine columns (rows) map onto coarse ones in order, so each coarse cell's fine
        # cells are one contiguous block: sums and maxima by np.ufunc.reduceat.
        ci, ri = cols[col_in], rows[row_in]
        cb = np.flatnonzero(np.r_[True, np.diff(ci) != 0])
        rb = np.flatnonzero(np.r_[True, np.diff(ri) != 0])
        at = np.ix_(ri[rb], ci[cb])

        nr, nc = len(rb), len(cb)
        even = len(ri) == nr * full and len(ci) == nc * full    # every block full x full

        def blocks(a, op=np.add):
            if even:      # the usual case (a whole ratio of cell sizes): one reshape
                return op.reduce(op.reduce(a.reshape(nr, full, nc, full), axis=3), axis=1)
            return op.reduceat(op.reduceat(a, cb, axis=1), rb, axis=0)

        # row_in / col_in are contiguous: crop by slices (views). float32 sums of heights
        # taken about the window's mean (so the spread's squares do not cancel): their
        # rounding, ~1e-9 m^2, is far below any variance the map holds (>= 1e-4 m^2).
        rs = slice(int(np.argmax(row_in)), int(len(row_in) - np.argmax(row_in[::-1])))
        cs = slice(int(np.argmax(col_in)), int(len(col_in) - np.argmax(col_in[::-1])))
        h, v = h[rs, cs].astype(np.float32, copy=False), v[rs, cs].astype(np.float32, copy=False)
        ok = np.isfinite(h) & (v > 0.0) & np.isfinite(v)
        if not ok.any():
            ref = np.float32(0.0)
        else:
            ref = np.float32(np.mean(h[ok]))
        w = np.zeros(h.shape, np.float32)
        np.divide(np.float32(1.0), v, out=w, where=ok)
        hz = np.zeros(h.shape, np.float32)
        np.subtract(h, ref, out=hz, where=ok)
        wz = w * hz
        count, sw = blocks(ok.astype(np.int32)), blocks(w)
        swz, swzz = blocks(wz), blocks(wz * hz)
        per_cell = (self.resolution / resolution) ** 2
        need = max(1.0, self.params.min_known_fraction * per_cell)
        update = count >= need
        with np.errstate(invalid='ignore', divide='ignore'):
            mean = swz / sw
            spread = np.maximum(swzz / sw - mean * mean, 0.0)
            var = count / sw + spread        # weighted mean variance: sum(w v) / sum(w) = count / sum(w)
            mean = mean + ref
        for grid, new in ((self.height, mean), (self.variance, var), (self.last_seen_s, stamp_s)):
            old = grid[at]
            grid[at] = np.where(update, new, old)
        if cost is None:
            return int(np.count_nonzero(update))
        c = np.asarray(cost)[rs, cs].astype(np.int16)
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
