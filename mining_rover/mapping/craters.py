"""Impact craters in an elevation grid by template fitting: a raised rim around a bowl,
told apart from natural undulation by its shape, its depth/diameter ratio and the
significance of its depth against the map's height variance.

Pure numpy/OpenCV. Grid layout as in elevation_map.py (row 0 = lowest y, NaN unknown).

Model. A fresh simple crater of rim radius R is a parabolic bowl whose floor lies ``d``
below the pre-impact surface, a rim raised ~0.04 D above it (rim/depth ~0.2 for the
fresh depth/diameter ~0.2 of Pike 1977, "Size-dependence in the shape of fresh impact
craters on the Moon"), and ejecta decaying as (R/r)^3 outside (Fassett & Thomson 2014;
the same profile mining_rover.sim.terrain.crater_profile draws). Degraded craters keep
the shape with shallower bowls (d/D down to ~0.07 for the generator's craters).

Fit. At every cell and for radii R on a geometric ladder, the heights within 1.5 R are
fitted by least squares with ``a * t(r/R) + plane`` (t: the profile for depth 1, rim
0.2; the plane absorbs slope and offset), using only known cells. All sums are
correlations of the known mask and the masked heights with fixed kernels (cv2.filter2D,
float64), then a 4x4 solve per cell. A candidate is a crater when

* ``a / (2 R)``, the fitted depth/diameter, is at least ``min_depth_ratio`` (natural
  undulation: a few cm over metres, d/D ~0.01);
* the template explains at least ``min_fit`` of the height variance left by the plane
  (R^2: a hollow without a rim, a ridge, a rock beside flat ground fit poorly);
* ``a`` exceeds ``min_significance`` standard deviations of its estimate, from the
  cells' own height variance (a stereo range band a few cm off is not significant);
* at least ``min_known_fraction`` of the cells inside the rim are known.

Candidates (local maxima of R^2 at each radius that pass the tests) are ranked by
significance x R^2 (significance peaks at the true radius; R^2 keeps one wide template
over two neighbouring craters from outranking them) and accepted by a greedy matching
pursuit: each is refitted on the heights less the craters already accepted and kept when
it still passes, so a second fit of the same crater explains nothing while a neighbouring
or overlapping crater keeps its own bowl and rim.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Rim height / bowl depth of the template (0.04 D / 0.2 D, Pike 1977).
RIM_TO_DEPTH = 0.2
#: The fit window reaches this many radii (rim and near ejecta, and level ground for the plane).
WINDOW_RADII = 1.5
#: Radius ladder ratio: neighbouring templates differ by 25 % in radius.
RADIUS_STEP = 1.25
#: A template of radius R is fitted on cells of at least R / CELLS_PER_RADIUS (centre to
#: within a tenth of the radius).
CELLS_PER_RADIUS = 5.0
#: Fully known windows whose template + offset depth is below this share of the depth
#: threshold are not solved in full (they cannot pass).
PRESCREEN = 0.5
#: A candidate whose centre lies within this many radii (of the larger) of an accepted
#: crater's centre is that crater (not refitted).
CORE_RADII = 0.5
#: At most this many ranked candidates are refitted by the matching pursuit.
MAX_CANDIDATES = 400


def crater_template(r_norm: np.ndarray) -> np.ndarray:
    """Profile of depth 1 at r / R (pre-impact surface 0): bowl to -1 at the centre, rim
    +RIM_TO_DEPTH at r = R, ejecta ~ (R/r)^3 outside (as sim/terrain.crater_profile)."""
    r = np.asarray(r_norm, np.float64)
    inside = RIM_TO_DEPTH - (1.0 + RIM_TO_DEPTH) * (1.0 - r * r)
    return np.where(r < 1.0, inside, RIM_TO_DEPTH * np.power(np.maximum(r, 1.0), -3.0))


@dataclass(frozen=True)
class CraterFitParams:
    """Radii searched (m), working cell (m) and the acceptance tests of a crater fit."""
    min_radius_m: float = 0.4
    max_radius_m: float = 3.0
    cell_m: float = 0.10
    min_depth_ratio: float = 0.05
    min_fit: float = 0.6
    min_significance: float = 10.0
    min_known_fraction: float = 0.5


@dataclass(frozen=True)
class CraterFit:
    """One crater: centre (m, grid frame), rim radius (m), fitted depth (m), R^2, significance."""
    x: float
    y: float
    radius: float
    depth: float
    fit: float
    significance: float


def radius_ladder(p: CraterFitParams) -> np.ndarray:
    """Template radii (m) from ``min_radius_m`` to at least ``max_radius_m``, RADIUS_STEP apart."""
    n = int(np.ceil(np.log(p.max_radius_m / p.min_radius_m) / np.log(RADIUS_STEP))) + 1
    return p.min_radius_m * RADIUS_STEP ** np.arange(max(n, 1))


def _kernels(R: float, cell: float) -> dict:
    k = int(np.ceil(WINDOW_RADII * R / cell))
    off = np.arange(-k, k + 1) * cell
    DX, DY = np.meshgrid(off, off)          # correlation offsets: column -> x, row -> y
    r = np.hypot(DX, DY)
    win = (r <= WINDOW_RADII * R).astype(np.float64)
    t = crater_template(r / R) * win
    dx, dy = DX / R * win, DY / R * win     # scaled to ~1 for a well-conditioned solve
    return {'1': win, 't': t, 'x': dx, 'y': dy, 'tt': t * t, 'tx': t * dx, 'ty': t * dy,
            'xx': dx * dx, 'yy': dy * dy, 'xy': dx * dy, 'in': (r <= R).astype(np.float64)}


def _corr(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.filter2D(img, cv2.CV_64F, kernel, borderType=cv2.BORDER_CONSTANT)


def _inverse(A: np.ndarray) -> np.ndarray:
    """Inverses of a stack of normal matrices (pseudo-inverse where one is singular)."""
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A)


def fit_craters(height: np.ndarray, variance: np.ndarray, resolution: float, origin_xy,
                p: CraterFitParams = CraterFitParams()) -> list:
    """Craters (list of CraterFit) in ``height`` (m, NaN unknown) with per-cell height
    ``variance`` (m^2, NaN unknown) on a grid of ``resolution`` m whose corner is ``origin_xy``.

    For each radius the grid is averaged to cells of max(``cell_m``, R / CELLS_PER_RADIUS)
    (a crater of >= 1 m spans >= 10 of them; a wide one is fitted on a coarser grid, at the
    same cost per template); a coarse cell's variance is the mean of its fine cells' (their
    errors are taken as fully correlated: neighbouring stereo pixels share a matching window)."""
    known = np.isfinite(height) & np.isfinite(variance)
    if known.sum() < 10:
        return []
    ref = float(np.median(height[known]))
    h0 = np.where(known, height - ref, 0.0).astype(np.float64)
    v0 = np.where(known, variance, 0.0).astype(np.float64)
    m0 = known.astype(np.float64)
    found = []
    for R in radius_ladder(p):
        f = max(1, int(round(max(p.cell_m, R / CELLS_PER_RADIUS) / resolution)))
        H, W = (height.shape[0] // f) * f, (height.shape[1] // f) * f
        if H == 0 or W == 0:
            continue
        cell = resolution * f
        blocks = lambda a: a[:H, :W].reshape(H // f, f, W // f, f).sum(axis=(1, 3))
        n = blocks(m0)
        m = n > 0
        with np.errstate(invalid='ignore', divide='ignore'):
            hz = np.where(m, blocks(h0) / n, 0.0)
            vz = np.where(m, blocks(v0) / n, 0.0)
        mk = m.astype(np.float64)
        hh = hz * hz
        K = _kernels(R, cell)
        S = {k: _corr(mk, v) for k, v in K.items() if k != 'in'}
        n_in = _corr(mk, K['in'])
        frac_in = n_in / max(K['in'].sum(), 1.0)
        ok = (frac_in >= p.min_known_fraction) & (S['1'] >= 10)
        # Pre-screen where the window is fully known: there the plane is orthogonal to
        # the (radially symmetric) template, and the template + offset fit already gives
        # the depth; keep what could pass with a wide margin, solve the full fit there.
        c_t, c_1 = _corr(hz, K['t']), _corr(hz, K['1'])
        with np.errstate(invalid='ignore', divide='ignore'):
            a0 = (c_t - S['t'] * c_1 / S['1']) / (S['tt'] - S['t'] ** 2 / S['1'])
        full = S['1'] >= 0.98 * K['1'].sum()
        ok &= ~full | (a0 >= PRESCREEN * p.min_depth_ratio * 2.0 * R)
        if not ok.any():
            continue
        rows, cols = np.nonzero(ok)
        A = np.empty((rows.size, 4, 4))
        names = (('tt', 't', 'tx', 'ty'), ('t', '1', 'x', 'y'), ('tx', 'x', 'xx', 'xy'),
                 ('ty', 'y', 'xy', 'yy'))
        for i in range(4):
            for j in range(4):
                A[:, i, j] = S[names[i][j]][rows, cols]
        b = np.stack([c_t[rows, cols], c_1[rows, cols]]
                     + [_corr(hz, K[k])[rows, cols] for k in ('x', 'y')], axis=1)
        shh = _corr(hh, K['1'])[rows, cols]
        vbar = _corr(vz, K['1'])[rows, cols] / S['1'][rows, cols]
        inv = _inverse(A)
        beta = np.einsum('nij,nj->ni', inv, b)
        a = beta[:, 0]
        # errors independent from one cell_m cell to the next: a coarse cell holds
        # (cell / cell_m)^2 of them, so its mean is that much surer
        sig_a = np.sqrt(np.maximum(vbar * inv[:, 0, 0], 1e-12)) * (p.cell_m / cell)
        ss_full = shh - np.einsum('ni,ni->n', beta, b)
        # plane-only fit: the lower-right 3x3 block
        inv3 = _inverse(A[:, 1:, 1:])
        beta3 = np.einsum('nij,nj->ni', inv3, b[:, 1:])
        ss_plane = shh - np.einsum('ni,ni->n', beta3, b[:, 1:])
        with np.errstate(invalid='ignore', divide='ignore'):
            r2 = 1.0 - ss_full / ss_plane
        good = ((a >= p.min_depth_ratio * 2.0 * R) & (r2 >= p.min_fit)
                & (a >= p.min_significance * sig_a))
        if not good.any():
            continue
        # local maxima of R^2 at this radius (3x3)
        r2_grid = np.full(ok.shape, -np.inf, np.float32)
        r2_grid[rows[good], cols[good]] = r2[good]
        peak = r2_grid >= cv2.dilate(r2_grid, np.ones((3, 3), np.uint8))
        for i in np.flatnonzero(good):
            if not peak[rows[i], cols[i]]:
                continue
            x = origin_xy[0] + (cols[i] + 0.5) * cell
            y = origin_xy[1] + (rows[i] + 0.5) * cell
            found.append(CraterFit(float(x), float(y), float(R), float(a[i]), float(r2[i]),
                                   float(a[i] / sig_a[i])))
    found.sort(key=lambda c: -c.significance * c.fit ** 2)
    return _pursue(found[:MAX_CANDIDATES], h0, v0, m0, resolution, origin_xy, p)


def _pursue(candidates: list, h0, v0, m0, resolution: float, origin_xy, p: CraterFitParams) -> list:
    """Greedy matching pursuit over the ranked candidates: each is refitted on the heights
    less the craters already accepted, and accepted when it still passes the tests. A
    second fit of an accepted crater (another radius, a cell off) then explains nothing;
    a neighbouring or overlapping crater keeps its own bowl and rim."""
    f = max(1, int(round(p.cell_m / resolution)))
    H, W = (h0.shape[0] // f) * f, (h0.shape[1] // f) * f
    if H == 0 or W == 0:
        return []
    cell = resolution * f
    blocks = lambda a: a[:H, :W].reshape(H // f, f, W // f, f).sum(axis=(1, 3))
    n = blocks(m0)
    known = n > 0
    with np.errstate(invalid='ignore', divide='ignore'):
        resid = np.where(known, blocks(h0) / n, 0.0)
        var = np.where(known, blocks(v0) / n, 0.0)
    kept = []
    for c in candidates:
        if any(np.hypot(c.x - k.x, c.y - k.y) < CORE_RADII * max(c.radius, k.radius) for k in kept):
            continue   # the same crater's centre
        win = _window(c, resid.shape, cell, origin_xy)
        if win is None:
            continue
        rows, cols, r, dx, dy = win
        kn = known[rows, cols]
        if kn.sum() < 10 or np.mean(kn[r <= 1.0]) < p.min_known_fraction:
            continue
        t = crater_template(r)
        X = np.column_stack([t, np.ones_like(t), dx, dy])[kn]
        z = resid[rows, cols][kn]
        XtX = X.T @ X
        try:
            inv = np.linalg.inv(XtX)
        except np.linalg.LinAlgError:
            continue
        beta = inv @ (X.T @ z)
        depth = float(beta[0])
        sig_a = float(np.sqrt(max(np.mean(var[rows, cols][kn]) * inv[0, 0], 1e-12)))
        plane, *_ = np.linalg.lstsq(X[:, 1:], z, rcond=None)
        ss_plane = float(np.sum((z - X[:, 1:] @ plane) ** 2))
        fit = 1.0 - float(np.sum((z - X @ beta) ** 2)) / ss_plane if ss_plane > 0 else 0.0
        if (depth < p.min_depth_ratio * 2.0 * c.radius or fit < p.min_fit
                or depth < p.min_significance * sig_a):
            continue
        kept.append(CraterFit(c.x, c.y, c.radius, depth, fit, depth / sig_a))
        resid[rows, cols] -= depth * t
    return kept


def _window(c: CraterFit, shape: tuple, cell: float, origin_xy):
    """Cells (rows, cols) within WINDOW_RADII of crater ``c`` on a grid of ``cell`` m,
    with their r / R and offsets / R; None when the window is off the grid."""
    reach = WINDOW_RADII * c.radius
    c0 = max(int((c.x - reach - origin_xy[0]) / cell), 0)
    c1 = min(int((c.x + reach - origin_xy[0]) / cell) + 1, shape[1])
    r0 = max(int((c.y - reach - origin_xy[1]) / cell), 0)
    r1 = min(int((c.y + reach - origin_xy[1]) / cell) + 1, shape[0])
    if r0 >= r1 or c0 >= c1:
        return None
    R, C = np.mgrid[r0:r1, c0:c1]
    dx = (origin_xy[0] + (C + 0.5) * cell - c.x) / c.radius
    dy = (origin_xy[1] + (R + 0.5) * cell - c.y) / c.radius
    r = np.hypot(dx, dy)
    inside = r <= WINDOW_RADII
    return R[inside], C[inside], r[inside], dx[inside], dy[inside]
