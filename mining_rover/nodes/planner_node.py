"""planner_node: routes, dig sites and the excavation plan (docs/INTERFACES.md).

Subscribes map/costmap (OccupancyGrid), map/elevation (32FC1 Image, same grid), odom,
mission/goal (PoseStamped), excavator/state (DiagnosticStatus, for the online regolith
estimate), mission/keepout (MarkerArray: spots where the rover got stuck, lethal for
routes), mission/dig_zone (Marker: the dig zone as the executive widened it) and
map/global_costmap (the coarse site map, OccupancyGrid).

Routes across the site (``site_planning``): when the site map has arrived or the goal
lies off the local costmap, the route is planned on one fine grid composed of the local
costmap where it knows, the site map elsewhere, unknown beyond (driven at unknown_cost),
by the multi-resolution planner (planning/site_planner.py). While a route is out, each
new local costmap is checked against it (``replan_on_map``): where the route now
crosses lethal ground ahead, it is replanned to the same goal and republished (kept if
no new route is found: the executive's own hazard check stops the rover).

Publishes planner/route (nav_msgs/Path, latched), planner/dig_sites (MarkerArray, ns
dig_sites, id = rank, text = score) and planner/excavation_plan (DiagnosticStatus).
Thin: callbacks convert and store; timers call the planning domain
(mining_rover.planning.{astar, site_planner, sites, resource, regolith, keepout}) and publish.

Bad input never stops the node: an empty or all-unknown costmap, a goal in an obstacle
with no free cell near it, an unreachable goal or a stale map each log their reason
(throttled) and publish an empty route.
"""
from __future__ import annotations

import math
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from rclpy.node import Node
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from mining_rover.planning.keepout import apply_keepouts

from mining_rover.paths import rover_mass_kg
from mining_rover.planning.astar import Grid, GridPlanner, PlannerConfig
from mining_rover.planning.site_planner import SiteConfig as RouteConfig
from mining_rover.planning.site_planner import SitePlanner, compose_site_grid, route_blocked
from mining_rover.planning.regolith import RegolithParams, Rover, load_params, plan_cut
from mining_rover.planning.soil_estimator import CutObserver, RegolithEstimator
from mining_rover.planning.resource import RESOURCES, ResourceBelief, load_prior_map
from mining_rover.planning.sites import SiteConfig, score_sites
from mining_rover.ros import qos
from mining_rover.ros.conversions import (image_to_float_grid, occupancy_grid_to_numpy,
                                          odometry_to_matrix, odometry_to_twist,
                                          yaw_from_matrix, yaw_to_quaternion)
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.status_codec import ExcavationPlanStatus
from mining_rover.ros.runtime import node_main

THROTTLE_S = 5.0
ARRIVED_M = 0.5        # a route whose goal is this near is done: no more replanning


def _rover_yaml() -> dict:
    try:
        from mining_rover.paths import rover_config
        return rover_config()
    except FileNotFoundError:  # rover.yaml absent: the Rover dataclass defaults match it
        return {}


