"""The operational-site behaviours of the executive (docs/readme/ops.md): driving in odom
while aiming at the map-frame berm, the speed limited by the ground the map has seen,
and the stuck back-off along the trail driven. Uses the kinematic World of
test_mission_state_machine.py (no ROS)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from test_mission_state_machine import CFG, DT, World

from mining_rover.planning.executive import Costmap, Pose2D, Route, State
from mining_rover.planning.executive import frames
from mining_rover.planning.executive.phases.recover import next_trail_point
from mining_rover.planning.executive.route import seen_speed_limit


# -- frames ---------------------------------------------------------------------------------
def test_odom_from_map_maps_the_map_pose_onto_the_odom_pose():
    odom, mapp = Pose2D(1.2, -0.4, 0.3), Pose2D(-2.0, 3.0, -0.5)
    T = frames.odom_from_map(odom, mapp)
    p = frames.apply_pose(T, mapp)
    assert (p.x, p.y, p.yaw) == pytest.approx((odom.x, odom.y, odom.yaw))
    back = frames.apply_pose(frames.inverse(T), odom)
    assert (back.x, back.y, back.yaw) == pytest.approx((mapp.x, mapp.y, mapp.yaw))
    # a point fixed in map keeps its place relative to the rover in both frames
    p_map = (0.5, 1.5)
    p_odom = frames.apply(T, *p_map)
    assert math.hypot(p_odom[0] - odom.x, p_odom[1] - odom.y) == pytest.approx(
        math.hypot(p_map[0] - mapp.x, p_map[1] - mapp.y))


class DriftWorld(World):
    """The World's pose is odom; the map frame is odom moved by ``T`` (odom_from_map):
    the berm (map frame) lies elsewhere in odom than its configured coordinates say."""

    def __init__(self, T, **kw):
        super().__init__(**kw)
        self.T = T
        self.inp.odom_from_map = T
        self.discharge_map = []     # the dumping drum's discharge point, map frame, at each dump

    def tick(self):
        out = super().tick()
        if out.dump_request is not None:
            mp = frames.apply_pose(frames.inverse(self.T), self.pose)
            sign = -1.0 if out.dump_drum == 'rear' else 1.0
            self.discharge_map.append((mp.x + sign * CFG.dump_reach_m * math.cos(mp.yaw),
                                       mp.y + sign * CFG.dump_reach_m * math.sin(mp.yaw)))
        return out


#: map -> odom after 30 m of drift: 1.3 m off and 4 deg turned (the first operational run)
DRIFT = Pose2D(0.4, -1.2, math.radians(4.0))


def test_the_haul_drives_to_the_berm_where_map_to_odom_puts_it_and_dumps_on_it():
    w = DriftWorld(DRIFT)
    goals = []
    w.run_until(lambda w: (w.out.goal is not None and w.m.state is State.HAUL
                           and goals.append((w.out.goal.x, w.out.goal.y))) or w.m.state is State.DUMP)
    berm_map = w.m.record.cycle.berm_goal
    assert math.hypot(berm_map[0] - CFG.berm_x, berm_map[1] - CFG.berm_y) == pytest.approx(
        CFG.berm_radius + CFG.berm_standoff_m)          # the dump point: beside the berm, map frame
    assert goals[0] == pytest.approx(frames.apply(DRIFT, *berm_map))     # asked for in odom
    w.run_until(lambda w: w.m.state is State.SELECT_SITE and w.m.cycle_id == 2)
    assert len(w.discharge_map) == 2
    for x, y in w.discharge_map:     # each drum over the berm, as the map frame has it
        assert math.hypot(x - CFG.berm_x, y - CFG.berm_y) < CFG.berm_radius
    assert w.m.record.dumped_outside_kg == 0.0


def test_a_fix_that_moves_the_berm_mid_haul_asks_for_a_route_to_where_it_is_now():
    w = DriftWorld(frames.IDENTITY)
    w.run_until(lambda w: w.m.state is State.HAUL and w.out.linear_mps > 0.0)
    seq = w.m.record.goal_seq
    w.inp.odom_from_map = w.T = Pose2D(0.0, 0.6, 0.0)   # a fiducial fix: the berm is 0.6 m over
    w.tick()
    assert w.m.record.goal_seq == seq + 1
    assert (w.out.goal.x, w.out.goal.y) == pytest.approx(
        frames.apply(w.T, *w.m.record.cycle.berm_goal))
    w.tick()                                           # a small correction asks for nothing
    w.inp.odom_from_map = Pose2D(0.0, 0.6 + 0.5 * CFG.berm_goal_shift_m, 0.0)
    w.tick()
    assert w.m.record.goal_seq == seq + 1


def test_an_unmapped_dig_zone_is_driven_to_where_map_to_odom_puts_it():
    w = DriftWorld(DRIFT, cfg=replace(CFG, mapping_timeout_s=600.0))
    w.inp.costmap = Costmap(np.full((100, 100), -1, np.int8), 0.1, -5.0, -5.0)
    w.inp.dig_sites = ()
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE)
    assert w.m.record.site == pytest.approx(frames.apply(DRIFT, CFG.dig_zone_x, CFG.dig_zone_y))


# -- the speed the seen ground allows --------------------------------------------------------
def test_seen_speed_limit_covers_no_more_than_the_seen_ground_in_the_latency():
    c = CFG
    front = 0.5 * c.footprint_length_m + c.stop_margin_m
    assert seen_speed_limit(c, front) == pytest.approx(0.0, abs=1e-12)
    assert seen_speed_limit(c, front - 1.0) == 0.0
    assert seen_speed_limit(c, front + 0.25) == pytest.approx(0.25 / c.perception_latency_s)
    assert seen_speed_limit(c, 100.0) == c.max_linear_mps


def test_known_along_stops_at_the_first_unseen_cell_of_the_route():
    grid = np.zeros((100, 100), np.int8)          # 10 x 10 m at 0.1 m, origin (-5, -5)
    grid[:, 70:] = -1                             # unknown from x = 2.0 m on
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    route = np.array([[-1.0, 0.0], [0.0, 0.0], [4.0, 0.0]])
    pose = Pose2D(0.0, 0.05, 0.0)
    assert cm.known_along(route, pose, 4.0) == pytest.approx(2.0, abs=0.05)
    assert cm.known_along(route, pose, 1.0) == pytest.approx(1.0, abs=0.05)
    grid[:, 50:53] = -1                           # unseen under the body (x 0..0.3 m)
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    assert cm.known_along(route, pose, 4.0) == pytest.approx(0.0, abs=0.05)
    assert cm.known_along(route, pose, 4.0, skip_m=0.5) == pytest.approx(2.0, abs=0.05)
    # off the grid counts as unseen
    assert cm.known_along(np.array([[-1.0, 0.0], [-1.0, 9.0]]), Pose2D(-1.0, 0.05, 0.0), 8.0) == \
        pytest.approx(4.95, abs=0.06)
    # a route of few, far waypoints: measured from the rover's place on it, not a waypoint
    assert cm.known_along(np.array([[-4.0, 0.0], [4.0, 0.0]]), Pose2D(-1.0, 0.0, 0.0), 8.0) == \
        pytest.approx(1.0, abs=0.05)


def test_the_hazard_check_ahead_starts_where_the_rover_is_on_a_route_of_far_waypoints():
    # planner routes are smoothed to a few waypoints metres apart: 2 m past the first,
    # the check must look 0.9 m ahead of the rover, not 0.9 m ahead of that waypoint
    grid = np.zeros((100, 100), np.int8)
    grid[48:53, 56:59] = 100                       # a rock at x 0.6-0.9 m on the route
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    route = np.array([[-2.0, 0.0], [4.0, 0.0]])
    pose = Pose2D(0.0, 0.0, 0.0)
    assert cm.lethal_along(route, pose, 0.9, CFG.route_clearance_m, 100, body=(0.5, 0.41)) > 0
    assert cm.lethal_along(route, pose, 0.1, CFG.route_clearance_m, 100, body=(0.5, 0.41)) == 0


def _drive_on(w, costmap):
    w.inp.costmap = costmap
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.m.ctx.route.d.follower is not None)


def test_the_rover_drives_no_faster_than_the_seen_route_allows_then_stops_and_looks():
    cfg = replace(CFG, dig_zone_x=4.5, max_linear_mps=0.4)
    w = World(cfg=cfg)
    w.inp.dig_sites = ()
    w.inp.plan = replace(w.inp.plan, site_x=4.5)
    from mining_rover.planning.executive import DigSite
    w.inp.dig_sites = (DigSite(4.5, 0.0, 1.0),)
    grid = np.zeros((200, 200), np.int8)          # 20 x 20 m at 0.1 m, origin (-10, -10)
    grid[:, 112:] = -1                            # the map has seen up to x = 1.2 m
    _drive_on(w, Costmap(grid, 0.1, -10.0, -10.0))
    speeds = []
    while w.t < 40.0:
        x = w.pose.x
        w.tick()
        speeds.append((x, w.out.linear_mps, w.out.angular_radps))
    front = 0.5 * cfg.footprint_length_m + cfg.stop_margin_m
    for x, v, _ in speeds:
        seen = max(0.0, 1.2 - x)                  # along the straight route from the rover
        assert v <= seen_speed_limit(cfg, seen) + max(cfg.look_speed_mps, 1e-9) + 1e-6
    assert max(v for _, v, _ in speeds) < cfg.max_linear_mps     # never at full speed here
    stood = [x for x, v, w_ in speeds if v == 0.0 and w_ == 0.0]
    assert len(stood) * DT == pytest.approx(cfg.look_wait_s, abs=2 * DT)    # stood and looked ...
    assert min(stood) >= 1.2 - front - 0.1
    # ... then crept on at look_speed_mps (the map never saw more): never stuck
    assert max(x for x, _, _ in speeds) > 1.2 - front
    creeping = [v for x, v, _ in speeds if x > 1.2 - front + 0.05]
    assert creeping and max(creeping) <= cfg.look_speed_mps + 1e-9
    assert w.m.record.stuck_events == 0


def test_a_map_that_sees_far_ahead_lets_the_rover_drive_at_full_speed():
    w = World()
    _drive_on(w, Costmap(np.zeros((200, 200), np.int8), 0.1, -10.0, -10.0))
    w.run_for(2.0)
    assert w.out.linear_mps == pytest.approx(CFG.max_linear_mps)


# -- stuck: back off along the trail ---------------------------------------------------------
def test_next_trail_point_drops_the_points_reached_or_ahead():
    trail = [(0.0, 0.0), (-0.05, 0.0), (-0.3, 0.1), (-0.6, 0.3)]
    pose = Pose2D(0.0, 0.0, 0.0)
    assert next_trail_point(trail, pose, 0.1) == (-0.3, 0.1)
    assert trail[0] == (-0.3, 0.1)
    assert next_trail_point([(0.5, 0.0)], pose, 0.1) is None      # ahead of the rover: passed


def test_stuck_after_a_bend_backs_off_along_the_way_it_came_not_straight_back():
    cfg = replace(CFG, recover_backoff_m=1.0)
    w = World(cfg=cfg)
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.goal is not None)
    # the route bends: 1 m along +y, then along +x to the site
    pts = np.array([[0.0, 0.0], [0.0, 1.0], [0.3, 1.3], [3.0, 1.3], [3.0, 0.0]])
    w.route = Route(1, pts)
    path = []
    w.run_until(lambda w: path.append((w.pose.x, w.pose.y)) or w.pose.x > 0.7, max_s=60.0)
    stuck_at = w.pose
    w.stuck = True
    w.run_until(lambda w: w.m.state is State.RECOVER, max_s=3 * CFG.stuck_window_s)
    w.stuck = False
    w.run_until(lambda w: w.m.state is not State.RECOVER, max_s=60.0)
    moved = math.hypot(w.pose.x - stuck_at.x, w.pose.y - stuck_at.y)
    assert moved == pytest.approx(cfg.recover_backoff_m, abs=0.1)
    track = np.array(path)
    off_trail = np.min(np.hypot(track[:, 0] - w.pose.x, track[:, 1] - w.pose.y))
    assert off_trail < 0.06
    # straight back along the heading it had would have left the trail by more
    sx = stuck_at.x - cfg.recover_backoff_m * math.cos(stuck_at.yaw)
    sy = stuck_at.y - cfg.recover_backoff_m * math.sin(stuck_at.yaw)
    assert np.min(np.hypot(track[:, 0] - sx, track[:, 1] - sy)) > off_trail + 0.2


def test_a_far_unmapped_dig_zone_is_driven_to_without_waiting_for_sites():
    far = replace(CFG, dig_zone_x=30.0, far_zone_m=10.0, site_wait_s=10.0, mapping_timeout_s=600.0)
    near = replace(far, dig_zone_x=3.0)
    waits = []
    for cfg in (far, near):
        w = World(cfg=cfg)
        w.inp.costmap = Costmap(np.full((100, 100), -1, np.int8), 0.1, -5.0, -5.0)
        w.inp.dig_sites = ()
        w.run_until(lambda w: w.m.state is State.SELECT_SITE)
        t0 = w.t
        w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE, max_s=60.0)
        waits.append(w.t - t0)
    assert waits[0] < 3 * DT                        # 30 m away: at once
    assert waits[1] == pytest.approx(CFG.site_wait_s, abs=3 * DT)   # 3 m away: waits for sites


def test_a_far_dig_zone_the_planner_finds_no_route_to_is_not_asked_for_again_each_tick():
    far = replace(CFG, dig_zone_x=30.0, far_zone_m=10.0, site_wait_s=10.0, mapping_timeout_s=600.0)
    w = World(cfg=far)
    w.inp.costmap = Costmap(np.full((100, 100), -1, np.int8), 0.1, -5.0, -5.0)
    w.inp.dig_sites = ()
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    seq, drives, states, last = 0, 0, set(), w.m.state
    t_end = w.t + 40.0
    while w.t < t_end:                     # every goal is answered: no route (an empty path)
        out = w.tick()
        if out.goal is not None:
            seq += 1
            w.route = Route(seq, np.zeros((0, 2)))
        if w.m.state is not last:
            drives += w.m.state is State.DRIVE_TO_SITE
            states.add(w.m.state)
            last = w.m.state
    assert State.FAULT not in states
    assert 2 <= drives <= 40.0 / far.site_wait_s + 1, drives   # again every site_wait_s, not every tick


def test_the_swept_footprint_lets_a_rover_leave_a_hazard_beside_it_not_drive_into_one():
    grid = np.zeros((100, 100), np.int8)          # 10 x 10 m at 0.1 m, origin (-5, -5)
    grid[53:56, 53:57] = 100                      # a rock 0.3-0.7 m ahead, 0.3-0.6 m to the left
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    pose = Pose2D(0.0, 0.0, 0.0)
    half = (0.5 * CFG.footprint_length_m, 0.5 * CFG.footprint_width_m)
    away = np.array([[0.0, 0.0], [0.5, -0.5], [3.0, -1.0]])       # a route bearing right
    assert cm.lethal_swept(away, pose, CFG.swept_ahead_m, *half, 100) == 0
    # the old checks (a box 0.1 m straight on, a disc round the route) held the rover there
    assert cm.lethal_ahead(pose, half[0] + 0.1, half[1], 100) + \
        cm.lethal_along(away, pose, 0.9, 0.42, 100, body=half) > 0
    into = np.array([[0.0, 0.0], [0.5, 0.5], [3.0, 1.0]])         # a route bearing left, into it
    assert cm.lethal_swept(into, pose, CFG.swept_ahead_m, *half, 100) > 0
    # cells under the body now do not count
    grid[:] = 0
    grid[50:52, 50:52] = 100
    cm = Costmap(grid, 0.1, -5.0, -5.0)
    assert cm.lethal_swept(away, pose, CFG.swept_ahead_m, *half, 100) == 0


def test_a_rover_beside_a_hazard_drives_off_along_a_route_that_leaves_it():
    w = World()
    w.plan_routes = False
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE and w.out.goal is not None)
    p, p_t = w.pose, w.t
    grid = np.zeros((200, 200), np.int8)          # 20 x 20 m at 0.1 m, origin (-10, -10)
    # a rock 0.5 m ahead and 0.45 m to the left of the rover (its cells reach 0.35 m)
    cy, sy = math.cos(p.yaw), math.sin(p.yaw)
    gx, gy = p.x + 0.5 * cy - 0.45 * sy, p.y + 0.5 * sy + 0.45 * cy
    c, r = int((gx + 10.0) / 0.1), int((gy + 10.0) / 0.1)
    grid[r - 1:r + 2, c - 1:c + 2] = 100
    w.inp.costmap = Costmap(grid, 0.1, -10.0, -10.0)
    # the route leaves it: ahead and to the right, then on to the site
    right = (p.x + 1.5 * cy + 0.6 * sy, p.y + 1.5 * sy - 0.6 * cy)
    w.route = Route(1, np.array([[p.x, p.y], right, [3.0, 0.0]]))
    events = []
    w.run_until(lambda w: events.extend(w.out.events) or w.t > 3.0 + p_t, max_s=10.0)
    assert math.hypot(w.pose.x - p.x, w.pose.y - p.y) > 0.3
    assert not any('lethal' in text for _lvl, text in events)      # never held
