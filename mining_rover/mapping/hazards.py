"""Hazards from an elevation grid: rocks (positive obstacles), impact craters (rim + bowl)
and their footprints; and a matcher that scores detections against ground truth.

Pure numpy/OpenCV/SciPy. Grid layout as in elevation_map.py (row 0 = lowest y, NaN
unknown, cell corner ``origin``). Positions in the grid's frame (``map``), metres.

Unknown cells are filled with their nearest known height (so gaps create no relief) and
the best-fit plane is removed, then

* craters: template fit of the impact-crater profile at several radii with a rim/bowl
  shape test and a significance test against the height variance (mapping/craters.py);
  their footprint is the rim disc plus ``crater_margin_m``, nothing more, so a crater
  never spreads lethal cost over the level ground around it;
* rocks (first: their cells are left out of the crater fit): a top-hat:
  height minus its opening with a disc wider than the largest rock (grey-scale
  morphology, Soille, "Morphological Image Analysis", 2003, ch. 4), and at most the
  height above the local median ground. Cells above ``rock_min_height_m`` seed connected
  components (8-connected) grown through cells above half that height, each cut at its
  tops (h-maxima and a watershed: boulders touching at their feet); a component is a
  rock when it is compact (height / equivalent radius >= ``rock_min_aspect``: boulders
  are about half as tall as they are wide, Golombek & Rapp 1997; a ridge or rim
  segment is long and low), no wider than ``rock_max_diameter_m``, and its height stands
  ``rock_min_significance`` standard deviations above the map's height error.

A hazard only counts where at least ``min_known_fraction`` of its cells were measured (a
shadowed crater floor is unknown: reported as unknown terrain, never a made-up depth).
Without a variance grid (exact heights), every cell's height sigma is ``default_sigma_m``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from mining_rover.mapping.craters import CraterFitParams, fit_craters


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
    """Thresholds for calling a bump a rock or a hollow a crater (heights and diameters in m).

    Defaults are tuned on the hazard_detection benchmark's tuning seeds (bench/hazard_detection.py)."""
    rock_min_height_m: float = 0.15
    rock_max_diameter_m: float = 1.2
    rock_min_cells: int = 8          # a 0.15 m rock is ~20 cells of 5 cm above half its height
    rock_min_aspect: float = 0.3     # height / equivalent radius of the component
    rock_min_significance: float = 3.0
    crater_min_depth_m: float = 0.04
    crater_min_diameter_m: float = 1.0
    crater_max_diameter_m: float = 6.0
    crater_min_depth_ratio: float = 0.05   # fitted depth / diameter (natural undulation ~0.01)
    crater_min_fit: float = 0.5            # R^2 of the rim + bowl template over the plane
    crater_min_significance: float = 20.0  # fitted depth / its standard deviation
    crater_cell_m: float = 0.10            # working cell of the crater fit
    min_known_fraction: float = 0.5
    crater_margin_m: float = 0.15   # footprint grows by this around a crater's rim
    crater_median_cells: int = 5    # median window over the heights the crater fit sees (0/1: none)
    default_sigma_m: float = 0.01   # height sigma of every cell when no variance grid is given

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not v >= 0 or (f.name not in ('crater_margin_m', 'crater_median_cells') and v == 0):
                raise ValueError(f'{f.name} must be > 0, got {v}')
        if self.crater_max_diameter_m <= self.crater_min_diameter_m:
            raise ValueError('crater_max_diameter_m must exceed crater_min_diameter_m')
        for name in ('min_known_fraction', 'crater_min_fit'):
            if getattr(self, name) > 1.0:
                raise ValueError(f'{name} must be <= 1, got {getattr(self, name)}')
        check_median_window(self.crater_median_cells, 'crater_median_cells')

    def crater_fit(self) -> CraterFitParams:
        """The crater fit's parameters: radii from 0.4 of the smallest diameter (a crater
        just over it is still found when its rim is blurred) to half the largest."""
        return CraterFitParams(min_radius_m=0.4 * self.crater_min_diameter_m,
                               max_radius_m=self.crater_max_diameter_m / 2.0, cell_m=self.crater_cell_m,
                               min_depth_ratio=self.crater_min_depth_ratio, min_fit=self.crater_min_fit,
                               min_significance=self.crater_min_significance,
                               min_known_fraction=self.min_known_fraction)

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


