"""The executive's machine with scripted inputs: no ROS, a tiny kinematic world.

``World`` integrates the commanded twist exactly (unicycle), answers every goal with a
straight-line route, fills the drums while they cut, and runs a dump in a fixed time,
so each test can script the one thing it is about (a stall, an e-stop, no route) and
asserts on what the rover is told to do. Each phase alone: test_executive_phases.py;
the record and its migration: test_mission_record.py.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mining_rover.planning.executive import (Costmap, DigSite, DumpResponse, ExcavationPlan,
                                             ExcavatorReport, Mission, MissionConfig, MissionInputs,
                                             MissionRecord, Pose2D, Route, State,
                                             arm_angle_for_depth)

DT = 0.1
CFG = MissionConfig(dig_zone_x=3.0, dig_zone_y=0.0, dig_zone_radius=1.0, berm_x=-3.0, berm_y=0.0,
                    berm_radius=0.5, mapping_timeout_s=5.0, excavate_time_limit_s=20.0,
                    drum_capacity_kg=10.0, full_fraction=0.9, min_haul_kg=0.5)
PLAN = ExcavationPlan(site_x=3.0, site_y=0.0, depth_of_cut_m=0.05, drum_speed_radps=5.0,
                      drive_speed_mps=0.1, expected_mass_kg=9.0, expected_target_kg=0.09)


class World:
    """Kinematic rover + fake planner + fake excavator, stepped with the machine."""

    def __init__(self, cfg=CFG, record=None):
        self.m = Mission(cfg, record=record)
        self.t = 0.0
        self.pose = Pose2D(0.0, 0.0, 0.0)
        self.fill = 0.0
        self.arm = -0.4
        self.dumping_left = 0.0
        self.dump_floor = 0.0      # fill left when the running dump ends (the other drum's half)
        self.dumps = []            # (drum, yaw) of each accepted dump
        self.route_seq = 0
        self.route = None
        self.inp = MissionInputs(dig_sites=(DigSite(3.0, 0.0, 1.0),), plan=PLAN)
        self.plan_routes = True
        self.accept_dump = True
        self.fill_rate = 1.0       # kg/s while cutting
        self.dump_calls = 0
        self.states = []
        self.out = None
        self.all_commits = []
        self.freeze_pose = False   # the rover does not move (e.g. a hazard stays ahead)
        self.wheel_mps = 0.0       # the wheels' rim speed: the last command (they never slip here)
        self.stuck = False         # wheels turn, the rover stays (dug in): only reversing frees it
        self.yaw_rate = 0.0        # what the gyro measures
        self.weigh_count = -1      # the excavator does not weigh (WeighingWorld does)

    def tick(self):
        inp = self.inp
        inp.pose = self.pose
        inp.route = self.route
        inp.wheel_mps = self.wheel_mps
        inp.vo_fix = (self.t, self.pose.x, self.pose.y)    # the camera sees the true motion
        inp.yaw_rate_radps = self.yaw_rate
        inp.excavator = ExcavatorReport(self.fill, stalled=inp.excavator.stalled if inp.excavator else False,
                                        dumping=self.dumping_left > 0, arm_position_rad=self.arm,
                                        weigh_count=self.weigh_count)
        out = self.m.step(inp, self.t)
        self.out = out
        self.all_commits += out.commits
        if not self.states or self.states[-1] != out.state:
            self.states.append(out.state)
        # the world reacts
        p = self.pose
        self.wheel_mps = out.linear_mps
        self.yaw_rate = 0.0
        if not self.freeze_pose and not (self.stuck and out.linear_mps > 0.0):
            self.yaw_rate = out.angular_radps
            self.pose = Pose2D(p.x + out.linear_mps * math.cos(p.yaw) * DT,
                               p.y + out.linear_mps * math.sin(p.yaw) * DT, p.yaw + out.angular_radps * DT)
        if out.arm_rad is not None:
            self.arm += max(-0.1, min(0.1, out.arm_rad - self.arm))
        if out.drum_radps and out.drum_radps > 0 and self.arm > 0.1 and out.linear_mps > 0:
            self.fill = min(10.0, self.fill + self.fill_rate * DT)
        if self.dumping_left > 0:
            self.dumping_left -= DT
            self.fill = max(self.dump_floor, self.fill - 5.0 * DT)
            if self.dumping_left <= 0:
                self.fill = self.dump_floor
        if out.goal is not None and self.plan_routes:
            self.route_seq += 1
            pts = np.linspace([self.pose.x, self.pose.y], [out.goal.x, out.goal.y], 20)
            self.route = Route(self.route_seq, pts)
        inp.dump_response = None if out.dump_request is None else None
        if out.dump_request is not None:
            self.dump_calls += 1
            inp.dump_response = DumpResponse(out.dump_request, self.accept_dump,
                                             'ok' if self.accept_dump else 'busy')
            if self.accept_dump:
                self.dumping_left = 3.0
                # both drums dig alike: one drum's dump leaves the other's half
                other_done = bool(self.dumps) and self.dumps[-1][0] in ('front', 'rear') \
                    and self.dumps[-1][0] != out.dump_drum
                self.dump_floor = self.fill / 2.0 if out.dump_drum in ('front',
                                                                       'rear') and not other_done else 0.0
                self.dumps.append((out.dump_drum, self.pose.yaw))
        self.t += DT
        return out

    def run_until(self, predicate, max_s=300.0):
        end = self.t + max_s
        while self.t < end:
            self.tick()
            if predicate(self):
                return True
        raise AssertionError(f'not reached in {max_s} s; states {self.states}, now {self.m.state}')

    def run_for(self, seconds):
        end = self.t + seconds
        while self.t < end:
            self.tick()


def test_arm_angle_for_depth_matches_the_geometry():
    # rover.yaml: wheel radius 0.20, arm 0.45, drum radius 0.16
    a = arm_angle_for_depth(0.05, 0.20, 0.45, 0.16)
    bottom = 0.20 - 0.45 * math.sin(a) - 0.16
    assert bottom == pytest.approx(-0.05, abs=1e-12)
    assert arm_angle_for_depth(-0.04, 0.20, 0.45, 0.16) == pytest.approx(0.0, abs=1e-12)  # drum just clear
    with pytest.raises(ValueError, match='out of reach'):
        arm_angle_for_depth(0.5, 0.20, 0.45, 0.16)


def test_full_cycle_select_drive_excavate_haul_dump_select():
    w = World()
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)
    assert w.states[:7] == ['MAPPING', 'SELECT_SITE', 'DRIVE_TO_SITE', 'EXCAVATE', 'HAUL', 'DUMP',
                            'SELECT_SITE']
    kinds = [(c.cycle_id, c.kind) for c in w.all_commits]
    assert kinds == [(1, 'excavated'), (1, 'delivered')]
    exc, dlv = w.all_commits
    assert exc.mass_kg == pytest.approx(9.0, abs=0.15)        # full at 0.9 * 10 kg
    assert dlv.mass_kg == pytest.approx(exc.mass_kg, abs=1e-9)  # everything dug was dumped
    assert dlv.target_kg == pytest.approx(dlv.mass_kg * 0.01)  # plan: 0.09 / 9.0
    assert dlv.volume_m3 == pytest.approx(dlv.mass_kg / 1500.0)
    assert [d for d, _ in w.dumps] == ['front', 'rear']   # each drum over the berm in turn
    bearing = math.atan2(-w.pose.y, -3.0 - w.pose.x)           # berm at (-3, 0)
    (_, yaw_front), (_, yaw_rear) = w.dumps
    assert abs(math.remainder(yaw_front - bearing, 2 * math.pi)) <= CFG.berm_facing_tolerance_rad + 0.05
    assert abs(math.remainder(yaw_rear - bearing - math.pi,
                              2 * math.pi)) <= CFG.berm_facing_tolerance_rad + 0.05
    # the dump happened near the berm, outside its circle
    d = math.hypot(w.pose.x + 3.0, w.pose.y)
    assert 0.5 < d < 0.5 + CFG.berm_standoff_m + CFG.goal_tolerance_m + 0.05



class WeighingWorld(World):
    """World whose fill estimate reads ``share`` of the true load while cutting, and
    whose excavator weighs the truth once its arms are raised (<= 0.05 rad) with the
    drums stopped for ``weigh_s`` (never, with weigh_s None)."""

    def __init__(self, share=0.5, weigh_s=0.6, **kw):
        super().__init__(**kw)
        self.share, self.weigh_s = share, weigh_s
        self.true_fill, self.still_s, self.weigh_count = 0.0, 0.0, 0
        self.settle_arm = []       # arm commands between the end of the cut and HAUL

    def tick(self):
        before = self.fill
        ending = self.m.state is State.EXCAVATE and self.m.data.ending
        out = super().tick()
        self.true_fill += max(0.0, self.fill - before) / self.share
        if ending:
            self.settle_arm.append(out.arm_rad)
        if out.drum_radps == 0.0 and self.arm <= 0.05 and self.weigh_s is not None:
            self.still_s += DT
            if self.still_s >= self.weigh_s - 1e-9:
                self.fill, self.weigh_count, self.still_s = self.true_fill, self.weigh_count + 1, 0.0
        else:
            self.still_s = 0.0
        return out


def test_cut_counts_the_weighed_fill_with_the_arms_stowed():
    w = WeighingWorld(share=0.8)
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.m.data.ending)
    estimate, t_end = w.fill, w.t
    assert estimate >= 0.9 * CFG.drum_capacity_kg        # full by the estimate ...
    w.run_until(lambda w: w.m.state is State.HAUL, max_s=CFG.cut_settle_timeout_s + 1.0)
    (exc,) = [c for c in w.all_commits if c.kind == 'excavated']
    assert exc.mass_kg == pytest.approx(w.true_fill)      # ... counted as weighed: 1/0.8 of it
    assert exc.mass_kg == pytest.approx(estimate / 0.8, rel=0.02)
    assert set(w.settle_arm) == {CFG.arm_stow_rad}         # raised out of the ground to weigh
    # the arm climbs at 1 rad/s here: cut angle to stow, then one weigh window
    assert w.t - t_end < CFG.cut_settle_timeout_s


def test_cut_without_a_fresh_weigh_counts_the_estimate_at_the_timeout():
    w = WeighingWorld(share=0.8, weigh_s=None)   # weigh on, but none comes (no arm torque)
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.m.data.ending)
    t_end, estimate = w.t, w.fill
    w.run_until(lambda w: w.m.state is State.HAUL, max_s=CFG.cut_settle_timeout_s + 1.0)
    assert w.t - t_end == pytest.approx(CFG.cut_settle_timeout_s, abs=2 * DT)
    (exc,) = [c for c in w.all_commits if c.kind == 'excavated']
    assert exc.mass_kg == pytest.approx(estimate)


def test_excavation_commands_the_planned_cut():
    w = World()
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.out.linear_mps > 0)
    expected_arm = arm_angle_for_depth(0.05, CFG.wheel_radius_m, CFG.arm_length_m, CFG.drum_radius_m)
    assert w.out.arm_rad == pytest.approx(expected_arm)
    assert w.out.drum_radps == 5.0
    assert w.out.linear_mps == pytest.approx(0.1)


def test_an_infeasible_plan_holds_stowed_until_a_cut_fits():
    """The planner says no cut fits (a rubble pile without hold-down thrust): the
    executive does not lower the drums with a zero-depth 'plan' or the default cut; it
    holds, stowed, says why once, and cuts when a feasible plan arrives."""
    from dataclasses import replace
    w = World()
    w.inp.plan = replace(PLAN, depth_of_cut_m=0.0, drum_speed_radps=0.0, drive_speed_mps=0.0,
                         feasible=False, reason='no cut fits: the smallest needs 0.011 N against 0.002 N')
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    told = []
    for _ in range(300):   # 30 s: beyond plan_wait_s and the excavation time limit
        told += [text for _level, text in w.tick().events if 'no cut fits' in text]
        assert w.m.state is State.EXCAVATE
        assert (w.out.arm_rad, w.out.drum_radps, w.out.linear_mps) == (CFG.arm_stow_rad, 0.0, 0.0)
    assert len(told) == 1 and '0.011 N' in told[0]
    assert w.fill == 0.0
    w.inp.plan = PLAN
    w.run_until(lambda w: w.out.linear_mps > 0 and w.out.drum_radps == 5.0, max_s=10.0)


def test_a_cut_ends_past_the_planned_fill_length():
    """Where the fill estimate runs behind (no weigh) or the cut shoves the rover on, the
    cut ends fill_length_margin x the plan's fill length on, and what is in the drums is hauled."""
    from dataclasses import replace
    w = World()
    w.fill_rate = 0.2        # the estimate says the drums fill at a fifth of the planned rate
    w.inp.plan = replace(PLAN, fill_length_m=0.4)
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.out.linear_mps > 0)
    x0 = w.pose.x
    events = []
    while w.m.state is State.EXCAVATE:
        events += [t for _l, t in w.tick().events]
    assert w.m.state is State.HAUL
    assert w.pose.x - x0 == pytest.approx(CFG.fill_length_margin * 0.4, abs=0.05)
    assert any(t.startswith('EXCAVATE -> HAUL: planned fill length reached (0.6') for t in events), events


def test_max_cycles_ends_in_done_with_everything_stopped():
    w = World(cfg=MissionConfig(**{**CFG.__dict__, 'max_cycles': 2}))
    w.run_until(lambda w: w.m.state is State.DONE, max_s=600)
    assert [c.cycle_id for c in w.all_commits if c.kind == 'delivered'] == [1, 2]
    for _ in range(5):
        out = w.tick()
        assert (out.linear_mps, out.angular_radps, out.drum_radps) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize('state', ['MAPPING', 'SELECT_SITE', 'DRIVE_TO_SITE', 'EXCAVATE', 'HAUL',
                                   'DUMP', 'DONE'])
def test_estop_in_every_state_zeroes_outputs_and_resumes_after_clear(state):
    cfg = MissionConfig(**{**CFG.__dict__, 'max_cycles': 1})
    w = World(cfg=cfg)
    if state == 'SELECT_SITE':
        w.inp.dig_sites = ()      # hold it in SELECT_SITE (waiting for sites)
    w.run_until(lambda w: w.m.state.value == state, max_s=600)
    w.inp.estop = True
    for _ in range(20):
        out = w.tick()
        assert out.state == 'ESTOP'
        assert (out.linear_mps, out.angular_radps, out.drum_radps, out.arm_rad) == (0.0, 0.0, 0.0, None)
        assert out.goal is None and out.dump_request is None
    assert w.m.record.estop_events == 1       # latched: counted once
    w.inp.estop = False
    w.tick()
    assert w.m.state is State.ESTOP              # held until clear for estop_clear_hold_s
    w.run_until(lambda w: w.m.state is not State.ESTOP, max_s=5)
    assert w.m.state.value == state


