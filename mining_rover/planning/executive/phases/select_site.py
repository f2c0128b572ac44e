"""SELECT_SITE: the operator's site, else the best dig site not given up, else (after
site_wait_s) the dig zone itself, a re-survey, or (no site left in the zone) a wider
dig zone and a re-survey of it; at its widest, a bounded number of re-surveys, then
DONE (dig zone exhausted). Never a fault: a zone without sites is not a broken rover."""
from __future__ import annotations

import math

from mining_rover.planning.executive.phase import Phase, State, go
from mining_rover.planning.executive.phases.sites import (dug_depth, excluded, local_dig_zone,
                                                          unexclude, widen_dig_zone)


class SelectSite(Phase):
    """SELECT_SITE: pick the next dig site (or finish when the cycle limit is reached)."""
    state = State.SELECT_SITE
    exits = frozenset({State.DRIVE_TO_SITE, State.MAPPING, State.DONE, State.FAULT})

    def step(self, ctx, d, inp, now):
        c, rec = ctx.cfg, ctx.record
        ctx.stop(arm=c.arm_stow_rad)
        if c.max_cycles and rec.cycle_id > c.max_cycles:
            return go(State.DONE, f'{c.max_cycles} cycles done')
        site, why = None, ''
        if rec.pending_override is not None:
            # the operator names a map-frame point; the rover drives in odom
            site, why = ctx.to_local(*rec.pending_override), 'operator override'
            rec.pending_override = None
        else:
            for s in inp.dig_sites:
                if not excluded(ctx, (s.x, s.y)):
                    site, why = (s.x, s.y), f'top-ranked dig site (score {s.score:.3g})'
                    break
            zx, zy, zr = local_dig_zone(ctx)
            zone = (zx, zy)
            known = (inp.costmap.known_fraction(zx, zy, zr)
                     if inp.costmap is not None and site is None else 0.0)
            # a zone whose centre the rover has cut out, or one it widened around
            # where it works, is no far zone: driving to its centre shows nothing new
            been_there = (rec.dig_zone_radius_m is not None
                          or dug_depth(ctx, zone, c.site_exclusion_m) >= c.max_dig_depth_m - 1e-9)
            unmapped = known < c.mapping_known_fraction and not been_there
            # given up just now (the planner found no route there from here): tried again
            # after site_wait_s, not at once, or SELECT_SITE and DRIVE_TO_SITE would hand it
            # back and forth each tick (an operational run did so for 6 minutes)
            given_up = excluded(ctx, zone)
            far = (unmapped and not given_up and inp.pose is not None
                   and math.hypot(zx - inp.pose.x, zy - inp.pose.y) > c.far_zone_m)
            if site is None and (far or now - d.t0 > c.site_wait_s):
                if unmapped:
                    # the dig zone lies beyond what the rover has seen: no turn in place
                    # shows it, driving there does (a far zone is never given up for good)
                    unexclude(ctx, zone)
                    site = zone
                    why = f'the dig zone is unmapped ({known:.0%} known): driving there'
                elif (rec.resurvey_t is None
                      or not 0.0 <= now - rec.resurvey_t < c.resurvey_interval_s):
                    return go(State.MAPPING, 'no usable dig site: re-surveying')
                elif given_up:
                    return self._exhausted(ctx, zr)
                else:
                    site, why = zone, 'no usable dig site: the dig-zone centre'
        if site is None:
            return None
        rec.site = (float(site[0]), float(site[1]))
        rec.plan = None
        ctx.cycle.recoveries = 0
        return go(State.DRIVE_TO_SITE, f'site ({site[0]:.2f}, {site[1]:.2f}): {why}')

    @staticmethod
    def _exhausted(ctx, radius: float):
        """Every site of the zone and its centre given up: a wider zone and a re-survey
        of it (the planner scores the wider zone: ``out.dig_zone``); at its widest,
        re-surveys (the sites given up are tried again on the new map) up to
        max_resurveys, then DONE."""
        c, rec = ctx.cfg, ctx.record
        wider = widen_dig_zone(ctx)
        if wider is None and rec.resurveys >= c.max_resurveys:
            return go(State.DONE, f'dig zone exhausted: no usable site within {radius:.1f} m '
                                  f'after {rec.resurveys} re-surveys')
        rec.resurveys += 1
        rec.zone_widened = wider is not None   # the sites given up stay given up
        ctx.persist()
        if wider is not None:
            return go(State.MAPPING, f'no usable dig site within {radius:.1f} m: dig zone '
                                     f'widened to {wider:.1f} m, re-surveying')
        return go(State.MAPPING, f'no usable dig site within {radius:.1f} m (its widest): '
                                 f're-survey {rec.resurveys} of {c.max_resurveys}')
