"""EXCAVATE: lower the drums to the planned depth, creep and cut until the drums are full
(or a length, time or stall limit), raise them to weigh, count the cut; BACK_OFF:
reverse out of a stall and cut again shallower."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.planning.executive.config import arm_angle_for_depth
from mining_rover.planning.executive.io import ExcavatorReport
from mining_rover.planning.executive.phase import Phase, State, go, wrap
from mining_rover.planning.executive.phases.drive_to_site import remember_plan
from mining_rover.planning.executive.phases.sites import dug_depth, exclude, remember_stroke


#: Two weigh rounds agree within this (kg, or this share of the fill): the weigh resolves
#: 0.1 N m of arm torque, 0.14 kg per drum in lunar gravity (control/excavator.py).
WEIGH_AGREE_KG = 0.5
WEIGH_AGREE_SHARE = 0.03


def cut_parameters(ctx) -> tuple:
    """(arm angle rad, drum rad/s, creep m/s) from the plan or the defaults; the cut goes
    below the floor of any trench already cut at the site (``remember_stroke``)."""
    c, p, site = ctx.cfg, ctx.record.plan, ctx.record.site
    depth = p.depth_of_cut_m if p else c.default_depth_m
    depth *= c.stall_depth_scale ** ctx.cycle.stalls
    ctx.cycle.cut_depth_m = depth
    floor = dug_depth(ctx, site, 0.5 * c.site_exclusion_m) if site is not None else 0.0
    try:
        arm = arm_angle_for_depth(depth + floor, c.wheel_radius_m, c.arm_length_m, c.drum_radius_m)
    except ValueError:
        arm = c.arm_upper_rad
    arm = min(max(arm, c.arm_lower_rad), c.arm_upper_rad)
    drum = p.drum_speed_radps if p else c.default_drum_radps
    creep = min(p.drive_speed_mps if p else c.default_creep_mps, c.max_creep_mps)
    return arm, drum, creep


def end_cut(ctx, ex: ExcavatorReport, reason: str, stroke: tuple):
    """The cut is over (``stroke``: its start and end points): haul what it took, or
    give the site up when that is too little."""
    c, rec, cyc = ctx.cfg, ctx.record, ctx.cycle
    remember_stroke(ctx, *stroke)
    if ex.fill_kg >= c.min_haul_kg:
        mass = max(0.0, ex.fill_kg - (cyc.fill_start_kg or 0.0))
        cyc.excavated_kg = mass
        ctx.commit('excavated', mass)
        return go(State.HAUL, f'{reason}: hauling {ex.fill_kg:.2f} kg')
    if rec.site is not None:
        exclude(ctx, rec.site)
    return go(State.SELECT_SITE, f'{reason}: only {ex.fill_kg:.2f} kg, trying another site')


class Excavate(Phase):
    """EXCAVATE: lower the arms and creep forward with the drums cutting until the cut ends."""
    state = State.EXCAVATE
    exits = frozenset({State.BACK_OFF, State.HAUL, State.SELECT_SITE})

    @dataclass
    class Data:
        t0: float
        resume: bool
        params: tuple | None = None         # (arm rad, drum rad/s, creep m/s) of this cut
        lower_t: float = 0.0                # arms told to lower
        infeasible_told: bool = False
        cutting: bool = False
        cut_t: float = 0.0
        start_xy: tuple | None = None
        last_xy: tuple | None = None
        yaw0: float = 0.0                   # heading held while cutting
        slip_t: float | None = None
        ending: str = ''                    # why the cut is ending (drums settling), '' cutting
        ending_t: float = 0.0
        steady_t: float = 0.0
        steady_fill: float = 0.0
        weigh_count: int = -1
        weighed_kg: float | None = None     # the last fresh weigh round since the cut ended

    def step(self, ctx, d, inp, now):
        c, cyc = ctx.cfg, ctx.cycle
        remember_plan(ctx, inp)
        plan = ctx.record.plan
        if plan is None and now - d.t0 < c.plan_wait_s:
            ctx.stop(arm=c.arm_stow_rad)
            return None
        if plan is not None and not plan.feasible:
            # The planner found no cut the rover can react here (too little weight and
            # traction): lowering the drums would lift or push the rover. Hold, stowed,
            # until a plan (a new regolith estimate, another site) says otherwise.
            ctx.stop(arm=c.arm_stow_rad)
            if not d.infeasible_told:
                d.infeasible_told = True
                ctx.event('warn', f'no cut fits at this site, holding: {plan.reason or "planner"}')
            return None
        if d.params is None:
            d.params = cut_parameters(ctx)
            if plan is None:
                ctx.event('warn', 'no excavation plan for this site: default cut')
            d.lower_t = now
        arm, drum, creep = d.params
        ctx.stop(arm=arm, drum=drum)
        ex, pose = inp.excavator, inp.pose
        if ex is None or pose is None:
            return None
        if cyc.fill_start_kg is None:
            cyc.fill_start_kg = ex.fill_kg
            ctx.persist()
        if d.ending:
            return self._settle(ctx, d, ex, now)
        if ex.fill_kg >= c.full_fraction * c.drum_capacity_kg:
            return self._stop_cut(ctx, d, ex, now, f'drums full ({ex.fill_kg:.2f} kg)')
        if not d.cutting:
            lowered = (math.isfinite(ex.arm_position_rad)
                       and abs(ex.arm_position_rad - arm) <= c.arm_tolerance_rad)
            if lowered or now - d.lower_t > c.lower_timeout_s:
                d.cutting, d.cut_t, d.start_xy, d.yaw0 = True, now, (pose.x, pose.y), pose.yaw
            return None
        if ex.stalled:   # only while cutting: a stall flag left from the last cut is old news
            return go(State.BACK_OFF, f'drums stalled at fill {ex.fill_kg:.2f} kg')
        d.last_xy = (pose.x, pose.y)
        dist = math.hypot(pose.x - d.start_xy[0], pose.y - d.start_xy[1])
        if dist >= c.excavate_distance_limit_m:
            return self._stop_cut(ctx, d, ex, now, f'cut length {dist:.2f} m reached')
        fill_length = float(plan.fill_length_m) if plan else 0.0
        planned = c.fill_length_margin * fill_length if fill_length > 0.0 else math.inf
        if dist >= planned:
            # The fill estimate (cutting energy, where there is no weigh) can run behind,
            # and a cut that outpulls the wheels shoves the rover on (a rubble pile):
            # past the length that fills the drums, more cutting only spills.
            return self._stop_cut(ctx, d, ex, now,
                                  f'planned fill length reached ({dist:.2f} m of {planned:.2f} m)')
        if now - d.cut_t >= c.excavate_time_limit_s:
            return self._stop_cut(ctx, d, ex, now,
                                  f'cut time {c.excavate_time_limit_s:.0f} s reached')
        if inp.slipping:
            d.slip_t = d.slip_t if d.slip_t is not None else now
            if now - d.slip_t > c.slip_timeout_s:
                return go(State.BACK_OFF, f'wheels slipping for {c.slip_timeout_s:.0f} s')
            return None  # drums keep cutting; the wheels wait for traction
        d.slip_t = None
        ctx.drive(creep, c.heading_gain * wrap(d.yaw0 - pose.yaw))
        return None

    @staticmethod
    def _stop_cut(ctx, d, ex: ExcavatorReport, now: float, reason: str):
        """A cut's end condition is met: stop the drums and the creep, raise the arms to
        their stow so that the drums leave the ground and can be weighed, and count the
        cut only once the fill has settled. Drums and wheels stop a command round-trip
        later than this decision, and what they collect meanwhile belongs to this cut
        (counted at once, it would show up as more delivered than excavated)."""
        ctx.stop(arm=ctx.cfg.arm_stow_rad, drum=0.0)
        d.ending, d.ending_t, d.steady_t, d.steady_fill = reason, now, now, ex.fill_kg
        d.weigh_count = ex.weigh_count
        return None

    @staticmethod
    def _settle(ctx, d, ex: ExcavatorReport, now: float):
        """Settled: two weigh rounds of every drum newer than the end decision (the drums
        still and raised for them) that agree within WEIGH_AGREE (the first round after
        the arms stow can catch a drum while the rover still rocks on its wheels: in a
        lunar mission it read 1.4 and 5.0 kg under the next one, and the excavated tally
        came out 6 % short), where the excavator weighs; else a fill estimate steady for
        cut_settle_s. At most cut_settle_timeout_s either way."""
        c = ctx.cfg
        ctx.stop(arm=c.arm_stow_rad, drum=0.0)
        if ex.fill_kg != d.steady_fill:
            d.steady_t, d.steady_fill = now, ex.fill_kg
        if ex.weigh_count >= 0:   # a restarted excavator counts from 0 again: any change is news
            settled = False
            if ex.weigh_count > 0 and ex.weigh_count != d.weigh_count:
                d.weigh_count = ex.weigh_count
                last, d.weighed_kg = d.weighed_kg, ex.fill_kg
                settled = last is not None and abs(ex.fill_kg - last) <= max(
                    WEIGH_AGREE_KG, WEIGH_AGREE_SHARE * ex.fill_kg)
        else:
            settled = now - d.steady_t >= c.cut_settle_s
        if settled or now - d.ending_t >= c.cut_settle_timeout_s:
            return end_cut(ctx, ex, d.ending, (d.start_xy, d.last_xy))
        return None


class BackOff(Phase):
    """BACK_OFF: stop, raise the arms and let the drums settle and be weighed after a cut."""
    state = State.BACK_OFF
    exits = frozenset({State.EXCAVATE, State.HAUL, State.SELECT_SITE})

    @dataclass
    class Data:
        t0: float
        resume: bool
        start_xy: tuple | None = None

    def step(self, ctx, d, inp, now):
        c, cyc = ctx.cfg, ctx.cycle
        ctx.stop(arm=c.arm_stow_rad)
        pose = inp.pose
        if pose is None:
            return None
        if d.start_xy is None:
            d.start_xy = (pose.x, pose.y)
        moved = math.hypot(pose.x - d.start_xy[0], pose.y - d.start_xy[1])
        limit_s = 2.0 * c.backoff_distance_m / c.backoff_speed_mps + 2.0
        if moved < c.backoff_distance_m and now - d.t0 < limit_s:
            ctx.drive(-c.backoff_speed_mps, 0.0)
            return None
        cyc.stalls += 1
        if cyc.stalls < c.max_stalls:
            return go(State.EXCAVATE,
                      f'backed off {moved:.2f} m (stall {cyc.stalls}): cutting shallower')
        ex = inp.excavator or ExcavatorReport(fill_kg=0.0)
        # the cut's own stroke went with the EXCAVATE that stalled: the point the rover
        # backed off from stands for it
        return end_cut(ctx, ex, f'{cyc.stalls} stalls', (d.start_xy, None))
