"""Each executive phase alone: its Data, its commands, the transition its step returns.

A phase is stepped here without the machine: a Context (settings, a record, this tick's
outputs, the route follower) and hand-made inputs in, commands and a Transition out.
The machine's own behaviour (interrupts, the dispatch check, illegal transitions) is at
the end.
"""
from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from mining_rover.planning.executive import (Costmap, DigSite, DumpResponse, ExcavationPlan,
                                             ExcavatorReport, Mission, MissionConfig,
                                             MissionInputs, MissionOutputs, MissionRecord,
                                             Pose2D, Route, State, arm_angle_for_depth)
from mining_rover.planning.executive.phase import Context, go
from mining_rover.planning.executive.phases.drive_to_site import DriveToSite
from mining_rover.planning.executive.phases.dump import Dump, Step
from mining_rover.planning.executive.phases.excavate import BackOff, Excavate
from mining_rover.planning.executive.phases.haul import Haul
from mining_rover.planning.executive.phases.holding import Estop, Fault, Paused
from mining_rover.planning.executive.phases.select_site import SelectSite
from mining_rover.planning.executive.phases.survey import Mapping
from mining_rover.planning.executive.route import RouteFollower

CFG = MissionConfig(dig_zone_x=3.0, dig_zone_y=0.0, dig_zone_radius=1.0, berm_x=-3.0, berm_y=0.0,
                    berm_radius=0.5, drum_capacity_kg=10.0, full_fraction=0.9, min_haul_kg=0.5)
PLAN = ExcavationPlan(site_x=3.0, site_y=0.0, depth_of_cut_m=0.05, drum_speed_radps=5.0,
                      drive_speed_mps=0.1, expected_mass_kg=9.0, expected_target_kg=0.09)
KNOWN = Costmap(np.zeros((100, 100), np.int8), 0.1, -5.0, -5.0)
UNKNOWN = Costmap(np.full((100, 100), -1, np.int8), 0.1, -5.0, -5.0)


def context(cfg=CFG, **record) -> Context:
    ctx = Context(cfg, MissionRecord(**record))
    ctx.route = RouteFollower(ctx)
    return ctx


def step(phase, ctx, d, now, **inputs):
    """One tick of one phase: (transition or None, outputs)."""
    ctx.out = MissionOutputs()
    t = phase.step(ctx, d, MissionInputs(**inputs), now)
    return t, ctx.out


# -- MAPPING -------------------------------------------------------------------------------
def test_mapping_turns_until_the_zone_is_known_then_selects():
    ph, ctx = Mapping(), context()
    d = ph.enter(ctx, 0.0, False)
    assert not d.resurvey and ctx.record.resurvey_t == 0.0 and ctx.out.persist
    t, out = step(ph, ctx, d, 0.1, pose=Pose2D(0, 0, 0), costmap=UNKNOWN)
    assert t is None and (out.linear_mps, out.angular_radps) == (0.0, CFG.mapping_turn_radps)
    assert out.arm_rad == CFG.arm_stow_rad
    t, _ = step(ph, ctx, d, 0.2, pose=Pose2D(0, 0, 0.03), costmap=KNOWN)
    assert t.target is State.SELECT_SITE and 'mapped' in t.reason


def test_a_resurvey_forgets_given_up_sites_and_turns_a_whole_circle_however_known():
    ph, ctx = Mapping(), context(resurvey_t=5.0, excluded_sites=[(1.0, 1.0)])
    d = ph.enter(ctx, 100.0, False)
    assert d.resurvey and ctx.record.excluded_sites == []
    yaw, now, t = 0.0, 100.0, None
    while t is None:
        now += 0.1
        yaw += 0.03
        t, _ = step(ph, ctx, d, now, pose=Pose2D(0, 0, yaw), costmap=KNOWN)
    assert t.target is State.SELECT_SITE and d.turned == pytest.approx(2 * math.pi, abs=0.031)


# -- SELECT_SITE ---------------------------------------------------------------------------
def test_select_takes_the_operator_site_first_then_the_best_not_given_up():
    ph = SelectSite()
    ctx = context(pending_override=(1.0, 2.0), excluded_sites=[(3.0, 0.0)])
    d = ph.enter(ctx, 0.0, False)
    sites = (DigSite(3.0, 0.0, 9.0), DigSite(2.0, -1.0, 5.0))
    t, out = step(ph, ctx, d, 0.1, dig_sites=sites)
    assert t.target is State.DRIVE_TO_SITE and ctx.record.site == (1.0, 2.0)
    assert ctx.record.pending_override is None and out.linear_mps == 0.0
    t, _ = step(ph, ctx, d, 0.2, dig_sites=sites)
    assert ctx.record.site == (2.0, -1.0) and 'score 5' in t.reason   # (3, 0) was given up


def test_select_with_no_site_resurveys_then_widens_the_zone_then_ends_never_faults():
    cfg = replace(CFG, dig_zone_max_radius_m=2.0, max_resurveys=3)
    ph = SelectSite()
    ctx = context(cfg=cfg, resurvey_t=0.0, excluded_sites=[(3.0, 0.0)])
    d = ph.enter(ctx, 10.0, False)
    t, _ = step(ph, ctx, d, 10.0 + CFG.site_wait_s / 2, costmap=KNOWN)
    assert t is None                                         # still waiting for sites
    radii, now = [], 10.0 + CFG.site_wait_s
    for _ in range(10):
        now += 0.1
        t, out = step(ph, ctx, d, now, costmap=KNOWN)
        assert not t.fault
        if t.target is State.DONE:
            break
        assert t.target is State.MAPPING
        radii.append(ctx.record.dig_zone_radius_m)
        if out.dig_zone is not None:                         # the planner is told
            assert out.dig_zone == (3.0, 0.0, ctx.record.dig_zone_radius_m)
            assert ctx.record.zone_widened
        ctx.record.resurvey_t = now                          # surveyed, still nothing
    # 1 m grows by 1.5 to the 2 m cap, then re-surveys at the widest up to max_resurveys
    assert radii == [1.5, 2.0, 2.0]
    assert ctx.record.resurveys == 3 and 'dig zone exhausted' in t.reason
    ctx.record.resurvey_t = -CFG.resurvey_interval_s         # an old survey: re-survey first
    ctx.record.resurveys, ctx.record.dig_zone_radius_m = 0, None
    t, _ = step(ph, ctx, d, now + 0.1, costmap=KNOWN)
    assert t.target is State.MAPPING and ctx.record.resurveys == 0


def test_a_resurvey_of_a_widened_zone_keeps_the_sites_given_up():
    ph, ctx = Mapping(), context(resurvey_t=5.0, excluded_sites=[(1.0, 1.0)],
                                 zone_widened=True, dig_zone_radius_m=4.0)
    d = ph.enter(ctx, 100.0, False)
    assert d.resurvey and ctx.record.excluded_sites == [(1.0, 1.0)]
    assert not ctx.record.zone_widened


def test_select_after_max_cycles_is_done():
    ph, ctx = SelectSite(), context(cfg=replace(CFG, max_cycles=2), cycle_id=3)
    t, out = step(ph, ctx, ph.enter(ctx, 0.0, False), 0.1, dig_sites=(DigSite(3.0, 0.0),))
    assert t.target is State.DONE and ctx.record.site is None


# -- DRIVE_TO_SITE and the route follower ---------------------------------------------------
def _route(seq, start, goal, n=20):
    return Route(seq, np.linspace(start, goal, n))