def planner_params() -> list:
    """The planner node's parameter table (defaults partly from config/rover.yaml)."""
    r = _rover_yaml()
    drum = r.get('drum', {})
    wheel = r.get('wheel', {})
    return [
        Param('gravity_mps2', 1.62, 'surface gravity of this body, m/s^2 (from the world)', 1e-7, 30.0),
        Param('target_resource', 'helium3', 'resource the dig sites are scored for', choices=RESOURCES),
        Param('prior_map_path', '', 'prior resource map (npz) the world names; empty: uniform prior'),
        Param('regolith_file', '', 'nominal regolith YAML; empty: config/regolith_nominal.yaml'),
        Param('berm_x', 0.0, 'berm (dump) zone centre x, map frame, m', -1e4, 1e4),
        Param('berm_y', 0.0, 'berm zone centre y, m', -1e4, 1e4),
        Param('berm_radius', 1.0, 'berm zone radius, m', 0.0, 1e3),
        Param('dig_zone_x', 5.0, 'dig zone centre x, map frame, m', -1e4, 1e4),
        Param('dig_zone_y', 0.0, 'dig zone centre y, m', -1e4, 1e4),
        Param('dig_zone_radius', 2.0, 'dig zone radius, m', 0.1, 1e3),
        Param('robot_radius', 0.55, 'inscribed robot radius for inflation, m', 0.0, 5.0),
        Param('inflation_radius', 1.2, 'Nav2 inflation radius, m', 0.0, 20.0),
        Param('cost_scaling_factor', 3.0, 'Nav2 inflation decay, 1/m', 0.01, 100.0),
        Param('allow_unknown', True, 'plan through unknown cells (at unknown_cost)'),
        Param('unknown_cost', 60, 'cost of an unknown cell when allowed (0..98)', 0, 98),
        Param('cost_weight', 3.0, 'edge multiplier = 1 + cost_weight * cost / 100', 0.0, 100.0),
        Param('goal_snap_radius', 1.0, 'a goal in an obstacle moves to the nearest free cell within this, m',
              0.0, 20.0),
        Param('map_timeout_s', 60.0, 'a costmap older than this is stale: no route, s', 0.1, 1e5),
        Param('safety_margin', 0.3, 'share of traction and weight the cut must leave unused', 0.0, 0.95),
        Param('design_slip', 0.2, 'wheel slip at which traction is counted', 0.01, 0.9),
        Param('rover_mass_kg', rover_mass_kg(), 'whole rover, empty, kg (rover.yaml)', 1.0, 5000.0),
        Param('holddown_n', 0.0, 'hold-down thrust pressing the rover onto the ground, N (from the site, '
              'control/holddown.py): counted with the weight for traction and lift-off', 0.0, 1000.0),
        Param('wheel_soil_friction', 0.6, 'Coulomb mu for the mu*m*g traction bound', 0.05, 2.0),
        Param('drum_radius_m', float(drum.get('radius', 0.16)), 'drum radius, m', 0.01, 2.0),
        Param('drum_length_m', float(drum.get('length', 0.45)), 'drum length (cut width), m', 0.01, 5.0),
        Param('drum_capacity_m3', float(drum.get('capacity_m3', 0.012)), 'regolith one drum holds, m^3',
              1e-4, 10.0),
        Param('drum_max_torque_nm', float(drum.get('max_effort', 60.0)), 'drum torque rating, N m', 0.1, 1e4),
        Param('drum_max_speed_radps', float(drum.get('max_velocity', 8.0)), 'drum speed limit, rad/s',
              0.1, 100.0),
        Param('wheel_radius_m', float(wheel.get('radius', 0.20)), 'wheel radius, m', 0.01, 2.0),
        Param('wheel_width_m', float(wheel.get('width', 0.12)), 'wheel width, m', 0.01, 2.0),
        Param('min_fill_time_s', 60.0, 'the cut need not fill the drums faster than this, s', 1.0, 3600.0),
        Param('max_drive_mps', 0.2, 'fastest advance while cutting, m/s', 0.005, 1.0),
        Param('site_spacing_m', 0.5, 'dig-site candidate lattice, m', 0.05, 10.0),
        Param('max_slope_deg', 15.0, 'steepest footprint a site may have, deg', 0.0, 60.0),
        Param('min_clearance_m', 0.8, 'closest a site may be to a lethal cell, m', 0.0, 20.0),
        Param('max_sites', 10, 'dig sites published', 1, 100),
        Param('sites_period_s', 2.0, 'dig sites and excavation plan rate, s', 0.1, 600.0),
        Param('map_frame', 'map', 'frame of routes and sites'),
        Param('site_planning', True, 'plan routes on the local costmap joined with the site map '
              '(map/global_costmap), by the multi-resolution planner'),
        Param('site_margin_m', 10.0, 'the composed grid reaches this far beyond start and goal, m',
              0.5, 100.0),
        Param('site_max_side_m', 200.0, 'largest side of a composed grid, m', 10.0, 2000.0),
        Param('coarse_factor', 8, 'fine cells per coarse block side of the site planner', 2, 64),
        Param('corridor_blocks', 1, 'coarse blocks each side of the coarse route searched finely', 1, 32),
        Param('replan_on_map', True, 'replan the route out when a new costmap shows lethal ground on it'),
    ]


