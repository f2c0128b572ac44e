"""DRIVE_TO_SITE: follow a route to the selected site; an unreachable one is given up."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.planning.executive.phase import Phase, State, fault, go
from mining_rover.planning.executive.phases.sites import exclude, excluded


def remember_plan(ctx, inp) -> None:
    """Keep the planner's plan when it is for this cycle's site (persisted with it)."""
    p, site = inp.plan, ctx.record.site
    if p is None or site is None:
        return
    near = math.hypot(p.site_x - site[0], p.site_y - site[1]) <= ctx.cfg.plan_match_m
    if near and p != ctx.record.plan:
        ctx.record.plan = p
        ctx.persist()


class DriveToSite(Phase):
    """DRIVE_TO_SITE: follow the planner's route to the chosen dig site, then excavate."""
    state = State.DRIVE_TO_SITE
    exits = frozenset({State.EXCAVATE, State.SELECT_SITE, State.FAULT})

    @dataclass
    class Data:
        t0: float
        resume: bool
        pending_goal: tuple | None = None   # goal not yet requested (waits for a pose)

    def enter(self, ctx, now, resume):
        ctx.route.start(now)
        site = ctx.record.site
        return self.Data(now, resume, tuple(site) if site is not None else None)

    def step(self, ctx, d, inp, now):
        rec = ctx.record
        ctx.stop(arm=ctx.cfg.arm_stow_rad)
        if rec.pending_override is not None or rec.site is None:
            return go(State.SELECT_SITE, 'operator override: new site')
        remember_plan(ctx, inp)
        if d.pending_goal is not None:
            if inp.pose is None:
                return None
            ctx.route.request(now, *d.pending_goal, inp.pose)
            d.pending_goal = None
        result = ctx.route.follow(inp, now)
        if result is None:
            return None
        if result.arrived:
            rec.cycle.recoveries = 0
            return go(State.EXCAVATE, 'at the dig site')
        if result.unreachable:
            # This site cannot be reached from here: another one may be (when none is
            # left, SELECT_SITE re-surveys, then widens the dig zone).
            if not excluded(ctx, rec.site):
                exclude(ctx, rec.site)
            return go(State.SELECT_SITE, f'{result.reason}: trying another site')
        return fault(result.reason)