def test_pause_stops_and_resumes():
    w = World()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0)
    w.inp.paused = True
    out = w.tick()
    assert out.state == 'PAUSED' and out.linear_mps == 0.0
    w.inp.paused = False
    w.tick()
    assert w.m.state is State.DRIVE_TO_SITE
    w.run_until(lambda w: w.m.state is State.EXCAVATE)


def test_stall_backs_off_then_cuts_shallower():
    w = World()
    w.fill_rate = 0.1
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.out.linear_mps > 0)
    first_arm = w.out.arm_rad
    w.inp.excavator = ExcavatorReport(w.fill, stalled=True)
    w.tick()
    assert w.m.state is State.BACK_OFF
    w.inp.excavator = ExcavatorReport(w.fill, stalled=False)
    out = w.tick()
    assert out.linear_mps < 0 and out.arm_rad == CFG.arm_stow_rad
    x0 = w.pose.x
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    assert x0 - w.pose.x == pytest.approx(CFG.backoff_distance_m, abs=0.03)
    w.run_until(lambda w: w.out.linear_mps > 0)
    assert 0 < w.out.arm_rad < first_arm      # shallower after a stall
    assert w.m.record.cycle.stalls == 1


def test_repeated_stalls_end_the_cut():
    w = World()
    w.fill_rate = 0.5
    for _ in range(CFG.max_stalls):
        w.run_until(lambda w: w.m.state is State.EXCAVATE and w.out.linear_mps > 0)
        w.run_until(lambda w: w.fill > 0.3 * (1 + w.m.record.cycle.stalls))
        w.inp.excavator = ExcavatorReport(w.fill, stalled=True)
        w.tick()
        w.inp.excavator = None
        w.run_until(lambda w: w.m.state is not State.BACK_OFF)
    assert w.m.state is State.HAUL and w.m.record.cycle.stalls == CFG.max_stalls
    assert w.states[3:] == ['EXCAVATE', 'BACK_OFF'] * CFG.max_stalls + ['HAUL']
    (exc,) = w.all_commits                       # what the stalled cuts took is hauled
    assert exc.kind == 'excavated' and exc.mass_kg == pytest.approx(w.fill, abs=0.06)


