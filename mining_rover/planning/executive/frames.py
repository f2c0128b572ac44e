"""Two frames, one rover: drive in ``odom``, aim at what lies in ``map``.

REP-105: ``odom`` is continuous (wheels + IMU + visual odometry, never jumps) and drifts;
``map`` is corrected by absolute fixes (the fiducial boards at the base) and may jump.
The stack's elevation map, costmap, planner routes and keep-out spots are all built from
the odom pose, so the executive drives, follows routes and checks hazards in odom: any
other pose would shift every hazard by the difference of the two estimates (the first
operational lunar run followed its routes by the map-frame pose while the map stood in
odom; the two parted by 1.3 m over 30 m and the rover drove onto a rock the map had).
What is surveyed in the map frame (the berm, the dig zone, an operator's site) is carried
into odom through the latest map -> odom estimate, every tick, so a fresh fix moves the
berm where the rover aims, never the hazards it sees.

Pure Python; poses (x, y, yaw) in m and rad.
"""
from __future__ import annotations

import math

from mining_rover.planning.executive.io import Pose2D

#: map == odom (no localization running)
IDENTITY = Pose2D(0.0, 0.0, 0.0)


def odom_from_map(odom_pose: Pose2D, map_pose: Pose2D) -> Pose2D:
    """The transform T (x, y, yaw) with ``T * map_pose == odom_pose``: one rover pose at
    one instant as both frames see it. Apply it (``apply``) to map-frame points to get
    their odom-frame coordinates."""
    yaw = odom_pose.yaw - map_pose.yaw
    c, s = math.cos(yaw), math.sin(yaw)
    return Pose2D(odom_pose.x - (c * map_pose.x - s * map_pose.y),
                  odom_pose.y - (s * map_pose.x + c * map_pose.y), _wrap(yaw))


def apply(T: Pose2D, x: float, y: float) -> tuple:
    """The point (x, y) moved by T: (x', y')."""
    c, s = math.cos(T.yaw), math.sin(T.yaw)
    return (T.x + c * x - s * y, T.y + s * x + c * y)


def inverse(T: Pose2D) -> Pose2D:
    """T^-1 (maps back what T maps)."""
    c, s = math.cos(T.yaw), math.sin(T.yaw)
    return Pose2D(-(c * T.x + s * T.y), -(-s * T.x + c * T.y), _wrap(-T.yaw))


def apply_pose(T: Pose2D, pose: Pose2D) -> Pose2D:
    """The pose moved by T."""
    x, y = apply(T, pose.x, pose.y)
    return Pose2D(x, y, _wrap(pose.yaw + T.yaw))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi
