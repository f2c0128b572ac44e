"""Prospecting layer: what a cell is expected to hold of the target resource.

Pure Python (numpy). The prior is the coarse, noisy resource map a team has before it
lands (orbital spectroscopy, the world file's *prior map*); planning never reads the
simulator's true resource field. Each cell carries a Gaussian belief (mean, variance) of
the target's grade, fused per cell with grades measured in what the rover has dug
(a scalar Kalman update, i.e. the conjugate Bayesian update of a Gaussian mean).

Grades are mass fractions (kg of target per kg of regolith). Prior map file (npz):
``<resource>`` (HxW grade, row 0 = lowest y, as nav_msgs/OccupancyGrid), optional
``<resource>_std`` (HxW), ``resolution`` (m/cell) and ``origin`` ((x, y) m of the lower-left
corner). A missing or unreadable file, or one without the resource, gives a uniform prior
with the resource's typical grade and a broad variance, and a reason to log.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESOURCES = ('rare_earth', 'platinum_group', 'helium3')

#: Typical lunar grades (mass fraction) for the uniform fallback prior: KREEP-rich
#: regolith carries a few hundred ppm of rare-earth elements (Lunar Sourcebook ch. 8),
#: platinum-group metals tens of ppb from meteoritic infall, helium-3 ~10 ppb in mature
#: mare regolith (Fa & Jin 2007, Icarus 190).
TYPICAL_GRADE = {'rare_earth': 3e-4, 'platinum_group': 3e-8, 'helium3': 1e-8}


@dataclass(frozen=True)
class PriorMap:
    """Prior resource grade map (mass fraction): mean and std grids, cell size (m), map-frame origin."""
    resource: str
    mean: np.ndarray          # HxW grade (mass fraction); 1x1 for a uniform prior
    std: np.ndarray           # HxW
    resolution: float
    origin_xy: tuple
    uniform: bool = False

    def sample(self, xy) -> tuple:
        """(mean, std) of the prior at points (N, 2) m; nearest cell, clamped to the map."""
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        if self.uniform:
            n = len(pts)
            return np.full(n, float(self.mean.flat[0])), np.full(n, float(self.std.flat[0]))
        H, W = self.mean.shape
        col = np.clip(np.floor((pts[:, 0] - self.origin_xy[0]) / self.resolution).astype(int), 0, W - 1)
        row = np.clip(np.floor((pts[:, 1] - self.origin_xy[1]) / self.resolution).astype(int), 0, H - 1)
        return self.mean[row, col], self.std[row, col]


def uniform_prior(resource: str, rel_std: float = 1.0) -> PriorMap:
    """A 1x1 prior at the resource's typical grade, std = ``rel_std`` times the grade."""
    g = TYPICAL_GRADE[resource]
    return PriorMap(resource, np.full((1, 1), g), np.full((1, 1), g * rel_std), 1.0, (0.0, 0.0), True)


def load_prior_map(path, resource: str, default_rel_std: float = 0.5) -> tuple:
    """(PriorMap, problem): the resource's prior from an npz file, or a uniform prior and a
    sentence saying why (empty when the file was used). Never raises for a bad file."""
    if resource not in RESOURCES:
        raise ValueError(f'unknown resource {resource!r}; one of {RESOURCES}')
    if not path:
        return uniform_prior(resource), 'no prior map given: uniform prior'
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            key = resource if resource in data.files else f'grade_{resource}'
            if key not in data.files:
                return uniform_prior(resource), (f'prior map {p} has no {resource!r} layer '
                                                 f'(has {sorted(data.files)}): uniform prior')
            mean = np.asarray(data[key], dtype=float)
            std_key = f'{key}_std'
            std = (np.asarray(data[std_key], dtype=float) if std_key in data.files
                   else np.abs(mean) * default_rel_std)
            resolution = (float(np.asarray(data['resolution']).reshape(-1)[0])
                          if 'resolution' in data.files else 1.0)
            origin = (tuple(float(v) for v in np.asarray(data['origin']).reshape(-1)[:2])
                      if 'origin' in data.files else (0.0, 0.0))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        return (uniform_prior(resource),
                f'prior map {p} unreadable ({type(exc).__name__}: {exc}): uniform prior')
    if (mean.ndim != 2 or mean.size == 0 or std.shape != mean.shape or not math.isfinite(resolution)
            or resolution <= 0.0 or len(origin) != 2):
        return uniform_prior(resource), (f'prior map {p}: bad geometry (layer {mean.shape}, std {std.shape}, '
                                         f'resolution {resolution}, origin {origin}): uniform prior')
    bad = ~np.isfinite(mean) | (mean < 0.0)
    if bad.all():
        return uniform_prior(resource), f'prior map {p}: no valid grade in {resource!r}: uniform prior'
    fill = float(np.median(mean[~bad]))
    mean = np.where(bad, fill, mean)
    std = np.where(~np.isfinite(std) | (std <= 0.0) | bad, max(fill, 1e-12) * default_rel_std * 2, std)
    return PriorMap(resource, mean, std, resolution, origin), ''


class ResourceBelief:
    """Per-cell Gaussian belief of the target's grade on a grid (the costmap's)."""

    def __init__(self, prior: PriorMap, shape: tuple, resolution: float, origin_xy):
        H, W = shape
        self.resolution = float(resolution)
        self.origin_xy = (float(origin_xy[0]), float(origin_xy[1]))
        rows, cols = np.mgrid[0:H, 0:W]
        xy = np.column_stack([self.origin_xy[0] + (cols.ravel() + 0.5) * resolution,
                              self.origin_xy[1] + (rows.ravel() + 0.5) * resolution])
        mean, std = prior.sample(xy)
        self.mean = mean.reshape(H, W).astype(float)
        self.var = (std.reshape(H, W).astype(float)) ** 2
        self.resource = prior.resource

    def at(self, xy) -> tuple:
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        H, W = self.mean.shape
        col = np.clip(np.floor((pts[:, 0] - self.origin_xy[0]) / self.resolution).astype(int), 0, W - 1)
        row = np.clip(np.floor((pts[:, 1] - self.origin_xy[1]) / self.resolution).astype(int), 0, H - 1)
        return self.mean[row, col], np.sqrt(self.var[row, col])

    def update(self, xy, radius_m: float, grade: float, grade_std: float) -> int:
        """Fuse a grade measured in material dug within radius_m of xy (Kalman update of
        each cell's mean); returns the number of cells updated."""
        if not (math.isfinite(grade) and math.isfinite(grade_std) and grade_std > 0.0):
            return 0
        H, W = self.mean.shape
        rows, cols = np.ogrid[0:H, 0:W]
        cx = self.origin_xy[0] + (cols + 0.5) * self.resolution
        cy = self.origin_xy[1] + (rows + 0.5) * self.resolution
        inside = (cx - xy[0]) ** 2 + (cy - xy[1]) ** 2 <= max(radius_m, 0.5 * self.resolution) ** 2
        r = grade_std ** 2
        k = self.var[inside] / (self.var[inside] + r)
        self.mean[inside] += k * (grade - self.mean[inside])
        self.var[inside] *= (1.0 - k)
        return int(inside.sum())
