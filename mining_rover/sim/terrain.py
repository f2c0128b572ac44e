"""Seeded planetary terrain: craters, rims and ejecta, boulders, multi-octave noise (numpy only).

Craters follow a power-law cumulative size-frequency distribution N(>D) ~ D^-b with
b ~ 2 for small lunar craters (Melosh, *Planetary Surface Processes*, 2011, ch. 10);
fresh simple craters have depth/diameter ~0.2 (Pike 1977) and degrade towards shallower
bowls, so each crater draws a degradation factor. Profile (cf. Fassett & Thomson 2014):
parabolic bowl inside the rim, a raised rim of ~0.04 D, and ejecta decaying as (R/r)^3
outside. Boulders are hemispheres (caps) 0.15-0.4 m high.

Grid convention: ``heights[row, col]`` at x = x0 + col * res_x, y = y0 + row * res_y
(row 0 = lowest y), i.e. vertex samples spanning the whole extent (as a Gazebo/MuJoCo
heightmap does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TerrainParams:
    """Procedural terrain: size (m), grid points, crater and rock populations, noise, clear zones."""
    size_x: float = 24.0
    size_y: float = 24.0
    n: int = 257                       # grid is n x n (2^k + 1)
    crater_count: int = 25
    crater_d_min: float = 0.8          # m, diameter
    crater_d_max: float = 8.0
    crater_sfd_slope: float = 2.0      # cumulative power-law exponent b
    depth_ratio: float = 0.2           # fresh depth / diameter (Pike 1977)
    rock_count: int = 30
    rock_h_min: float = 0.15
    rock_h_max: float = 0.40
    noise_amplitude: float = 0.05      # m, largest octave
    noise_octaves: int = 5
    noise_base_cells: float = 6.0      # m, wavelength of the largest octave
    clear_zones: list = field(default_factory=list)  # [(x, y, radius)] kept free of hazards


def value_noise(shape: tuple, rng: np.random.Generator, base_period_cells: float,
                octaves: int, persistence: float = 0.5) -> np.ndarray:
    """Multi-octave value noise in roughly [-1, 1] (smoothstep-interpolated lattices)."""
    H, W = shape
    out = np.zeros(shape)
    amp, total = 1.0, 0.0
    period = float(base_period_cells)
    for _ in range(octaves):
        period = max(period, 1.0)
        gh, gw = int(np.ceil(H / period)) + 2, int(np.ceil(W / period)) + 2
        lattice = rng.uniform(-1.0, 1.0, (gh, gw))
        ys = np.arange(H) / period
        xs = np.arange(W) / period
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        ty, tx = ys - y0, xs - x0
        ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)
        a = lattice[np.ix_(y0, x0)]
        b = lattice[np.ix_(y0, x0 + 1)]
        c = lattice[np.ix_(y0 + 1, x0)]
        d = lattice[np.ix_(y0 + 1, x0 + 1)]
        tx_, ty_ = tx[None, :], ty[:, None]
        out += amp * ((a * (1 - tx_) + b * tx_) * (1 - ty_) + (c * (1 - tx_) + d * tx_) * ty_)
        total += amp
        amp *= persistence
        period /= 2.0
    return out / total


def power_law_diameters(rng: np.random.Generator, n: int, d_min: float, d_max: float,
                        slope: float) -> np.ndarray:
    """n diameters from a truncated cumulative power law N(>D) ~ D^-slope (inverse CDF)."""
    u = rng.uniform(0.0, 1.0, n)
    a, b = d_min ** -slope, d_max ** -slope
    return (a - u * (a - b)) ** (-1.0 / slope)


def crater_profile(r_norm: np.ndarray, depth: float, rim: float) -> np.ndarray:
    """Height relative to the pre-impact surface at r / R: parabolic bowl reaching -depth
    at the centre and +rim at the rim, ejecta ~ rim (R/r)^3 outside."""
    inside = rim - (depth + rim) * (1.0 - r_norm ** 2)
    outside = rim * np.power(np.maximum(r_norm, 1.0), -3.0)
    return np.where(r_norm < 1.0, inside, outside)


def _clear(x, y, r, zones) -> bool:
    return all(np.hypot(x - zx, y - zy) > r + zr for zx, zy, zr in zones)


def generate(params: TerrainParams, seed: int = 0, origin_xy=None) -> dict:
    """{'heights' (n x n float32), 'x0', 'y0', 'res_x', 'res_y', 'craters', 'rocks'}.

    Craters [{x, y, radius, depth}] and rocks [{x, y, height, radius}] are the truth lists
    (radius: rim radius / base radius). Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    n = int(params.n)
    x0 = -params.size_x / 2 if origin_xy is None else origin_xy[0]
    y0 = -params.size_y / 2 if origin_xy is None else origin_xy[1]
    res_x, res_y = params.size_x / (n - 1), params.size_y / (n - 1)
    xs = x0 + np.arange(n) * res_x
    ys = y0 + np.arange(n) * res_y
    X, Y = np.meshgrid(xs, ys)
    h = params.noise_amplitude * value_noise(
        (n, n), rng, params.noise_base_cells / res_x, params.noise_octaves)

    craters = []
    diam = np.sort(power_law_diameters(rng, params.crater_count, params.crater_d_min,
                                       params.crater_d_max, params.crater_sfd_slope))[::-1]
    for D in diam:
        R = D / 2
        for _ in range(50):
            cx = rng.uniform(x0 + R, x0 + params.size_x - R) if params.size_x > D else 0.0
            cy = rng.uniform(y0 + R, y0 + params.size_y - R) if params.size_y > D else 0.0
            if _clear(cx, cy, 1.5 * R, params.clear_zones):
                break
        else:
            continue
        depth = params.depth_ratio * D * rng.uniform(0.35, 1.0)   # degraded to fresh
        rim = 0.04 * D * depth / (params.depth_ratio * D)
        r_norm = np.hypot(X - cx, Y - cy) / R
        near = r_norm < 4.0
        h[near] += crater_profile(r_norm[near], depth, rim)
        craters.append({'x': float(cx), 'y': float(cy), 'radius': float(R), 'depth': float(depth)})

    rocks = []
    for _ in range(params.rock_count):
        hh = rng.uniform(params.rock_h_min, params.rock_h_max)
        for _ in range(50):
            rx = rng.uniform(x0 + hh, x0 + params.size_x - hh)
            ry = rng.uniform(y0 + hh, y0 + params.size_y - hh)
            if _clear(rx, ry, hh + 0.3, params.clear_zones):
                break
        else:
            continue
        r2 = ((X - rx) ** 2 + (Y - ry) ** 2) / hh ** 2
        cap = hh * np.sqrt(np.clip(1.0 - r2, 0.0, None))
        mask = cap > 0
        base = h[mask].min() if mask.any() else 0.0
        h[mask] = np.maximum(h[mask], base + cap[mask])
        rocks.append({'x': float(rx), 'y': float(ry), 'height': float(hh), 'radius': float(hh)})

    return {'heights': h.astype(np.float32), 'x0': float(x0), 'y0': float(y0),
            'res_x': float(res_x), 'res_y': float(res_y), 'craters': craters, 'rocks': rocks}
