"""Regulated pure pursuit: follow a path (N, 2) in the map frame with (v, w) commands.

Pure Python (numpy). After Nav2's Regulated Pure Pursuit controller
(nav2_regulated_pure_pursuit_controller; Macenski et al., "Regulated Pure Pursuit for
Robot Path Tracking", Autonomous Robots 2023):

* lookahead = clamp(speed * lookahead_time_s, min_lookahead_m, max_lookahead_m), the
  carrot is where the lookahead circle meets the path beyond the closest point;
* curvature kappa = 2 y / L^2 of the carrot in the robot frame;
* curvature regulation: the speed drops to ``max_linear_mps * r / regulated_min_radius_m``
  on turns tighter than that radius;
* proximity regulation: the speed ramps down over ``approach_distance_m`` before the goal
  (never below ``min_approach_mps``);
* rotate to heading in place when the carrot is more than ``rotate_to_heading_rad`` off
  the robot's heading (a skid-steer rover can);
* goal tolerance: (0, 0) once within ``goal_tolerance_m`` of the last point (``done``).

Units: m, rad, m/s, rad/s; poses (x, y, yaw) in the path's frame (REP-103/105).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PursuitConfig:
    """Path-follower limits (m/s, rad/s) and regulated pure-pursuit lookahead/approach distances (m)."""
    max_linear_mps: float = 0.4
    max_angular_radps: float = 0.6
    lookahead_time_s: float = 1.5
    min_lookahead_m: float = 0.4
    max_lookahead_m: float = 1.2
    regulated_min_radius_m: float = 0.9
    approach_distance_m: float = 1.0
    min_approach_mps: float = 0.05
    rotate_to_heading_rad: float = 0.8
    rotate_gain: float = 1.5
    goal_tolerance_m: float = 0.25

    @classmethod
    def within(cls, max_linear_mps: float, max_angular_radps: float, arrival_tolerance_m: float,
               stuck_distance_m: float, stuck_time_s: float) -> 'PursuitConfig':
        """The follower inside an executive's limits: its speed and turn-rate limits; a
        goal tolerance of half the executive's own arrival distance, so the follower
        never stops short of where the executive counts the goal reached; and an
        approach speed floor of four times the progress the executive's stuck detector
        asks for (stuck_distance_m per stuck_time_s), at least 0.1 m/s, so the slow
        approach to a goal never reads as stuck."""
        return cls(max_linear_mps=max_linear_mps, max_angular_radps=max_angular_radps,
                   goal_tolerance_m=0.5 * arrival_tolerance_m,
                   min_approach_mps=max(0.1, 4.0 * stuck_distance_m / stuck_time_s))

    def check(self) -> list:
        problems = []
        for name in ('max_linear_mps', 'max_angular_radps', 'min_lookahead_m', 'goal_tolerance_m',
                     'regulated_min_radius_m', 'approach_distance_m'):
            if not getattr(self, name) > 0.0:
                problems.append(f'{name} = {getattr(self, name)} must be > 0')
        if self.max_lookahead_m < self.min_lookahead_m:
            problems.append('max_lookahead_m must be >= min_lookahead_m')
        return problems


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


class RegulatedPurePursuit:
    """Built from a path (N, 2); ``compute((x, y, yaw))`` returns (v, w)."""

    def __init__(self, path, config: PursuitConfig = PursuitConfig()):
        pts = np.asarray(path, dtype=float)
        if pts.ndim != 2 or pts.shape[1] < 2 or len(pts) == 0 or not np.all(np.isfinite(pts[:, :2])):
            raise ValueError(f'path must be a non-empty finite (N, 2) array, got shape {pts.shape}')
        problems = config.check()
        if problems:
            raise ValueError('; '.join(problems))
        pts = pts[:, :2]
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(pts, axis=0)) > 1e-9, axis=1)
        self.path = pts[keep]
        self.cfg = config
        self._progress = 0          # index of the segment the robot has reached (monotone)
        self._speed = 0.0           # last commanded speed, for the lookahead
        self.done = False

    def _closest(self, p: np.ndarray) -> tuple:
        """(segment index, point) of the path closest to p, searching forward only."""
        pts = self.path
        if len(pts) == 1:
            return 0, pts[0]
        a = pts[self._progress:-1]
        b = pts[self._progress + 1:]
        ab = b - a
        t = np.clip(np.einsum('ij,ij->i', p - a, ab) / np.einsum('ij,ij->i', ab, ab), 0.0, 1.0)
        q = a + t[:, None] * ab
        k = int(np.argmin(np.einsum('ij,ij->i', q - p, q - p)))
        return self._progress + k, q[k]

    def _carrot(self, p: np.ndarray, seg: int, lookahead: float) -> np.ndarray:
        """First point beyond the closest one that is lookahead away from p (else the end)."""
        pts = self.path
        for i in range(seg, len(pts) - 1):
            a, b = pts[i], pts[i + 1]
            d = b - a
            f = a - p
            A = d @ d
            B = 2.0 * f @ d
            C = f @ f - lookahead * lookahead
            disc = B * B - 4.0 * A * C
            if disc < 0.0:
                continue
            t = (-B + math.sqrt(disc)) / (2.0 * A)
            if 0.0 <= t <= 1.0:
                return a + t * d
        return pts[-1]

    def compute(self, pose) -> tuple:
        """(v m/s, w rad/s) for the robot at pose (x, y, yaw)."""
        x, y, yaw = (float(v) for v in pose[:3])
        cfg = self.cfg
        p = np.array([x, y])
        goal = self.path[-1]
        dist_goal = float(np.hypot(*(goal - p)))
        if self.done or dist_goal <= cfg.goal_tolerance_m:
            self.done = True
            self._speed = 0.0
            return 0.0, 0.0
        seg, _q = self._closest(p)
        self._progress = seg
        lookahead = min(max(self._speed * cfg.lookahead_time_s, cfg.min_lookahead_m), cfg.max_lookahead_m)
        carrot = self._carrot(p, seg, lookahead)
        dx, dy = carrot - p
        c, s = math.cos(yaw), math.sin(yaw)
        lx, ly = c * dx + s * dy, -s * dx + c * dy
        heading_err = math.atan2(ly, lx)
        if abs(heading_err) > cfg.rotate_to_heading_rad:
            w = math.copysign(min(cfg.max_angular_radps, cfg.rotate_gain * abs(heading_err)), heading_err)
            self._speed = 0.0
            return 0.0, w
        L2 = max(lx * lx + ly * ly, 1e-9)
        kappa = 2.0 * ly / L2
        v = cfg.max_linear_mps
        if abs(kappa) > 1e-9 and 1.0 / abs(kappa) < cfg.regulated_min_radius_m:
            v *= (1.0 / abs(kappa)) / cfg.regulated_min_radius_m
        if dist_goal < cfg.approach_distance_m:
            v = min(v, max(cfg.max_linear_mps * dist_goal / cfg.approach_distance_m, cfg.min_approach_mps))
        w = v * kappa
        if abs(w) > cfg.max_angular_radps:   # keep the arc: slow down rather than cut the turn
            v *= cfg.max_angular_radps / abs(w)
            w = math.copysign(cfg.max_angular_radps, w)
        self._speed = v
        return v, w
