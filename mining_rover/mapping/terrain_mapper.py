"""The mapping pipeline: stereo points in the camera frame + pose -> elevation map ->
layers, hazards and a Nav2 costmap. Pure numpy; mapping_node is a thin adapter over it.

Frames: points arrive in the left camera optical frame; ``T_base_cam`` (base_link ->
left optical frame, from the URDF) and ``T_map_base`` (odometry; odom == map in this
stack) place them in ``map``. Heights are map z (m, gravity aligned).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from mining_rover.mapping.despeckle import despeckle
from mining_rover.mapping.elevation_map import ElevationMap, MapParams, height_variance
from mining_rover.mapping.hazards import HazardParams, Hazards, check_median_window, detect_hazards
from mining_rover.mapping.self_occlusion import seen_through
from mining_rover.mapping.traversability import (MAX_GRADED, Layers, TraversabilityParams, mark_lethal,
                                                 traversability)


@dataclass(frozen=True)
class StereoErrorModel:
    """sigma_z = z^2 * sigma_d / (f * B) (perception/stereo.py); ``floor_m`` adds an
    independent height error (cell size, pixel quantisation), ``max_range_m`` drops far
    points whose error the map does not want."""
    focal_px: float = 470.0
    baseline_m: float = 0.20
    sigma_disparity_px: float = 0.25
    floor_m: float = 0.01
    max_range_m: float = 8.0

    def __post_init__(self):
        for name in ('focal_px', 'baseline_m', 'sigma_disparity_px', 'max_range_m'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.floor_m < 0.0:
            raise ValueError(f'floor_m must be >= 0, got {self.floor_m}')

    def sigma_z(self, z_m: np.ndarray) -> np.ndarray:
        return z_m * z_m * (self.sigma_disparity_px / (self.focal_px * self.baseline_m))


def _check_rigid(T, name) -> np.ndarray:
    T = np.asarray(T, float)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError(f'{name} must be a finite 4x4 transform, got shape {T.shape}')
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or abs(np.linalg.det(R) - 1.0) > 1e-4:
        raise ValueError(f'{name} rotation is not orthonormal')
    return T


class TerrainMapper:
    """Fuses stereo point clouds into the elevation map and derives traversability and hazards."""
    def __init__(self, map_params: MapParams = MapParams(),
                 trav_params: TraversabilityParams = TraversabilityParams(),
                 hazard_params: HazardParams = HazardParams(),
                 error_model: StereoErrorModel = StereoErrorModel(),
                 T_base_cam=np.eye(4), max_points: int = 60000, classify_sigma_m: float = 0.05,
                 self_box=None, despeckle_cells: int = 3):
        if not (classify_sigma_m > 0.0 and np.isfinite(classify_sigma_m)):
            raise ValueError(f'classify_sigma_m must be > 0, got {classify_sigma_m}')
        self.map = ElevationMap(map_params)
        self.classify_sigma_m = float(classify_sigma_m)
        self.despeckle_cells = check_median_window(despeckle_cells, 'despeckle_cells')
        # The rover's own body (drums, arms, wheels) in base_link: (xmin, xmax, ymin, ymax,
        # zmin, zmax), m. The cameras see the front drum; mapped, it would be a rock that
        # drives ahead of the rover forever.
        self.self_box = None
        if self_box is not None:
            b = np.asarray(self_box, dtype=float)
            if b.shape != (6,) or not np.all(np.isfinite(b)) or np.any(b[1::2] <= b[0::2]):
                raise ValueError(f'self_box must be finite (xmin, xmax, ymin, ymax, zmin, zmax) '
                                 f'with each min < max, got {self_box}')
            self.self_box = b
        # Drums in base_link (mapping/self_occlusion.py): points seen through one are the
        # drum mismatched by SGBM, never ground. Set per frame from the arm angle.
        self.occluders = ()
        self.last_occluded = 0
        self.trav_params = trav_params
        self.hazard_params = hazard_params
        self.error = error_model
        self.T_base_cam = _check_rigid(T_base_cam, 'T_base_cam')
        self.max_points = int(max_points)
        self._rng = np.random.default_rng(0)
        self.last_update_ms = 0.0

    def integrate(self, points_cam: np.ndarray, T_map_base, stamp_s: float = 0.0) -> int:
        """Fuse one cloud ((N, 3) m, left optical frame) taken at pose T_map_base.

        Non-finite points are dropped; at most ``max_points`` (a random subset, so every
        part of the image keeps its share) are fused. Returns cells updated.
        """
        t0 = time.perf_counter()
        T_map_cam = _check_rigid(T_map_base, 'T_map_base') @ self.T_base_cam
        pts = np.asarray(points_cam, np.float32)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f'points must be (N, 3), got shape {pts.shape}')
        ok = np.isfinite(pts).all(axis=1) & (pts[:, 2] > 0.0) & (pts[:, 2] <= self.error.max_range_m)
        pts = pts[ok]
        self.last_occluded = 0
        if (self.self_box is not None or self.occluders) and len(pts):
            Rb, tb = self.T_base_cam[:3, :3].astype(np.float32), self.T_base_cam[:3, 3].astype(np.float32)
            pb = pts @ Rb.T + tb
            drop = np.zeros(len(pts), bool)
            if self.self_box is not None:
                b = self.self_box
                drop |= ((pb[:, 0] >= b[0]) & (pb[:, 0] <= b[1]) & (pb[:, 1] >= b[2]) & (pb[:, 1] <= b[3])
                         & (pb[:, 2] >= b[4]) & (pb[:, 2] <= b[5]))
            if self.occluders:
                shadow = seen_through(pb, tb, self.occluders)
                self.last_occluded = int(np.count_nonzero(shadow & ~drop))
                drop |= shadow
            pts = pts[~drop]
        if len(pts) > self.max_points:
            pts = pts[self._rng.choice(len(pts), self.max_points, replace=False)]
        self.map.move_to(*T_map_base[:2, 3])
        R, t = T_map_cam[:3, :3].astype(np.float32), T_map_cam[:3, 3].astype(np.float32)
        pts_map = pts @ R.T + t
        var = height_variance(pts, self.error.sigma_z(pts[:, 2].astype(np.float64)), R,
                              self.error.floor_m ** 2)
        n = self.map.fuse(pts_map, var, stamp_s, sensor_xyz=T_map_cam[:3, 3])
        self.last_update_ms = 1e3 * (time.perf_counter() - t0)
        return n

    def confident_height(self) -> np.ndarray:
        """Heights known to within ``classify_sigma_m`` (1 sigma), despeckled (a
        ``despeckle_cells`` median: mapping/despeckle.py); NaN elsewhere.

        Slope, roughness, steps and hazards are only judged from these: a far cell seen
        once by stereo carries decimetres of noise (sigma_z grows with z^2), which would
        read as rough, lethal ground and wall the rover in. Left unknown, such a cell is
        driven towards at the planner's unknown cost and classified once seen closer.
        """
        h = self.map.height
        with np.errstate(invalid='ignore'):
            sure = self.map.variance <= self.classify_sigma_m ** 2
        sure_h = np.where(sure, h, np.nan).astype(np.float32, copy=False)
        return despeckle(sure_h, self.despeckle_cells)

    def layers(self, height: np.ndarray | None = None) -> Layers:
        """Traversability layers of ``height`` (default: confident_height(); pass it in
        when the hazards are judged on the same grid: it costs a median filter)."""
        height = self.confident_height() if height is None else height
        return traversability(height, self.map.resolution, self.trav_params)

    def hazards(self, height: np.ndarray | None = None) -> Hazards:
        """Rocks and craters of ``height`` (default: confident_height())."""
        height = self.confident_height() if height is None else height
        return detect_hazards(height, self.map.resolution, self.map.origin,
                              self.hazard_params, excavated=self.excavated_zone(),
                              variance=self.map.variance)

    def excavated_zone(self) -> np.ndarray:
        """The cells the rover's tools have cut, grown by one judging window: the trench
        walls (cut depth a few cm up to a drum radius) are its own, not rough ground."""
        ex = self.map.excavated
        if not ex.any():
            return ex
        k = int(round(max(self.trav_params.slope_window_m, self.trav_params.step_window_m)
                      / self.map.resolution / 2.0))
        return cv2.dilate(ex.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)

    def costmap(self, layers: Layers | None = None, hazards: Hazards | None = None) -> np.ndarray:
        """int8 Nav2 costmap (0 free .. 100 lethal, -1 unknown), rocks and craters lethal.

        Ground the rover has cut costs at most MAX_GRADED: its trench walls read as steep
        and rough, but the rover made them at a depth it can drive (the executive plans
        the cut), and must be able to leave its own trench; the planner still prefers
        uncut ground."""
        if layers is None or hazards is None:
            height = self.confident_height()
            if layers is None:
                layers = self.layers(height)
            if hazards is None:
                hazards = self.hazards(height)
        cost = layers.cost
        ex = self.excavated_zone()
        if ex.any():
            cost = np.where(ex & (cost > MAX_GRADED), np.int8(MAX_GRADED), cost).astype(cost.dtype)
        return mark_lethal(cost, hazards.footprint)

    def mark_tool(self, T_map_base, centre_base_xy, half_length_m: float, half_width_m: float) -> int:
        """Mark the ground under a digging tool as excavated: the tool's footprint, a
        rectangle centred at ``centre_base_xy`` in base_link (long axis along base x), at
        the pose T_map_base. Returns the cells newly marked."""
        T = _check_rigid(T_map_base, 'T_map_base')
        c = T[:3, :3] @ np.array([centre_base_xy[0], centre_base_xy[1], 0.0]) + T[:3, 3]
        yaw = float(np.arctan2(T[1, 0], T[0, 0]))
        return self.map.mark_excavated(float(c[0]), float(c[1]), yaw, half_length_m, half_width_m)
