"""MAPPING: turn in place until the dig zone is known (a re-survey: one whole turn)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.planning.executive.phase import Phase, State, go, wrap
from mining_rover.planning.executive.phases.sites import local_dig_zone


class Mapping(Phase):
    """At the start the rover turns until the dig zone is known; later (a re-survey: no
    usable site left on the map it has) a whole turn, whatever is already known, and the
    sites given up against the old map may be tried again, unless the re-survey is for
    a widened dig zone (SELECT_SITE ran out of sites): then they stay given up."""
    state = State.MAPPING
    exits = frozenset({State.SELECT_SITE})

    @dataclass
    class Data:
        t0: float
        resume: bool
        resurvey: bool
        turned: float = 0.0          # rad turned so far
        yaw: float | None = None     # last yaw seen

    def enter(self, ctx, now, resume):
        rec = ctx.record
        d = self.Data(t0=now, resume=resume, resurvey=rec.resurvey_t is not None)
        if d.resurvey and not rec.zone_widened:
            rec.excluded_sites = []
        rec.zone_widened = False
        rec.resurvey_t = now
        ctx.persist()
        return d

    def step(self, ctx, d, inp, now):
        c = ctx.cfg
        ctx.stop(arm=c.arm_stow_rad)
        known = (inp.costmap.known_fraction(*local_dig_zone(ctx))
                 if inp.costmap is not None else 0.0)
        if inp.pose is not None:
            if d.yaw is not None:
                d.turned += abs(wrap(inp.pose.yaw - d.yaw))
            d.yaw = inp.pose.yaw
        if d.turned >= 2.0 * math.pi:
            # a whole turn has shown all there is to see from here: a dig zone beyond the
            # map's range stays unknown however long the rover turns
            what = 're-survey done' if d.resurvey else 'survey turn done'
            return go(State.SELECT_SITE, f'{what}, {known:.0%} of the dig zone known')
        if not d.resurvey and known >= c.mapping_known_fraction:
            return go(State.SELECT_SITE, f'{known:.0%} of the dig zone mapped')
        if now - d.t0 > c.mapping_timeout_s:
            return go(State.SELECT_SITE, f'mapping timeout, {known:.0%} of the dig zone known')
        ctx.drive(0.0, c.mapping_turn_radps)
        return None
