"""Baseline for bench/hazard_detection.py (no NAME: not a benchmark): the hazard detector
as it was on main before issue #18 (commit 76e3116, mining_rover/mapping/hazards.py),
kept verbatim so the benchmark measures it in the same run as the new one. Do not tune.

Hazards from an elevation grid: rocks (positive obstacles), craters (depressions with
rims) and their footprints.

Pure numpy/OpenCV/SciPy. Grid layout as in elevation_map.py (row 0 = lowest y, NaN
unknown, cell corner ``origin``). Positions in the grid's frame (``map``), metres.

Method (grey-scale morphology, Soille, "Morphological Image Analysis", 2003, ch. 4):
unknown cells are first filled with their nearest known height so that gaps do not
create false relief, and the best-fit plane is removed, then

* rocks = top-hat: height minus its opening with a disc wider than the largest rock
  (the opening of a plane is the plane itself, so slopes do not produce rocks), and at
  most the height above the local median ground (so a crater's edge is no rock). Cells
  above ``rock_min_height_m`` seed connected components (8-connected) grown through
  cells above half that height (hysteresis);
* craters = bottom-hat: the closing (with a disc wider than the largest crater) minus
  the height, i.e. how far each cell lies below the rim-to-rim surface, but no deeper
  than below the local median ground (the closing alone also bridges the gap between
  two nearby bumps). Components
  deeper than ``crater_min_depth_m`` with an equivalent diameter of at least
  ``crater_min_diameter_m`` are craters; centre = depth-weighted centroid, radius =
  equivalent radius of the component, depth = its greatest depression.

A depression or rock only counts where at least ``min_known_fraction`` of its cells
were measured (a shadowed crater floor is unknown: it is reported as unknown terrain,
never as a made-up depth).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Rock:
    """A rock found in the map: centre x, y (m, map frame), height and footprint radius (m)."""
    x: float
    y: float
    height: float   # m above the surrounding ground
    radius: float   # m, equivalent radius of the footprint


@dataclass(frozen=True)
class Crater:
    """A crater found in the map: centre x, y (m, map frame), radius and depth (m)."""
    x: float
    y: float
    radius: float   # m
    depth: float    # m, floor below the surrounding ground


#: Median windows (cells) the mapping filters accept: 0 or 1 = none; OpenCV's float32
#: median goes to 5.
MEDIAN_WINDOWS = (0, 1, 3, 5)


def check_median_window(cells, name: str) -> int:
    """``cells`` as an int, or ValueError naming ``name`` when it is not in MEDIAN_WINDOWS."""
    if cells not in MEDIAN_WINDOWS:
        raise ValueError(f'{name} must be 0, 1, 3 or 5 cells, got {cells}')
    return int(cells)


@dataclass(frozen=True)
class HazardParams:
    """Thresholds for calling a bump a rock or a hollow a crater (heights and diameters in m)."""
    rock_min_height_m: float = 0.15
    rock_max_diameter_m: float = 1.2
    rock_min_cells: int = 8          # a 0.15 m rock is ~20 cells of 5 cm above half its height
    crater_min_depth_m: float = 0.06
    crater_min_diameter_m: float = 0.5
    crater_max_diameter_m: float = 4.0
    min_known_fraction: float = 0.5
    crater_margin_m: float = 0.15   # footprint grows by this around a crater (its rim)
    crater_median_cells: int = 5    # median window the depression is judged on (0/1: none)

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not v >= 0 or (f.name not in ('crater_margin_m', 'crater_median_cells') and v == 0):
                raise ValueError(f'{f.name} must be > 0, got {v}')
        if self.crater_max_diameter_m <= self.crater_min_diameter_m:
            raise ValueError('crater_max_diameter_m must exceed crater_min_diameter_m')
        if self.min_known_fraction > 1.0:
            raise ValueError(f'min_known_fraction must be <= 1, got {self.min_known_fraction}')
        check_median_window(self.crater_median_cells, 'crater_median_cells')

    @classmethod
    def from_dict(cls, values: dict) -> 'HazardParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Hazards:
    """Rocks and craters found in one map, and the grid of cells they cover."""
    rocks: list
    craters: list
    footprint: np.ndarray     # bool grid: cells covered by a rock or a crater (+ rim margin)


def fill_unknown(height: np.ndarray) -> np.ndarray:
    """Copy of the grid with each unknown cell set to its nearest known cell's height."""
    known = np.isfinite(height)
    if known.all() or not known.any():
        return height.copy()
    _, (ri, ci) = ndimage.distance_transform_edt(~known, return_indices=True)
    return height[ri, ci]