def test_drive_asks_for_a_route_once_it_has_a_pose_follows_it_and_arrives():
    ph, ctx = DriveToSite(), context(site=(3.0, 0.0))
    d = ph.enter(ctx, 0.0, False)
    assert d.pending_goal == (3.0, 0.0)
    t, out = step(ph, ctx, d, 0.1)
    assert t is None and out.goal is None                    # no pose: no goal yet
    t, out = step(ph, ctx, d, 0.2, pose=Pose2D(0, 0, 0))
    assert (out.goal.seq, out.goal.x, out.goal.y) == (1, 3.0, 0.0) and out.linear_mps == 0.0
    t, out = step(ph, ctx, d, 0.3, pose=Pose2D(0, 0, 0), route=_route(7, (0, 0), (3, 0)))
    assert t is None and 0 < out.linear_mps <= CFG.max_linear_mps
    assert out.arm_rad == CFG.arm_stow_rad
    t, _ = step(ph, ctx, d, 0.4, pose=Pose2D(2.9, 0, 0), route=_route(7, (0, 0), (3, 0)))
    assert t.target is State.EXCAVATE


def test_drive_gives_an_unreachable_site_up_and_faults_on_a_timeout():
    ph, ctx = DriveToSite(), context(site=(3.0, 0.0))
    d = ph.enter(ctx, 0.0, False)
    step(ph, ctx, d, 0.1, pose=Pose2D(0, 0, 0))
    t, _ = step(ph, ctx, d, 0.2, pose=Pose2D(0, 0, 0), route=Route(1, np.zeros((0, 2))))
    assert t.target is State.SELECT_SITE and ctx.record.excluded_sites == [(3.0, 0.0)]
    ctx = context(site=(3.0, 0.0))
    d = ph.enter(ctx, 0.0, False)
    step(ph, ctx, d, 0.1, pose=Pose2D(0, 0, 0))
    route = _route(1, (0, 0), (3, 0))
    limit = CFG.drive_timeout_s + CFG.drive_time_per_m_s * 3.0      # the site is 3 m away
    t, _ = step(ph, ctx, d, limit - 1.0, pose=Pose2D(1, 0, 0), route=route)
    assert t is None
    t, _ = step(ph, ctx, d, limit + 1.0, pose=Pose2D(1, 0, 0), route=route)
    assert t.target is State.FAULT and 'drive timeout' in t.reason


def test_a_far_goal_gets_a_longer_drive_time_than_a_near_one():
    ctx = context()
    ctx.route.start(0.0)
    ctx.route.request(0.0, 3.0, 0.0, Pose2D(0, 0, 0))
    near = ctx.route.time_limit_s()
    ctx.route.start(0.0)
    ctx.route.request(0.0, 37.0, 0.0, Pose2D(0, 0, 0))
    far = ctx.route.time_limit_s()
    assert far - near == pytest.approx(34.0 * CFG.drive_time_per_m_s)
    assert far > CFG.drive_timeout_s + 300.0      # a 37 m haul at a 0.1 m/s average fits


def test_the_route_follower_replans_when_the_rover_makes_no_progress():
    ctx = context()
    ctx.route.start(0.0)
    ctx.route.request(0.0, 3.0, 0.0, Pose2D(0, 0, 0))
    route, pose = _route(1, (0, 0), (3, 0)), Pose2D(0, 0, 0)
    ctx.out = MissionOutputs()
    assert ctx.route.follow(MissionInputs(pose=pose, route=route), 0.1) is None
    seqs, events = [], []
    for k in range(1, int((CFG.stuck_time_s + 1.0) / 0.1)):
        ctx.out = MissionOutputs()
        ctx.route.follow(MissionInputs(pose=pose, route=route), 0.1 + 0.1 * k)
        seqs += [ctx.out.goal.seq] if ctx.out.goal else []
        events += [text for _level, text in ctx.out.events]
    assert seqs == [2]                                      # one replan, a new goal seq
    assert [e for e in events if 'no progress' in e] == [
        f'no progress for {CFG.stuck_time_s:.0f} s at (0.00, 0.00): replanning']


# -- EXCAVATE and BACK_OFF -----------------------------------------------------------------
def _excavator(fill, arm, **kw):
    return ExcavatorReport(fill, arm_position_rad=arm, **kw)