class PlannerNode(Node):
    """Plans routes on the costmap, picks dig sites and excavation plans, estimates the regolith online."""
    def __init__(self, **kwargs):
        self._warned: dict = {}
        super().__init__('planner_node', **kwargs)
        p = self.p = declare_and_read(self, planner_params())
        if p['inflation_radius'] < p['robot_radius']:
            raise ParameterError(f"parameter 'inflation_radius' = {p['inflation_radius']} is below "
                                 f"robot_radius {p['robot_radius']}")
        self.path_cfg = PlannerConfig(
            robot_radius_m=p['robot_radius'], inflation_radius_m=p['inflation_radius'],
            cost_scaling_factor=p['cost_scaling_factor'], allow_unknown=p['allow_unknown'],
            unknown_cost=p['unknown_cost'], cost_weight=p['cost_weight'],
            goal_snap_radius_m=p['goal_snap_radius'])
        self.rover = Rover(mass_kg=p['rover_mass_kg'], wheel_radius_m=p['wheel_radius_m'],
                           wheel_width_m=p['wheel_width_m'], drum_radius_m=p['drum_radius_m'],
                           drum_length_m=p['drum_length_m'], drum_capacity_m3=p['drum_capacity_m3'],
                           drum_max_torque_nm=p['drum_max_torque_nm'],
                           drum_max_speed_radps=p['drum_max_speed_radps'],
                           wheel_soil_friction=p['wheel_soil_friction'], holddown_n=p['holddown_n'])
        self.site_cfg = SiteConfig(spacing_m=p['site_spacing_m'], footprint_width_m=p['drum_length_m'],
                                   max_slope_deg=p['max_slope_deg'], min_clearance_m=p['min_clearance_m'],
                                   max_sites=p['max_sites'])
        nominal = self._load_regolith(p['regolith_file'])
        self.estimator = RegolithEstimator(nominal, self.rover, p['gravity_mps2'])
        self.cut_observer = CutObserver(self.estimator)
        self.prior, problem = load_prior_map(p['prior_map_path'], p['target_resource'])
        if problem:
            self.get_logger().warning(problem)
        else:
            self.get_logger().info(f"prior {p['target_resource']} map {p['prior_map_path']}: "
                                   f'{self.prior.mean.shape[1]}x{self.prior.mean.shape[0]} cells')
        self._raw_costs = None      # the latest costmap as received
        self.keepouts = ()          # (x, y, radius m) from mission/keepout
        self.dig_zone = (p['dig_zone_x'], p['dig_zone_y'], p['dig_zone_radius'])
        self.route_cfg = RouteConfig(coarse_factor=p['coarse_factor'],
                                   corridor_blocks=p['corridor_blocks'])
        self.grid = None            # Grid of the latest costmap, keep-out spots lethal
        self.site_grid = None       # Grid of the latest site map (coarse)
        self.route_goal = None      # (x, y) of the route out, for replanning
        self.route_xy = None
        self._replan = False        # the pending goal is a replan: keep the old route on failure
        self.map_rx_s = None        # node-clock time it arrived
        self.elevation = None
        self.belief = None
        self.pose = None            # (x, y, yaw)
        self.speed = 0.0
        self.goal = None            # (x, y) pending
        self._planner = None
        self._plan = None           # latest CutPlan

        self._route_pub = self.create_publisher(Path, 'planner/route', qos.MAP)
        self._sites_pub = self.create_publisher(MarkerArray, 'planner/dig_sites', qos.MAP)
        self._plan_pub = self.create_publisher(DiagnosticStatus, 'planner/excavation_plan', qos.MAP)
        sub = self.create_subscription
        self._subs = [
            sub(OccupancyGrid, 'map/costmap', self._on_costmap, qos.MAP),
            sub(Image, 'map/elevation', self._on_elevation, qos.MAP),
            sub(Odometry, 'odom', self._on_odom, qos.STATE),
            sub(PoseStamped, 'mission/goal', self._on_goal, qos.COMMAND),
            sub(DiagnosticStatus, 'excavator/state', self._on_excavator, qos.STATE),
            sub(MarkerArray, 'mission/keepout', self._on_keepout, qos.MAP),
            sub(Marker, 'mission/dig_zone', self._on_dig_zone, qos.MAP),
        ]
        if p['site_planning']:
            self._subs.append(sub(OccupancyGrid, 'map/global_costmap', self._on_site_map, qos.MAP))
        self._route_timer = self.create_timer(0.1, self._plan_route)
        self._sites_timer = self.create_timer(p['sites_period_s'], self._update_sites)
        self.get_logger().info(
            f"planner ready: g = {p['gravity_mps2']} m/s^2, hold-down {p['holddown_n']:g} N, "
            f"target {p['target_resource']}, "
            f"robot radius {p['robot_radius']} m, unknown {'allowed' if p['allow_unknown'] else 'lethal'}")

    # -- helpers ---------------------------------------------------------------------------
    def _load_regolith(self, path: str) -> RegolithParams:
        if not path:
            try:
                from mining_rover.paths import config_path
                path = str(config_path('regolith_nominal.yaml'))
            except Exception as exc:
                self.get_logger().warning(
                    f'config/regolith_nominal.yaml not found ({exc}): built-in lunar values')
                return RegolithParams()
        try:
            return load_params(path)
        except (OSError, ValueError, TypeError) as exc:
            raise ParameterError(f"parameter 'regolith_file' = {path!r}: {exc}") from exc

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _warn(self, text: str):
        """Warn at most every THROTTLE_S per kind of message (the text before its first
        colon): rclpy throttles per call site, which is this one line for all of them, so
        a repeating warning would otherwise hide every other one."""
        key = text.split(':', 1)[0]
        now = time.monotonic()   # a log rate for people reading it: wall time, as rclpy's throttle
        if now - self._warned.get(key, -math.inf) >= THROTTLE_S:
            self._warned[key] = now
            self.get_logger().warning(text)

    def _map_problem(self) -> str:
        if self.grid is None:
            return 'no costmap received yet'
        if self.grid.costs.size == 0:
            return 'costmap is empty'
        if np.all(self.grid.costs < 0):
            if not self.p['allow_unknown']:
                return 'costmap is all unknown (and allow_unknown is false)'
        age = self._now_s() - self.map_rx_s
        if age > self.p['map_timeout_s']:
            return f"costmap is stale ({age:.1f} s old > map_timeout_s {self.p['map_timeout_s']})"
        return ''

    def _get_planner(self) -> GridPlanner:
        if self._planner is None:
            self._planner = GridPlanner(self.grid, self.path_cfg)
        return self._planner

    # -- inputs ----------------------------------------------------------------------------
    def _on_costmap(self, msg: OccupancyGrid):
        try:
            costs, res, origin, yaw = occupancy_grid_to_numpy(msg)
        except ValueError as exc:
            self._warn(f'costmap rejected: {exc}')
            return
        if abs(yaw) > 1e-6:
            self._warn(f'costmap rejected: rotated origin (yaw {yaw:.3f} rad) not supported')
            return
        self._raw_costs = costs.astype(np.int16)
        self.grid = Grid(apply_keepouts(self._raw_costs, res, origin, self.keepouts), res, origin)
        self.map_rx_s = self._now_s()
        self._planner = None
        self._check_route()
        if self.belief is None or self.belief.mean.shape != costs.shape:
            if costs.size:
                self.belief = ResourceBelief(self.prior, costs.shape, res, origin)

    def _on_keepout(self, msg: MarkerArray):
        spots = tuple((m.pose.position.x, m.pose.position.y, 0.5 * m.scale.x) for m in msg.markers
                      if m.action == Marker.ADD and m.ns == 'keepout')
        if spots != self.keepouts:
            self.keepouts = spots
            self.get_logger().info(f'{len(spots)} keep-out spots from the executive')
            if self.grid is not None:
                g = self.grid
                self.grid = Grid(apply_keepouts(self._raw_costs, g.resolution, g.origin_xy, spots),
                                 g.resolution, g.origin_xy)
                self._planner = None

    def _on_dig_zone(self, msg: Marker):
        zone = (msg.pose.position.x, msg.pose.position.y, 0.5 * msg.scale.x)
        if msg.ns != 'dig_zone' or not all(map(math.isfinite, zone)) or zone[2] <= 0.0:
            self._warn(f'dig zone rejected: {msg.ns!r} {zone}')
            return
        if zone != self.dig_zone:
            self.dig_zone = zone
            self.get_logger().info(f'dig zone ({zone[0]:.2f}, {zone[1]:.2f}), radius {zone[2]:.2f} m')

    def _on_site_map(self, msg: OccupancyGrid):
        try:
            costs, res, origin, yaw = occupancy_grid_to_numpy(msg)
        except ValueError as exc:
            self._warn(f'site map rejected: {exc}')
            return
        if abs(yaw) > 1e-6 or costs.size == 0:
            self._warn(f'site map rejected: rotated (yaw {yaw:.3f} rad) or empty ({costs.shape})')
            return
        self.site_grid = Grid(costs.astype(np.int16), res, origin)

    def _check_route(self):
        """Replan the route out when the new costmap shows lethal ground on it ahead."""
        if not self.p['replan_on_map'] or self.route_goal is None or self.pose is None or self.goal:
            return
        if math.hypot(self.pose[0] - self.route_goal[0], self.pose[1] - self.route_goal[1]) < ARRIVED_M:
            self.route_goal = self.route_xy = None
            return
        if route_blocked(self.route_xy, self.grid, self.path_cfg, self.pose[:2]):
            self.get_logger().info(f'route to ({self.route_goal[0]:.2f}, {self.route_goal[1]:.2f}) crosses '
                                   'lethal ground in the new costmap: replanning')
            self.goal, self._replan = self.route_goal, True

    def _on_elevation(self, msg: Image):
        try:
            self.elevation = image_to_float_grid(msg)
        except ValueError as exc:
            self._warn(f'elevation rejected: {exc}')

    def _on_odom(self, msg: Odometry):
        try:
            T = odometry_to_matrix(msg)
            twist = odometry_to_twist(msg)
        except ValueError as exc:
            self._warn(f'odometry rejected: {exc}')
            return
        self.pose = (float(T[0, 3]), float(T[1, 3]), yaw_from_matrix(T))
        self.speed = twist[0]

    def _on_goal(self, msg: PoseStamped):
        x, y = msg.pose.position.x, msg.pose.position.y
        if not (math.isfinite(x) and math.isfinite(y)):
            self._warn(f'goal rejected: not finite ({x}, {y})')
            self._publish_route(None)
            return
        self.goal = (float(x), float(y))
        self._replan = False

    def _on_excavator(self, msg: DiagnosticStatus):
        v = {kv.key: kv.value for kv in msg.values}
        try:
            torque = float(v.get('cutting_torque_nm', 'nan'))
            drum = float(v.get('drum_speed_radps', 'nan'))
            fill = float(v.get('fill_kg', 'nan'))
            dumping = v.get('dumping', '0') == '1'
            stalled = v.get('stalled', '0') == '1'
        except ValueError as exc:
            self._warn(f'excavator state rejected: {exc}')
            return
        plan = self._plan
        self.cut_observer.observe(self._now_s(), torque, drum, fill, self.speed,
                                  plan.depth_of_cut_m if plan is not None else 0.0,
                                  feasible=plan is not None and plan.feasible,
                                  dumping=dumping, stalled=stalled)

    # -- work ------------------------------------------------------------------------------
    def _plan_route(self):
        if self.goal is None:
            return
        goal, self.goal = self.goal, None
        replan, self._replan = self._replan, False
        problem = self._map_problem()
        if not problem and self.pose is None:
            problem = 'no odometry yet'
        if problem:
            self._warn(f'no route to ({goal[0]:.2f}, {goal[1]:.2f}): {problem}')
            if not replan:
                self._publish_route(None)
            return
        result, why = self._plan_goal(goal)
        if result is None or not result.ok:
            if replan:
                self._warn(f'replanning to ({goal[0]:.2f}, {goal[1]:.2f}) failed ({why}): the route stays')
                return
            self._warn(f'no route to ({goal[0]:.2f}, {goal[1]:.2f}): {why}')
            self._publish_route(None)
            return
        if result.goal_snapped:
            self.get_logger().info(f'goal ({goal[0]:.2f}, {goal[1]:.2f}) in an obstacle: snapped to '
                                   f'({result.path_xy[-1, 0]:.2f}, {result.path_xy[-1, 1]:.2f})')
        self.route_goal, self.route_xy = goal, result.path_xy
        self._publish_route(result.path_xy)

    def _plan_goal(self, goal):
        """(PathResult or None, reason). On the local costmap alone, exactly (GridPlanner),
        while there is no site map and the goal is on it; else by the site planner on the
        composed grid: first start and goal with site_margin_m around them, then, if that
        finds no route and a site map is in, the whole site map (a detour may lead far)."""
        p, start = self.p, self.pose[:2]
        try:
            if not p['site_planning'] or (self.site_grid is None
                                          and self.grid.inside(*self.grid.to_cell(goal))):
                result = self._get_planner().plan(start, goal)
                return result, result.reason
            points = [start, goal]
            result = None
            for extent in ([], self._site_corners()):
                if result is not None and not extent:
                    break
                grid = compose_site_grid(self.grid, self.site_grid, points + extent, p['site_margin_m'],
                                         p['site_max_side_m'])
                result = SitePlanner(grid, self.path_cfg, self.route_cfg).plan(start, goal)
                if result.ok:
                    break
            return result, result.reason
        except ValueError as exc:
            return None, str(exc)

    def _site_corners(self) -> list:
        g = self.site_grid
        if g is None:
            return []
        h, w = g.costs.shape
        x0, y0 = g.origin_xy
        return [(x0, y0), (x0 + w * g.resolution, y0 + h * g.resolution)]

    def _publish_route(self, xy):
        if xy is None:
            self.route_goal = self.route_xy = None
        msg = Path()
        msg.header.frame_id = self.p['map_frame']
        msg.header.stamp = self.get_clock().now().to_msg()
        if xy is not None and len(xy):
            yaws = np.arctan2(np.diff(xy[:, 1]), np.diff(xy[:, 0])) if len(xy) > 1 else np.zeros(0)
            yaws = np.append(yaws, yaws[-1] if len(yaws) else (self.pose[2] if self.pose else 0.0))
            for (x, y), yaw in zip(xy, yaws):
                ps = PoseStamped()
                ps.header = msg.header
                ps.pose.position.x, ps.pose.position.y = float(x), float(y)
                ps.pose.orientation = yaw_to_quaternion(float(yaw))
                msg.poses.append(ps)
        self._route_pub.publish(msg)

    def _update_sites(self):
        p = self.p
        params = self.estimator.params
        self._plan = plan = plan_cut(self.rover, params, p['gravity_mps2'], p['safety_margin'],
                                     p['design_slip'], max_drive_mps=p['max_drive_mps'],
                                     min_fill_time_s=p['min_fill_time_s'])
        if not plan.feasible:
            self._warn(f'excavation: {plan.reason}')
        problem = self._map_problem()
        sites = []
        if not problem and self.elevation is not None and self.elevation.shape != self.grid.costs.shape:
            problem = f'elevation {self.elevation.shape} and costmap {self.grid.costs.shape} grids differ'
        if not problem:
            planner = self._get_planner()
            elevation = self.elevation if self.elevation is not None else np.zeros(self.grid.costs.shape)
            berm = (p['berm_x'], p['berm_y'])
            from_rover = (lambda xy: planner.cost_to(self.pose[:2], xy)) if self.pose else None
            try:
                sites = score_sites(planner.costs, elevation, self.grid.resolution, self.grid.origin_xy,
                                    self.belief.mean, np.sqrt(self.belief.var),
                                    self.dig_zone, berm,
                                    plan.depth_of_cut_m, plan.expected_mass_kg, params.density_kgm3,
                                    travel_from_rover=from_rover, cfg=self.site_cfg)
            except ValueError as exc:
                problem = str(exc)
        if problem:
            self._warn(f'no dig sites: {problem}')
        elif not sites:
            self._warn('no dig sites: no reachable, level, hazard-free ground in the dig zone')
        self._publish_sites(sites)
        self._publish_plan(plan, sites[0] if sites else None, params)

    def _publish_sites(self, sites):
        arr = MarkerArray()
        clear = Marker()
        clear.header.frame_id = self.p['map_frame']
        clear.ns = 'dig_sites'
        clear.action = Marker.DELETEALL
        arr.markers.append(clear)
        stamp = self.get_clock().now().to_msg()
        for rank, s in enumerate(sites):
            m = Marker()
            m.header.frame_id = self.p['map_frame']
            m.header.stamp = stamp
            m.ns = 'dig_sites'
            m.id = rank
            m.type = Marker.CYLINDER
            m.action = Marker.ADD
            m.pose.position.x, m.pose.position.y = s.x, s.y
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = 0.4
            m.scale.z = 0.05
            m.color.r, m.color.g, m.color.b, m.color.a = 1.0, 0.8 - 0.6 * rank / max(len(sites), 1), 0.0, 0.8
            m.text = f'{s.score:.6g}'
            arr.markers.append(m)
        self._sites_pub.publish(arr)

    def _publish_plan(self, plan, site, params):
        st = DiagnosticStatus()
        st.name = 'excavation_plan'
        st.hardware_id = 'planner_node'
        ok = plan.feasible and site is not None
        st.level = DiagnosticStatus.OK if ok else DiagnosticStatus.WARN
        st.message = 'ok' if ok else (plan.reason or 'no dig site')
        sx, sy = (site.x, site.y) if site else self.dig_zone[:2]
        st.values = ExcavationPlanStatus(
            site_x=sx, site_y=sy,
            depth_of_cut_m=plan.depth_of_cut_m, drum_speed_radps=plan.drum_speed_radps,
            drive_speed_mps=plan.drive_speed_mps, expected_mass_kg=plan.expected_mass_kg,
            expected_target_kg=site.expected_target_kg if site else 0.0,
            horizontal_force_n=plan.horizontal_force_n, traction_limit_n=plan.traction_limit_n,
            vertical_force_n=plan.vertical_force_n, weight_n=plan.weight_n,
            feasible=bool(plan.feasible),
            # cut length that fills the drums at this depth and creep by the cut model
            fill_length_m=(plan.fill_time_s * plan.drive_speed_mps
                           if math.isfinite(plan.fill_time_s) else 0.0),   # 0: unknown
            regolith_density_kgm3=params.density_kgm3, regolith_cohesion_pa=params.cohesion_pa,
            regolith_friction_deg=params.friction_deg).encode()
        self._plan_pub.publish(st)


def main(args=None):
    """Run the planner node until shut down."""
    node_main(PlannerNode, args)


if __name__ == '__main__':
    main()
