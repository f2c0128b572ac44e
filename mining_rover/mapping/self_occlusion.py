"""The rover's own shadow in its stereo cloud: points seen through a drum.

The front drum hangs in the bottom of the camera's view. Where it is lit and evenly
shaded, SGBM matches its pixels to the terrain behind it at the wrong disparity, and the
map gets a patch of ground 15-45 cm too low 1.4-1.6 m ahead of the rover that travels
with it (in the lunabotics_arena world, every one of the 441 points more than 8 cm
under the true ground in one frame). The ground behind the drum
cannot be seen at all, so any point whose line of sight passes through the drum is
dropped, whatever its depth: the "shadow" filter of robot_body_filter
(github.com/peci1/robot_body_filter) for a drum, a cylinder whose axis is base_link's y.

Pure numpy, no rclpy: one vectorised segment-cylinder test per drum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drum:
    """A drum in base_link: axis along y through (x, z), m; ``half_length`` along y."""
    x: float
    z: float
    radius: float
    half_length: float
    y: float = 0.0

    def __post_init__(self):
        vals = (self.x, self.z, self.radius, self.half_length, self.y)
        if not all(math.isfinite(v) for v in vals) or self.radius <= 0.0 or self.half_length <= 0.0:
            raise ValueError(f'drum needs finite values and radius, half_length > 0, got {self}')


def drum_on_arm(pivot_x_m: float, arm_length_m: float, arm_angle_rad: float, radius_m: float,
                length_m: float, front: bool = True, margin_m: float = 0.0) -> Drum:
    """The drum at the end of an arm (urdf/rover.urdf.xacro): the arm turns about base_link's
    y axis at (+-pivot_x, 0, 0), a positive angle lowers the drum; ``margin_m`` widens it."""
    side = 1.0 if front else -1.0
    return Drum(x=side * (pivot_x_m + arm_length_m * math.cos(arm_angle_rad)),
                z=-arm_length_m * math.sin(arm_angle_rad),
                radius=radius_m + margin_m, half_length=length_m / 2.0 + margin_m)


def seen_through(points: np.ndarray, camera: np.ndarray, drums) -> np.ndarray:
    """Bool mask over (N, 3) ``points`` (base_link, m): True where the segment from
    ``camera`` (base_link, m) to the point crosses one of ``drums``."""
    pts = np.asarray(points, np.float64)
    hit = np.zeros(len(pts), bool)
    if len(pts) == 0:
        return hit
    c = np.asarray(camera, np.float64).reshape(3)
    d = pts - c
    for drum in drums:
        # In the x-z plane the drum is a circle: |c + t d - o|^2 = r^2, t in [0, 1].
        ox, oz = c[0] - drum.x, c[2] - drum.z
        a = d[:, 0] ** 2 + d[:, 2] ** 2
        b = 2.0 * (ox * d[:, 0] + oz * d[:, 2])
        cc = ox * ox + oz * oz - drum.radius ** 2
        disc = b * b - 4.0 * a * cc
        ok = (disc >= 0.0) & (a > 0.0)
        root = np.sqrt(np.where(ok, disc, 0.0))
        a2 = np.where(ok, 2.0 * a, 1.0)
        t0 = np.clip((-b - root) / a2, 0.0, 1.0)
        t1 = np.clip((-b + root) / a2, 0.0, 1.0)
        ok &= t1 > t0
        # Along y the segment is linear in t: it crosses the drum if its y over [t0, t1]
        # overlaps the drum's length.
        y0, y1 = c[1] + t0 * d[:, 1], c[1] + t1 * d[:, 1]
        lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
        ok &= (hi >= drum.y - drum.half_length) & (lo <= drum.y + drum.half_length)
        hit |= ok
    return hit