def test_excavate_lowers_to_the_planned_depth_cuts_and_counts_the_weighed_fill():
    ph, ctx = Excavate(), context(site=(3.0, 0.0), plan=PLAN)
    d = ph.enter(ctx, 0.0, False)
    arm = arm_angle_for_depth(0.05, CFG.wheel_radius_m, CFG.arm_length_m, CFG.drum_radius_m)
    t, out = step(ph, ctx, d, 0.1, pose=Pose2D(3, 0, 0), excavator=_excavator(1.0, -0.4))
    assert (out.arm_rad, out.drum_radps, out.linear_mps) == (pytest.approx(arm), 5.0, 0.0)
    assert not d.cutting and ctx.cycle.fill_start_kg == 1.0 and ctx.cycle.cut_depth_m == 0.05
    step(ph, ctx, d, 0.2, pose=Pose2D(3, 0, 0), excavator=_excavator(1.0, arm))
    assert d.cutting and d.start_xy == (3, 0)
    t, out = step(ph, ctx, d, 0.3, pose=Pose2D(3.1, 0, 0), excavator=_excavator(2.0, arm))
    assert t is None and out.linear_mps == pytest.approx(0.1)
    # full: drums stop, arms stow, and the cut waits for a weigh
    t, out = step(ph, ctx, d, 0.4, pose=Pose2D(3.2, 0, 0),
                  excavator=_excavator(9.5, arm, weigh_count=3))
    assert t is None and (out.drum_radps, out.arm_rad) == (0.0, CFG.arm_stow_rad) and d.ending
    t, _ = step(ph, ctx, d, 0.5, pose=Pose2D(3.2, 0, 0),
                excavator=_excavator(9.5, -0.4, weigh_count=3))
    assert t is None                                         # the same weigh: not settled
    # the first round after the arms stow caught a drum while the rover rocked: it reads
    # low, and the next disagrees with it; two rounds that agree count
    t, out = step(ph, ctx, d, 1.5, pose=Pose2D(3.2, 0, 0),
                  excavator=_excavator(8.0, -0.4, weigh_count=4))
    assert t is None
    t, out = step(ph, ctx, d, 2.1, pose=Pose2D(3.2, 0, 0),
                  excavator=_excavator(9.8, -0.4, weigh_count=5))
    assert t is None
    t, out = step(ph, ctx, d, 2.7, pose=Pose2D(3.2, 0, 0),
                  excavator=_excavator(9.75, -0.4, weigh_count=6))
    assert t.target is State.HAUL
    assert [(c.kind, c.mass_kg) for c in out.commits] == [('excavated', pytest.approx(8.75))]
    assert len(ctx.record.dug_sites) >= 2


def test_excavate_backs_off_on_a_stall_and_back_off_returns_to_cut_shallower():
    ph, ctx = Excavate(), context(site=(3.0, 0.0), plan=PLAN)
    d = ph.enter(ctx, 0.0, False)
    arm = arm_angle_for_depth(0.05, CFG.wheel_radius_m, CFG.arm_length_m, CFG.drum_radius_m)
    step(ph, ctx, d, 0.1, pose=Pose2D(3, 0, 0), excavator=_excavator(1.0, arm))
    t, _ = step(ph, ctx, d, 0.2, pose=Pose2D(3, 0, 0),
                excavator=_excavator(1.0, arm, stalled=True))
    assert t.target is State.BACK_OFF
    bo = BackOff()
    d = bo.enter(ctx, 0.3, False)
    t, out = step(bo, ctx, d, 0.3, pose=Pose2D(3, 0, 0))
    assert t is None and out.linear_mps == -CFG.backoff_speed_mps
    t, _ = step(bo, ctx, d, 3.0, pose=Pose2D(3 - CFG.backoff_distance_m, 0, 0))
    assert t.target is State.EXCAVATE and ctx.cycle.stalls == 1
    d = ph.enter(ctx, 3.1, False)
    _, out = step(ph, ctx, d, 3.2, pose=Pose2D(2.75, 0, 0), excavator=_excavator(1.0, arm))
    assert 0 < out.arm_rad < arm
    assert ctx.cycle.cut_depth_m == pytest.approx(0.05 * CFG.stall_depth_scale)


