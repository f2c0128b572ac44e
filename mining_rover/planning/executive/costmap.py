"""The costmap as the executive reads it: known share of an area, lethal cells ahead.

Pure numpy. Costs follow nav_msgs/OccupancyGrid (0..100, -1 unknown; Nav2's lethal 100).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mining_rover.planning.executive.io import Pose2D


def route_ahead(points, pose: Pose2D, length_m: float, step_m: float) -> tuple:
    """Samples of the route ``points`` ((N, 2), map frame) every ``step_m`` over the
    ``length_m`` that follows the pose's projection on its nearest segment (a route of
    few, far waypoints is measured from where the rover is on it, not from a waypoint
    behind it): ((M, 2) points, (M,) distances along from the projection, m, and the
    route length covered, m)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    p = np.array([pose.x, pose.y])
    start, seg0 = pts[0], 0
    if len(pts) > 1:
        a, ab = pts[:-1], np.diff(pts, axis=0)
        n2 = np.einsum('ij,ij->i', ab, ab)
        t = np.clip(np.einsum('ij,ij->i', p - a, ab) / np.where(n2 > 0, n2, 1.0), 0.0, 1.0)
        q = a + t[:, None] * ab
        seg0 = int(np.argmin(np.einsum('ij,ij->i', q - p, q - p)))
        start = q[seg0]
    way = np.vstack([start, pts[seg0 + 1:]])
    dist, samples = [0.0], [way[0]]
    travelled = 0.0
    for a, b in zip(way[:-1], way[1:]):
        seg = float(np.hypot(*(b - a)))
        if seg <= 0.0:
            continue
        f = np.arange(step_m, min(seg, length_m - travelled) + 1e-12, step_m)
        samples.extend(a + np.outer(f / seg, b - a))
        dist.extend(travelled + f)
        travelled += seg
        if travelled >= length_m:
            break
    return np.asarray(samples), np.asarray(dist), min(travelled, length_m)