def test_unreachable_sites_are_given_up_then_the_zone_widens_and_is_resurveyed_never_a_fault():
    w = World()
    w.inp.costmap = Costmap(np.zeros((100, 100), np.int8), 0.1, -5.0, -5.0)   # the zone is mapped
    w.plan_routes = False
    # the only site goes unreachable, and so does the dig-zone centre (the same place):
    # the zone grows and is surveyed again, the sites given up stay given up
    w.run_until(lambda w: w.m.record.dig_zone_radius_m is not None and w.m.state is State.MAPPING)
    assert 'FAULT' not in w.states and w.m.record.resurveys == 1
    assert w.m.record.dig_zone_radius_m == pytest.approx(CFG.dig_zone_radius * CFG.dig_zone_growth)
    assert w.m.record.excluded_sites
    # the planner scores the wider zone and finds a reachable site in it
    w.plan_routes = True
    w.inp.dig_sites = (DigSite(3.0, 0.0, 1.0), DigSite(4.3, 0.5, 0.5))
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    assert w.m.record.site == (4.3, 0.5) and 'FAULT' not in w.states


def test_a_zone_without_sites_ends_the_mission_after_bounded_resurveys():
    from dataclasses import replace
    w = World(cfg=replace(CFG, dig_zone_max_radius_m=2.0, max_resurveys=3, mapping_timeout_s=5.0))
    w.inp.costmap = Costmap(np.zeros((100, 100), np.int8), 0.1, -5.0, -5.0)
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.DONE, max_s=600.0)
    assert 'FAULT' not in w.states and w.m.record.resurveys == 3
    assert w.m.record.dig_zone_radius_m == 2.0
    out = w.tick()
    assert (out.linear_mps, out.angular_radps, out.drum_radps) == (0.0, 0.0, 0.0)