def test_back_off_after_the_last_stall_ends_the_cut_with_what_it_has():
    bo, ctx = BackOff(), context(site=(3.0, 0.0), plan=PLAN)
    ctx.cycle.stalls, ctx.cycle.fill_start_kg = CFG.max_stalls - 1, 0.5
    d = bo.enter(ctx, 0.0, False)
    step(bo, ctx, d, 0.0, pose=Pose2D(3, 0, 0))
    t, out = step(bo, ctx, d, 5.0, pose=Pose2D(2.7, 0, 0), excavator=ExcavatorReport(0.3))
    assert t.target is State.SELECT_SITE and ctx.record.excluded_sites == [(3.0, 0.0)]
    assert out.commits == []                                 # below min_haul_kg: not worth it
    ctx = context(site=(3.0, 0.0), plan=PLAN)
    ctx.cycle.stalls, ctx.cycle.fill_start_kg = CFG.max_stalls - 1, 0.5
    d = bo.enter(ctx, 0.0, False)
    step(bo, ctx, d, 0.0, pose=Pose2D(3, 0, 0))
    t, out = step(bo, ctx, d, 5.0, pose=Pose2D(2.7, 0, 0), excavator=ExcavatorReport(4.5))
    assert t.target is State.HAUL and out.commits[0].mass_kg == pytest.approx(4.0)


# -- HAUL ------------------------------------------------------------------------------------
def test_haul_heads_for_the_berm_side_facing_the_rover_and_tries_round_it():
    ph, ctx = Haul(), context()
    d = ph.enter(ctx, 0.0, False)
    _, out = step(ph, ctx, d, 0.1, pose=Pose2D(0, 0, 0))
    r = CFG.berm_radius + CFG.berm_standoff_m
    assert (out.goal.x, out.goal.y) == pytest.approx((-3.0 + r, 0.0))
    t, out = step(ph, ctx, d, 0.2, pose=Pose2D(0, 0, 0), route=Route(1, np.zeros((0, 2))))
    assert t is None and d.pending_goal and ctx.cycle.berm_tries == 1
    _, out = step(ph, ctx, d, 0.3, pose=Pose2D(0, 0, 0))
    assert math.degrees(math.atan2(out.goal.y, out.goal.x + 3.0)) == pytest.approx(30.0)
    t, _ = step(ph, ctx, d, 0.4, pose=Pose2D(-3.0 + r * math.cos(0.52), r * math.sin(0.52), 0))
    assert t.target is State.DUMP


# -- DUMP --------------------------------------------------------------------------------------
def _dump_ctx(cfg=CFG):
    ctx = context(cfg=cfg, plan=PLAN)
    ctx.cycle.fill_start_kg, ctx.cycle.excavated_kg = 0.0, 9.0
    return ctx


def test_dump_faces_closes_in_then_asks_for_the_front_drum():
    ph, ctx = Dump(), _dump_ctx()
    d = ph.enter(ctx, 0.0, False)
    away = Pose2D(-1.5, 0.0, 0.0)                       # the berm (-3, 0) is behind it
    _, out = step(ph, ctx, d, 0.1, pose=away, excavator=ExcavatorReport(9.0))
    assert d.step is Step.FACE and out.linear_mps == 0.0 and out.angular_radps != 0.0
    assert ctx.cycle.fill_before_dump_kg == 9.0 and out.dump_request is None
    facing = Pose2D(-1.5, 0.0, math.pi)
    _, out = step(ph, ctx, d, 0.2, pose=facing, excavator=ExcavatorReport(9.0))
    assert d.step is Step.APPROACH and out.linear_mps == pytest.approx(CFG.dump_approach_mps)
    close = Pose2D(-3.0 + CFG.dump_reach_m + 0.2, 0.0, math.pi)
    _, out = step(ph, ctx, d, 0.3, pose=close, excavator=ExcavatorReport(9.0))
    assert d.step is Step.DISCHARGE
    assert (out.dump_request, out.dump_drum) == (1, 'front') and out.linear_mps == 0.0


