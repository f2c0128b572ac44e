"""Gravity-aligned 2.5-D elevation grid with per-cell Kalman fusion of stereo points.

Pure numpy (no rclpy). The grid lives in the ``map`` frame (z up, gravity aligned):
``height[row, col]`` is the cell whose lower-left corner is ``origin + (col, row) *
resolution``, so row 0 is the lowest y, exactly the layout of nav_msgs/OccupancyGrid and
of the /map/elevation image (docs/INTERFACES.md). Unknown cells hold NaN in both
``height`` (m) and ``variance`` (m^2).

Fusion (one scalar Kalman filter per cell, as in Fankhauser et al., "Probabilistic
terrain mapping for mobile robots with uncertain localization", RA-L 2018, sec. III):

* the points of one frame that fall in a cell are merged first into one measurement,
  their inverse-variance weighted mean. Stereo errors of neighbouring pixels are
  correlated (same matching window, same calibration), so the information of one frame
  in one cell is capped at ``max_points_per_cell`` independent points;
* update: K = P / (P + R), h += K (z - h), P = (1 - K) P;
* a measurement more than ``gate_sigma`` standard deviations from the cell's estimate
  means the terrain changed (a drum dug it, a berm grew) or the old estimate was wrong:
  the cell restarts from the measurement;
* between frames the variance of every known cell grows with the rover's pose
  uncertainty (``grow_variance``); cells whose variance passes ``max_variance_m2`` or
  that have not been seen for ``stale_after_s`` become unknown again;
* visibility clean-up: a cell that stands above a ray along which the camera saw
  terrain further away cannot be there any more (Fankhauser 2018, sec. IV-C) and is
  cleared.

No Python loop runs per point: cells are aggregated with np.bincount.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass(frozen=True)
class MapParams:
    """Elevation map grid (cell size and side in m), recentring, and per-cell variance bounds (m^2)."""
    resolution_m: float = 0.05
    size_m: float = 20.0
    follow_robot: bool = True        # keep the rover near the centre (shift by whole cells)
    recentre_distance_m: float = 3.0
    min_variance_m2: float = 1e-4    # floor of one frame's cell measurement: (1 cm)^2
    max_variance_m2: float = 0.09    # above (0.3 m)^2 a cell is unknown again
    max_points_per_cell: int = 4     # independent points one frame contributes to one cell
    gate_sigma: float = 4.0          # Mahalanobis gate; beyond it the cell restarts
    stale_after_s: float = 0.0       # 0 keeps cells forever (until their variance grows)
    visibility_cleanup: bool = True
    visibility_rays: int = 400       # rays per frame checked for the clean-up
    visibility_margin_m: float = 0.10

    def __post_init__(self):
        if not 0.0 < self.resolution_m <= 1.0:
            raise ValueError(f'resolution_m must be in (0, 1], got {self.resolution_m}')
        if not self.resolution_m * 10 <= self.size_m <= 500.0:
            raise ValueError(f'size_m must be in [10 * resolution_m, 500], got {self.size_m}')
        if not 0.0 < self.min_variance_m2 < self.max_variance_m2:
            raise ValueError(f'need 0 < min_variance_m2 < max_variance_m2, got '
                             f'{self.min_variance_m2}, {self.max_variance_m2}')
        if self.max_points_per_cell < 1 or self.gate_sigma <= 0.0 or self.recentre_distance_m < 0.0:
            raise ValueError('max_points_per_cell >= 1, gate_sigma > 0, recentre_distance_m >= 0 needed')
        if self.stale_after_s < 0.0 or self.visibility_rays < 0 or self.visibility_margin_m < 0.0:
            raise ValueError('stale_after_s, visibility_rays, visibility_margin_m must be >= 0')

    @classmethod
    def from_dict(cls, values: dict) -> 'MapParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


class ElevationMap:
    """The elevation grid. Create once; ``fuse`` each frame; read ``height``/``variance``."""

    def __init__(self, params: MapParams = MapParams(), centre_xy=(0.0, 0.0)):
        self.params = params
        self.resolution = float(params.resolution_m)
        self.n = int(round(params.size_m / self.resolution))
        self.height = np.full((self.n, self.n), np.nan, np.float32)
        self.variance = np.full((self.n, self.n), np.nan, np.float32)
        self.last_seen_s = np.full((self.n, self.n), -np.inf)
        # Ground the rover's own tools have cut (a trench of planned depth, not a hazard).
        self.excavated = np.zeros((self.n, self.n), bool)
        self.origin = np.zeros(2)
        self._place(centre_xy)

    # -- geometry ---------------------------------------------------------------------
    def _place(self, centre_xy):
        half = self.n * self.resolution / 2.0
        self.origin = np.floor((np.asarray(centre_xy, float) - half) / self.resolution) * self.resolution

    @property
    def centre(self) -> np.ndarray:
        return self.origin + self.n * self.resolution / 2.0

    def cell_centres(self) -> tuple:
        """(x, y) 1-D arrays (m) of the column and row centres."""
        c = (np.arange(self.n) + 0.5) * self.resolution
        return self.origin[0] + c, self.origin[1] + c

    def cell_index(self, x, y) -> tuple:
        """(row, col, inside) for map coordinates (m); row/col are int64."""
        col = np.floor((np.asarray(x) - self.origin[0]) / self.resolution).astype(np.int64)
        row = np.floor((np.asarray(y) - self.origin[1]) / self.resolution).astype(np.int64)
        inside = (col >= 0) & (col < self.n) & (row >= 0) & (row < self.n)
        return row, col, inside

    def known(self) -> np.ndarray:
        return np.isfinite(self.height)

    def height_at(self, x, y) -> np.ndarray:
        """Height (m) of the cells under (x, y); NaN outside or unknown."""
        row, col, inside = self.cell_index(x, y)
        out = np.full(np.shape(row), np.nan, np.float32)
        out[inside] = self.height[row[inside], col[inside]]
        return out

    def move_to(self, x: float, y: float) -> bool:
        """Recentre on (x, y) when ``follow_robot`` and it is far enough from the centre.

        The grid shifts by whole cells: cells that leave are forgotten, new ones unknown.
        Returns True when it moved.
        """
        p = self.params
        if not p.follow_robot or np.hypot(*(np.array([x, y]) - self.centre)) < p.recentre_distance_m:
            return False
        old = self.origin.copy()
        self._place((x, y))
        shift = np.round((self.origin - old) / self.resolution).astype(int)  # cells, (x, y)
        for name in ('height', 'variance', 'last_seen_s', 'excavated'):
            a = getattr(self, name)
            fill = {'last_seen_s': -np.inf, 'excavated': False}.get(name, np.nan)
            b = np.full_like(a, fill)
            dx, dy = int(shift[0]), int(shift[1])
            if abs(dx) < self.n and abs(dy) < self.n:
                src_r = slice(max(dy, 0), self.n + min(dy, 0))
                dst_r = slice(max(-dy, 0), self.n + min(-dy, 0))
                src_c = slice(max(dx, 0), self.n + min(dx, 0))
                dst_c = slice(max(-dx, 0), self.n + min(-dx, 0))
                b[dst_r, dst_c] = a[src_r, src_c]
            setattr(self, name, b)
        return True

    def mark_excavated(self, x: float, y: float, yaw: float, half_length_m: float,
                       half_width_m: float) -> int:
        """Mark the cells whose centres lie in a rectangle (centre (x, y), m; long axis at
        ``yaw``, rad) as excavated: ground the rover's own tool has cut. Returns the number
        of cells newly marked."""
        if not all(np.isfinite(v) for v in (x, y, yaw, half_length_m, half_width_m)):
            return 0
        reach = float(np.hypot(half_length_m, half_width_m))
        r0, c0, _ = self.cell_index(x - reach, y - reach)
        r1, c1, _ = self.cell_index(x + reach, y + reach)
        r0, c0 = max(int(r0), 0), max(int(c0), 0)
        r1, c1 = min(int(r1) + 1, self.n), min(int(c1) + 1, self.n)
        if r0 >= r1 or c0 >= c1:
            return 0
        xs, ys = self.cell_centres()
        X, Y = np.meshgrid(xs[c0:c1] - x, ys[r0:r1] - y)
        cy, sy = np.cos(yaw), np.sin(yaw)
        inside = ((np.abs(X * cy + Y * sy) <= half_length_m)
                  & (np.abs(-X * sy + Y * cy) <= half_width_m))
        block = self.excavated[r0:r1, c0:c1]
        new = int(np.count_nonzero(inside & ~block))
        block |= inside
        return new

    # -- fusion -----------------------------------------------------------------------
    def fuse(self, points: np.ndarray, variances: np.ndarray, stamp_s: float = 0.0,
             sensor_xyz=None) -> int:
        """Fuse (N, 3) points in the map frame (m) with per-point height variances (m^2).

        Non-finite points or variances are ignored. ``sensor_xyz`` (the camera centre in
        the map frame) enables the visibility clean-up. Returns the number of cells
        updated.
        """
        pts = np.asarray(points, np.float64)
        var = np.asarray(variances, np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or var.shape != (len(pts),):
            raise ValueError(f'points must be (N, 3) with N variances, got {pts.shape} and {var.shape}')
        ok = np.isfinite(pts).all(axis=1) & np.isfinite(var) & (var > 0.0)
        row = np.zeros(len(pts), np.int64)
        col = np.zeros(len(pts), np.int64)
        row[ok], col[ok], inside = self.cell_index(pts[ok, 0], pts[ok, 1])
        ok[ok] = inside
        if sensor_xyz is not None and self.params.visibility_cleanup and np.any(ok):
            self._visibility_cleanup(np.asarray(sensor_xyz, float), pts[ok])
        if not np.any(ok):
            return 0
        cell = row[ok] * self.n + col[ok]
        w = 1.0 / var[ok]
        size = self.n * self.n
        sw = np.bincount(cell, weights=w, minlength=size)
        swz = np.bincount(cell, weights=w * pts[ok, 2], minlength=size)
        count = np.bincount(cell, minlength=size)
        cells = np.flatnonzero(count)
        z_m = swz[cells] / sw[cells]
        r_m = (1.0 / sw[cells]) * np.maximum(1.0, count[cells] / self.params.max_points_per_cell)
        r_m = np.maximum(r_m, self.params.min_variance_m2)

        h = self.height.reshape(-1)
        P = self.variance.reshape(-1)
        h0, P0 = h[cells].astype(np.float64), P[cells].astype(np.float64)
        innov = z_m - h0
        S = P0 + r_m
        restart = ~np.isfinite(h0) | (innov * innov > self.params.gate_sigma ** 2 * S)
        K = np.where(restart, 1.0, P0 / S)
        K = np.nan_to_num(K, nan=1.0)
        h[cells] = np.where(restart, z_m, h0 + K * innov)
        P[cells] = np.where(restart, r_m, (1.0 - K) * P0)
        self.last_seen_s.reshape(-1)[cells] = stamp_s
        return int(cells.size)

    def _visibility_cleanup(self, sensor: np.ndarray, pts: np.ndarray) -> None:
        """Clear cells that stick out above rays from the sensor to measured points."""
        p = self.params
        if p.visibility_rays == 0:
            return
        step = max(1, len(pts) // p.visibility_rays)
        ends = pts[::step]
        # Sample each ray between 10 % and 90 % of its length, one sample per two cells
        # (a rock narrower than that is missed by one ray, not by its neighbours).
        length = np.linalg.norm(ends[:, :2] - sensor[:2], axis=1)
        samples = int(np.clip(np.max(length, initial=0.0) / (2.0 * self.resolution), 2, 100))
        t = np.linspace(0.1, 0.9, samples)[None, :, None]
        ray = sensor[None, None, :] + t * (ends[:, None, :] - sensor[None, None, :])
        row, col, inside = self.cell_index(ray[..., 0], ray[..., 1])
        row, col, rz = row[inside], col[inside], ray[..., 2][inside]
        h = self.height[row, col]
        sd = np.sqrt(self.variance[row, col])
        blocked = np.isfinite(h) & (h - 3.0 * sd > rz + p.visibility_margin_m)
        if np.any(blocked):
            self.height[row[blocked], col[blocked]] = np.nan
            self.variance[row[blocked], col[blocked]] = np.nan

    def grow_variance(self, added_m2: float) -> None:
        """Add ``added_m2`` (m^2) to every known cell's variance (pose uncertainty grew),
        then forget cells beyond ``max_variance_m2``."""
        if added_m2 > 0.0:
            self.variance += np.float32(added_m2)
        self._forget(self.variance > self.params.max_variance_m2)

    def clear_stale(self, now_s: float) -> int:
        """Forget cells not seen for ``stale_after_s`` (0 disables). Returns cells cleared."""
        if self.params.stale_after_s <= 0.0:
            return 0
        stale = self.known() & (now_s - self.last_seen_s > self.params.stale_after_s)
        self._forget(stale)
        return int(np.count_nonzero(stale))

    def _forget(self, mask: np.ndarray) -> None:
        self.height[mask] = np.nan
        self.variance[mask] = np.nan

    def clear(self) -> None:
        self._forget(np.ones_like(self.height, bool))


def height_variance(points_cam: np.ndarray, sigma_z: np.ndarray, R_map_cam: np.ndarray,
                    floor_m2: float = 0.0) -> np.ndarray:
    """Variance (m^2) of the map-frame height of stereo points.

    A stereo depth error dz moves a point along its viewing ray: dP = P / z * dz (camera
    frame). Its vertical component in the map frame is (R_map_cam P)_z / z * dz, so
    sigma_h = |(R P)_z| / z * sigma_z. ``floor_m2`` adds an independent term (pixel
    quantisation, cell size).
    """
    P = np.asarray(points_cam, np.float64)
    up = P @ np.asarray(R_map_cam, float)[2, :]
    ratio = up / np.where(P[:, 2] > 0, P[:, 2], np.nan)
    return ratio * ratio * np.asarray(sigma_z, np.float64) ** 2 + floor_m2
