"""Route following shared by every driving phase (DRIVE_TO_SITE, HAUL): ask the planner
for a route to a goal, follow it with control/pure_pursuit's regulated pure pursuit,
stop short of hazards in the costmap, replan when stuck or blocked, and say how it ended.

Ground the map has not seen is not free (Nav2 keeps unknown space out of "free" for the
same reason): the speed is limited so that the rover never drives further than the map
has seen along the route, less the footprint's front half and ``stop_margin_m``, in
``perception_latency_s`` (``seen_speed_limit``); where even that is nothing it stands
and looks for ``look_wait_s``, then creeps at ``look_speed_mps``. The way it came is
kept as a trail (every ``trail_spacing_m``) for a stuck recovery to back off along.

One ``RouteFollower`` lives in the executive's Context; a driving phase calls
``start(now)`` when it is entered, ``request(...)`` for each goal and ``follow(...)``
each tick.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from mining_rover.control.pure_pursuit import PursuitConfig, RegulatedPurePursuit
from mining_rover.planning.executive.io import Goal, MissionInputs, Pose2D


@dataclass(frozen=True)
class Outcome:
    """How following ended: ``arrived``, ``unreachable`` (no route or blocked: another
    goal may do), else a failure (a fault); ``reason`` says why."""
    reason: str
    arrived: bool = False
    unreachable: bool = False


ARRIVED = Outcome('arrived', arrived=True)


@dataclass
class RouteData:
    """Per-entry following state (reset by ``start``)."""
    t0: float                                  # the driving phase began (drive timeout)
    goal: tuple | None = None                  # (x, y, yaw)
    asked_t: float | None = None               # goal last published
    asked_first_t: float | None = None         # first asked (route timeout)
    goal_dist_m: float = 0.0                   # farthest straight line to a goal asked (drive timeout)
    last_route_seq: int = -1                   # newest route seen
    route_after: int = -1                      # only routes newer than this answer the goal
    route_seq: int | None = None               # the route being followed
    follower: RegulatedPurePursuit | None = None
    route_pts: np.ndarray | None = None
    route_end: tuple | None = None
    moved_t: float = 0.0                       # last progress (stuck detection)
    moved_xy: tuple = (0.0, 0.0)
    blocked_t0: float | None = None            # hazard ahead since
    blocked_replan_t: float = -math.inf
    look_t0: float | None = None               # standing to look at unseen ground since
    seen_m: float = math.inf                   # route ahead the map has seen (last tick), m


def seen_speed_limit(cfg, seen_m: float) -> float:
    """Fastest forward speed (m/s) at which the rover covers no more than the seen route
    ahead beyond its footprint's front and stop_margin_m in perception_latency_s: a
    hazard that comes into view at the edge of the seen ground is in the costmap, and
    the rover stopped, before it gets there. 0 when nothing beyond that is seen."""
    room = seen_m - 0.5 * cfg.footprint_length_m - cfg.stop_margin_m
    return min(cfg.max_linear_mps, max(0.0, room / cfg.perception_latency_s))


class RouteFollower:
    """Asks the planner for a route to a goal and follows it, shared by every driving phase."""
    def __init__(self, ctx):
        self.ctx = ctx
        self.d = RouteData(t0=0.0)
        c = ctx.cfg
        #: (x, y) the way the rover came, newest last (stuck: back off along it)
        self.trail = deque(maxlen=int(math.ceil(2.0 * c.recover_backoff_m / c.trail_spacing_m)) + 2)

    def start(self, now: float) -> None:
        self.d = RouteData(t0=now)
        self.trail.clear()

    def time_limit_s(self) -> float:
        """How long this drive may take before it is a fault: drive_timeout_s plus
        drive_time_per_m_s for each metre of the longest straight line to a goal asked in
        it (a 37 m haul through a hazard field, driven at the speed the seen ground allows,
        needs more than a 4 m one)."""
        c = self.ctx.cfg
        return c.drive_timeout_s + c.drive_time_per_m_s * self.d.goal_dist_m

    def request(self, now: float, x: float, y: float, pose: Pose2D | None) -> None:
        """Ask the planner for a route to (x, y): a new goal seq; following waits for it."""
        rec, d = self.ctx.record, self.d
        rec.goal_seq += 1
        yaw = math.atan2(y - pose.y, x - pose.x) if pose else 0.0
        self.ctx.out.goal = Goal(rec.goal_seq, x, y, yaw)
        d.goal, d.asked_t = (x, y, yaw), now
        if pose is not None:
            d.goal_dist_m = max(d.goal_dist_m, math.hypot(x - pose.x, y - pose.y))
        d.asked_first_t = now if d.asked_first_t is None else d.asked_first_t
        d.route_after, d.follower, d.route_end = d.last_route_seq, None, None

    def follow(self, inp: MissionInputs, now: float) -> Outcome | None:
        """One tick towards the goal: an Outcome when it ended, None while under way."""
        c, d, ctx = self.ctx.cfg, self.d, self.ctx
        pose, r = inp.pose, inp.route
        if r is not None:
            d.last_route_seq = max(d.last_route_seq, r.seq)
        if pose is None:
            return None
        gx, gy, _ = d.goal
        limit = self.time_limit_s()
        if now - d.t0 > limit:
            return Outcome(f'drive timeout ({limit:.0f} s for {d.goal_dist_m:.1f} m) to ({gx:.2f}, {gy:.2f})')
        if math.hypot(gx - pose.x, gy - pose.y) <= c.goal_tolerance_m:
            return ARRIVED
        if r is not None and r.seq > d.route_after and r.seq != d.route_seq:
            if len(r.points) == 0:
                return Outcome(f'no route to ({gx:.2f}, {gy:.2f}): the planner sent an empty path',
                               unreachable=True)
            end = r.points[-1]
            if math.hypot(end[0] - gx, end[1] - gy) <= c.route_match_m:
                try:
                    follower = RegulatedPurePursuit(r.points, PursuitConfig.within(
                        c.max_linear_mps, c.max_angular_radps, c.goal_tolerance_m,
                        c.stuck_distance_m, c.stuck_time_s))
                except ValueError as exc:
                    return Outcome(f'no route to ({gx:.2f}, {gy:.2f}): {exc}', unreachable=True)
                d.route_seq, d.follower, d.route_pts = r.seq, follower, r.points
                d.route_end = (float(end[0]), float(end[1]))
                d.moved_t, d.moved_xy = now, (pose.x, pose.y)
                ctx.event('info', f'following route {r.seq} ({len(r.points)} points)')
        if d.follower is None:
            if now - d.asked_first_t > c.route_timeout_s:
                return Outcome(f'no route to ({gx:.2f}, {gy:.2f}) within '
                               f'{c.route_timeout_s:.0f} s', unreachable=True)
            if now - d.asked_t >= c.route_retry_s:
                d.asked_t = now
                ctx.record.goal_seq += 1
                ctx.out.goal = Goal(ctx.record.goal_seq, *d.goal)
            return None
        ex, ey = d.route_end
        if math.hypot(ex - pose.x, ey - pose.y) <= c.goal_tolerance_m:
            return ARRIVED
        v, w = (float(u) for u in d.follower.compute((pose.x, pose.y, pose.yaw)))
        v, w = self._limit_to_seen(inp, pose, v, w, now)
        if inp.costmap is not None and v != 0.0:
            # forwards: the footprint swept along the route's next swept_ahead_m (a rover
            # that starts beside a hazard, inside the planner's inflation, drives off along
            # a route that leaves it; a disc round the route held it there for good: the
            # first operational run after the frames fix stood 2 min beside one);
            # backwards: the box behind it
            if v > 0:
                hits = inp.costmap.lethal_swept(
                    d.route_pts, pose, c.swept_ahead_m, c.footprint_length_m / 2,
                    c.footprint_width_m / 2, c.lethal_cost)
            else:
                hits = inp.costmap.lethal_ahead(
                    pose, c.footprint_length_m / 2 + c.body_margin_m, c.footprint_width_m / 2,
                    c.lethal_cost, backwards=True)
            if hits:
                return self._blocked(pose, now, hits, w)
            d.blocked_t0 = None
        if not self.trail or math.hypot(pose.x - self.trail[-1][0],
                                        pose.y - self.trail[-1][1]) >= c.trail_spacing_m:
            self.trail.append((pose.x, pose.y))
        mx, my = d.moved_xy
        if d.look_t0 is not None:
            d.moved_t = now      # standing to look is no lack of progress
        if math.hypot(pose.x - mx, pose.y - my) >= c.stuck_distance_m:
            d.moved_t, d.moved_xy = now, (pose.x, pose.y)
        elif now - d.moved_t > c.stuck_time_s:
            ctx.event('warn', f'no progress for {c.stuck_time_s:.0f} s at ({pose.x:.2f}, '
                              f'{pose.y:.2f}): replanning')
            self.request(now, gx, gy, pose)
            d.asked_first_t = now
            return None
        ctx.drive(v, w)
        return None

    def _limit_to_seen(self, inp: MissionInputs, pose: Pose2D, v: float, w: float,
                       now: float) -> tuple:
        """(v, w) with v within seen_speed_limit of the route ahead (the arc kept: w scaled
        with v); nothing seen beyond the margin: stand still for look_wait_s, then creep at
        look_speed_mps. Turning in place and reversing are left alone."""
        c, d = self.ctx.cfg, self.d
        if inp.costmap is None or v <= 0.0:
            return v, w
        d.seen_m = inp.costmap.known_along(d.route_pts, pose, c.known_lookahead_m,
                                            skip_m=0.5 * c.footprint_length_m)
        limit = seen_speed_limit(c, d.seen_m)
        if limit >= min(v, c.look_speed_mps):
            d.look_t0 = None
            return (v, w) if limit >= v else (limit, w * limit / v)
        if d.look_t0 is None:
            d.look_t0 = now
            self.ctx.event('info', f'route ahead seen for {d.seen_m:.2f} m only: stopping to look')
        if now - d.look_t0 < c.look_wait_s:
            return 0.0, 0.0
        creep = min(v, c.look_speed_mps)
        return creep, w * creep / v

    def _blocked(self, pose: Pose2D, now: float, hits: int, w: float) -> Outcome | None:
        """Lethal cells in the footprint swept ahead: never drive on. The route may still be
        clear (the rover is not yet facing along it), so first turn in place towards it
        (turning sweeps no new ground ahead), then ask for a new route every
        route_retry_s; blocked for blocked_timeout_s, the goal is given up."""
        c, d, ctx = self.ctx.cfg, self.d, self.ctx
        gx, gy, _ = d.goal
        if d.blocked_t0 is None:
            d.blocked_t0 = now
        t0 = d.blocked_t0
        if now - t0 > c.blocked_timeout_s:
            d.blocked_t0 = None
            return Outcome(f'blocked by hazards ahead at ({pose.x:.2f}, {pose.y:.2f}) for '
                           f'{c.blocked_timeout_s:.0f} s on the way to ({gx:.2f}, {gy:.2f})',
                           unreachable=True)
        if now == t0:
            ctx.event('warn', f'{hits} lethal cells ahead at ({pose.x:.2f}, {pose.y:.2f}): '
                              'turning towards the route')
        if now - t0 >= c.blocked_turn_s and now - d.blocked_replan_t >= c.route_retry_s:
            ctx.event('warn', f'{hits} lethal cells still ahead at ({pose.x:.2f}, {pose.y:.2f}): '
                              'replanning')
            d.blocked_replan_t = now
            self.request(now, gx, gy, pose)
            d.asked_first_t = now
            return None
        ctx.drive(0.0, math.copysign(max(abs(w), c.mapping_turn_radps), w if w != 0.0 else 1.0))
        return None