_BIG = np.float32(1e6)


def _disc(diameter_cells: int) -> np.ndarray:
    k = max(3, diameter_cells | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _centre(origin, resolution, rows, cols):
    return origin[0] + (cols + 0.5) * resolution, origin[1] + (rows + 0.5) * resolution


def detect_hazards(height: np.ndarray, resolution: float, origin_xy,
                   p: HazardParams = HazardParams(), excavated: np.ndarray | None = None,
                   variance: np.ndarray | None = None) -> Hazards:
    """Rocks and craters in an elevation grid (m, NaN unknown); see the module doc.

    ``variance`` (m^2, same shape; NaN unknown): the map's height variance, for the
    significance tests (default: ``default_sigma_m`` squared everywhere).
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
    if variance is None or variance.shape != height.shape:
        var = np.where(kn, np.float32(p.default_sigma_m ** 2), np.nan).astype(np.float32)
    else:
        var = np.where(kn, variance[r0:r1, c0:c1], np.nan).astype(np.float32)
    # Subtract the best-fit plane so that the window edges of the median and the
    # morphology see level ground (a plane is no hazard).
    h = detrend(fill_unknown(height[r0:r1, c0:c1]), kn).astype(np.float32)
    origin = (origin_xy[0] + c0 * resolution, origin_xy[1] + r0 * resolution)

    # Rocks: top-hat (disc wider than the largest rock) on a 3x3-median-filtered grid:
    # a stereo mismatch leaves one- or two-cell spikes that a top-hat reads as rocks,
    # while a real rock is several cells across and keeps its top through the median.
    # Unknown cells are filled low here (the lowest known height within a rock's width,
    # else the nearest): the ground hidden behind a rock is not the rock's top, and filled
    # with it the rock and its shadow would be one plateau that the opening keeps.
    rock_disc = _disc(int(round(p.rock_max_diameter_m / resolution)) + 2)
    low = cv2.erode(np.where(kn, h, _BIG).astype(np.float32), rock_disc)
    hr = np.where(kn, h, np.where(low < _BIG / 2, low, h)).astype(np.float32)
    ground = median_ground(hr, resolution, 2.0 * p.rock_max_diameter_m)
    hm = cv2.medianBlur(hr, 3)
    relief = np.where(kn, hm - np.maximum(cv2.morphologyEx(hm, cv2.MORPH_OPEN, rock_disc), ground), 0.0)
    sigma = np.sqrt(np.where(np.isfinite(var), var, np.nanmax(var, initial=p.default_sigma_m ** 2)))
    rocks, rock_mask = _find_rocks(relief.astype(np.float32), sigma, p, origin, resolution)

    # Craters: the template fit sees the known cells only, less the rocks and the bumps
    # too small to be rocks (a boulder or a pebble in the window is no part of the bowl)
    # and the ground the rover cut (its trench); on a median first (one stereo range band
    # off by a few cm is no crater floor).
    hc = cv2.medianBlur(h, p.crater_median_cells) if p.crater_median_cells > 1 else h
    bumps = rock_mask | (relief > BUMP_FRACTION * p.rock_min_height_m)
    seen = kn & ~cv2.dilate(bumps.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if excavated is not None and excavated.shape == height.shape and excavated.any():
        seen &= ~excavated[r0:r1, c0:c1]
    fits = [c for c in fit_craters(np.where(seen, hc, np.nan), var, resolution, origin, p.crater_fit())
            if c.depth >= p.crater_min_depth_m]
    craters = [Crater(c.x, c.y, c.radius, c.depth) for c in fits]
    crater_mask = np.zeros(h.shape, bool)
    xs = origin[0] + (np.arange(h.shape[1]) + 0.5) * resolution
    ys = origin[1] + (np.arange(h.shape[0]) + 0.5) * resolution
    for c in fits:
        d2 = (xs[None, :] - c.x) ** 2 + (ys[:, None] - c.y) ** 2
        crater_mask |= d2 <= (c.radius + p.crater_margin_m) ** 2

    footprint[r0:r1, c0:c1] = crater_mask | rock_mask
    return Hazards(rocks, craters, footprint)


#: Touching boulders are split where a component has several tops, each standing at least
#: this fraction of the component's height (and rock_min_significance sigma) above the
#: saddle to a higher top (its dynamic). Chosen on the benchmark's tuning seeds 0-19: 0.1
#: to 0.3 tried; 0.15 split piles (stereo rock recall 0.66 -> 0.72) at the same precision.
SPLIT_DYNAMIC = 0.15
#: A rock's position: the centroid of its cells above this fraction of its height (tuning
#: seeds 0-19: 0.5 moved exact-height rock P/R 0.91/0.80 -> 0.93/0.82, 0.8 no better).
TOP_FRACTION = 0.5
#: The crater fit leaves out cells whose top-hat relief exceeds this fraction of
#: rock_min_height_m (5 cm): rocks too small or too flat to be reported, and stereo specks,
#: spoil the rim + bowl fit; a rim (0.2 x depth, 4 cm for a 0.2 m deep bowl) stays in.
#: Tuning seeds 0-19: 0.25-0.5 tried; 0.35 gave stereo crater R 0.70 -> 0.78 at P 0.91.
BUMP_FRACTION = 0.35


def _split_tops(relief: np.ndarray, component: np.ndarray, dynamic_m: float) -> tuple:
    """(labels, n): the component cut into watershed basins of -relief, one per top whose
    dynamic (height above the highest saddle to a higher top) is >= dynamic_m."""
    rs, cs = ndimage.find_objects(component.astype(np.uint8))[0]
    sub = np.where(component[rs, cs], relief[rs, cs], 0.0)
    tops, n = ndimage.label(h_maxima(sub, dynamic_m).astype(bool) & component[rs, cs],
                            structure=np.ones((3, 3)))
    out = np.zeros(relief.shape, np.int32)
    if n > 1:
        out[rs, cs] = watershed(-sub, tops, mask=component[rs, cs])
    return out, n


def _find_rocks(relief: np.ndarray, sigma: np.ndarray, p: HazardParams, origin, resolution: float) -> tuple:
    """(rocks, mask) from the top-hat ``relief`` (m, 0 where unknown) and the height sigma
    (m). Components above half ``rock_min_height_m``; one with several tops (h-maxima of
    dynamic SPLIT_DYNAMIC x its height, split by a watershed) that are rocks each (boulders
    touching at their feet, a small one leaning on a big one) is that many rocks."""
    cell_area = resolution * resolution
    rocks, mask = [], np.zeros(relief.shape, bool)

    def judge(labels, n, split) -> int:
        """Rocks found among the components; returns how many."""
        found = 0
        if not n:
            return found
        idx = np.arange(1, n + 1)
        count = ndimage.sum_labels(np.ones_like(relief), labels, idx)
        tallest = ndimage.maximum(relief, labels, idx)
        noise = ndimage.median(sigma, labels, idx)
        # a rock is where its upper part is: stereo sees its near face, the skirt of the
        # component reaches towards the camera and towards the rocks it touches
        peak = ndimage.maximum(relief, labels, np.arange(n + 1))[labels]
        com = ndimage.center_of_mass(np.where(relief >= TOP_FRACTION * peak, relief, 0.0), labels, idx)
        for i, (c, t, s, (cr, cc)) in enumerate(zip(count, tallest, noise, com)):
            if t < p.rock_min_height_m or t < p.rock_min_significance * s:
                continue   # too low, or within the stereo error
            if split:      # boulders touching at their feet: each top is a rock
                dyn = max(SPLIT_DYNAMIC * t, p.rock_min_significance * s)
                parts, m = _split_tops(relief, labels == idx[i], dyn)
                if m > 1:
                    before = len(rocks)
                    if judge(parts, m, split=False) > 1:
                        found += len(rocks) - before
                        continue
                    del rocks[before:]
            radius = np.sqrt(c * cell_area / np.pi)
            if 2.0 * radius > p.rock_max_diameter_m or t < p.rock_min_aspect * radius or c < p.rock_min_cells:
                continue   # a ridge or a rim, left to the cost layers
            x, y = _centre(origin, resolution, cr, cc)
            rocks.append(Rock(float(x), float(y), float(t), float(radius)))
            mask[labels == idx[i]] = True
            found += 1
        return found

    judge(*ndimage.label(relief > p.rock_min_height_m / 2.0, structure=np.ones((3, 3))), split=True)
    return rocks, mask


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
