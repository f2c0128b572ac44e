"""Stuck detection: the wheels turn, the rover does not move.

A rover with its wheels dug into loose regolith, bellied on a rock or pushing into a
berm it cannot climb still turns its wheels, so its wheel odometry says it moves while
it stays where it is. What tells the two apart is a sensor that does not touch the
ground: stereo visual odometry (the camera sees the scene stand still) and the IMU's
gyro (a still rover does not turn either). ``StuckMonitor`` compares, over a sliding
window of ``window_s``, the distance the wheels rolled (their rim speed integrated) with
the distance visual odometry measured: stuck when the wheels rolled at least
``min_travel_m`` and the camera saw less than ``max_progress_share`` of the progress
that rolling would make. On a straight line that is the wheels' travel; turning, the
rover moves along an arc, and the gyro's heading change theta over the interval shrinks
the straight-line progress to travel * sin(theta/2) / (theta/2) (the chord of the arc),
so a rover driving round a tight circle is not called stuck, while one pinned where it
is but swung round by its steering is. Slip while cutting is normal (20 % is the
planner's design slip, planning/regolith.py); a share of 0.2 means 80 % slip or more,
which no traction model calls progress.

Without visual odometry frames over most of the window (tracking lost, no camera) the
monitor says nothing: the wheels alone cannot tell stuck from moving, and the route
follower's own "no progress" replan (route.py, by the fused odometry) still applies.

Pure Python; times in seconds (the node's clock), distances in metres.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class StuckVerdict:
    """``stuck`` with the figures that decided it (wheel travel and visual progress over
    the window, m)."""
    stuck: bool
    wheel_travel_m: float = 0.0
    visual_progress_m: float = 0.0

    def reason(self) -> str:
        return (f'stuck: wheels rolled {self.wheel_travel_m:.2f} m, the camera saw '
                f'{self.visual_progress_m:.2f} m')


NOT_STUCK = StuckVerdict(False)


class StuckMonitor:
    """Sliding-window comparison of wheel travel with visual odometry (module docstring)."""

    def __init__(self, window_s: float, min_travel_m: float, max_progress_share: float,
                 min_vo_coverage: float = 0.6):
        self.window_s = window_s
        self.min_travel_m = min_travel_m
        self.max_progress_share = max_progress_share
        self.min_vo_coverage = min_vo_coverage
        self._wheel = deque()      # (t, rolled m since the last sample, yaw rate or nan, dt)
        self._vo = deque()         # (t, x, y) visual odometry frames that measured motion
        self._last_t = None

    def reset(self) -> None:
        """Forget the window (a new drive, a recovery done)."""
        self._wheel.clear()
        self._vo.clear()
        self._last_t = None

    def update(self, now: float, wheel_mps: float | None, vo_fix: tuple | None,
               yaw_rate_radps: float | None) -> StuckVerdict:
        """One tick: ``wheel_mps`` the wheels' mean rim speed (None: unknown),
        ``vo_fix`` (stamp s, x m, y m) of the newest visual odometry frame that measured
        motion (any fixed frame; None: none yet), ``yaw_rate_radps`` the gyro's.

        The wheels are compared with the camera over the camera's own interval (its
        frames' stamps, up to ``window_s`` apart): a camera that lags the control tick
        (stereo runs at a few hertz, slower under load) is never compared with wheel
        travel it has not seen yet."""
        dt = 0.0 if self._last_t is None else max(0.0, min(now - self._last_t, 1.0))
        self._last_t = now
        rolled = abs(wheel_mps) * dt if wheel_mps is not None and math.isfinite(wheel_mps) else 0.0
        yaw = float(yaw_rate_radps) if yaw_rate_radps is not None and math.isfinite(yaw_rate_radps) \
            else math.nan
        self._wheel.append((now, rolled, yaw, dt))
        if vo_fix is not None and (not self._vo or vo_fix[0] > self._vo[-1][0]):
            self._vo.append(tuple(float(v) for v in vo_fix))
        horizon = now - 2.0 * self.window_s
        while self._wheel and self._wheel[0][0] < horizon:
            self._wheel.popleft()
        while len(self._vo) > 1 and self._vo[0][0] < horizon:
            self._vo.popleft()
        if len(self._vo) < 2:
            return NOT_STUCK
        t1, x1, y1 = self._vo[-1]
        if now - t1 > self.window_s:
            return NOT_STUCK                        # the camera has gone quiet
        t0, x0, y0 = next(f for f in self._vo if f[0] >= t1 - self.window_s - 1e-9)
        if t1 - t0 < self.min_vo_coverage * self.window_s:
            return NOT_STUCK                        # too few camera frames to judge
        seen = [(r, y, dt) for t, r, y, dt in self._wheel if t0 < t <= t1]
        travel = sum(r for r, _, _ in seen)
        if travel < self.min_travel_m:
            return StuckVerdict(False, travel)
        progress = math.hypot(x1 - x0, y1 - y0)
        rates = [(y, dt) for _, y, dt in seen if math.isfinite(y)]
        half_turn = 0.5 * abs(sum(y * dt for y, dt in rates))
        chord = travel * (math.sin(half_turn) / half_turn if half_turn > 1e-6 else 1.0)
        stuck = progress < self.max_progress_share * chord
        return StuckVerdict(stuck, travel, progress)