def test_resurvey_turns_a_whole_circle():
    from dataclasses import replace
    w = World(cfg=replace(CFG, mapping_timeout_s=60.0, resurvey_interval_s=0.0))
    w.inp.costmap = Costmap(np.zeros((100, 100), np.int8), 0.1, -5.0, -5.0)   # all known
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert w.t < 1.0                          # the first mapping: the zone is known already
    w.inp.dig_sites = ()
    w.run_until(lambda w: w.m.state is State.MAPPING)
    yaw0, t0 = w.pose.yaw, w.t
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert w.pose.yaw - yaw0 == pytest.approx(2 * math.pi, abs=0.1)
    assert w.t - t0 == pytest.approx(2 * math.pi / CFG.mapping_turn_radps, abs=0.5)


def test_empty_route_gives_the_site_up():
    w = World()
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.goal is not None)
    site = w.m.record.site
    w.route = Route(99, np.zeros((0, 2)))
    w.tick()
    # unreachable from here: the site is excluded and another one is chosen
    assert w.m.state is State.SELECT_SITE and w.m.record.excluded_sites == [site]
    # with no other site, the unmapped dig zone is driven to (the same place: it is no
    # longer given up); unreachable again, it is given up once, not twice
    w.route = None
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.goal is not None)
    assert w.m.record.site == site and w.m.record.excluded_sites == []
    w.route = Route(100, np.zeros((0, 2)))
    w.tick()
    assert w.m.state is State.SELECT_SITE and w.m.record.excluded_sites == [site]


def test_driver_fault_is_a_safe_stop_until_it_clears():
    w = World()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0)
    w.inp.driver_fault = 'front_left_wheel_joint: overcurrent'
    w.tick()
    assert w.m.state is State.FAULT
    for _ in range(int(3 * CFG.fault_backoff_s / DT)):    # past the back-off: the fault stands
        out = w.tick()
        assert out.state == 'FAULT' and out.linear_mps == 0.0
    w.inp.driver_fault = ''
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE)


def test_lethal_cells_ahead_turn_then_replan_then_give_up():
    w = World()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0)
    grid = np.zeros((100, 100), dtype=np.int8)
    rx = w.pose.x + 0.6 * math.cos(w.pose.yaw)     # a rock 0.6 m ahead on the path
    ry = w.pose.y + 0.6 * math.sin(w.pose.yaw)
    col, row = int((rx + 5.0) / 0.1), int((ry + 5.0) / 0.1)
    grid[row - 1:row + 2, col - 1:col + 2] = 100
    w.inp.costmap = Costmap(grid, 0.1, -5.0, -5.0)
    w.plan_routes = False
    w.freeze_pose = True            # the rock stays ahead whatever the rover does
    out = w.tick()
    assert out.linear_mps == 0.0 and out.angular_radps != 0.0   # never on: turns in place
    assert any('lethal' in text for _lvl, text in out.events)
    seq_before = w.m.record.goal_seq
    w.run_for(CFG.blocked_turn_s + 0.5)
    assert w.m.record.goal_seq > seq_before                   # then asks for a new route
    site = w.m.record.site
    w.plan_routes = True
    w.run_until(lambda w: w.m.state is not State.DRIVE_TO_SITE, max_s=CFG.blocked_timeout_s + 10)
    assert w.m.state is State.SELECT_SITE and site in w.m.record.excluded_sites
    w.freeze_pose = False
    w.inp.costmap = Costmap(np.zeros((100, 100), dtype=np.int8), 0.1, -5.0, -5.0)
    w.run_until(lambda w: w.m.state is State.EXCAVATE)


def test_mapping_turns_until_the_dig_zone_is_known():
    w = World(cfg=MissionConfig(**{**CFG.__dict__, 'mapping_timeout_s': 100.0}))
    grid = -np.ones((100, 100), dtype=np.int8)
    w.inp.costmap = Costmap(grid, 0.1, -5.0, -5.0)
    for _ in range(20):
        out = w.tick()
        assert out.state == 'MAPPING' and out.angular_radps == CFG.mapping_turn_radps
    grid[40:60, 70:100] = 0                   # around the dig zone (3, 0), r = 1
    w.inp.costmap = Costmap(grid, 0.1, -5.0, -5.0)
    w.tick()
    assert w.m.state is State.SELECT_SITE


def test_site_override_is_used_for_the_next_selection():
    w = World()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE)
    w.inp.site_override = (1, 2.0, 1.0)
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.m.record.site == (2.0, 1.0))
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    assert math.hypot(w.pose.x - 2.0, w.pose.y - 1.0) <= CFG.goal_tolerance_m


def test_refused_dumps_fault_and_the_delivery_is_still_counted_once():
    w = World()
    w.accept_dump = False
    w.run_until(lambda w: w.m.state is State.FAULT)
    assert w.dump_calls == CFG.max_dump_attempts and 'dump failed' in w.m.record.fault_reason
    w.accept_dump = True
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)
    assert [c.kind for c in w.all_commits] == ['excavated', 'delivered']


def _saved(w) -> MissionRecord:
    """The record as mission_node persists it (strict JSON) and a restart reads it."""
    return MissionRecord.from_dict(json.loads(json.dumps(w.m.record.to_dict(), allow_nan=False)))


