"""HAUL: drive the full drums to a dump point beside the berm, trying other points
around it when one cannot be reached.

The dump point is kept in the map frame (the berm is surveyed there) and driven to in
odom (frames.py); when a fiducial fix moves the map -> odom estimate so that the point
lies more than ``berm_goal_shift_m`` from the goal being driven to, the goal is asked
for again, so the rover arrives where the berm is, not where it was believed to be
when the haul began."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.planning.executive.phase import Phase, State, fault, go

BERM_GOAL_STEP_RAD = math.radians(30.0)   # between dump points tried around the berm


def berm_point(c, bearing: float) -> tuple:
    """Dump point berm_standoff_m outside the berm circle, at ``bearing`` (rad) from its centre."""
    r = c.berm_radius + c.berm_standoff_m
    return (c.berm_x + r * math.cos(bearing), c.berm_y + r * math.sin(bearing))


class Haul(Phase):
    """HAUL: drive to the berm with the load."""
    state = State.HAUL
    exits = frozenset({State.DUMP, State.FAULT})

    @dataclass
    class Data:
        t0: float
        resume: bool
        pending_goal: bool = True   # the berm goal is still to be requested

    def enter(self, ctx, now, resume):
        ctx.route.start(now)
        return self.Data(now, resume)

    def step(self, ctx, d, inp, now):
        c, cyc = ctx.cfg, ctx.cycle
        ctx.stop(arm=c.arm_stow_rad)
        if d.pending_goal:
            if inp.pose is None:
                return None
            if cyc.berm_goal is None:   # the dump point on the rover's side of the berm
                here = ctx.map_pose(inp.pose)
                bearing = math.atan2(here.y - c.berm_y, here.x - c.berm_x)
                cyc.berm_goal = berm_point(c, bearing)
                ctx.persist()
            d.pending_goal = False
            ctx.route.request(now, *ctx.to_local(*cyc.berm_goal), inp.pose)
        elif cyc.berm_goal is not None and ctx.route.d.goal is not None and inp.pose is not None:
            gx, gy = ctx.to_local(*cyc.berm_goal)
            shift = math.hypot(gx - ctx.route.d.goal[0], gy - ctx.route.d.goal[1])
            if shift > c.berm_goal_shift_m:
                ctx.event('info', f'the map -> odom estimate moved the dump point {shift:.2f} m: '
                                  'asking for a route to where it is now')
                ctx.route.request(now, gx, gy, inp.pose)
        result = ctx.route.follow(inp, now)
        if result is None:
            return None
        if result.arrived:
            cyc.recoveries = 0
            return go(State.DUMP, 'at the berm')
        if result.unreachable and next_berm_goal(ctx, result.reason):
            d.pending_goal = True
            return None
        # the whole circle failed from here: after the fault's back-off the search
        # starts again from the side the rover is on then
        cyc.berm_tries, cyc.berm_first, cyc.berm_goal = 0, None, None
        return fault(result.reason)


def next_berm_goal(ctx, why: str) -> bool:
    """The dump point cannot be reached (the berm grows with every dump, and what was
    the standoff point becomes its slope; or the rover stuck on the way): try another
    point on the berm's circle, alternately either side of the first, BERM_GOAL_STEP_RAD
    apart. False once the whole circle has been tried (the caller faults)."""
    c, cyc = ctx.cfg, ctx.cycle
    tries = cyc.berm_tries + 1
    if tries > int(2 * math.pi / BERM_GOAL_STEP_RAD) or cyc.berm_goal is None:
        return False
    first = cyc.berm_first or cyc.berm_goal
    a0 = math.atan2(first[1] - c.berm_y, first[0] - c.berm_x)
    a = a0 + ((tries + 1) // 2) * BERM_GOAL_STEP_RAD * (1 if tries % 2 else -1)
    cyc.berm_tries, cyc.berm_first, cyc.berm_goal = tries, tuple(first), berm_point(c, a)
    cyc.recoveries = 0
    ctx.persist()
    ctx.event('warn', f'{why}: dumping from another side of the berm '
                      f'({cyc.berm_goal[0]:.2f}, {cyc.berm_goal[1]:.2f})')
    return True