def test_dump_retries_a_refused_request_then_faults():
    ph, ctx = Dump(), _dump_ctx()
    d = ph.enter(ctx, 0.0, False)
    d.step = Step.DISCHARGE
    now, requests = 0.0, []
    for _ in range(200):
        now += 0.1
        last = requests[-1] if requests else None
        resp = DumpResponse(last, False, 'busy') if last else None
        t, out = step(ph, ctx, d, now, excavator=ExcavatorReport(9.0), dump_response=resp)
        if out.dump_request is not None:
            requests.append(out.dump_request)
        if t is not None:
            break
    assert requests == [1, 2, 3] and t.target is State.FAULT and 'failed 3 times' in t.reason


def test_dump_turns_the_rear_drum_after_the_front_then_delivers_everything_once():
    ph, ctx = Dump(), _dump_ctx()
    d = ph.enter(ctx, 0.0, False)
    d.step = Step.DISCHARGE
    step(ph, ctx, d, 0.1, excavator=ExcavatorReport(9.0))
    step(ph, ctx, d, 0.2, excavator=ExcavatorReport(9.0), dump_response=DumpResponse(1, True))
    step(ph, ctx, d, 0.3, excavator=ExcavatorReport(6.0, dumping=True))
    t, out = step(ph, ctx, d, 2.0, excavator=ExcavatorReport(4.5))   # the front drum emptied
    assert t is None and ctx.cycle.dump_stage == 'rear' and d.step is Step.FACE
    assert not ctx.cycle.dump_accepted and d.t0 == 2.0
    d.step = Step.DISCHARGE
    _, out = step(ph, ctx, d, 2.1, excavator=ExcavatorReport(4.5))
    assert (out.dump_request, out.dump_drum) == (2, 'rear')
    step(ph, ctx, d, 2.2, excavator=ExcavatorReport(4.5), dump_response=DumpResponse(2, True))
    step(ph, ctx, d, 2.3, excavator=ExcavatorReport(2.0, dumping=True))
    t, out = step(ph, ctx, d, 4.0, excavator=ExcavatorReport(0.1))
    assert t.target is State.SELECT_SITE and ctx.record.cycle_id == 2
    (dlv,) = out.commits
    assert (dlv.cycle_id, dlv.kind, dlv.mass_kg) == (1, 'delivered', pytest.approx(8.9))
    assert dlv.target_kg == pytest.approx(8.9 * 0.01)


def _dump_both(ph, ctx, d, now, before, left, weigh_count=-1, pose=None):
    """One-stage dump from ``before`` kg down to ``left`` kg by the excavator's estimate."""
    d.step = Step.DISCHARGE
    step(ph, ctx, d, now, excavator=ExcavatorReport(before, weigh_count=weigh_count), pose=pose)
    step(ph, ctx, d, now + 0.1, excavator=ExcavatorReport(before, weigh_count=weigh_count),
         dump_response=DumpResponse(ctx.record.dump_seq, True), pose=pose)
    step(ph, ctx, d, now + 0.2, excavator=ExcavatorReport(left + 1.0, dumping=True,
                                                           weigh_count=weigh_count), pose=pose)
    return step(ph, ctx, d, now + 2.0, excavator=ExcavatorReport(left, weigh_count=weigh_count),
                pose=pose)


def test_the_delivery_is_counted_on_a_weigh_after_the_dump_not_the_dump_estimate():
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    d = ph.enter(ctx, 0.0, False)
    # the excavator's fill falls to 0 while it dumps, but 2 kg stuck in the drums
    t, out = _dump_both(ph, ctx, d, 0.1, 9.0, 0.0, weigh_count=5)
    assert t is None and d.step is Step.WEIGH and out.commits == []
    t, out = step(ph, ctx, d, 2.5, excavator=ExcavatorReport(0.0, weigh_count=5))
    assert t is None                                          # the same weigh: wait
    t, out = step(ph, ctx, d, 3.0, excavator=ExcavatorReport(2.0, weigh_count=6))
    assert t.target is State.SELECT_SITE
    (dlv,) = out.commits
    assert dlv.kind == 'delivered' and dlv.mass_kg == pytest.approx(7.0)