def test_restart_from_record_mid_dump_commits_once():
    """A record saved mid-dump, loaded by a new machine: the dump finishes, one delivery."""
    w = World()
    w.run_until(lambda w: w.m.state is State.DUMP and w.m.record.cycle.dump_accepted)
    saved = _saved(w)
    before = saved.cycle.fill_before_dump_kg
    # the executive dies; the excavator finishes its dump meanwhile
    w.fill, w.dumping_left = 0.0, 0.0
    w2 = World(record=saved)
    w2.pose, w2.fill, w2.t = w.pose, 0.0, w.t
    w2.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert [(c.cycle_id, c.kind) for c in w2.all_commits] == [(1, 'delivered')]
    assert w2.all_commits[0].mass_kg == pytest.approx(before)
    assert w2.dump_calls == 0


def test_restart_before_the_dump_answer_dumps_again_and_counts_once():
    w = World()
    w.run_until(lambda w: w.m.state is State.DUMP and w.out.dump_request is not None)
    saved = _saved(w)
    assert not saved.cycle.dump_accepted
    w2 = World(record=saved)
    w2.pose, w2.fill, w2.t = w.pose, w.fill, w.t     # the request was lost with the executive
    w2.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert [d for d, _ in w2.dumps] == ['front', 'rear']
    assert [(c.cycle_id, c.kind) for c in w2.all_commits] == [(1, 'delivered')]
    assert w2.all_commits[0].mass_kg == pytest.approx(saved.cycle.fill_before_dump_kg)


def test_a_trench_is_cut_deeper_until_max_dig_depth_then_left():
    """The planner keeps offering the same site: each cut there goes deeper by what the
    last ones took, until the trench is max_dig_depth_m deep and the site is left."""
    w = World()
    arms = []
    for cycle in (1, 2, 3):
        w.run_until(lambda w: w.m.state is State.EXCAVATE and w.m.data.params is not None)
        arms.append(w.m.data.params[0])
        w.run_until(lambda w: w.m.state is State.HAUL)
        dug = w.m.record.dug_sites
        assert any(math.hypot(x - 3.0, y) < 0.3 and d == pytest.approx(0.05 * cycle) for x, y, d in dug)
        w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    expect = [arm_angle_for_depth(d, CFG.wheel_radius_m, CFG.arm_length_m, CFG.drum_radius_m)
              for d in (0.05, 0.10, 0.15)]
    assert arms == pytest.approx(expect)
    for _ in range(5):                       # 0.15 m >= max_dig_depth_m: no site any more
        w.tick()
    assert w.m.state is State.SELECT_SITE


def test_one_stage_dump_when_configured():
    from dataclasses import replace
    w = World(cfg=replace(CFG, dump_rear_after_turn=False))
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)
    assert [d for d, _ in w.dumps] == ['']
    exc, dlv = w.all_commits
    assert dlv.mass_kg == pytest.approx(exc.mass_kg, abs=1e-9)


def test_unreachable_dump_point_tries_other_sides_of_the_berm():
    """The berm grows with every dump: when its dump point has no route, others around
    the circle are tried (alternating sides) before a fault."""
    w = World()
    w.run_until(lambda w: w.m.state is State.HAUL and w.out.goal is not None)
    first = w.m.record.cycle.berm_goal
    goals = []
    for _ in range(3):   # the planner answers three dump points with an empty path
        w.route = Route(w.route_seq + 100 + len(goals), np.zeros((0, 2)))
        w.plan_routes = False
        w.run_until(lambda w: w.out.goal is not None)
        goals.append((w.out.goal.x, w.out.goal.y))
    assert w.m.state is State.HAUL
    r = CFG.berm_radius + CFG.berm_standoff_m
    angles = [math.atan2(y - CFG.berm_y, x - CFG.berm_x) for x, y in [first] + goals]
    assert all(math.hypot(x - CFG.berm_x, y - CFG.berm_y) == pytest.approx(r) for x, y in goals)
    steps = [math.degrees(math.remainder(a - angles[0], 2 * math.pi)) for a in angles[1:]]
    assert steps == pytest.approx([30.0, -30.0, 60.0])
    w.plan_routes = True
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)


def test_a_berm_circled_in_vain_is_searched_again_after_the_fault():
    w = World()
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.FAULT, max_s=600)   # every point around the berm failed
    assert 'no route' in w.m.record.fault_reason
    assert w.m.record.cycle.berm_goal is None and w.m.record.cycle.berm_tries == 0
    w.plan_routes = True
    w.run_until(lambda w: w.m.state is State.DUMP)


