"""SELECT_SITE: the operator's site, else the best dig site not given up, else (after
site_wait_s) the dig zone itself, a re-survey, or a fault."""
from __future__ import annotations

from mining_rover.planning.executive.phase import Phase, State, fault, go
from mining_rover.planning.executive.phases.sites import excluded, unexclude


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
            site, why = tuple(rec.pending_override), 'operator override'
            rec.pending_override = None
        else:
            for s in inp.dig_sites:
                if not excluded(ctx, (s.x, s.y)):
                    site, why = (s.x, s.y), f'top-ranked dig site (score {s.score:.3g})'
                    break
            if site is None and now - d.t0 > c.site_wait_s:
                zone = (c.dig_zone_x, c.dig_zone_y)
                known = (inp.costmap.known_fraction(*zone, c.dig_zone_radius)
                         if inp.costmap is not None else 0.0)
                if known < c.mapping_known_fraction:
                    # the dig zone lies beyond what the rover has seen: no turn in place
                    # shows it, driving there does (a far zone is never given up for good)
                    unexclude(ctx, zone)
                    site = zone
                    why = f'the dig zone is unmapped ({known:.0%} known): driving there'
                elif (rec.resurvey_t is None
                      or not 0.0 <= now - rec.resurvey_t < c.resurvey_interval_s):
                    return go(State.MAPPING, 'no usable dig site: re-surveying')
                elif excluded(ctx, zone):
                    return fault('no usable dig site, and the dig-zone centre was given up')
                else:
                    site, why = zone, 'no usable dig site: the dig-zone centre'
        if site is None:
            return None
        rec.site = (float(site[0]), float(site[1]))
        rec.plan = None
        return go(State.DRIVE_TO_SITE, f'site ({site[0]:.2f}, {site[1]:.2f}): {why}')
