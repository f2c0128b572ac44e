"""What a hazard is, geometrically: the one definition the site generator, the simulator's
hazard-contact counter and the hazard_detection benchmark's truth all use (numpy only).

Issue #18 names the hazards "rocks >= 0.2 m high and craters >= 1 m across". Taken
literally for craters, that counts degraded bowls 3-5 cm deep (depth/diameter 0.03-0.05:
the operational sites' equilibrium craters) that no rover notices and no stereo map can
see. So here:

* a **rock** is a hazard when it stands >= ``ROCK_MIN_PROTRUSION_M`` above the ground around
  it (its top minus the median of a ``RING_M`` ring outside its base, on the terrain as
  simulated: a rock seated on a crater wall stands out less than its drawn height);
* a **crater** is a hazard when it is >= ``CRATER_MIN_DIAMETER_M`` across *and* its inner
  wall is steeper than ``CRATER_WALL_SLOPE_LIMIT_DEG``.

The wall slope limit (15 deg) is the steepest ground the rover is rated to drive: issue #18
asks for operational sites with "slopes up to 15 degrees", and sim/site_layout.py generates
every site within it (``MAX_SLOPE_DEG``); a crater wall steeper than that is ground the rover
was never rated for. Craters both generators draw (sim/terrain.py, sim/site_layout.py)
have the profile of ``sim.terrain.crater_profile``: a parabolic bowl from -depth at the
centre to a rim RIM_TO_DEPTH x depth high at r = R, so the wall is steepest at the rim,
dh/dr = 2 (depth + rim) / R, and the limit is depth/diameter >= tan(15 deg) / (4 (1 + 0.2))
= 0.056: fresh and moderately degraded impact craters (0.07-0.2, Pike 1977) are hazards,
the equilibrium bowls of 0.03-0.05 (Mahanti et al. 2018) are not.
"""
from __future__ import annotations

import math

import numpy as np

#: Issue #18: rocks >= 0.2 m high. 0.2 m is also the wheel radius (config/rover.yaml
#: wheel.radius), about the step a rigid four-wheel rover climbs.
ROCK_MIN_PROTRUSION_M = 0.2
#: Issue #18: craters >= 1 m across.
CRATER_MIN_DIAMETER_M = 1.0
#: The steepest slope the rover is rated for (issue #18 site spec; site_layout.MAX_SLOPE_DEG).
CRATER_WALL_SLOPE_LIMIT_DEG = 15.0
#: Rim height over depth of the crater profile both generators draw (sim/terrain.py: rim
#: 0.04 D at the fresh depth 0.2 D; sim/site_layout.py: 0.2 x depth).
RIM_TO_DEPTH = 0.2
#: Width of the ring around a rock's base whose median is "the ground around it", m.
RING_M = 0.3
#: Sample spacing for a rock's top and ring, m (finer than any grid the worlds use).
SAMPLE_M = 0.025


def crater_wall_slope_deg(radius_m, depth_m, rim_to_depth: float = RIM_TO_DEPTH):
    """Steepest inner-wall slope (deg) of a crater of rim radius ``radius_m`` and depth
    ``depth_m`` below the pre-impact ground (the crater_profile bowl, at the rim)."""
    r = np.asarray(radius_m, float)
    d = np.asarray(depth_m, float)
    return np.degrees(np.arctan(2.0 * d * (1.0 + rim_to_depth) / np.maximum(r, 1e-9)))


def crater_min_depth_ratio() -> float:
    """The depth/diameter from which a crater's wall exceeds the slope limit (0.056)."""
    return math.tan(math.radians(CRATER_WALL_SLOPE_LIMIT_DEG)) / (4.0 * (1.0 + RIM_TO_DEPTH))


def is_hazard_crater(radius_m, depth_m):
    """Whether craters (radius, depth in m; scalars or arrays) are hazards to the rover."""
    return ((2.0 * np.asarray(radius_m, float) >= CRATER_MIN_DIAMETER_M)
            & (crater_wall_slope_deg(radius_m, depth_m) > CRATER_WALL_SLOPE_LIMIT_DEG))


def rock_protrusion_m(x: float, y: float, radius_m: float, height_at) -> float:
    """How far a rock at x, y (m) of base radius ``radius_m`` stands above the ground
    around it (m): the highest terrain point within its base minus the median of the ring
    RING_M wide outside it. ``height_at(x, y)`` gives the terrain height (m, arrays ok)."""
    half = radius_m + RING_M
    n = max(3, int(math.ceil(half / SAMPLE_M)))
    o = np.linspace(-half, half, 2 * n + 1)
    dx, dy = np.meshgrid(o, o)
    d = np.hypot(dx, dy)
    top = d <= radius_m
    ring = (d > radius_m) & (d <= half)
    z = np.asarray(height_at(x + dx, y + dy), float)
    return float(z[top].max() - np.median(z[ring]))


def _get(o, key):
    return o[key] if isinstance(o, dict) else getattr(o, key)


def hazard_craters(craters) -> list:
    """The craters (dicts or objects with radius and depth, m) that are hazards."""
    return [c for c in craters if bool(is_hazard_crater(_get(c, 'radius'), _get(c, 'depth')))]


def hazard_rocks(rocks, height_at) -> list:
    """The rocks (dicts or objects with x, y, radius, m) that stand >= ROCK_MIN_PROTRUSION_M
    above the ground around them on the terrain ``height_at(x, y)``."""
    return [r for r in rocks
            if rock_protrusion_m(_get(r, 'x'), _get(r, 'y'), _get(r, 'radius'), height_at)
            >= ROCK_MIN_PROTRUSION_M]


def grid_height_at(h: np.ndarray, x0: float, y0: float, res: float):
    """``height_at(x, y)`` of a vertex-sampled grid (row 0 = lowest y, sim.terrain's
    convention), bilinear as the simulator's true_height; points outside are clamped."""
    H, W = h.shape

    def height_at(x, y):
        fx = np.clip((np.asarray(x, float) - x0) / res, 0.0, W - 1.000001)
        fy = np.clip((np.asarray(y, float) - y0) / res, 0.0, H - 1.000001)
        c0, r0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
        tx, ty = fx - c0, fy - r0
        return (h[r0, c0] * (1 - tx) * (1 - ty) + h[r0, c0 + 1] * tx * (1 - ty)
                + h[r0 + 1, c0] * (1 - tx) * ty + h[r0 + 1, c0 + 1] * tx * ty)
    return height_at