def test_dump_closes_in_on_the_berm_front_forwards_rear_backwards():
    """The route ends short of the berm (a snapped goal): facing it, the rover closes in
    until the dumping drum's discharge point is well inside the berm, forwards for the
    front drum, backwards for the rear one."""
    from dataclasses import replace
    cfg = replace(CFG, berm_standoff_m=1.0)     # dump point 1.5 m from the centre, reach 1.0 m
    w = World(cfg=cfg)
    w.run_until(lambda w: w.m.state is State.DUMP)
    speeds = []
    w.run_until(lambda w: speeds.append(w.out.linear_mps) or w.out.dump_request is not None)
    d = math.hypot(w.pose.x - cfg.berm_x, w.pose.y - cfg.berm_y)
    assert d - cfg.dump_reach_m == pytest.approx(cfg.dump_inside_fraction * cfg.berm_radius, abs=0.05)
    assert max(speeds) == pytest.approx(cfg.dump_approach_mps)
    # the turn for the rear drum pivots about the loaded end: the rover ends farther off
    w.run_until(lambda w: w.m.record.cycle.dump_stage == 'rear')
    away = math.atan2(w.pose.y - cfg.berm_y, w.pose.x - cfg.berm_x)
    w.pose = Pose2D(w.pose.x + 0.3 * math.cos(away), w.pose.y + 0.3 * math.sin(away), w.pose.yaw)
    speeds.clear()
    w.run_until(lambda w: speeds.append(w.out.linear_mps) or w.m.state is State.SELECT_SITE)
    assert min(speeds) == pytest.approx(-cfg.dump_approach_mps) and max(speeds) <= 0.0
    assert [drum for drum, _ in w.dumps] == ['front', 'rear']


def _rock(grid, x, y, res=0.1, origin=-5.0):
    col, row = int((x - origin) / res), int((y - origin) / res)
    grid[row - 1:row + 2, col - 1:col + 2] = 100


def test_route_hazard_check_sees_the_ground_the_route_crosses_not_a_box_straight_on():
    # a route that bends left 0.1 m ahead of the rover, a rock 0.65-0.85 m straight
    # ahead: the old straight box (0.9 m long) held the rover; the route keeps 0.55 m off
    grid = np.zeros((100, 100), dtype=np.int8)
    _rock(grid, 0.75, 0.0)
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    route = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 2.0]])
    pose = Pose2D(0.0, 0.0, 0.0)
    assert cm.lethal_ahead(pose, 0.5 + 0.4, 0.41, 100) > 0               # the old check
    assert cm.lethal_ahead(pose, 0.5 + CFG.body_margin_m, 0.41, 100) == 0
    assert cm.lethal_along(route, pose, 0.9, CFG.route_clearance_m, 100) == 0
    # a rock on the bend is seen, and only within the stretch checked
    _rock(grid, 0.3, 0.9)
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    assert cm.lethal_along(route, pose, 0.9, CFG.route_clearance_m, 100) > 0
    assert cm.lethal_along(route, pose, 0.1, CFG.route_clearance_m, 100) == 0
    assert cm.lethal_along(np.empty((0, 2)), pose, 0.9, 0.5, 100) == 0
    # ground under the body now is no obstacle (footprint clearing): a cell the rover
    # stands on beside the route does not hold it
    grid[:] = 0
    _rock(grid, 0.1, 0.3)
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    assert cm.lethal_along(route, pose, 0.9, CFG.route_clearance_m, 100, body=(0.5, 0.41)) == 0
    assert cm.lethal_along(route, pose, 0.9, CFG.route_clearance_m, 100) > 0


def test_a_rock_beside_the_straight_line_does_not_stop_a_route_around_it():
    w = World()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0)
    grid = np.zeros((100, 100), dtype=np.int8)
    # 0.8 m ahead and 0.7 m to the side of the straight route: outside route_clearance_m,
    # inside the old 0.9 x 0.82 m box once the rover yaws towards it
    p = w.pose
    _rock(grid, p.x + 0.8 * math.cos(p.yaw) - 0.7 * math.sin(p.yaw),
          p.y + 0.8 * math.sin(p.yaw) + 0.7 * math.cos(p.yaw))
    w.inp.costmap = Costmap(grid, 0.1, -5.0, -5.0)
    w.run_for(3.0)
    assert w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0
    assert not any('lethal' in text for _lvl, text in w.out.events)


def test_an_unmapped_dig_zone_is_driven_to_not_surveyed_for_and_never_given_up():
    """Far dig zones (12-16 m on the asteroid worlds, the map reaches 5 m): one survey
    turn, then the rover heads for the zone; unreachable from here, it tries again
    instead of faulting or turning in place."""
    from dataclasses import replace
    w = World(cfg=replace(CFG, mapping_timeout_s=600.0))
    w.inp.costmap = Costmap(np.full((100, 100), -1, np.int8), 0.1, -5.0, -5.0)   # nothing known
    w.inp.dig_sites = ()
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert w.t == pytest.approx(2 * math.pi / CFG.mapping_turn_radps, abs=0.5)   # one whole turn
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE)
    assert w.m.record.site == (CFG.dig_zone_x, CFG.dig_zone_y)
    assert any('unmapped' in text for _lvl, text in w.out.events)
    w.plan_routes = False                    # unreachable for now
    w.run_until(lambda w: w.m.state is State.SELECT_SITE, max_s=60.0)
    states = []
    for _ in range(int(60.0 / DT)):
        w.tick()
        states.append(w.m.state)
    assert State.FAULT not in states and State.MAPPING not in states
    assert State.DRIVE_TO_SITE in states


