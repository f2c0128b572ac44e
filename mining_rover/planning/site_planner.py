"""Site-scale least-cost paths: a coarse search over the whole site, then the fine grid
inside a corridor around the coarse route.

Pure Python (numpy, scipy, OpenCV). Same grids, costs and path model as
planning/astar.py (GridPlanner): every 8-connected move between traversable fine cells
costs its length (m) times the mean of the two cells' multipliers. A 64 x 64 m site at
5 cm has 1.6 M cells; one compiled Dijkstra over all of them takes about a second, so:

1. **coarse level** (built once per costmap): blocks of ``coarse_factor`` x
   ``coarse_factor`` fine cells; a block is blocked only when *every* fine cell in it is,
   and otherwise costs the mean multiplier of its traversable cells. Because a block is
   passable whenever any of its cells is, every fine path maps onto a chain of passable,
   8-adjacent blocks: no coarse route means no fine route, and the goal is refused at
   the coarse level, with the reason, in milliseconds. Partly blocked blocks cost more
   (BLOCKED_PENALTY), so the coarse route keeps to open ground.
2. **corridor**: the coarse least-cost route, widened by ``corridor_blocks`` blocks on
   each side, is the only part of the fine grid searched (a compact CSR graph over those
   cells, one scipy Dijkstra). Where the corridor holds no fine route (a block that looks
   passable but whose free cells do not connect), it is widened and, last, the whole fine
   grid is searched, so a reachable goal is never refused.

The fine optimum is not guaranteed (the best route may leave the corridor); test and
bench/planner.py measure the cost against the fine-grid optimum (scipy Dijkstra,
scikit-image MCP_Geometric) on the same grid: within 2 % is the goal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from mining_rover.planning.astar import (SQRT2, Grid, PathResult, PlannerConfig, _fmt,
                                         build_graph, inflate, multipliers, smooth)


#: A partly blocked block costs more at the coarse level (x (1 + this x blocked share)): the
#: coarse route then prefers open blocks, through which a fine route exists, over blocks
#: whose free cells may not connect (each such miss costs a wider corridor search). 0.5:
#: no corridor misses and a worst cost ratio of 1.008 on 18 routes over six 64 m sites
#: (bench/planner.py's site_costmap), where 0 missed 1 in 18 and 1.0 reached 1.021.
BLOCKED_PENALTY = 0.5


@dataclass(frozen=True)
class SiteConfig:
    """Multi-resolution search: coarse block side (fine cells) and corridor half-width (blocks)."""
    coarse_factor: int = 8
    corridor_blocks: int = 1
    widen_tries: int = 2         # corridor doubled this often before the whole fine grid is searched

    def check(self) -> list:
        problems = []
        if not 2 <= self.coarse_factor <= 64:
            problems.append(f'coarse_factor = {self.coarse_factor} must be in 2..64')
        if not 1 <= self.corridor_blocks <= 32:
            problems.append(f'corridor_blocks = {self.corridor_blocks} must be in 1..32')
        if not 0 <= self.widen_tries <= 8:
            problems.append(f'widen_tries = {self.widen_tries} must be in 0..8')
        return problems


def coarse_multipliers(mult: np.ndarray, factor: int) -> np.ndarray:
    """Per-block multiplier: mean of the block's finite fine multipliers times
    (1 + BLOCKED_PENALTY x its blocked share), +inf where none is finite (cells beyond the
    grid's edge count as blocked)."""
    H, W = mult.shape
    Hc, Wc = -(-H // factor), -(-W // factor)
    padded = np.full((Hc * factor, Wc * factor), np.inf)
    padded[:H, :W] = mult
    blocks = padded.reshape(Hc, factor, Wc, factor)
    free = np.isfinite(blocks)
    n = free.sum(axis=(1, 3))
    total = np.where(free, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid='ignore', divide='ignore'):
        out = total / n * (1.0 + BLOCKED_PENALTY * (1.0 - n / (factor * factor)))
    out[n == 0] = np.inf
    return out


#: All 8 neighbours (d_row, d_col): the corridor graph is stored directed, both ways, so
#: scipy's Dijkstra needs no transpose of it.
_ALL8 = tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc)


def corridor_graph(mult: np.ndarray, cells: np.ndarray, resolution: float, lut: np.ndarray | None = None):
    """CSR of the 8-connected graph restricted to ``cells`` (flat int32 indices into
    ``mult``, sorted ascending), each edge stored both ways, weights in m: (graph, node of
    each flat index, -1 outside). ``lut``, when given, is a scratch array of H*W+1 int32
    holding -1 everywhere, handed back so (the caller resets it with ``lut[cells] = -1``)."""
    H, W = mult.shape
    n = len(cells)
    if lut is None:
        lut = np.full(H * W + 1, -1, dtype=np.int32)     # the extra slot: "off the grid"
    lut[cells] = np.arange(n, dtype=np.int32)
    r, c = np.divmod(cells, np.int32(W))
    flat_mult = mult.reshape(-1)
    m0 = flat_mult[cells]
    data = np.empty((n, 8))
    nbr = np.empty((n, 8), dtype=np.int32)
    for k, (dr, dc) in enumerate(_ALL8):
        r2, c2 = r + dr, c + dc
        ok = (r2 >= 0) & (r2 < H) & (c2 >= 0) & (c2 < W)
        nb = np.where(ok, cells + np.int32(dr * W + dc), np.int32(H * W))
        j = lut[nb]
        step = resolution * (SQRT2 if dr and dc else 1.0)
        data[:, k] = np.where(j >= 0, (m0 + flat_mult[np.minimum(nb, H * W - 1)]) * (0.5 * step), np.inf)
        nbr[:, k] = j
    valid = np.isfinite(data)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    return csr_matrix((data[valid], nbr[valid], indptr), shape=(n, n)), lut


class SitePlanner:
    """Plans across a whole site's fine costmap; build once per costmap, plan many goals."""

    def __init__(self, grid: Grid, cfg: PlannerConfig = PlannerConfig(),
                 site: SiteConfig = SiteConfig(), inflated: bool = False):
        problems = cfg.check() + site.check()
        if problems:
            raise ValueError('; '.join(problems))
        if grid.costs.ndim != 2 or grid.costs.size == 0:
            raise ValueError(f'costmap must be a non-empty 2-D grid, got shape {grid.costs.shape}')
        self.cfg, self.site, self.grid = cfg, site, grid
        costs = np.asarray(grid.costs).astype(np.int16)
        self.costs = costs if inflated else inflate(costs, grid.resolution, cfg.robot_radius_m,
                                                    cfg.inflation_radius_m, cfg.cost_scaling_factor)
        self.mult = multipliers(self.costs, cfg)
        self.coarse = coarse_multipliers(self.mult, site.coarse_factor)
        self._coarse_graph = None
        self._lut = None               # scratch: flat fine index -> corridor node
        #: how the last plan ended: 'corridor', 'widened', 'full' or 'refused'
        self.last_level = ''

    def _escape(self, start) -> np.ndarray:
        """Fine multipliers that let a start cell inside inflation leave (as GridPlanner)."""
        mult = self.mult
        if np.isfinite(mult[start]):
            return mult
        mult = mult.copy()
        r = int(math.ceil(self.cfg.robot_radius_m / self.grid.resolution)) + 2
        H, W = mult.shape
        r0, r1 = max(0, start[0] - r), min(H, start[0] + r + 1)
        c0, c1 = max(0, start[1] - r), min(W, start[1] + r + 1)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        near = ((rr - start[0]) ** 2 + (cc - start[1]) ** 2 <= r * r) & (self.costs[r0:r1, c0:c1] < 100)
        window = mult[r0:r1, c0:c1]
        window[near & ~np.isfinite(window)] = 1.0 + self.cfg.cost_weight
        mult[start] = 1.0 + self.cfg.cost_weight
        return mult

    def _snap_goal(self, goal, mult):
        """The goal cell, or the nearest traversable cell within goal_snap_radius_m."""
        if np.isfinite(mult[goal]):
            return goal, False
        H, W = mult.shape
        r = int(math.ceil(self.cfg.goal_snap_radius_m / self.grid.resolution))
        r0, r1 = max(0, goal[0] - r), min(H, goal[0] + r + 1)
        c0, c1 = max(0, goal[1] - r), min(W, goal[1] + r + 1)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        d2 = (rr - goal[0]) ** 2 + (cc - goal[1]) ** 2
        ok = np.isfinite(mult[r0:r1, c0:c1]) & (d2 <= r * r)
        if not ok.any():
            return None, False
        k = np.argmin(np.where(ok, d2, np.iinfo(np.int64).max))
        return (int(rr.flat[k]), int(cc.flat[k])), True

    def _coarse_route(self, start, goal, mult):
        """Coarse blocks of the least-cost block route, or None when the goal's block is
        not reachable from the start's."""
        f = self.site.coarse_factor
        coarse = self.coarse
        Hc, Wc = coarse.shape
        if mult is not self.mult:      # the start's escape cells may open its block
            coarse = coarse.copy()
            coarse[start[0] // f, start[1] // f] = min(coarse[start[0] // f, start[1] // f],
                                                       1.0 + self.cfg.cost_weight)
            graph = build_graph(coarse, self.grid.resolution * f)
        else:
            if self._coarse_graph is None:
                self._coarse_graph = build_graph(coarse, self.grid.resolution * f)
            graph = self._coarse_graph
        s = (start[0] // f) * Wc + start[1] // f
        g = (goal[0] // f) * Wc + goal[1] // f
        dist, pred = dijkstra(graph, directed=False, indices=s, return_predecessors=True)
        if not np.isfinite(dist[g]):
            return None
        chain = [g]
        while chain[-1] != s:
            chain.append(int(pred[chain[-1]]))
        return np.array(chain[::-1], dtype=np.int64)

    def _fine_search(self, start, goal, mult, cells):
        """Least-cost fine cells start -> goal inside ``cells`` (flat), or None."""
        H, W = mult.shape
        if self._lut is None:
            self._lut = np.full(H * W + 1, -1, dtype=np.int32)
        graph, lut = corridor_graph(mult, cells, self.grid.resolution, self._lut)
        s, g = int(lut[start[0] * W + start[1]]), int(lut[goal[0] * W + goal[1]])
        lut[cells] = -1
        if s < 0 or g < 0:
            return None, math.inf
        dist, pred = dijkstra(graph, directed=True, indices=s, return_predecessors=True)
        if not np.isfinite(dist[g]):
            return None, math.inf
        chain = [g]
        while chain[-1] != s:
            chain.append(int(pred[chain[-1]]))
        flat = cells[np.array(chain[::-1], dtype=np.int64)]
        return np.column_stack(np.divmod(flat, W)), float(dist[g])

    def _corridor_cells(self, blocks, radius, mult):
        """Flat indices of traversable fine cells within ``radius`` blocks of the route."""
        f = self.site.coarse_factor
        Hc, Wc = self.coarse.shape
        H, W = mult.shape
        mask = np.zeros((Hc, Wc), np.uint8)
        mask.flat[blocks] = 1
        k = 2 * radius + 1
        mask = cv2.dilate(mask, np.ones((k, k), np.uint8)).astype(bool)
        br, bc = np.nonzero(mask)
        # every fine cell of every corridor block, then those inside the grid and traversable
        off_r, off_c = np.divmod(np.arange(f * f), f)
        rr = (br[:, None] * f + off_r[None, :]).ravel()
        cc = (bc[:, None] * f + off_c[None, :]).ravel()
        inside = (rr < H) & (cc < W)
        flat = (rr[inside] * W + cc[inside]).astype(np.int32)
        flat = flat[np.isfinite(mult.reshape(-1)[flat])]
        flat.sort()
        return flat

    def plan(self, start_xy, goal_xy) -> PathResult:
        """Route from start_xy to goal_xy (map frame, m), as GridPlanner.plan: a goal in a
        non-traversable cell moves to the nearest traversable cell within
        goal_snap_radius_m; an unreachable goal gives a result that is not ok, with why."""
        grid = self.grid
        start, goal = grid.to_cell(start_xy), grid.to_cell(goal_xy)
        self.last_level = 'refused'
        if not grid.inside(*start):
            return PathResult(False, f'start {_fmt(start_xy)} is outside the costmap')
        if not grid.inside(*goal):
            return PathResult(False, f'goal {_fmt(goal_xy)} is outside the costmap')
        mult = self._escape(start)
        goal, snapped = self._snap_goal(goal, mult)
        if goal is None:
            return PathResult(False, f'goal {_fmt(goal_xy)} is in an obstacle with no free cell '
                                     f'within {self.cfg.goal_snap_radius_m} m')
        blocks = self._coarse_route(start, goal, mult)
        if blocks is None:
            return PathResult(False, f'goal {_fmt(goal_xy)} is unreachable: no chain of passable '
                                     f'{self.site.coarse_factor * grid.resolution:g} m blocks from '
                                     f'{_fmt(start_xy)} leads there')
        cells = None
        radius = self.site.corridor_blocks
        for attempt in range(self.site.widen_tries + 1):
            cells, cost = self._fine_search(start, goal, mult, self._corridor_cells(blocks, radius, mult))
            if cells is not None:
                self.last_level = 'corridor' if attempt == 0 else 'widened'
                break
            radius *= 2
        if cells is None:
            every = np.flatnonzero(np.isfinite(mult.reshape(-1))).astype(np.int32)
            cells, cost = self._fine_search(start, goal, mult, every)
            self.last_level = 'full'
            if cells is None:
                return PathResult(False, f'goal {_fmt(goal_xy)} is unreachable from {_fmt(start_xy)}')
        way = smooth(cells, mult, grid.resolution) if self.cfg.smooth else cells
        xy = grid.to_xy(way)
        if not snapped:
            xy[-1] = np.asarray(goal_xy, dtype=float)[:2]
        xy[0] = np.asarray(start_xy, dtype=float)[:2]
        return PathResult(True, '', xy, cells, cost, snapped)


def compose_site_grid(local: Grid | None, site: Grid | None, points_xy, margin_m: float,
                      max_side_m: float = 200.0) -> Grid:
    """One fine costmap for a route across the site, at the local grid's resolution.

    It spans the local grid and every point of ``points_xy`` (start, goal; map frame, m)
    with ``margin_m`` around them. Each cell takes the local costmap's value where that
    is known, else the site map's (coarse) cell under the fine cell's centre, else -1
    (unknown: the planner drives it at unknown_cost, optimistically). Raises ValueError
    (with the extent) when the span exceeds ``max_side_m`` on a side or neither grid is
    given."""
    base = local if local is not None else site
    if base is None:
        raise ValueError('no costmap to compose a site grid from')
    res = float(base.resolution)
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    lo = pts.min(axis=0) - margin_m
    hi = pts.max(axis=0) + margin_m
    if local is not None:
        h, w = local.costs.shape
        lo = np.minimum(lo, local.origin_xy)
        hi = np.maximum(hi, np.asarray(local.origin_xy) + (w * res, h * res))
    # align with the local grid, so its cells paste in whole
    anchor = np.asarray(base.origin_xy, dtype=float)
    k_lo = np.floor((lo - anchor) / res + 1e-9).astype(int)
    k_hi = np.ceil((hi - anchor) / res - 1e-9).astype(int)
    W, H = int(k_hi[0] - k_lo[0]), int(k_hi[1] - k_lo[1])
    if max(W, H) * res > max_side_m:
        raise ValueError(f'the route spans {W * res:.0f} x {H * res:.0f} m, more than '
                         f'max_side_m {max_side_m:g} m')
    origin = anchor + k_lo * res
    costs = np.full((H, W), -1, dtype=np.int16)
    if site is not None:
        xs = origin[0] + (np.arange(W) + 0.5) * res
        ys = origin[1] + (np.arange(H) + 0.5) * res
        sh, sw = site.costs.shape
        sc = np.floor((xs - site.origin_xy[0]) / site.resolution).astype(int)
        sr = np.floor((ys - site.origin_xy[1]) / site.resolution).astype(int)
        cin, rin = (sc >= 0) & (sc < sw), (sr >= 0) & (sr < sh)
        if cin.any() and rin.any():
            costs[np.ix_(rin, cin)] = np.asarray(site.costs)[np.ix_(sr[rin], sc[cin])]
    if local is not None:
        h, w = local.costs.shape
        r0, c0 = int(-k_lo[1]), int(-k_lo[0])
        block = costs[r0:r0 + h, c0:c0 + w]
        lc = np.asarray(local.costs).astype(np.int16)
        block[lc >= 0] = lc[lc >= 0]
    return Grid(costs, res, (float(origin[0]), float(origin[1])))


def route_blocked(path_xy, grid: Grid, cfg: PlannerConfig, pose_xy, skip_m: float | None = None) -> bool:
    """Whether a route (map-frame waypoints, m) now crosses ground the planner may not
    drive (cost >= cfg.lethal_cost after inflation) in ``grid``, beyond ``skip_m`` (default:
    the robot radius plus one cell) of ``pose_xy`` and only ahead of the waypoint nearest
    to it. Parts outside the grid are not judged."""
    xy = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    if len(xy) < 2:
        return False
    res = grid.resolution
    skip = cfg.robot_radius_m + res if skip_m is None else skip_m
    seg = np.diff(xy, axis=0)
    n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / (0.5 * res)).astype(int))
    t = np.concatenate([np.arange(k) / k for k in n])
    idx = np.repeat(np.arange(len(seg)), n)
    pts = np.vstack([xy[idx] + t[:, None] * seg[idx], xy[-1:]])
    pose = np.asarray(pose_xy, dtype=float)[:2]
    d = np.hypot(*(pts - pose).T)
    pts = pts[int(np.argmin(d)):]
    pts = pts[np.hypot(*(pts - pose).T) > skip]
    if not len(pts):
        return False
    costs = inflate(grid.costs, res, cfg.robot_radius_m, cfg.inflation_radius_m, cfg.cost_scaling_factor)
    col = np.floor((pts[:, 0] - grid.origin_xy[0]) / res).astype(int)
    row = np.floor((pts[:, 1] - grid.origin_xy[1]) / res).astype(int)
    inside = (row >= 0) & (row < costs.shape[0]) & (col >= 0) & (col < costs.shape[1])
    return bool(np.any(costs[row[inside], col[inside]] >= cfg.lethal_cost))
