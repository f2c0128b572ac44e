"""DUMP: empty the drums over the berm, one drum after the other.

Both drums dig (counter-rotating, RASSOR-style, so that their reactions cancel), but
only the one facing the berm is over it. The dump is a sequence of stages, one per drum
(``stages``: front, then rear; or both at once), and each stage three steps::

    FACE       turn the dumping drum's end to the berm centre
    APPROACH   close in until its discharge point is well inside the berm
    DISCHARGE  ask the excavator to dump that drum, until the fill drops

and, after the last stage, WEIGH: wait (at most weigh_after_dump_s) for a fresh weigh of
the still drums, so that what stuck in them is not counted as delivered (the
excavator's fill falls at the dump rate while it dumps, whatever leaves the drums).

A stage whose dump was already accepted (after a restart or an interrupt) goes
straight to DISCHARGE. The cycle's delivery is committed once, after the weigh:
everything that left the drums since the dump began, less what a stage emptied while
the rover believed its drum's discharge point off the berm zone (counted apart as
``dumped_outside_kg``: the tally counts regolith on the berm, not regolith dumped).
What the drums lost between the weigh after the cut and the start of the dump is the
haul's spill (``haul_spill_kg``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from mining_rover.planning.executive.phase import Phase, State, clip, fault, go, wrap


class Step(Enum):
    """The steps of one dump stage: face the berm, approach it, discharge the drum."""
    FACE = 1
    APPROACH = 2
    DISCHARGE = 3
    WEIGH = 4


def stages(cfg) -> tuple:
    """Drums dumped in turn: 'front', 'rear' (two-stage dump) or '' (both at once)."""
    return ('front', 'rear') if cfg.dump_rear_after_turn else ('',)


class Dump(Phase):
    """DUMP: empty the drums over the berm, stage by stage (see the module docstring)."""
    state = State.DUMP
    exits = frozenset({State.SELECT_SITE, State.DONE, State.FAULT})

    @dataclass
    class Data:
        t0: float                          # this stage began
        resume: bool
        retry_t: float                     # ask (again) no earlier than this
        step: Step = Step.FACE
        asked_t: float | None = None       # dump requested, no answer yet
        attempts: int = 0
        accepted_t: float | None = None
        seen_dumping: bool = False
        approach_xy: tuple | None = None
        approach_t: float | None = None
        weigh_t: float = 0.0               # the last stage ended (WEIGH)
        weigh_count: int = -1              # the excavator's weigh count then

    def enter(self, ctx, now, resume):
        return self.Data(t0=now, resume=resume, retry_t=now)

    def step(self, ctx, d, inp, now):
        cyc = ctx.cycle
        ctx.stop(arm=None, drum=None)
        # the berm is surveyed in the map frame: the dump aims by the map-frame pose
        ex, pose = inp.excavator, ctx.map_pose(inp.pose)
        if ex is None:
            return None
        if d.step is Step.WEIGH:
            return self._weigh(ctx, d, ex, now)
        if cyc.fill_before_dump_kg is None:
            cyc.fill_before_dump_kg = ex.fill_kg
            self._book_haul_spill(ctx, ex.fill_kg)
            ctx.persist()
        stage = self._stage(ctx)
        if cyc.stage_fill_kg is None:
            cyc.stage_fill_kg = ex.fill_kg
            ctx.persist()
        if d.step is Step.FACE and not cyc.dump_accepted and pose is not None:
            if self._face(ctx, d, pose, now, stage):
                return None
            d.step = Step.APPROACH
        if d.step is Step.APPROACH and not cyc.dump_accepted and pose is not None:
            if self._approach(ctx, d, pose, now, stage):
                return None
            d.step = Step.DISCHARGE
        return self._discharge(ctx, d, inp, ex, now, stage)

    @staticmethod
    def _book_haul_spill(ctx, fill_kg: float) -> None:
        """What the drums lost on the way: the fill counted after the cut less the fill
        at the berm (both weighed where the excavator weighs), when positive."""
        cyc, rec = ctx.cycle, ctx.record
        if cyc.excavated_kg is None:
            return
        lost = (cyc.fill_start_kg or 0.0) + cyc.excavated_kg - fill_kg
        if lost > 0.0:
            rec.haul_spill_kg += lost
            ctx.event('info', f'{lost:.2f} kg lost from the drums on the way to the berm')

    @staticmethod
    def discharge_inside(c, pose, stage: str) -> bool:
        """The dumping drum's discharge point (dump_reach_m ahead of base_link, behind it
        for the rear drum) lies inside the berm zone, as the rover believes its pose."""
        sign = -1.0 if stage == 'rear' else 1.0
        x = pose.x + sign * c.dump_reach_m * math.cos(pose.yaw)
        y = pose.y + sign * c.dump_reach_m * math.sin(pose.yaw)
        return math.hypot(x - c.berm_x, y - c.berm_y) <= c.berm_radius

    @staticmethod
    def _stage(ctx) -> str:
        """The drum this stage dumps (the cycle record keeps it across restarts)."""
        return (ctx.cycle.dump_stage or 'front') if ctx.cfg.dump_rear_after_turn else ''


    @staticmethod
    def _heading_error(c, pose, stage: str) -> float:
        """Turn (rad) that points the dumping drum (the rear one for stage 'rear') at the
        berm centre."""
        bearing = math.atan2(c.berm_y - pose.y, c.berm_x - pose.x)
        return wrap(bearing + (math.pi if stage == 'rear' else 0.0) - pose.yaw)

    def _face(self, ctx, d, pose, now, stage) -> bool:
        """Face the berm with the drum that dumps: each drum reaches footprint_length/2 +
        a drum out from its end and discharges over the berm. True while turning."""
        c = ctx.cfg
        err = self._heading_error(c, pose, stage)
        if abs(err) > c.berm_facing_tolerance_rad and now - d.t0 < c.dump_timeout_s:
            rate = max(c.mapping_turn_radps, min(c.max_angular_radps, abs(err)))
            ctx.drive(0.0, math.copysign(rate, err))
            return True
        return False

    def _approach(self, ctx, d, pose, now, stage) -> bool:
        """Facing the berm, close in until the dumping drum's discharge point (dump_reach_m
        from base_link) is dump_inside_fraction of the berm radius from its centre. The
        route ends where the planner's inflation around the growing pile lets it (the
        dump goal is snapped out of the pile, up to a metre back), and dumping from there
        lands the regolith beside the berm. The pile itself is what this drive reaches for,
        so it ignores the costmap; it is slow, short (dump_approach_max_m, rear first for
        the rear drum) and ends on its own time. True while driving."""
        c = ctx.cfg
        sign = -1.0 if stage == 'rear' else 1.0
        dist = math.hypot(c.berm_x - pose.x, c.berm_y - pose.y)
        if d.approach_xy is None:
            d.approach_xy, d.approach_t = (pose.x, pose.y), now
        moved = math.hypot(pose.x - d.approach_xy[0], pose.y - d.approach_xy[1])
        limit_s = 2.0 * c.dump_approach_max_m / c.dump_approach_mps + 2.0
        if (dist - c.dump_reach_m <= c.dump_inside_fraction * c.berm_radius
                or moved >= c.dump_approach_max_m or now - d.approach_t > limit_s):
            if moved > 0.02:
                ctx.event('info', f'closed {moved:.2f} m on the berm: discharge point '
                                  f'{max(0.0, dist - c.dump_reach_m):.2f} m from its centre')
            return False
        err = self._heading_error(c, pose, stage)
        ctx.drive(sign * c.dump_approach_mps, clip(c.heading_gain * err, c.max_angular_radps))
        return True

    def _discharge(self, ctx, d, inp, ex, now, stage):
        """Ask for the dump, retry a refused or unanswered one, and judge it done by the
        excavator's dumping flag or, failing that, by the fill dropping."""
        c, cyc, rec = ctx.cfg, ctx.cycle, ctx.record
        r = inp.dump_response
        if d.asked_t is not None and r is not None and r.seq == rec.dump_seq:
            d.asked_t = None
            if r.success:
                d.accepted_t = d.accepted_t or now
                cyc.dump_accepted = True
                ctx.persist()
            else:
                d.attempts += 1
                d.retry_t = now + c.dump_retry_s
                ctx.event('warn', f'dump refused: {r.message}')
        if ex.dumping:
            d.seen_dumping = True
            d.accepted_t = d.accepted_t or now
            if not cyc.dump_accepted:
                cyc.dump_accepted = True
                ctx.persist()
            return None
        before = cyc.stage_fill_kg
        dropped = ex.fill_kg < before - max(0.05, 0.05 * before)
        # After a restart (or an e-stop that aborted the dump) the drums count as emptied
        # only when nearly empty; otherwise dump again: fill_before stays, so the final
        # delivery covers everything that left the drums, once.
        emptied_before = d.resume and dropped and ex.fill_kg < c.min_haul_kg
        if d.seen_dumping or (cyc.dump_accepted and (emptied_before or (
                dropped and d.accepted_t is not None and now - d.accepted_t >= c.dump_confirm_s))):
            return self._stage_done(ctx, d, ex, now, stage)
        if d.accepted_t is not None:
            if now - d.accepted_t > c.dump_timeout_s:
                return fault(f'dump never finished in {c.dump_timeout_s:.0f} s')
            if now - d.accepted_t >= c.dump_confirm_s and not dropped:
                d.accepted_t, d.retry_t = None, now
                d.attempts += 1
                ctx.event('warn', 'dump accepted but the drums did not empty: asking again')
            return None
        if d.asked_t is not None:
            if now - d.asked_t <= c.service_timeout_s:
                return None
            d.asked_t = None
            d.attempts += 1
            d.retry_t = now + c.dump_retry_s
            ctx.event('warn', f'no answer from /excavator/dump in {c.service_timeout_s:.0f} s')
        if d.attempts >= c.max_dump_attempts:
            return fault(f'dump failed {d.attempts} times')
        if now >= d.retry_t:
            if inp.pose is not None and not self.discharge_inside(c, ctx.map_pose(inp.pose), stage):
                if not cyc.dump_outside:
                    ctx.event('warn', f'dumping the {stage or "both"} drum(s) with the discharge '
                                      'point off the berm zone: not counted as delivered')
                cyc.dump_outside = True
            rec.dump_seq += 1
            d.asked_t = now
            ctx.out.dump_request, ctx.out.dump_drum = rec.dump_seq, stage
            ctx.persist()
        return None

    def _stage_done(self, ctx, d, ex, now, stage):
        """One drum has dumped: the next stage (the rear drum turned to the berm) unless
        what is left is not worth the turn; else the cycle is delivered."""
        c, cyc = ctx.cfg, ctx.cycle
        if cyc.dump_outside:
            cyc.dumped_outside_kg += max(0.0, (cyc.stage_fill_kg or 0.0) - ex.fill_kg)
            cyc.dump_outside = False
            ctx.persist()
        order = stages(c)
        nxt = order[order.index(stage) + 1] if order.index(stage) + 1 < len(order) else None
        if nxt is not None and ex.fill_kg >= c.min_haul_kg:
            cyc.dump_stage, cyc.stage_fill_kg, cyc.dump_accepted = nxt, None, False
            ctx.persist()
            ctx.event('info', f'{stage} drum dumped: turning the {nxt} drum '
                              f'({ex.fill_kg:.2f} kg left) to the berm')
            fresh = self.enter(ctx, now, d.resume)      # face, close in, dump: afresh
            d.__dict__.update(fresh.__dict__)
            return None
        d.step, d.weigh_t, d.weigh_count = Step.WEIGH, now, ex.weigh_count
        return self._weigh(ctx, d, ex, now)

    def _weigh(self, ctx, d, ex, now):
        """The drums dumped: deliver on a weigh newer than the last stage's end (where
        the excavator weighs), or at once where it does not, or at weigh_after_dump_s."""
        c = ctx.cfg
        fresh = ex.weigh_count > 0 and ex.weigh_count != d.weigh_count
        if ex.weigh_count < 0 or fresh or now - d.weigh_t >= c.weigh_after_dump_s:
            if ex.weigh_count >= 0 and not fresh:
                ctx.event('warn', f'no weigh of the drums {c.weigh_after_dump_s:.0f} s after '
                                  'the dump: counting the fill estimate')
            return self._deliver(ctx, ex)
        return None

    @staticmethod
    def _deliver(ctx, ex):
        c, rec, cyc = ctx.cfg, ctx.record, ctx.cycle
        emptied = max(0.0, cyc.fill_before_dump_kg - ex.fill_kg)
        outside = min(emptied, cyc.dumped_outside_kg)
        delivered = emptied - outside
        rec.dumped_outside_kg += outside
        p = rec.plan
        ratio = (p.expected_target_kg / p.expected_mass_kg
                 if p and p.expected_mass_kg > 0.0 else 0.0)
        if cyc.excavated_kg is None:   # excavated before a restart that lost nothing else
            ctx.commit('excavated', max(0.0, cyc.fill_before_dump_kg - (cyc.fill_start_kg or 0.0)))
        ctx.commit('delivered', delivered, target_kg=delivered * ratio,
                   volume_m3=delivered / c.bulk_density_kg_m3)
        done_id = rec.cycle_id
        rec.new_cycle()
        reason = f'cycle {done_id}: delivered {delivered:.2f} kg' + (
            f' ({outside:.2f} kg dumped off the berm zone)' if outside > 0.0 else '')
        if c.max_cycles and done_id >= c.max_cycles:
            return go(State.DONE, reason)
        return go(State.SELECT_SITE, reason)
