"""RECOVER: the rover is stuck (wheels turning, the camera and the gyro see it still:
stuck.py); stop, back off the way it came, mark the spot for the planner, and replan.

The stuck interrupt (machine.INTERRUPTS) brings the rover here from DRIVE_TO_SITE, HAUL
or EXCAVATE. The recovery::

    STOP      wheels and drums still, arms stowed, for recover_stop_s (the drums come
              out of the ground, the wheels stop digging themselves in)
    REVERSE   back along the trail it drove (the route follower keeps it: the ground
              its body has just crossed) for recover_backoff_m; without a trail (stuck
              while cutting, or right after setting off) straight back along the
              heading it had, unless a hazard lies behind it
    MARK      the spot ahead of the body where it stuck is kept out of the planner's
              routes (a lethal disc of recover_keepout_m, ``out.keepouts``)

and then the goal is tried again with a fresh route (the interrupted phase starts
afresh), or, after max_recoveries on the way to the same goal, given up: another dig
site (DRIVE_TO_SITE), another side of the berm (HAUL). Stuck while cutting, the cut ends
with what the drums hold (hauled, or the site given up when that is too little).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.planning.executive.io import ExcavatorReport
from mining_rover.planning.executive.phase import Phase, State, clip, fault, go, resume, wrap
from mining_rover.planning.executive.phases.excavate import end_cut
from mining_rover.planning.executive.phases.haul import next_berm_goal
from mining_rover.planning.executive.phases.sites import exclude


def mark_keepout(ctx, pose) -> tuple:
    """Keep the ground just ahead of the body at ``pose`` out of the planner's routes:
    (x, y, radius m) added to the record (oldest dropped past max_keepouts) and sent."""
    c, rec = ctx.cfg, ctx.record
    ahead = 0.5 * c.footprint_length_m
    spot = (pose.x + ahead * math.cos(pose.yaw), pose.y + ahead * math.sin(pose.yaw),
            c.recover_keepout_m)
    rec.keepouts.append(spot)
    del rec.keepouts[:-c.max_keepouts]
    ctx.out.keepouts = tuple(rec.keepouts)
    ctx.persist()
    return spot


def next_trail_point(trail: list, pose, reached_m: float) -> tuple | None:
    """The trail point (newest first) to reverse towards: those within ``reached_m`` of
    the pose, or ahead of the rear axle line, are passed and dropped from ``trail``;
    None when none is left."""
    rear = (-math.cos(pose.yaw), -math.sin(pose.yaw))
    while trail:
        x, y = trail[0]
        dx, dy = x - pose.x, y - pose.y
        if math.hypot(dx, dy) > reached_m and dx * rear[0] + dy * rear[1] > 0.0:
            return trail[0]
        trail.pop(0)
    return None


class Recover(Phase):
    """RECOVER: stop, back off, mark the spot, then retry or give up the goal."""
    state = State.RECOVER
    exits = frozenset({State.SELECT_SITE, State.HAUL, State.FAULT})
    #: an interrupt's target: a fault, a pause or an e-stop during it return to the
    #: phase it interrupted (which starts afresh), never to a half-done recovery
    holding = True

    @dataclass
    class Data:
        t0: float
        resume: bool
        start_xy: tuple | None = None      # where it stuck
        yaw0: float = 0.0                  # the heading it had: reversed along
        spot: tuple | None = None
        trail: list | None = None          # the way it came, newest first (odom frame)

    def step(self, ctx, d, inp, now):
        c = ctx.cfg
        ctx.stop(arm=c.arm_stow_rad, drum=0.0)
        pose = inp.pose
        if pose is None:
            return None
        if d.start_xy is None:
            d.start_xy, d.yaw0 = (pose.x, pose.y), pose.yaw
            d.trail = list(reversed(ctx.route.trail)) if ctx.route is not None else []
            d.spot = mark_keepout(ctx, pose)
            ctx.event('warn', f'stuck at ({pose.x:.2f}, {pose.y:.2f}) in '
                              f'{ctx.record.resume_state}: backing off {c.recover_backoff_m:.2f} m; '
                              f'({d.spot[0]:.2f}, {d.spot[1]:.2f}) kept out of routes')
        if now - d.t0 < c.recover_stop_s:
            return None
        moved = math.hypot(pose.x - d.start_xy[0], pose.y - d.start_xy[1])
        limit_s = c.recover_stop_s + 2.0 * c.recover_backoff_m / c.recover_speed_mps + 2.0
        target = next_trail_point(d.trail, pose, c.trail_spacing_m)
        # the trail is ground the body has just crossed: no hazard the map marks there
        # stops the back-off; straight back, the costmap is asked
        behind = (inp.costmap.lethal_ahead(pose, 0.5 * c.footprint_length_m + c.body_margin_m,
                                           0.5 * c.footprint_width_m, c.lethal_cost, backwards=True)
                  if inp.costmap is not None and target is None else 0)
        if moved < c.recover_backoff_m and now - d.t0 < limit_s and not behind:
            if target is not None:   # the rear end towards the trail point
                err = wrap(math.atan2(target[1] - pose.y, target[0] - pose.x) - pose.yaw - math.pi)
            else:
                err = wrap(d.yaw0 - pose.yaw)
            ctx.drive(-c.recover_speed_mps, clip(c.heading_gain * err, c.max_angular_radps))
            return None
        if behind and moved < c.recover_backoff_m:
            ctx.event('warn', f'{behind} lethal cells behind: backed off only {moved:.2f} m')
        ctx.stuck.reset()
        return self._after(ctx, inp, d, moved)

    @staticmethod
    def _after(ctx, inp, d, moved: float):
        """Backed off: retry the goal with a fresh route, or give it up (module docstring)."""
        c, rec, cyc = ctx.cfg, ctx.record, ctx.cycle
        was = State(rec.resume_state or State.SELECT_SITE.value)
        cyc.recoveries += 1
        ctx.persist()
        why = f'backed off {moved:.2f} m after getting stuck (recovery {cyc.recoveries})'
        if was is State.EXCAVATE:
            ex = inp.excavator or ExcavatorReport(fill_kg=0.0)
            cyc.recoveries = 0
            return end_cut(ctx, ex, f'{why} while cutting', (d.start_xy, None))
        if cyc.recoveries <= c.max_recoveries:
            return resume(f'{why}: replanning')
        cyc.recoveries = 0
        if was is State.HAUL:
            if next_berm_goal(ctx, f'stuck {c.max_recoveries + 1} times on the way to the berm'):
                return go(State.HAUL, f'{why}: another side of the berm')
            cyc.berm_tries, cyc.berm_first, cyc.berm_goal = 0, None, None
            return fault(f'{why}: stuck on the way to every side of the berm')
        if rec.site is not None:
            exclude(ctx, rec.site)
        return go(State.SELECT_SITE, f'{why}: giving this dig site up')