@dataclass(frozen=True)
class Costmap:
    """An occupancy grid: ``grid[row, col]`` int8 costs 0..100 / -1 unknown, row 0 at
    the lowest y; cell (r, c) has its lower-left corner at origin + R(yaw)(c, r)*res."""
    grid: np.ndarray
    resolution: float
    origin_x: float
    origin_y: float
    origin_yaw: float = 0.0

    def values_where(self, inside, bbox=None) -> np.ndarray:
        """Costs of the cells whose centre (map frame x, y arrays) satisfies inside(x, y).

        ``bbox`` (xmin, xmax, ymin, ymax), map frame, limits the cells examined."""
        h, w = self.grid.shape
        r0, r1, c0, c1 = 0, h, 0, w
        if bbox is not None and abs(self.origin_yaw) < 1e-9:
            res = self.resolution
            c0 = max(0, int(math.floor((bbox[0] - self.origin_x) / res)))
            c1 = min(w, int(math.ceil((bbox[1] - self.origin_x) / res)) + 1)
            r0 = max(0, int(math.floor((bbox[2] - self.origin_y) / res)))
            r1 = min(h, int(math.ceil((bbox[3] - self.origin_y) / res)) + 1)
            if r0 >= r1 or c0 >= c1:
                return np.zeros(0, dtype=self.grid.dtype)
        rows, cols = np.mgrid[r0:r1, c0:c1]
        c, s = math.cos(self.origin_yaw), math.sin(self.origin_yaw)
        lx, ly = (cols + 0.5) * self.resolution, (rows + 0.5) * self.resolution
        x = self.origin_x + c * lx - s * ly
        y = self.origin_y + s * lx + c * ly
        return self.grid[r0:r1, c0:c1][inside(x, y)]

    def known_fraction(self, cx: float, cy: float, radius: float) -> float:
        vals = self.values_where(lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2,
                                 (cx - radius, cx + radius, cy - radius, cy + radius))
        return float(np.count_nonzero(vals >= 0)) / vals.size if vals.size else 0.0

    def lethal_along(self, points, pose: Pose2D, length_m: float, radius_m: float, lethal: int,
                     body: tuple = (0.0, 0.0)) -> int:
        """Number of cells with cost >= lethal within radius_m of the route ``points``
        ((N, 2), map frame) over the length_m of it that follows the pose's projection on
        the route (``route_ahead``): the ground the robot is about to drive on. Cells under the robot's body
        now (``body``: half length, half width, m) do not count: it stands on them, so
        they are no obstacle (costmap_2d's footprint clearing), and counting them would
        hold it where it is for good."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            return 0
        s, _, _ = route_ahead(pts, pose, length_m, 0.5 * self.resolution)
        bbox = (s[:, 0].min() - radius_m, s[:, 0].max() + radius_m,
                s[:, 1].min() - radius_m, s[:, 1].max() + radius_m)

        c, sn = math.cos(pose.yaw), math.sin(pose.yaw)

        def inside(x, y):
            d2 = (x[..., None] - s[:, 0]) ** 2 + (y[..., None] - s[:, 1]) ** 2
            fx = c * (x - pose.x) + sn * (y - pose.y)
            fy = -sn * (x - pose.x) + c * (y - pose.y)
            under = (np.abs(fx) <= body[0]) & (np.abs(fy) <= body[1])
            return (d2.min(axis=-1) <= radius_m * radius_m) & ~under
        return int(np.count_nonzero(self.values_where(inside, bbox) >= lethal))

    def lethal_ahead(self, pose: Pose2D, length_m: float, half_width_m: float, lethal: int,
                     backwards: bool = False) -> int:
        """Number of cells with cost >= lethal in the rectangle swept ahead of the robot
        (robot frame x in [0, length], |y| <= half_width; behind it when backwards)."""
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        sign = -1.0 if backwards else 1.0

        def inside(x, y):
            dx, dy = x - pose.x, y - pose.y
            fx = sign * (c * dx + s * dy)
            fy = -s * dx + c * dy
            return (fx >= 0.0) & (fx <= length_m) & (np.abs(fy) <= half_width_m)
        reach = math.hypot(length_m, half_width_m)
        bbox = (pose.x - reach, pose.x + reach, pose.y - reach, pose.y + reach)
        return int(np.count_nonzero(self.values_where(inside, bbox) >= lethal))

    def known_along(self, points, pose: Pose2D, max_m: float, skip_m: float = 0.0) -> float:
        """Distance (m) along the route ``points`` ((N, 2), map frame), from the pose's
        projection on its nearest segment, to the first sample on a cell the map does not
        know (-1) or off the grid: how far ahead the map has seen the ground the route
        crosses (``max_m`` when it knows all of that). Sampled every half cell. Unknown
        samples within ``skip_m`` (the body's own half length: it stands there) do not
        count."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            return 0.0
        s, dist, travelled = route_ahead(pts, pose, max_m, 0.5 * self.resolution)
        c, sn = math.cos(self.origin_yaw), math.sin(self.origin_yaw)
        dx, dy = s[:, 0] - self.origin_x, s[:, 1] - self.origin_y
        col = np.floor((c * dx + sn * dy) / self.resolution).astype(int)
        row = np.floor((-sn * dx + c * dy) / self.resolution).astype(int)
        h, w = self.grid.shape
        inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        known = np.zeros(len(s), bool)
        known[inside] = self.grid[row[inside], col[inside]] >= 0
        known |= dist < skip_m
        if known.all():
            return float(max_m) if travelled >= max_m else float(dist[-1])
        return float(dist[int(np.argmin(known))])

    def lethal_swept(self, points, pose: Pose2D, advance_m: float, half_length_m: float,
                     half_width_m: float, lethal: int, step_m: float = 0.1) -> int:
        """Number of cells with cost >= lethal that the footprint (a rectangle of
        half_length_m x half_width_m about base_link) would newly cover driving the next
        ``advance_m`` of the route ``points`` ((N, 2), map frame): the footprint is placed
        every ``step_m`` along the route ahead of the pose's projection, facing along the
        route (the first placement: the rover's own heading). Cells under the body now do
        not count (costmap_2d's footprint clearing: it stands on them). Unlike a disc
        round the route, a rover beside a hazard may drive away from it along a route that
        leaves it, and one facing a hazard may not drive into it."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            return 0
        s, _, _ = route_ahead(pts, pose, advance_m, step_m)
        yaw = [pose.yaw]
        for a, b in zip(s[:-1], s[1:]):
            yaw.append(math.atan2(b[1] - a[1], b[0] - a[0]))
        yaw = np.asarray(yaw)
        cs, sn = np.cos(yaw), np.sin(yaw)
        reach = math.hypot(half_length_m, half_width_m)
        bbox = (s[:, 0].min() - reach, s[:, 0].max() + reach,
                s[:, 1].min() - reach, s[:, 1].max() + reach)
        c0, s0 = math.cos(pose.yaw), math.sin(pose.yaw)

        def inside(x, y):
            dx, dy = x[..., None] - s[:, 0], y[..., None] - s[:, 1]
            fx, fy = cs * dx + sn * dy, -sn * dx + cs * dy
            swept = ((np.abs(fx) <= half_length_m) & (np.abs(fy) <= half_width_m)).any(axis=-1)
            bx, by = x - pose.x, y - pose.y
            under = (np.abs(c0 * bx + s0 * by) <= half_length_m) & \
                (np.abs(-s0 * bx + c0 * by) <= half_width_m)
            return swept & ~under
        return int(np.count_nonzero(self.values_where(inside, bbox) >= lethal))
