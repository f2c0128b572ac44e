"""Wheel + IMU odometry corrected by visual odometry, in the continuous odom frame.

The wheel/IMU filter (control/odometry.py) runs at the control rate and is smooth, but it
cannot see the rover slide: sideways in a turn in place on loose regolith, downhill on a
slope in low gravity. Stereo visual odometry (perception/visual_odometry.py) sees every
slide but comes at the camera rate (2 Hz in the mission) and a few hundred milliseconds
late. Fused the way robot_localization's odom-frame EKF is used on rovers (wheel
odometry between visual frames, visual odometry over each frame interval), the result is
smooth, continuous (REP-105's odom frame: no jumps larger than one frame's correction)
and carries the visual accuracy:

    F(t_k) = F(t_k-1) (+) D_k                                   at each visual frame
    F(t)   = F(t_k) (+) (W(t_k)^-1 (+) W(t))                     between frames

with W the wheel/IMU pose, F the fused pose, (+) SE(2) composition and D_k the blend of
the visual increment over [t_k-1, t_k] with the wheel increment over the same interval
(translation from vision by ``translation_weight``, heading by ``yaw_weight``). Neither
heading source is enough alone: in the 15-minute lunar mission the gyro-fused wheel
heading alone (weight 0) was 10-38 deg off after 200-700 s, the 0.5 blend stayed within
18 deg (per-frame visual heading changes are unbiased, 0.004 rad mean error, but they
random-walk). An interval without a visual increment (tracking lost, frames
dropped, a gap longer than ``max_gap_s``) takes the wheel increment: the fused pose never
waits for vision. Nor does it take a visual increment whose heading change disagrees with
the gyro's by more than ``max_yaw_disagreement_rad``, or whose translation disagrees with
the wheels' by more than ``max_translation_disagreement_m``: one wrong RANSAC solution (a
0.7 rad turn that never happened, seen in the lunar mission) would otherwise rotate the
whole map. Wheel poses are kept for ``history_s`` so late frames still find the
wheel pose of their own stamp (linear interpolation).

Pure Python (no rclpy). Poses are (x m, y m, yaw rad) in the odom frame; increments in
the frame of the earlier pose.
"""
from __future__ import annotations

import bisect
import math
from collections import deque


