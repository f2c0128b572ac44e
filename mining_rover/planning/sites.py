"""Dig-site scoring: where a cycle pays best.

Pure Python (numpy, scipy.ndimage). For candidate sites on a lattice inside the dig zone,
on the costmap's grid (row 0 = lowest y; costs 0..100, -1 unknown; elevation in m, NaN
unknown), a site is scored by

* expected target mass per cycle = mass the cut takes per cycle x expected grade (plus an
  exploration bonus of ``explore_weight`` standard deviations: an upper confidence bound,
  so that an unsampled but promising cell is tried);
* diggable volume of the footprint at the planned depth of cut (known, level ground);
* slope over the footprint (from the elevation gradient) and clearance to the nearest
  lethal cell (hazard: crater rim, rock), each a hard limit;
* travel: path cost from the rover to the site plus the round trips to the berm zone per
  cycle, and an energy estimate from them and from the cut.

The score is expected target kg per Wh (sites whose cycle cannot be reached score
nothing); ties prefer the nearer site. Units: m, m^3, kg, Wh, deg.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mining_rover.planning.astar import LETHAL


@dataclass(frozen=True)
class SiteConfig:
    """Dig-site search: lattice spacing and footprint (m), slope limit (deg), clearance, energy costs."""
    spacing_m: float = 0.5                 # candidate lattice
    footprint_length_m: float = 1.0        # dig stroke along which the drums cut, m
    footprint_width_m: float = 0.45        # drum length, m
    max_slope_deg: float = 15.0
    min_clearance_m: float = 0.8           # robot radius + margin to any lethal cell
    drive_wh_per_m: float = 0.15           # driving energy (80 kg rover, lunar, incl. losses)
    dig_wh_per_kg: float = 0.05            # cutting and lifting energy per kg excavated
    explore_weight: float = 0.5            # UCB weight on the grade's std
    max_sites: int = 10


@dataclass(frozen=True)
class Site:
    """A scored dig site in the map frame (m) with its expected yield (kg), volume (m^3) and slope (deg)."""
    x: float
    y: float
    score: float
    expected_target_kg: float
    expected_mass_kg: float
    diggable_volume_m3: float
    slope_deg: float
    clearance_m: float
    travel_m: float
    energy_wh: float


def slope_deg(elevation: np.ndarray, resolution: float, window_m: float = 0.0) -> np.ndarray:
    """Slope of the elevation grid, deg; with ``window_m`` the slope of the ground averaged
    over that square (the plane a footprint rests on) rather than cell to cell, where a
    centimetre of stereo noise over a 5 cm cell already reads as 20 deg."""
    e = elevation.astype(float)
    k = int(round(window_m / resolution))
    if k >= 2:
        e = ndimage.uniform_filter(e, size=k, mode='nearest')
    gy, gx = np.gradient(e, resolution)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def hazard_clearance_m(costs: np.ndarray, resolution: float) -> np.ndarray:
    """Distance from each cell to the nearest lethal cell, m (inf if none)."""
    lethal = costs >= LETHAL
    if not lethal.any():
        return np.full(costs.shape, np.inf)
    return ndimage.distance_transform_edt(~lethal) * resolution


def score_sites(costs: np.ndarray, elevation: np.ndarray, resolution: float, origin_xy,
                grade_mean: np.ndarray, grade_std: np.ndarray, dig_zone: tuple,
                berm_xy: tuple, depth_of_cut_m: float, mass_per_cycle_kg: float,
                density_kgm3: float, travel_from_rover=None, travel_to_berm=None,
                cfg: SiteConfig = SiteConfig()) -> list:
    """Ranked sites (best first) in the dig zone (x, y, radius).

    ``travel_from_rover(xy) / travel_to_berm(xy)`` give path costs (m, inf if unreachable)
    for points (N, 2); without them straight-line distances are used. An empty list means
    no candidate qualifies (no known ground, all steep or near hazards, unreachable)."""
    H, W = costs.shape
    if elevation.shape != costs.shape or grade_mean.shape != costs.shape:
        raise ValueError(f'grids differ: costs {costs.shape}, elevation {elevation.shape}, '
                         f'grade {grade_mean.shape}')
    zx, zy, zr = dig_zone
    step = max(1, int(round(cfg.spacing_m / resolution)))
    ox, oy = origin_xy
    c0 = max(0, int((zx - zr - ox) / resolution))
    c1 = min(W, int((zx + zr - ox) / resolution) + 1)
    r0 = max(0, int((zy - zr - oy) / resolution))
    r1 = min(H, int((zy + zr - oy) / resolution) + 1)
    if c0 >= c1 or r0 >= r1:
        return []
    rows, cols = np.mgrid[r0:r1:step, c0:c1:step]
    rows, cols = rows.ravel(), cols.ravel()
    xs = ox + (cols + 0.5) * resolution
    ys = oy + (rows + 0.5) * resolution
    in_zone = (xs - zx) ** 2 + (ys - zy) ** 2 <= zr * zr
    rows, cols, xs, ys = rows[in_zone], cols[in_zone], xs[in_zone], ys[in_zone]
    if len(rows) == 0:
        return []
    # Footprint statistics by box filters over the footprint's radius.
    half = max(1, int(round(0.5 * cfg.footprint_length_m / resolution)))
    size = 2 * half + 1
    known = np.isfinite(elevation) & (costs >= 0)
    known_frac = ndimage.uniform_filter(known.astype(float), size=size, mode='constant')
    # Tilt of the ground the footprint rests on (half-footprint plane), worst over the
    # footprint; cell-scale roughness is the costmap's business (clearance below).
    slope = slope_deg(np.where(np.isfinite(elevation), elevation, np.nanmean(elevation)
                               if np.isfinite(elevation).any() else 0.0), resolution,
                      window_m=0.5 * cfg.footprint_length_m)
    slope_max = ndimage.maximum_filter(np.where(known, slope, 0.0), size=size, mode='nearest')
    clearance = hazard_clearance_m(costs, resolution)
    s = slope_max[rows, cols]
    cl = clearance[rows, cols]
    kf = known_frac[rows, cols]
    ok = (kf >= 0.8) & (s <= cfg.max_slope_deg) & (cl >= cfg.min_clearance_m)
    if not ok.any():
        return []
    rows, cols, xs, ys, s, cl = rows[ok], cols[ok], xs[ok], ys[ok], s[ok], cl[ok]
    pts = np.column_stack([xs, ys])
    berm = np.asarray(berm_xy, dtype=float)
    to_site = (travel_from_rover(pts) if travel_from_rover is not None
               else np.full(len(pts), 0.0))
    to_berm = (travel_to_berm(pts) if travel_to_berm is not None
               else np.hypot(xs - berm[0], ys - berm[1]))
    volume = cfg.footprint_length_m * cfg.footprint_width_m * max(depth_of_cut_m, 0.0)
    mass = min(mass_per_cycle_kg, volume * density_kgm3) if depth_of_cut_m > 0 else 0.0
    grade = np.maximum(grade_mean[rows, cols] + cfg.explore_weight * grade_std[rows, cols], 0.0)
    target = mass * grade
    travel = to_site + 2.0 * to_berm
    energy = travel * cfg.drive_wh_per_m + mass * cfg.dig_wh_per_kg
    reachable = np.isfinite(travel)
    score = np.where(reachable & (mass > 0), target / np.maximum(energy, 1e-6), 0.0)
    order = np.lexsort((travel, -score))
    sites = []
    for k in order:
        if not reachable[k]:
            continue
        sites.append(Site(float(xs[k]), float(ys[k]), float(score[k]), float(target[k]), float(mass),
                          float(volume), float(s[k]), float(min(cl[k], 1e6)), float(travel[k]),
                          float(energy[k])))
        if len(sites) >= cfg.max_sites:
            break
    return sites
