"""planner_node over real DDS: a costmap, elevation, odometry and a goal in; a route that
avoids lethal cells, dig sites and an excavation plan out; bad maps and goals give an
empty route and no crash."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import OccupancyGrid, Odometry, Path  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from mining_rover.nodes.planner_node import PlannerNode  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.ros.conversions import (float_grid_to_image, matrix_to_odometry,  # noqa: E402
                                          numpy_to_occupancy_grid)
from mining_rover.ros.params import ParameterError  # noqa: E402

RES = 0.1
N = 80
PLAN_KEYS = {'site_x', 'site_y', 'depth_of_cut_m', 'drum_speed_radps', 'drive_speed_mps',
             'expected_mass_kg', 'expected_target_kg', 'horizontal_force_n', 'traction_limit_n'}


def _params(**over):
    p = {'dig_zone_x': 6.0, 'dig_zone_y': 6.0, 'dig_zone_radius': 1.2, 'berm_x': 1.0, 'berm_y': 6.0,
         'robot_radius': 0.3, 'inflation_radius': 0.6, 'sites_period_s': 0.3, 'min_clearance_m': 0.4}
    p.update(over)
    return [Parameter(k, value=v) for k, v in p.items()]


class Harness:
    def __init__(self, ros, **over):
        self.node = ros.add(PlannerNode(context=ros.context, parameter_overrides=_params(**over)))
        t = self.t = ros.node('planner_test')
        self.routes, self.sites, self.plans = [], [], []
        self.map_pub = t.create_publisher(OccupancyGrid, 'map/costmap', qos.MAP)
        self.elev_pub = t.create_publisher(Image, 'map/elevation', qos.MAP)
        self.odom_pub = t.create_publisher(Odometry, 'odom', qos.STATE)
        self.goal_pub = t.create_publisher(PoseStamped, 'mission/goal', qos.COMMAND)
        t.create_subscription(Path, 'planner/route', self.routes.append, qos.MAP)
        t.create_subscription(MarkerArray, 'planner/dig_sites', self.sites.append, qos.MAP)
        t.create_subscription(DiagnosticStatus, 'planner/excavation_plan', self.plans.append, qos.MAP)

    def world(self, costs):
        self.map_pub.publish(numpy_to_occupancy_grid(costs, RES, (0.0, 0.0)))
        self.elev_pub.publish(float_grid_to_image(np.zeros(costs.shape, np.float32), 'map'))

    def odom(self, x, y):
        T = np.eye(4)
        T[0, 3], T[1, 3] = x, y
        self.odom_pub.publish(matrix_to_odometry(T, 'odom', 'base_link'))

    def goal(self, x, y):
        g = PoseStamped()
        g.header.frame_id = 'map'
        g.pose.position.x, g.pose.position.y = x, y
        g.pose.orientation.w = 1.0
        self.goal_pub.publish(g)


def _wall_map():
    c = np.zeros((N, N), np.int8)
    c[0:60, 40] = 100           # a wall from the bottom, open above y = 6 m
    return c


def test_route_avoids_lethal_and_sites_and_plan_arrive(ros):
    h = Harness(ros)
    costs = _wall_map()
    assert ros.spin_until(lambda: h.t.count_subscribers('map/costmap') > 0, 10.0)
    h.world(costs)
    got_route = False
    for _ in range(50):                      # goals are COMMAND (volatile): resend until heard
        h.odom(1.0, 1.0)
        h.goal(7.0, 1.0)
        if ros.spin_until(lambda: any(len(r.poses) for r in h.routes), 0.3):
            got_route = True
            break
    assert got_route, 'no route'
    route = next(r for r in h.routes if len(r.poses))
    pts = np.array([[p.pose.position.x, p.pose.position.y] for p in route.poses])
    assert route.header.frame_id == 'map'
    assert np.allclose(pts[0], (1.0, 1.0)) and np.allclose(pts[-1], (7.0, 1.0))
    assert pts[:, 1].max() > 6.0            # went round the top of the wall
    for a, b in zip(pts[:-1], pts[1:]):      # no segment crosses a lethal cell
        for t in np.linspace(0, 1, 100):
            x, y = a + t * (b - a)
            assert costs[int(y / RES), int(x / RES)] < 100
    assert ros.spin_until(lambda: any(any(m.action == Marker.ADD for m in s.markers) for s in h.sites)
                          and h.plans, 10.0)
    sites = next(s for s in reversed(h.sites) if any(m.action == Marker.ADD for m in s.markers))
    added = [m for m in sites.markers if m.action == Marker.ADD]
    assert all(m.ns == 'dig_sites' for m in added) and [m.id for m in added] == list(range(len(added)))
    assert all(math.hypot(m.pose.position.x - 6.0, m.pose.position.y - 6.0) <= 1.2 for m in added)
    scores = [float(m.text) for m in added]
    assert scores == sorted(scores, reverse=True)
    plan = {kv.key: kv.value for kv in h.plans[-1].values}
    assert PLAN_KEYS <= set(plan)
    assert float(plan['horizontal_force_n']) <= float(plan['traction_limit_n'])
    assert float(plan['depth_of_cut_m']) > 0.0


def _expect_empty_route(ros, h, x=7.0, y=1.0):
    for _ in range(30):
        h.odom(1.0, 1.0)
        h.goal(x, y)
        if ros.spin_until(lambda: len(h.routes) > 0, 0.3):
            break
    assert h.routes and len(h.routes[-1].poses) == 0


def test_empty_costmap_gives_empty_route(ros):
    h = Harness(ros)
    assert ros.spin_until(lambda: h.t.count_subscribers('map/costmap') > 0, 10.0)
    h.map_pub.publish(numpy_to_occupancy_grid(np.zeros((0, 0), np.int8), RES, (0.0, 0.0)))
    _expect_empty_route(ros, h)
    ros.spin_for(0.5)                        # the site timer runs on the empty map too
    assert h.node.context.ok()


def test_all_unknown_and_enclosed_goal_give_empty_route(ros):
    h = Harness(ros, allow_unknown=False)
    assert ros.spin_until(lambda: h.t.count_subscribers('map/costmap') > 0, 10.0)
    h.world(np.full((N, N), -1, np.int8))
    _expect_empty_route(ros, h)
    h.routes.clear()
    c = np.zeros((N, N), np.int8)
    c[10:30, 50] = c[10:30, 70] = c[10, 50:71] = c[30, 50:71] = 100   # a closed box
    h.world(c)
    ros.spin_for(0.3)
    _expect_empty_route(ros, h, 6.0, 2.0)


def test_bad_parameter_refuses_start(ros):
    with pytest.raises(ParameterError, match='inflation_radius'):
        PlannerNode(context=ros.context, parameter_overrides=_params(robot_radius=1.0, inflation_radius=0.5))
    with pytest.raises(ParameterError, match='target_resource'):
        PlannerNode(context=ros.context, parameter_overrides=_params(target_resource='gold'))


def test_keepout_spots_are_routed_round_and_a_widened_zone_is_scored(ros):
    """mission/keepout (spots the rover got stuck at) turns lethal for routes;
    mission/dig_zone (the executive's widened zone) is where dig sites come from."""
    h = Harness(ros)
    pub_keep = h.t.create_publisher(MarkerArray, 'mission/keepout', qos.MAP)
    pub_zone = h.t.create_publisher(Marker, 'mission/dig_zone', qos.MAP)
    assert ros.spin_until(lambda: h.t.count_subscribers('map/costmap') > 0, 10.0)
    h.world(np.zeros((N, N), np.int8))
    spot = Marker(ns='keepout', id=0, type=Marker.CYLINDER, action=Marker.ADD)
    spot.pose.position.x, spot.pose.position.y = 4.0, 1.0
    spot.scale.x = 0.8
    pub_keep.publish(MarkerArray(markers=[Marker(ns='keepout', action=Marker.DELETEALL), spot]))
    zone = Marker(ns='dig_zone', type=Marker.CYLINDER, action=Marker.ADD)
    zone.pose.position.x, zone.pose.position.y = 6.0, 6.0
    zone.scale.x = 2 * 1.8                      # 1.2 m grown to 1.8 m
    pub_zone.publish(zone)
    assert ros.spin_until(lambda: h.node.keepouts and h.node.dig_zone[2] == 1.8, 10.0)
    def ends_at_goal(r):
        return len(r.poses) > 1 and math.hypot(r.poses[-1].pose.position.x - 7.0,
                                               r.poses[-1].pose.position.y - 1.0) < 0.05
    h.routes.clear()
    for _ in range(50):
        h.odom(1.0, 1.0)
        h.goal(7.0, 1.0)
        if ros.spin_until(lambda: any(ends_at_goal(r) for r in h.routes), 0.3):
            break
    route = next(r for r in h.routes if ends_at_goal(r))
    pts = np.array([[p.pose.position.x, p.pose.position.y] for p in route.poses])
    # the route (sampled along its segments) keeps the robot's radius off the 0.4 m spot
    dense = np.concatenate([a + np.linspace(0, 1, 50)[:, None] * (b - a) for a, b in zip(pts[:-1], pts[1:])])
    assert np.hypot(dense[:, 0] - 4.0, dense[:, 1] - 1.0).min() >= 0.4 + 0.3 - RES
    h.sites.clear()
    assert ros.spin_until(lambda: any(any(m.action == Marker.ADD for m in s.markers) for s in h.sites), 10.0)
    added = [m for m in next(s for s in reversed(h.sites) if len(s.markers) > 1).markers
             if m.action == Marker.ADD]
    dist = [math.hypot(m.pose.position.x - 6.0, m.pose.position.y - 6.0) for m in added]
    assert max(dist) <= 1.8 and max(dist) > 1.2   # sites beyond the configured 1.2 m


def _route_points(route):
    return np.array([[p.pose.position.x, p.pose.position.y] for p in route.poses])


def test_route_across_the_site_map_and_replan_when_the_map_fills_in(ros):
    """The goal lies 24 m off the 8 m local costmap; the site map (0.25 m) knows a wall
    on the straight line, open only above y = 12 m (beyond the first composed grid: the
    whole site map is tried next). Then the local costmap sees a rock on the route just
    ahead: a new route to the same goal comes out, clear of it."""
    h = Harness(ros)
    site_pub = h.t.create_publisher(OccupancyGrid, 'map/global_costmap', qos.MAP)
    site = np.zeros((240, 240), np.int8)                   # 60 m at 0.25 m from (-20, -20)
    site[:int((12.0 + 20.0) / 0.25), int((15.0 + 20.0) / 0.25)] = 100   # wall at x = 15 m, y < 12 m
    site[:, 150:] = -1                                     # never seen beyond x = 17.5 m
    assert ros.spin_until(lambda: h.t.count_subscribers('map/global_costmap') > 0, 10.0)
    site_pub.publish(numpy_to_occupancy_grid(site, 0.25, (-20.0, -20.0)))
    local = np.zeros((N, N), np.int8)
    h.world(local)
    assert ros.spin_until(lambda: h.node.site_grid is not None and h.node.grid is not None, 10.0)
    for _ in range(50):
        h.odom(1.0, 1.0)
        h.goal(25.0, 1.0)
        if ros.spin_until(lambda: any(len(r.poses) for r in h.routes), 0.5):
            break
    first = next(r for r in h.routes if len(r.poses))
    pts = _route_points(first)
    assert np.allclose(pts[0], (1.0, 1.0)) and np.allclose(pts[-1], (25.0, 1.0))
    assert pts[:, 1].max() > 12.0                          # round the top of the wall
    for a, b in zip(pts[:-1], pts[1:]):
        for t in np.linspace(0, 1, 200):
            x, y = a + t * (b - a)
            r, c = int((y + 20.0) / 0.25), int((x + 20.0) / 0.25)
            if 0 <= r < 240 and 0 <= c < 240:
                assert site[r, c] != 100
    # a rock on the route 2-3 m ahead, inside the local costmap
    seg = np.diff(pts, axis=0)
    dense = np.vstack([pts[i] + np.linspace(0, 1, 50)[:, None] * seg[i] for i in range(len(seg))])
    ahead = dense[np.argmin(np.abs(np.hypot(*(dense - pts[0]).T) - 2.5))]
    rock = local.copy()
    r0, c0 = int(ahead[1] / RES), int(ahead[0] / RES)
    rock[r0 - 3:r0 + 4, c0 - 3:c0 + 4] = 100
    h.odom(1.0, 1.0)
    h.world(rock)

    def changed():      # routes of the goals resent above may still come: the same route
        return len(h.routes[-1].poses) and not (len(h.routes[-1].poses) == len(pts)
                                                 and np.allclose(_route_points(h.routes[-1]), pts))
    assert ros.spin_until(changed, 10.0), 'no replan'
    new = _route_points(h.routes[-1])
    assert np.allclose(new[-1], (25.0, 1.0))
    for a, b in zip(new[:-1], new[1:]):
        for t in np.linspace(0, 1, 200):
            x, y = a + t * (b - a)
            if 0 <= x < N * RES and 0 <= y < N * RES:
                assert rock[int(y / RES), int(x / RES)] < 100