def _wrap(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


def compose(a: tuple, d: tuple) -> tuple:
    """SE(2) a (+) d: the pose d (in a's frame) expressed in a's parent frame."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * d[0] - s * d[1], a[1] + s * d[0] + c * d[1], _wrap(a[2] + d[2]))


def between(a: tuple, b: tuple) -> tuple:
    """SE(2) a^-1 (+) b: pose b in the frame of pose a."""
    c, s = math.cos(a[2]), math.sin(a[2])
    dx, dy = b[0] - a[0], b[1] - a[1]
    return (c * dx + s * dy, -s * dx + c * dy, _wrap(b[2] - a[2]))


def planar_increment(T_prev, T) -> tuple:
    """(dx m, dy m, dyaw rad) of the 4x4 pose ``T`` in the frame of the 4x4 pose
    ``T_prev`` (both in the same fixed frame), projected on the plane: a visual
    odometry frame's increment over its interval."""
    import numpy as np
    rel = np.linalg.solve(np.asarray(T_prev, dtype=float), np.asarray(T, dtype=float))
    return float(rel[0, 3]), float(rel[1, 3]), math.atan2(rel[1, 0], rel[0, 0])


class VisualOdometryFusion:
    """See the module docstring. Feed ``add_wheel`` at the control rate and
    ``add_visual`` per camera frame; publish ``fused(current wheel pose)``."""

    def __init__(self, translation_weight: float = 1.0, yaw_weight: float = 0.5,
                 max_gap_s: float = 2.0, history_s: float = 10.0,
                 max_yaw_disagreement_rad: float = 0.1, max_translation_disagreement_m: float = 0.25):
        for name, v, lo, hi in (('translation_weight', translation_weight, 0.0, 1.0),
                                ('yaw_weight', yaw_weight, 0.0, 1.0),
                                ('max_gap_s', max_gap_s, 1e-3, 60.0),
                                ('history_s', history_s, 0.1, 600.0),
                                ('max_yaw_disagreement_rad', max_yaw_disagreement_rad, 1e-3, math.pi),
                                ('max_translation_disagreement_m',
                                 max_translation_disagreement_m, 1e-3, 100.0)):
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f'{name} must be in [{lo}, {hi}], got {v}')
        self.translation_weight = translation_weight
        self.yaw_weight = yaw_weight
        self.max_gap_s = max_gap_s
        self.history_s = history_s
        self.max_yaw_disagreement_rad = max_yaw_disagreement_rad
        self.max_translation_disagreement_m = max_translation_disagreement_m
        self.visual_intervals = 0
        self.wheel_intervals = 0
        self.rejected_intervals = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything (the wheel odometry was reset): fused == wheel again."""
        self._t: deque = deque()
        self._pose: deque = deque()
        self._anchor = None          # (t, fused pose, wheel pose) at the last visual frame

    # -- inputs ------------------------------------------------------------------------
    def add_wheel(self, t: float, pose: tuple) -> None:
        """Wheel/IMU pose at time t (s, monotonic within a run; older samples are dropped)."""
        if not all(math.isfinite(v) for v in (t, *pose)):
            return
        if self._t and t <= self._t[-1]:
            if t < self._t[-1]:
                return
            self._pose[-1] = tuple(pose)
            return
        self._t.append(float(t))
        self._pose.append(tuple(float(v) for v in pose))
        while len(self._t) > 2 and self._t[0] < t - self.history_s:
            self._t.popleft()
            self._pose.popleft()

    def wheel_at(self, t: float):
        """Wheel pose at time t, interpolated; None outside the history kept."""
        if not self._t or t < self._t[0] or t > self._t[-1]:
            return None
        i = bisect.bisect_left(self._t, t)
        if self._t[i] == t or i == 0:
            return self._pose[i]
        t0, t1 = self._t[i - 1], self._t[i]
        a, b = self._pose[i - 1], self._pose[i]
        f = (t - t0) / (t1 - t0)
        return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), _wrap(a[2] + f * _wrap(b[2] - a[2])))

    def add_visual(self, t0: float, t1: float, delta) -> str:
        """A camera frame at t1. ``delta``: the visual increment (dx, dy, dyaw) of base_link
        over [t0, t1] in base_link at t0, or None when this frame measured no motion.
        Returns what was used for the interval since the last frame: 'visual', 'wheels',
        or why the frame was ignored."""
        w1 = self.wheel_at(t1)
        if w1 is None:
            return 'ignored: no wheel odometry at the frame time'
        if self._anchor is None:
            self._anchor = (t1, w1, w1)
            return 'anchored'
        ta, fa, wa = self._anchor
        if t1 <= ta:
            return 'ignored: not after the last frame'
        dw = between(wa, w1)
        usable = (delta is not None and all(math.isfinite(v) for v in delta)
                  and abs(t0 - ta) < 1e-3 and t1 - t0 <= self.max_gap_s)
        if usable and (abs(_wrap(delta[2] - dw[2])) > self.max_yaw_disagreement_rad
                       or math.hypot(delta[0] - dw[0],
                                     delta[1] - dw[1]) > self.max_translation_disagreement_m):
            # RANSAC can lock onto a wrong motion (the rover's own shadow, repeated
            # texture): the gyro's heading over one frame interval is good to ~0.01 rad and
            # the wheels never slide a quarter metre in half a second, so a frame that
            # disagrees that much is the camera's error (the gate an EKF applies to an
            # innovation)
            self.rejected_intervals += 1
            usable = False
            self._anchor = (t1, compose(fa, dw), w1)
            return 'rejected: disagrees with wheels and gyro'
        if usable:
            a, b = self.translation_weight, self.yaw_weight
            d = (a * delta[0] + (1 - a) * dw[0], a * delta[1] + (1 - a) * dw[1],
                 _wrap(dw[2] + b * _wrap(delta[2] - dw[2])))
            self.visual_intervals += 1
        else:
            d = dw
            self.wheel_intervals += 1
        self._anchor = (t1, compose(fa, d), w1)
        return 'visual' if usable else 'wheels'

    # -- output ------------------------------------------------------------------------
    def fused(self, wheel_pose: tuple) -> tuple:
        """The fused pose for the wheel pose given (normally the newest)."""
        if self._anchor is None:
            return tuple(wheel_pose)
        _, fa, wa = self._anchor
        return compose(fa, between(wa, wheel_pose))