def test_without_a_weigh_after_the_dump_the_estimate_counts_at_the_timeout():
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    d = ph.enter(ctx, 0.0, False)
    _dump_both(ph, ctx, d, 0.1, 9.0, 0.5, weigh_count=5)
    assert step(ph, ctx, d, 2.1 + CFG.weigh_after_dump_s - 0.2,
                excavator=ExcavatorReport(0.5, weigh_count=5))[0] is None
    t, out = step(ph, ctx, d, 2.1 + CFG.weigh_after_dump_s,
                  excavator=ExcavatorReport(0.5, weigh_count=5))
    assert t.target is State.SELECT_SITE and out.commits[0].mass_kg == pytest.approx(8.5)
    assert any('no weigh' in text for _, text in out.events)


def test_a_dump_believed_off_the_berm_zone_is_not_counted_as_delivered():
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    d = ph.enter(ctx, 0.0, False)
    # facing the berm (-3, 0) from 2.5 m out: the discharge point 1.5 m from its centre
    far = Pose2D(-3.0 + CFG.dump_reach_m + 1.5, 0.0, math.pi)
    t, out = _dump_both(ph, ctx, d, 0.1, 9.0, 0.0, pose=far)
    assert t.target is State.SELECT_SITE
    (dlv,) = out.commits
    assert dlv.mass_kg == 0.0 and ctx.record.dumped_outside_kg == pytest.approx(9.0)
    # the same dump from inside is delivered
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    d = ph.enter(ctx, 0.0, False)
    near = Pose2D(-3.0 + CFG.dump_reach_m + 0.2, 0.0, math.pi)
    t, out = _dump_both(ph, ctx, d, 0.1, 9.0, 0.0, pose=near)
    assert out.commits[0].mass_kg == pytest.approx(9.0) and ctx.record.dumped_outside_kg == 0.0


def test_what_the_drums_lost_on_the_haul_is_booked_as_spill():
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    ctx.cycle.fill_start_kg, ctx.cycle.excavated_kg = 0.5, 9.0      # 9.5 kg after the cut
    d = ph.enter(ctx, 0.0, False)
    d.step = Step.DISCHARGE
    _, out = step(ph, ctx, d, 0.1, excavator=ExcavatorReport(8.7))   # 8.7 kg at the berm
    assert ctx.record.haul_spill_kg == pytest.approx(0.8)
    step(ph, ctx, d, 0.2, excavator=ExcavatorReport(8.7))
    assert ctx.record.haul_spill_kg == pytest.approx(0.8)            # booked once


def test_a_one_stage_dump_asks_for_both_drums_at_once():
    ph, ctx = Dump(), _dump_ctx(replace(CFG, dump_rear_after_turn=False))
    d = ph.enter(ctx, 0.0, False)
    d.step = Step.DISCHARGE
    _, out = step(ph, ctx, d, 0.1, excavator=ExcavatorReport(9.0))
    assert (out.dump_request, out.dump_drum) == (1, '')


# -- ESTOP, PAUSED, FAULT ----------------------------------------------------------------------
def test_estop_resumes_only_after_the_clear_hold():
    ph, ctx = Estop(), context()
    d = ph.enter(ctx, 0.0, False)
    t, out = step(ph, ctx, d, 0.1, estop=True)
    assert t is None and (out.linear_mps, out.drum_radps, out.arm_rad) == (0.0, 0.0, None)
    assert step(ph, ctx, d, 0.2)[0] is None
    assert step(ph, ctx, d, 0.2 + CFG.estop_clear_hold_s / 2, estop=True)[0] is None
    assert step(ph, ctx, d, 5.0)[0] is None                  # the hold starts again
    t, _ = step(ph, ctx, d, 5.0 + CFG.estop_clear_hold_s)
    assert t.resume and t.target is None


