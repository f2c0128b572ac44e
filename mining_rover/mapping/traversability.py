"""Derived layers of an elevation grid: slope, roughness, step height, traversability cost.

Pure numpy/OpenCV. Inputs are HxW float grids (m) with NaN = unknown, cell size
``resolution`` (m); outputs have the same layout (row 0 = lowest y). The cost follows
Nav2's costmap semantics for nav_msgs/OccupancyGrid: 0 free, 1..98 graded, 100 lethal,
-1 unknown (nav2_costmap_2d/cost_values.hpp: LETHAL_OBSTACLE 254 -> 100 in the
OccupancyGrid translation table).

Critical values (config/mapping.yaml): slope 0.35 rad (20 deg; the static-stability
and traction limit quoted for Lunar rovers such as VIPER, NASA TM-2021, is 15-25 deg),
step 0.15 m (three-quarters of the 0.20 m wheel radius: a wheel climbs a step of about
its radius with traction, less in low gravity), roughness 0.05 m.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

UNKNOWN, FREE, MAX_GRADED, LETHAL = -1, 0, 98, 100
_BIG = 1e6


@dataclass(frozen=True)
class TraversabilityParams:
    """Window sizes (m) and the critical slope (rad), step and roughness (m) that make a cell lethal."""
    slope_window_m: float = 0.30
    roughness_window_m: float = 0.30
    step_window_m: float = 0.25
    slope_critical_rad: float = 0.35
    step_critical_m: float = 0.15
    roughness_critical_m: float = 0.05
    min_known_fraction: float = 0.5   # of a window, for its statistic to count

    def __post_init__(self):
        for f in fields(self):
            if not getattr(self, f.name) > 0.0:
                raise ValueError(f'{f.name} must be > 0, got {getattr(self, f.name)}')
        if self.min_known_fraction > 1.0:
            raise ValueError(f'min_known_fraction must be <= 1, got {self.min_known_fraction}')

    @classmethod
    def from_dict(cls, values: dict) -> 'TraversabilityParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


def _cells(window_m: float, resolution: float) -> int:
    """Odd window width in cells, at least 3."""
    k = max(3, int(round(window_m / resolution)))
    return k if k % 2 else k + 1


def masked_mean(grid: np.ndarray, k: int, min_fraction: float = 0.5) -> tuple:
    """(mean of the known cells in each k x k window, fraction known); NaN where the
    fraction is below ``min_fraction``."""
    known = np.isfinite(grid)
    g = np.where(known, grid, 0.0).astype(np.float32)
    m = known.astype(np.float32)
    s = cv2.boxFilter(g, -1, (k, k), normalize=True, borderType=cv2.BORDER_CONSTANT)
    f = cv2.boxFilter(m, -1, (k, k), normalize=True, borderType=cv2.BORDER_CONSTANT)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean = s / f
    mean[f < max(min_fraction, 1e-6)] = np.nan
    return mean, f


def slope_rad(height: np.ndarray, resolution: float, window_m: float = 0.3,
              min_fraction: float = 0.5) -> np.ndarray:
    """Terrain slope (rad from horizontal) of the window-smoothed surface; NaN unknown."""
    smooth, _ = masked_mean(height, _cells(window_m, resolution), min_fraction)
    gy, gx = np.gradient(smooth.astype(np.float64), resolution)
    out = np.arctan(np.hypot(gx, gy)).astype(np.float32)
    out[~np.isfinite(height)] = np.nan
    return out


def roughness_m(height: np.ndarray, resolution: float, window_m: float = 0.3,
                min_fraction: float = 0.5) -> np.ndarray:
    """RMS (m) of the height about its window-smoothed surface (a plane has none)."""
    k = _cells(window_m, resolution)
    smooth, _ = masked_mean(height, k, min_fraction)
    resid2 = (height - smooth) ** 2
    rms2, _ = masked_mean(resid2, k, min_fraction)
    out = np.sqrt(np.maximum(rms2, 0.0)).astype(np.float32)
    out[~np.isfinite(height)] = np.nan
    return out


def step_height_m(height: np.ndarray, resolution: float, window_m: float = 0.25) -> np.ndarray:
    """Largest height difference (m) between known cells of each window (max - min)."""
    k = _cells(window_m, resolution)
    known = np.isfinite(height)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    hi = cv2.dilate(np.where(known, height, -_BIG).astype(np.float32), kernel)
    lo = cv2.erode(np.where(known, height, _BIG).astype(np.float32), kernel)
    out = (hi - lo).astype(np.float32)
    out[~known] = np.nan
    return out


@dataclass
class Layers:
    """Per-cell slope (rad), roughness and step (m), and the Nav2-style int8 cost built from them."""
    slope_rad: np.ndarray
    roughness_m: np.ndarray
    step_m: np.ndarray
    cost: np.ndarray         # int8, Nav2 semantics


def traversability(height: np.ndarray, resolution: float,
                   p: TraversabilityParams = TraversabilityParams()) -> Layers:
    """All layers and the cost: the worst of slope, step and roughness against their
    critical values, graded 0..98 below, lethal (100) at or above; unknown -1."""
    slope = slope_rad(height, resolution, p.slope_window_m, p.min_known_fraction)
    rough = roughness_m(height, resolution, p.roughness_window_m, p.min_known_fraction)
    step = step_height_m(height, resolution, p.step_window_m)
    return Layers(slope, rough, step, cost_from_layers(slope, rough, step, p))


def cost_from_layers(slope, rough, step, p: TraversabilityParams) -> np.ndarray:
    """Nav2-style int8 cost: the worst of slope/roughness/step over its critical value, graded,
    lethal at or above 1, unknown where the step is unknown."""
    ratios = np.stack([np.nan_to_num(slope / p.slope_critical_rad, nan=0.0),
                       np.nan_to_num(rough / p.roughness_critical_m, nan=0.0),
                       np.nan_to_num(step / p.step_critical_m, nan=0.0)])
    worst = ratios.max(axis=0)
    cost = np.where(worst >= 1.0, LETHAL, np.round(worst * MAX_GRADED)).astype(np.int8)
    cost[~np.isfinite(step)] = UNKNOWN
    return cost


def mark_lethal(cost: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cost with ``mask`` cells set lethal (hazard footprints), whether known or not."""
    out = cost.copy()
    out[mask] = LETHAL
    return out