# -- stuck: wheels turning, the camera sees the rover still ------------------------------------
def _drive_until_stuck(w):
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.linear_mps > 0.0)
    w.stuck = True
    w.run_until(lambda w: w.m.state is State.RECOVER, max_s=3 * CFG.stuck_window_s)
    return w.pose


def test_stuck_while_driving_stops_backs_off_marks_the_spot_and_replans():
    w = World()
    stuck_at = _drive_until_stuck(w)
    rec = w.m.record
    assert rec.stuck_events == 1 and rec.resume_state == 'DRIVE_TO_SITE'
    t0 = w.t
    w.tick()                                    # RECOVER's first step
    (spot,) = rec.keepouts                      # the ground just ahead of the body, for the planner
    ahead = CFG.footprint_length_m / 2
    assert spot[:2] == pytest.approx((stuck_at.x + ahead * math.cos(stuck_at.yaw),
                                      stuck_at.y + ahead * math.sin(stuck_at.yaw)), abs=1e-6)
    assert spot[2] == CFG.recover_keepout_m and w.out.keepouts == (spot,)
    # first it stands still with the drums off, then it reverses straight back
    commands = []
    goal_seq = rec.goal_seq
    while w.m.state is State.RECOVER:
        commands.append((w.t, w.out.linear_mps, w.out.drum_radps))
        w.tick()
    assert all(v == 0.0 and drum == 0.0 for t, v, drum in commands if t - t0 < 0.9)
    assert min(v for _, v, _ in commands) == -CFG.recover_speed_mps
    assert math.hypot(w.pose.x - stuck_at.x, w.pose.y - stuck_at.y) == pytest.approx(
        CFG.recover_backoff_m, abs=0.05)
    # back to the same goal with a fresh route
    assert w.m.state is State.DRIVE_TO_SITE
    w.tick()                                    # DRIVE_TO_SITE afresh: asks for a new route
    assert w.out.goal is not None and rec.goal_seq == goal_seq + 1
    assert rec.cycle.recoveries == 1
    w.stuck = False
    w.run_until(lambda w: w.m.state is State.EXCAVATE)
    assert rec.cycle.recoveries == 0 and rec.stuck_events == 1


def test_a_goal_the_rover_sticks_on_again_and_again_is_given_up_not_looped():
    w = World()
    _drive_until_stuck(w)
    w.run_until(lambda w: w.m.state is State.SELECT_SITE, max_s=200.0)
    rec = w.m.record
    assert rec.stuck_events == CFG.max_recoveries + 1
    assert w.states.count('RECOVER') == CFG.max_recoveries + 1
    assert rec.excluded_sites == [(3.0, 0.0)] and len(rec.keepouts) == CFG.max_recoveries + 1
    assert 'FAULT' not in w.states


def test_stuck_while_cutting_ends_the_cut_and_hauls_what_it_has():
    w = World()
    w.run_until(lambda w: w.m.state is State.EXCAVATE and w.m.data.cutting and w.fill > 2.0)
    w.stuck = True
    w.run_until(lambda w: w.m.state is State.RECOVER, max_s=3 * CFG.stuck_window_s)
    w.stuck = False
    w.run_until(lambda w: w.m.state is not State.RECOVER)
    assert w.m.state is State.HAUL
    (exc,) = w.all_commits
    assert exc.kind == 'excavated' and exc.mass_kg == pytest.approx(w.fill, abs=0.2)


def test_stuck_on_the_haul_again_and_again_tries_another_side_of_the_berm():
    w = World()
    w.run_until(lambda w: w.m.state is State.HAUL and w.out.linear_mps > 0.0)
    first = w.m.record.cycle.berm_goal
    w.stuck = True
    w.run_until(lambda w: w.m.record.cycle.berm_tries == 1, max_s=200.0)
    assert w.m.record.stuck_events == CFG.max_recoveries + 1
    assert w.m.record.cycle.berm_goal != first and w.m.state is State.HAUL
    w.stuck = False
    w.run_until(lambda w: w.m.state is State.DUMP)


def test_turning_in_place_or_standing_is_never_stuck():
    w = World()
    w.inp.costmap = Costmap(np.zeros((100, 100), np.int8), 0.1, -5.0, -5.0)
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)
    assert w.m.record.stuck_events == 0 and 'RECOVER' not in w.states