def test_fault_backs_off_doubling_and_holds_while_the_driver_fault_stands():
    ph, ctx = Fault(), context(fault_reason='x')
    d = ph.enter(ctx, 0.0, False)
    assert d.until == CFG.fault_backoff_s and ctx.record.fault_count == 1
    assert step(ph, ctx, d, CFG.fault_backoff_s - 0.1)[0] is None
    t, _ = step(ph, ctx, d, CFG.fault_backoff_s, driver_fault='left: overcurrent')
    assert t is None and d.until == CFG.fault_backoff_s + 2 * CFG.fault_backoff_s
    t, _ = step(ph, ctx, d, d.until)
    assert t.resume and 'retrying after: x' in t.reason


def test_pause_holds_until_lifted():
    ph, ctx = Paused(), context()
    d = ph.enter(ctx, 0.0, False)
    assert step(ph, ctx, d, 0.1, paused=True)[0] is None
    assert step(ph, ctx, d, 0.2)[0].resume


# -- the machine -------------------------------------------------------------------------------
def test_a_transition_no_phase_declares_is_refused(monkeypatch):
    m = Mission(CFG)
    m.step(MissionInputs(), 0.0)
    monkeypatch.setattr(Mapping, 'step', lambda self, ctx, d, inp, now: go(State.DUMP, 'test'))
    with pytest.raises(RuntimeError, match='illegal transition MAPPING -> DUMP'):
        m.step(MissionInputs(), 0.1)


def test_a_state_without_a_phase_fails_at_import():
    code = ('import importlib\n'
            'import mining_rover.planning.executive.machine as m\n'
            'import mining_rover.planning.executive.phases as p\n'
            'p.PHASES = tuple(c for c in p.PHASES if c.__name__ != "Done")\n'
            'importlib.reload(m)\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "ImportError: executive phases out of step with State: " \
        "missing ['DONE']" in r.stderr


def test_interrupts_are_walked_in_order_and_a_pause_holds_a_driver_fault_off():
    m = Mission(CFG)
    out = m.step(MissionInputs(estop=True, paused=True, driver_fault='x'), 0.0)
    assert out.state == 'ESTOP' and m.record.resume_state == 'MAPPING'
    m = Mission(CFG)
    out = m.step(MissionInputs(paused=True, driver_fault='x'), 0.0)
    assert out.state == 'PAUSED'
    assert m.step(MissionInputs(paused=True, driver_fault='x'), 0.1).state == 'PAUSED'
    out = m.step(MissionInputs(driver_fault='x'), 0.2)      # resumes MAPPING ...
    assert out.state == 'MAPPING'
    out = m.step(MissionInputs(driver_fault='x'), 0.3)      # ... which the fault then stops
    assert out.state == 'FAULT' and m.record.fault_reason == 'driver fault: x'
    assert m.record.resume_state == 'MAPPING' and m.record.estop_events == 0


def test_an_unmapped_widened_or_dug_out_zone_is_not_driven_to_again():
    ph = SelectSite()
    # widened around where the rover works, and the ring beyond is not mapped yet
    ctx = context(resurvey_t=0.0, excluded_sites=[(3.0, 0.0)], dig_zone_radius_m=1.5)
    d = ph.enter(ctx, 10.0, False)
    t, _ = step(ph, ctx, d, 10.0 + CFG.site_wait_s + 0.1, costmap=UNKNOWN)
    assert t.target is State.MAPPING and ctx.record.dig_zone_radius_m == 2.25
    # the centre cut to max_dig_depth_m, the zone unmapped around it
    ctx = context(resurvey_t=0.0, dug_sites=[(3.0, 0.0, CFG.max_dig_depth_m)])
    d = ph.enter(ctx, 10.0, False)
    t, _ = step(ph, ctx, d, 10.0 + CFG.site_wait_s + 0.1, costmap=UNKNOWN)
    assert t.target is State.MAPPING and ctx.record.resurveys == 1
    # a zone never seen is still driven to
    ctx = context(resurvey_t=0.0)
    d = ph.enter(ctx, 10.0, False)
    t, _ = step(ph, ctx, d, 10.0 + CFG.site_wait_s + 0.1, costmap=UNKNOWN)
    assert t.target is State.DRIVE_TO_SITE and 'unmapped' in t.reason
