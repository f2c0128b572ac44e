"""Re-localization against the rover's own elevation map: a pose fix where no board is seen.

Where the rover knows its pose well (a fiducial fix close by, position sd below
``absorb_max_sigma_m``) every stereo cloud it sees is laid into a *reference* elevation
grid in the ``map`` frame: a mapping.global_map.GlobalMap at ``resolution_m`` (the site
map's class: inverse-variance cell aggregates, unknown = NaN). The berm, the trench, the
craters and the rocks round the base are in it, placed with a pose good to a few
centimetres. Later, facing away from the boards (the rear drum's dump) or back on ground
seen before, the current cloud is matched against that grid and the pose that makes them
agree is a fix for the filter (localization/filter.py), with a covariance.

The match is scan-to-map registration of heights (the Gauss-Newton map matching of
Hector SLAM: Kohlbrecher et al., "A flexible and scalable SLAM system with full 3D motion
estimation", SSRR 2011, here on heights instead of occupancy):

1. the cloud, levelled by the IMU's tilt and expressed about base_link (x ahead, z up),
   is binned into cells of the reference's size (mean height per cell; ``level_points``);
2. a coarse search over translations (+-``search_m`` in cell steps) and headings
   (+-``search_rad``) about the prior pose scores each candidate by the normalised
   cross-correlation of the patch with the reference (``scipy.ndimage.map_coordinates``,
   bilinear); the best must beat the best candidate farther than ``ambiguity_m`` away by
   ``min_peak_margin`` (a corridor of parallel ridges is refused, not guessed);
3. Gauss-Newton on (tx, ty, yaw, height offset) minimises the squared height differences
   from there, with the reference's gradients; the fix's covariance is the residual
   variance times the inverse of J^T J (position and heading; the offset marginalised),
   plus ``reference_sd_m`` for the reference's own placement error.

A match is refused, with the reason, when the patch overlaps fewer than
``min_overlap_cells`` known reference cells, when the overlap is featureless (height sd
below ``min_relief_m``: flat regolith fits any shift), when the correlation is below
``min_ncc``, when the residual rms exceeds ``max_rms_m``, or when the covariance is wider
than ``max_sd_m`` / ``max_sd_rad``.

Pure numpy/SciPy (no rclpy). Poses (x m, y m, yaw rad) in ``map``; points (N, 3) in m.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy.ndimage import map_coordinates, maximum_filter

from mining_rover.mapping.global_map import GlobalMap, GlobalMapParams


@dataclass(frozen=True)
class RelocParams:
    """The reference grid, the cloud used, the search and the acceptance tests.

    Defaults: 0.1 m cells (the coarse site map's 0.25 m averages a 0.2 m rock away);
    stereo points 0.8-5 m out at 320x240 (depth sd ~0.1 m at 5 m: bench/stereo_pipeline);
    the search covers a half turn's wander and more (0.2-0.5 m measured at the dump,
    docs/readme/loc.md); the tests were set on rendered lunar views near the base
    (bench/localization.py) so that flat ground and a wrong peak are refused. The
    reference takes clouds while the position sd is <= absorb_max_sigma_m (0.03 m: under
    a metre of driving after a board fix) and the newest fix came from the boards; a match
    is tried when the sd exceeds match_min_sigma_m (right after a board fix, ~0.01-0.02 m,
    it has nothing to add). The clouds seen over the last backfill_m of driving before a
    board fix (at most backfill_frames) are laid down when it comes, placed through the
    corrected map <- odom: the ground the rover drove over on its way to the boards (what
    the cameras see on the rear drum's dump) is seen before the boards are, and the
    odometry is good to ~1 % over those metres (bench/localization.py)."""
    resolution_m: float = 0.1
    size_m: float = 96.0
    centre_x: float = 0.0
    centre_y: float = 0.0
    min_range_m: float = 0.8
    max_range_m: float = 5.0
    search_m: float = 0.6
    search_rad: float = 0.06
    ambiguity_m: float = 0.3
    min_peak_margin: float = 0.05
    min_overlap_cells: int = 150
    min_relief_m: float = 0.02
    min_ncc: float = 0.6
    max_rms_m: float = 0.05
    max_sd_m: float = 0.08
    max_sd_rad: float = 0.05
    reference_sd_m: float = 0.03
    absorb_max_sigma_m: float = 0.03
    match_min_sigma_m: float = 0.03
    backfill_m: float = 6.0
    backfill_frames: int = 60
    min_cell_points: int = 2

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ('centre_x', 'centre_y'):
                ok = isinstance(v, (int, float)) and math.isfinite(v)
            else:
                ok = isinstance(v, (int, float)) and math.isfinite(v) and v > 0
            if not ok:
                raise ValueError(f'relocalization: {f.name} must be a finite number'
                                 f'{"" if f.name.startswith("centre") else " > 0"}, got {v!r}')
        if self.max_range_m <= self.min_range_m:
            raise ValueError(f'relocalization: max_range_m ({self.max_range_m}) must exceed '
                             f'min_range_m ({self.min_range_m})')
        if self.absorb_max_sigma_m > self.match_min_sigma_m:
            raise ValueError(f'relocalization: absorb_max_sigma_m ({self.absorb_max_sigma_m}) must not '
                             f'exceed match_min_sigma_m ({self.match_min_sigma_m}): a pose would be laid '
                             'down and matched at once')
        if not self.min_ncc < 1.0:
            raise ValueError(f'relocalization: min_ncc must be < 1, got {self.min_ncc}')

    @classmethod
    def from_dict(cls, values: dict) -> 'RelocParams':
        """The known keys of ``values`` (others ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MapMatch:
    """One registration: ``ok`` with the pose (x, y, yaw in map) and its 3x3 covariance,
    or not ok with the ``reason``; the quality figures either way."""
    ok: bool
    reason: str = ''
    x: float = math.nan
    y: float = math.nan
    yaw: float = math.nan
    cov: np.ndarray | None = None
    ncc: float = math.nan
    overlap_cells: int = 0
    relief_m: float = math.nan
    rms_m: float = math.nan
    correction_m: float = math.nan


def level_points(points_cam: np.ndarray, T_odom_cam: np.ndarray, odom_pose) -> np.ndarray:
    """Points (N, 3) of the camera frame -> the *level body frame*: origin at base_link's
    (x, y) in odom, x along its heading, z up as in odom (roll and pitch taken out, so a
    tilted rover's cloud is not a tilted patch). ``T_odom_cam`` 4x4 (odometry with the
    IMU's tilt times the camera's extrinsics); ``odom_pose`` (x, y, yaw) in odom."""
    p = np.asarray(points_cam, dtype=float).reshape(-1, 3)
    q = p @ np.asarray(T_odom_cam, dtype=float)[:3, :3].T + np.asarray(T_odom_cam, dtype=float)[:3, 3]
    x, y, yaw = (float(v) for v in odom_pose)
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = q[:, 0] - x, q[:, 1] - y
    return np.column_stack([c * dx + s * dy, -s * dx + c * dy, q[:, 2]])


def compose(a, b) -> tuple:
    """SE(2) a (+) b: planar pose b (x, y, yaw) given in frame a, expressed in a's parent."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], a[2] + b[2])


def _to_map(level: np.ndarray, pose) -> np.ndarray:
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    return np.column_stack([x + c * level[:, 0] - s * level[:, 1], y + s * level[:, 0] + c * level[:, 1]])


def bin_cells(xy: np.ndarray, z: np.ndarray, resolution: float, min_points: int = 1):
    """Mean height per cell of the points (xy (N, 2), z (N,), m): (centres (M, 2), mean
    heights (M,), spread variances (M,)) of the cells holding >= ``min_points`` points.
    Cells are on the grid of multiples of ``resolution`` (the reference grid's, whose
    origin is a multiple of it too)."""
    if len(z) == 0:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    ij = np.floor(np.asarray(xy) / resolution).astype(np.int64)
    keys, inv, counts = np.unique(ij, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    s = np.bincount(inv, weights=z)
    ss = np.bincount(inv, weights=z * z)
    mean = s / counts
    var = np.maximum(ss / counts - mean * mean, 0.0)
    keep = counts >= min_points
    return (keys[keep] + 0.5) * resolution, mean[keep], var[keep]


class MapRelocalizer:
    """The reference grid and the matcher (see the module docstring)."""

    def __init__(self, params: RelocParams = RelocParams()):
        self.params = p = params
        self.reference = GlobalMap(GlobalMapParams(resolution_m=p.resolution_m, size_m=p.size_m,
                                                   centre_x=p.centre_x, centre_y=p.centre_y,
                                                   min_known_fraction=1.0, max_variance_m2=1.0))
        self.absorbed = 0
        self._grad = None           # cached reference gradients, dropped on absorb
        self._recent = deque()      # (odom pose, levelled cloud) since the last anchor

    # -- the policy -------------------------------------------------------------------
    def step(self, level: np.ndarray, odom_pose, map_to_odom, sigma_xy_m: float, last_fix_source: str,
             board_fix_now: bool, stamp_s: float = 0.0):
        """What to do with one levelled cloud seen at ``odom_pose`` (x, y, yaw in odom),
        given the filter's map <- odom (x, y, yaw), position sd (m), the source of its
        newest accepted fix ('' for none yet: the surveyed start pose is the anchor then)
        and whether a board fix was accepted from this very frame: lay it into the
        reference, with the clouds kept since the last anchor (the pose is anchored by the
        boards and good: ``('absorbed', cells)``), match it (the pose has grown uncertain
        and no board is in view: ``('match', MapMatch)``) or neither (``('idle', None)``).
        Never both: a cloud matched is not laid down, so the reference is never built from
        its own fixes."""
        p = self.params
        pose = compose(map_to_odom, odom_pose)
        if last_fix_source in ('fiducial', '') and sigma_xy_m <= p.absorb_max_sigma_m:
            n = sum(self.absorb(lv, compose(map_to_odom, op), sigma_xy_m, stamp_s) for op, lv in self._recent)
            self._recent.clear()
            return 'absorbed', n + self.absorb(level, pose, sigma_xy_m, stamp_s)
        self._remember(level, odom_pose)
        if not board_fix_now and sigma_xy_m > p.match_min_sigma_m and self.absorbed:
            return 'match', self.match(level, pose)
        return 'idle', None

    def _remember(self, level, odom_pose) -> None:
        op = tuple(float(v) for v in odom_pose)
        self._recent.append((op, np.asarray(level, dtype=np.float32)))
        p = self.params
        while len(self._recent) > p.backfill_frames or (
                len(self._recent) > 1 and math.hypot(self._recent[0][0][0] - op[0],
                                                     self._recent[0][0][1] - op[1]) > p.backfill_m):
            self._recent.popleft()

    # -- the reference ----------------------------------------------------------------
    def _in_range(self, level: np.ndarray) -> np.ndarray:
        r = np.hypot(level[:, 0], level[:, 1])
        return level[(r >= self.params.min_range_m) & (r <= self.params.max_range_m)
                     & np.all(np.isfinite(level), axis=1)]

    def absorb(self, level: np.ndarray, pose, sigma_xy_m: float, stamp_s: float = 0.0) -> int:
        """Lay a levelled cloud (``level_points``) into the reference at the map pose
        ``pose`` (x, y, yaw), if the pose is good enough (``sigma_xy_m`` <=
        absorb_max_sigma_m). Returns the reference cells updated (0: not absorbed)."""
        p = self.params
        if not (math.isfinite(sigma_xy_m) and sigma_xy_m <= p.absorb_max_sigma_m):
            return 0
        pts = self._in_range(np.asarray(level, dtype=float))
        if not len(pts):
            return 0
        xy = _to_map(pts, pose)
        centres, h, var = bin_cells(xy, pts[:, 2], p.resolution_m, p.min_cell_points)
        if not len(h):
            return 0
        g = self.reference
        rows, cols, inside = g.cell_index(centres[:, 0], centres[:, 1])
        rows, cols, h, var = rows[inside], cols[inside], h[inside], var[inside]
        if not len(h):
            return 0
        # a snapshot grid over the cells' bounding box, aligned with the reference
        r0, c0 = rows.min(), cols.min()
        H, W = rows.max() - r0 + 1, cols.max() - c0 + 1
        hh = np.full((H, W), np.nan, np.float32)
        vv = np.full((H, W), np.nan, np.float32)
        hh[rows - r0, cols - c0] = h
        vv[rows - r0, cols - c0] = var + p.reference_sd_m ** 2
        origin = g.origin + np.array([c0, r0]) * g.resolution
        n = g.absorb(hh, vv, None, origin, g.resolution, stamp_s)
        self.absorbed += 1
        self._grad = None
        return n

    def _gradients(self):
        if self._grad is None:
            h = self.reference.height.astype(float)
            gy, gx = np.gradient(h)           # NaN next to unknown cells: those drop out
            r = self.reference.resolution
            self._grad = (gx / r, gy / r)
        return self._grad

    def _sample(self, grid: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Bilinear samples of a reference-shaped grid at map points (NaN outside/unknown)."""
        g = self.reference
        col = (xy[:, 0] - g.origin[0]) / g.resolution - 0.5
        row = (xy[:, 1] - g.origin[1]) / g.resolution - 0.5
        return map_coordinates(grid, [row, col], order=1, mode='constant', cval=np.nan, prefilter=False)

    # -- the match --------------------------------------------------------------------
    def patch(self, level: np.ndarray):
        """(centres (M, 2) in the level body frame, mean heights (M,)) of a levelled cloud
        binned at the reference's cell size, within the ranges used."""
        pts = self._in_range(np.asarray(level, dtype=float))
        p = self.params
        centres, h, _ = bin_cells(pts[:, :2], pts[:, 2], p.resolution_m, p.min_cell_points)
        return centres, h

    def match(self, level: np.ndarray, prior) -> MapMatch:
        """Register a levelled cloud against the reference about the prior map pose
        (x, y, yaw): the pose that makes them agree, or the reason there is none."""
        p = self.params
        centres, h = self.patch(level)
        if len(h) < p.min_overlap_cells:
            return MapMatch(False, f'patch has {len(h)} cells (< {p.min_overlap_cells})',
                            overlap_cells=len(h))
        prior = np.asarray(prior, dtype=float)
        ref = self.reference.height
        # cheap first: away from the ground laid down there is nothing to search
        c, s = math.cos(prior[2]), math.sin(prior[2])
        at = np.column_stack([prior[0] + c * centres[:, 0] - s * centres[:, 1],
                              prior[1] + s * centres[:, 0] + c * centres[:, 1]])
        row, col, inside = self.reference.cell_index(at[:, 0], at[:, 1])
        known = int(np.count_nonzero(np.isfinite(ref[row[inside], col[inside]])))
        if known < p.min_overlap_cells // 2:
            return MapMatch(False, f'off the reference: {known} known cells under the patch',
                            overlap_cells=known)
        ref = ref.astype(float)
        best, scores = self._search(centres, h, prior, ref)
        if best is None:
            return MapMatch(False, scores, overlap_cells=0)
        pose, ncc, n, margin = best
        refined = self._refine(centres, h, pose, ref)
        if isinstance(refined, str):
            return MapMatch(False, refined, ncc=ncc, overlap_cells=n)
        pose, cov, n, relief, rms = refined
        corr = float(math.hypot(pose[0] - prior[0], pose[1] - prior[1]))
        out = MapMatch(False, '', *pose, cov, ncc, n, relief, rms, corr)
        sd_xy = math.sqrt(max(np.linalg.eigvalsh(cov[:2, :2])))
        sd_yaw = math.sqrt(cov[2, 2])
        checks = ((n < p.min_overlap_cells, f'overlap {n} cells (< {p.min_overlap_cells})'),
                  (relief < p.min_relief_m, f'featureless: relief {relief:.3f} m (< {p.min_relief_m})'),
                  (ncc < p.min_ncc, f'correlation {ncc:.2f} (< {p.min_ncc})'),
                  (margin < p.min_peak_margin, f'ambiguous: second peak within {margin:.3f} of the best'),
                  (rms > p.max_rms_m, f'residual rms {rms:.3f} m (> {p.max_rms_m})'),
                  (sd_xy > p.max_sd_m, f'position sd {sd_xy:.3f} m (> {p.max_sd_m})'),
                  (sd_yaw > p.max_sd_rad, f'heading sd {sd_yaw:.3f} rad (> {p.max_sd_rad})'),
                  (corr > 1.5 * p.search_m, f'correction {corr:.2f} m beyond the search'))
        for bad, why in checks:
            if bad:
                out.reason = why
                return out
        out.ok, out.reason = True, f'ncc {ncc:.2f}, {n} cells, sd {sd_xy:.3f} m'
        return out

    def _search(self, centres, h, prior, ref):
        """Exhaustive NCC search about the prior: ((pose, ncc, overlap, margin), '') or
        (None, reason)."""
        p = self.params
        step = p.resolution_m
        k = int(math.ceil(p.search_m / step))
        offs = np.arange(-k, k + 1) * step
        n_yaw = max(1, int(math.ceil(p.search_rad / 0.02)))
        yaws = prior[2] + np.linspace(-p.search_rad, p.search_rad, 2 * n_yaw + 1)
        need = p.min_overlap_cells
        dx, dy = (a.ravel() for a in np.meshgrid(offs, offs, indexing='ij'))
        best = np.full(dx.shape, -np.inf)          # best NCC over the headings, per shift
        best_yaw = np.zeros(dx.shape)
        best_n = np.zeros(dx.shape, int)
        for yaw in yaws:
            c, s = math.cos(yaw), math.sin(yaw)
            rx = c * centres[:, 0] - s * centres[:, 1]
            ry = s * centres[:, 0] + c * centres[:, 1]
            X = (prior[0] + dx)[:, None] + rx[None, :]          # (shifts, cells)
            Y = (prior[1] + dy)[:, None] + ry[None, :]
            r = self._sample(ref, np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
            ok = np.isfinite(r)
            n = ok.sum(axis=1)
            with np.errstate(invalid='ignore', divide='ignore'):
                mh = np.where(ok, h[None, :], 0.0).sum(axis=1) / n
                mr = np.where(ok, r, 0.0).sum(axis=1) / n
                a = np.where(ok, r - mr[:, None], 0.0)
                b = np.where(ok, h[None, :] - mh[:, None], 0.0)
                ncc = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
            ncc = np.where((n >= need) & np.isfinite(ncc), ncc, -np.inf)
            better = ncc > best
            best[better], best_yaw[better], best_n[better] = ncc[better], yaw, n[better]
        if not np.isfinite(best).any():
            return None, f'patch overlaps the reference by fewer than {need} cells'
        i = int(np.argmax(best))
        # ambiguity: another *local* maximum of the score surface (not the smooth slope
        # of the best peak, not the search's border) nearly as good
        S = best.reshape(len(offs), len(offs))
        peaks = (S >= maximum_filter(S, size=3, mode='constant', cval=-np.inf)) & np.isfinite(S)
        peaks[[0, -1], :] = peaks[:, [0, -1]] = False
        far = np.hypot(dx - dx[i], dy - dy[i]) > p.ambiguity_m
        others = S.ravel()[peaks.ravel() & far]
        margin = float(best[i] - others.max()) if others.size else 1.0
        pose = np.array([prior[0] + dx[i], prior[1] + dy[i], best_yaw[i]])
        return (pose, float(best[i]), int(best_n[i]), margin), ''

    def _refine(self, centres, h, pose, ref, iterations: int = 10):
        """Gauss-Newton on (tx, ty, yaw, offset): (pose, cov 3x3, overlap, relief, rms)
        or the reason it failed."""
        gx, gy = self._gradients()
        x = np.array([pose[0], pose[1], pose[2], 0.0])
        for it in range(iterations + 1):
            c, s = math.cos(x[2]), math.sin(x[2])
            rx = c * centres[:, 0] - s * centres[:, 1]
            ry = s * centres[:, 0] + c * centres[:, 1]
            xy = np.column_stack([x[0] + rx, x[1] + ry])
            r_ref, dzx, dzy = (self._sample(g, xy) for g in (ref, gx, gy))
            ok = np.isfinite(r_ref) & np.isfinite(dzx) & np.isfinite(dzy)
            n = int(np.count_nonzero(ok))
            if n < 4:
                return 'registration lost the overlap'
            if it == 0:
                x[3] = float(np.mean(r_ref[ok] - h[ok]))
            e = r_ref[ok] - (h[ok] + x[3])            # residual: reference - patch
            # d e / d(tx, ty, yaw, b): the reference's slope at the point, its slope along
            # the point's arc about the pose, and -1 for the offset
            J = np.column_stack([dzx[ok], dzy[ok], -dzx[ok] * ry[ok] + dzy[ok] * rx[ok], -np.ones(n)])
            A = J.T @ J
            if it == iterations:
                break
            try:
                d = -np.linalg.solve(A + 1e-9 * np.eye(4), J.T @ e)
            except np.linalg.LinAlgError:
                return 'registration is singular'
            x += d
            if abs(d[0]) < 1e-4 and abs(d[1]) < 1e-4 and abs(d[2]) < 1e-5:
                break
        rms = float(math.sqrt(np.mean(e * e)))
        dof = max(n - 4, 1)
        s2 = float(e @ e) / dof
        try:
            info = A[:3, :3] - np.outer(A[:3, 3], A[3, :3]) / A[3, 3]     # offset marginalised
            cov = s2 * np.linalg.inv(info)
        except (np.linalg.LinAlgError, ZeroDivisionError):
            return 'registration is singular'
        if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh((cov + cov.T) / 2) <= 0):
            return 'registration covariance is not positive definite'
        cov = (cov + cov.T) / 2 + np.diag([self.params.reference_sd_m ** 2] * 2 + [0.0])
        # relief about the best-fit plane: a plane's shift is only an offset change
        P = np.column_stack([xy[ok], np.ones(n)])
        plane, *_ = np.linalg.lstsq(P, r_ref[ok], rcond=None)
        relief = float(np.std(r_ref[ok] - P @ plane))
        return x[:3], cov, n, relief, rms