def detrend(height: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Height minus the least-squares plane through the known cells (m)."""
    rows, cols = np.nonzero(known)
    if rows.size < 3:
        return height
    A = np.column_stack([cols, rows, np.ones_like(rows)]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(A, height[rows, cols].astype(np.float64), rcond=None)
    R, C = np.mgrid[0:height.shape[0], 0:height.shape[1]]
    return height - (coef[0] * C + coef[1] * R + coef[2])


def median_ground(height: np.ndarray, resolution: float, window_m: float,
                  coarse_m: float = 0.25) -> np.ndarray:
    """Local ground level (m): the median height in a ``window_m`` square, computed on a
    ``coarse_m`` grid and interpolated back (a median over a symmetric window leaves a
    plane unchanged and ignores features smaller than half the window)."""
    f = max(1, int(round(coarse_m / resolution)))
    rows, cols = height.shape
    small = cv2.resize(height, (max(1, cols // f), max(1, rows // f)), interpolation=cv2.INTER_AREA)
    k = max(3, int(round(window_m / (resolution * f))) | 1)
    med = ndimage.median_filter(small, size=k, mode='nearest')
    return cv2.resize(med, (cols, rows), interpolation=cv2.INTER_LINEAR)


def _disc(diameter_cells: int) -> np.ndarray:
    k = max(3, diameter_cells | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _centre(origin, resolution, rows, cols):
    return origin[0] + (cols + 0.5) * resolution, origin[1] + (rows + 0.5) * resolution


def detect_hazards(height: np.ndarray, resolution: float, origin_xy,
                   p: HazardParams = HazardParams(), excavated: np.ndarray | None = None) -> Hazards:
    """Rocks and craters in an elevation grid (m, NaN unknown); see the module doc.

    ``excavated`` (bool, same shape): ground the rover's own tools have cut. A depression
    there is its trench (planned depth, driven over on purpose), not a crater.
    """
    footprint = np.zeros(height.shape, bool)
    known = np.isfinite(height)
    if known.sum() < 10:
        return Hazards([], [], footprint)
    # Work on the bounding box of the known cells plus a crater's width of margin.
    rows, cols = np.nonzero(known)
    pad = int(p.crater_max_diameter_m / resolution)
    r0, r1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, height.shape[0])
    c0, c1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, height.shape[1])
    kn = known[r0:r1, c0:c1]
    # Subtract the best-fit plane so that the window edges of the median and the
    # morphology see level ground (a plane is no hazard).
    h = detrend(fill_unknown(height[r0:r1, c0:c1]), kn).astype(np.float32)
    origin = (origin_xy[0] + c0 * resolution, origin_xy[1] + r0 * resolution)
    cell_area = resolution * resolution
    ground = median_ground(h, resolution, 2.0 * p.crater_max_diameter_m)

    # Craters: bottom-hat, and below the local median ground (the closing alone also
    # fills the gap between two nearby bumps, which is no crater). Judged on a median
    # (crater_median_cells): at 3-5 m the half-size stereo cloud lands in range bands
    # with gaps between them, and one band 0.1 m too low, grown into the gaps by the
    # nearest-cell fill, reads as a crater 0.7 m wide; a crater is far wider than the
    # window and keeps its floor. On the lunar survey turn (bench/elevation_accuracy) the
    # 5 x 5 median took the false craters from 4 to none and kept the true one in view.
    hc = cv2.medianBlur(h, p.crater_median_cells) if p.crater_median_cells > 1 else h
    crater_disc = _disc(int(round(p.crater_max_diameter_m / resolution)))
    depression = np.minimum(cv2.morphologyEx(hc, cv2.MORPH_CLOSE, crater_disc), ground) - hc
    if excavated is not None and excavated.shape == height.shape and excavated.any():
        depression[excavated[r0:r1, c0:c1]] = 0.0
    craters, crater_mask = [], np.zeros(h.shape, bool)
    labels, n = ndimage.label(depression > p.crater_min_depth_m / 2.0, structure=np.ones((3, 3)))
    if n:
        idx = np.arange(1, n + 1)
        area = ndimage.sum_labels(np.ones_like(h), labels, idx) * cell_area
        deepest = ndimage.maximum(depression, labels, idx)
        frac = ndimage.mean(kn.astype(np.float32), labels, idx)
        com = ndimage.center_of_mass(depression, labels, idx)
        for i, (a, d, f, (cr, cc)) in enumerate(zip(area, deepest, frac, com)):
            diameter = 2.0 * np.sqrt(a / np.pi)
            if d < p.crater_min_depth_m or diameter < p.crater_min_diameter_m or f < p.min_known_fraction:
                continue
            x, y = _centre(origin, resolution, cr, cc)
            craters.append(Crater(float(x), float(y), float(diameter / 2.0), float(d)))
            crater_mask |= labels == idx[i]

    # Rocks: top-hat (disc wider than the largest rock).
    # On a 3x3-median-filtered grid: a stereo mismatch leaves one- or two-cell spikes
    # that a top-hat reads as rocks, while a real rock (boulders are about half as tall
    # as they are wide) is several cells across and keeps its top through the median.
    rock_disc = _disc(int(round(p.rock_max_diameter_m / resolution)) + 2)
    hm = cv2.medianBlur(h, 3)
    relief = hm - np.maximum(cv2.morphologyEx(hm, cv2.MORPH_OPEN, rock_disc), ground)
    rocks, rock_mask = [], np.zeros(h.shape, bool)
    labels, n = ndimage.label(relief > p.rock_min_height_m / 2.0, structure=np.ones((3, 3)))
    if n:
        idx = np.arange(1, n + 1)
        count = ndimage.sum_labels(np.ones_like(h), labels, idx)
        tallest = ndimage.maximum(relief, labels, idx)
        frac = ndimage.mean(kn.astype(np.float32), labels, idx)
        com = ndimage.center_of_mass(relief, labels, idx)
        for i, (c, t, f, (cr, cc)) in enumerate(zip(count, tallest, frac, com)):
            radius = np.sqrt(c * cell_area / np.pi)
            if t < p.rock_min_height_m or c < p.rock_min_cells or f < p.min_known_fraction:
                continue
            if 2.0 * radius > p.rock_max_diameter_m:
                continue  # wider than a rock: a ridge or a crater rim, left to the cost layers
            x, y = _centre(origin, resolution, cr, cc)
            rocks.append(Rock(float(x), float(y), float(t), float(radius)))
            rock_mask |= labels == idx[i]

    if crater_mask.any() and p.crater_margin_m > 0:
        crater_mask = cv2.dilate(crater_mask.astype(np.uint8),
                                 _disc(int(round(2 * p.crater_margin_m / resolution)))).astype(bool)
    footprint[r0:r1, c0:c1] = crater_mask | rock_mask
    return Hazards(rocks, craters, footprint)


def match_detections(detected: list, truth: list, tolerance_m) -> tuple:
    """Greedy nearest matching of detections to truth (objects with .x, .y).

    ``tolerance_m`` is a float or a callable truth -> metres. Returns (true_positives,
    precision, recall); precision is 1 with no detections, recall 1 with no truth.
    """
    tol = tolerance_m if callable(tolerance_m) else (lambda _t: float(tolerance_m))
    pairs = []
    for i, d in enumerate(detected):
        for j, t in enumerate(truth):
            dist = float(np.hypot(d.x - t.x, d.y - t.y))
            if dist <= tol(t):
                pairs.append((dist, i, j))
    used_d, used_t = set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
    tp = len(used_d)
    precision = tp / len(detected) if detected else 1.0
    recall = tp / len(truth) if truth else 1.0
    return tp, precision, recall
