"""mapping_node: stereo points + odometry -> elevation map, costmap and hazards.

Subscribes: stereo/points (PointCloud2 in the left optical frame, SENSOR), odom
(nav_msgs/Odometry odom -> base_link, STATE; odom == map in this stack) and the right
camera_info of the sim contract (SENSOR), from which the stereo error model takes the
focal length and baseline when ``use_camera_info`` is set, and stereo/disparity
(DisparityImage, SENSOR) whose ``f`` and ``T`` are those of the image pair actually
matched (stereo_node matches a pair shrunk by its ``downscale``: the depth error is that
of the shrunk pair, so the full-size focal length would make sigma ``downscale`` times
(the variance ``downscale``^2 times) too
small); until a disparity image arrives the focal length is camera_info's (or
``focal_px``) divided by ``stereo_downscale``; excavator/state
(DiagnosticStatus, STATE): where the drums dig, the ground is marked as cut, so the
rover's own trench is not mapped as a crater or a wall (``mark_excavated``).
Publishes (docs/INTERFACES.md): map/elevation and map/elevation_variance (32FC1, same grid
as the costmap), map/elevation_cloud, map/costmap (OccupancyGrid, MAP = TRANSIENT_LOCAL),
map/hazards (MarkerArray: ns ``craters`` cylinders, pose = centre, scale.x = diameter,
scale.z = depth; ns ``rocks``, pose = centre, scale.z = height; a DELETEALL marker first),
map/timing (DiagnosticStatus: update_ms, cells_known, layers_ms, points_shadowed: points
dropped so far because their line of sight crosses a drum, ``self_shadow``).

Clouds are fused in their callback (a vectorised update of a few ms); layers, hazards and
the costmap are computed on a ``publish_rate_hz`` timer. Dropped with a throttled reason,
the map untouched: clouds in another frame, with no pose within ``max_pose_age_s`` of
their stamp, malformed clouds; non-finite points are ignored.
The camera extrinsics base_link -> left camera link (``camera_xyz``, ``camera_rpy``)
default to the URDF (urdf/rover.urdf.xacro from config/rover.yaml).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from mining_rover.contract import load_contract
from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
from mining_rover.mapping.elevation_map import MapParams
from mining_rover.mapping.global_map import GlobalMap, GlobalMapParams
from mining_rover.mapping.hazards import MEDIAN_WINDOWS, HazardParams
from mining_rover.mapping.self_occlusion import drum_on_arm
from mining_rover.mapping.terrain_mapper import StereoErrorModel, TerrainMapper
from mining_rover.mapping.traversability import TraversabilityParams
from mining_rover.paths import rover_config
from mining_rover.ros import qos
from mining_rover.ros.conversions import (camera_info_to_model, float_grid_to_image, make_header,
                                          numpy_to_occupancy_grid, odometry_to_matrix,
                                          pointcloud2_to_xyz, stamp_to_seconds, xyz_to_pointcloud2)
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.runtime import node_main

LOG_THROTTLE_S = 5.0
def _focal_from_contract(contract) -> float:
    return contract.camera_width / (2.0 * math.tan(contract.camera_hfov_rad / 2.0))


def _downscale(v) -> str | None:
    return None if v in (1, 2, 4) else 'must be 1, 2 or 4 (stereo_node downscale)'


def _median_window(v) -> str | None:
    return None if v in MEDIAN_WINDOWS else 'must be 0, 1, 3 or 5'


def _params(contract) -> list:
    xyz, rpy = left_camera_xyz_rpy()
    rover = rover_config()
    arm, drum = rover['arm'], rover['drum']
    m, t, h, e = MapParams(), TraversabilityParams(), HazardParams(), StereoErrorModel()
    g = GlobalMapParams()
    three = lambda v: None if len(v) == 3 and all(math.isfinite(x) for x in v) else 'needs 3 finite values'
    return [
        Param('map_frame', 'map', 'frame of the map and of the odometry pose (odom == map here)'),
        Param('odom_frame', 'odom', 'odometry frame also accepted as the map frame (odom == map here)'),
        Param('cloud_frame', contract.left.frame, 'frame the stereo cloud must be in (left optical)'),
        Param('camera_xyz', xyz, 'base_link -> left camera link translation, m', check=three),
        Param('camera_rpy', rpy, 'base_link -> left camera link roll, pitch, yaw, rad', check=three),
        Param('resolution_m', m.resolution_m, 'cell size, m', 0.01, 1.0),
        Param('size_m', m.size_m, 'side of the square map, m', 1.0, 500.0),
        Param('follow_robot', m.follow_robot, 'recentre the map on the rover as it drives'),
        Param('recentre_distance_m', m.recentre_distance_m,
              'recentre when this far off centre, m', 0.0, 250.0),
        Param('min_variance_m2', m.min_variance_m2,
              'floor of one frame cell measurement variance, m^2', 1e-8, 1.0),
        Param('max_variance_m2', m.max_variance_m2,
              'cells above this variance become unknown, m^2', 1e-6, 100.0),
        Param('max_points_per_cell', m.max_points_per_cell, 'independent points per cell per frame', 1, 1000),
        Param('gate_sigma', m.gate_sigma, 'Mahalanobis gate beyond which a cell restarts', 0.5, 100.0),
        Param('stale_after_s', m.stale_after_s, 'forget cells unseen this long, s; 0 = never', 0.0, 1e6),
        Param('visibility_cleanup', m.visibility_cleanup, 'clear cells that rays pass through'),
        Param('visibility_rays', m.visibility_rays, 'rays per cloud for the clean-up', 0, 100000),
        Param('visibility_margin_m', m.visibility_margin_m, 'clean-up margin above a ray, m', 0.0, 5.0),
        Param('variance_growth_per_m', 1e-4, 'cell variance added per metre driven (odometry drift), m^2/m',
              0.0, 1.0),
        Param('max_points', 60000, 'points fused per cloud (random subset beyond)', 100, 10_000_000),
        Param('focal_px', _focal_from_contract(contract), 'stereo focal length for the error model, px '
              '(overridden by camera_info when use_camera_info)', 1.0, 1e5),
        Param('baseline_m', 0.2, 'stereo baseline for the error model, m', 0.01, 10.0),
        Param('use_camera_info', True, 'take focal_px and baseline_m from the right camera_info'),
        Param('stereo_downscale', 2, "stereo_node's downscale: the error model uses the focal length of "
              'the matched (shrunk) pair, focal_px / stereo_downscale', check=_downscale),
        Param('use_disparity_info', True, 'take the matched focal length and baseline from '
              'stereo/disparity (f, T) once one arrives'),
        Param('sigma_disparity_px', e.sigma_disparity_px,
              'disparity noise of the error model, px', 0.01, 5.0),
        Param('height_floor_m', e.floor_m, 'independent height error per point, m', 0.0, 1.0),
        Param('max_range_m', e.max_range_m, 'farthest depth fused, m', 0.5, 100.0),
        Param('slope_window_m', t.slope_window_m, 'window of the slope fit, m', 0.05, 5.0),
        Param('roughness_window_m', t.roughness_window_m, 'window of the roughness, m', 0.05, 5.0),
        Param('step_window_m', t.step_window_m, 'window of the step height, m', 0.05, 5.0),
        Param('slope_critical_rad', t.slope_critical_rad, 'lethal slope, rad', 0.01, 1.5),
        Param('step_critical_m', t.step_critical_m, 'lethal step, m', 0.01, 5.0),
        Param('roughness_critical_m', t.roughness_critical_m, 'lethal roughness, m', 0.001, 5.0),
        Param('self_filter', True, "drop points on the rover's own body (drums, arms) before fusing"),
        Param('self_filter_box', [-1.15, 1.15, -0.5, 0.5, -0.3, 1.2],
              'rover body box in base_link: xmin, xmax, ymin, ymax, zmin, zmax, m (arms and drums '
              'reach 1.06 m fore and aft: rover.yaml arm.pivot_x + arm.length + drum.radius)',
              check=lambda v: None if len(v) == 6 and all(math.isfinite(x) for x in v)
              and all(v[i] < v[i + 1] for i in (0, 2, 4)) else 'needs 6 finite values, each min < max'),
        Param('self_shadow', True, 'drop points whose line of sight crosses a drum (at the arm angle of '
              'excavator/state): SGBM mismatches a lit drum onto the hidden ground behind it'),
        Param('self_shadow_margin_m', 0.03, 'the drums are widened by this for the shadow test, m', 0.0, 0.5),
        Param('classify_sigma_m', 0.05, 'judge slope, roughness, steps and hazards only from cells '
              'whose height is known to this (1 sigma), m; noisier cells stay unknown', 0.001, 1.0),
        Param('despeckle_cells', 3, 'median window (cells) over the confident heights before '
              'they are judged: removes stereo specks that would be painted lethal '
              '(0 or 1: off; 3 or 5)', check=_median_window),
        Param('rock_min_height_m', h.rock_min_height_m,
              'rocks this tall or taller are hazards, m', 0.01, 5.0),
        Param('rock_max_diameter_m', h.rock_max_diameter_m, 'widest rock, m', 0.1, 10.0),
        Param('crater_min_depth_m', h.crater_min_depth_m, 'shallowest crater reported, m', 0.005, 10.0),
        Param('crater_min_diameter_m', h.crater_min_diameter_m, 'smallest crater reported, m', 0.05, 100.0),
        Param('crater_max_diameter_m', h.crater_max_diameter_m, 'widest crater found, m', 0.2, 100.0),
        Param('crater_margin_m', h.crater_margin_m, 'lethal margin around a crater, m', 0.0, 5.0),
        Param('rock_min_aspect', h.rock_min_aspect, 'rock height / equivalent radius at least this '
              '(ridges and rims are long and low)', 0.01, 10.0),
        Param('rock_min_significance', h.rock_min_significance,
              'rock height / map height sigma at least this', 0.1, 100.0),
        Param('crater_min_depth_ratio', h.crater_min_depth_ratio, 'fitted crater depth / diameter at '
              'least this (impact craters 0.07-0.2, Pike 1977; natural undulation ~0.01)', 0.001, 1.0),
        Param('crater_min_fit', h.crater_min_fit, 'R^2 of the rim + bowl template over a plane',
              0.01, 1.0),
        Param('crater_min_significance', h.crater_min_significance,
              'fitted crater depth / its standard deviation from the map variance', 0.1, 100.0),
        Param('crater_cell_m', h.crater_cell_m, 'working cell of the crater template fit, m', 0.01, 1.0),
        Param('crater_median_cells', h.crater_median_cells, 'median window (cells) the crater detector '
              'judges depressions on (0 or 1: none; 3 or 5)',
              check=_median_window),
        Param('mark_excavated', True, 'mark the ground under a digging drum (excavator/state: drums '
              'turning to dig with the arms lowered) as cut: a trench, not a crater or a wall'),
        Param('drum_reach_m', float(arm['pivot_x']), 'arm pivot distance from base_link along x, fore '
              'and aft, m (rover.yaml arm.pivot_x); the drum centre is at pivot + arm_length cos(arm)',
              0.0, 5.0),
        Param('arm_length_m', float(arm['length']), 'arm pivot to drum axis, m (rover.yaml)', 0.01, 5.0),
        Param('drum_footprint_m', [2.0 * float(drum['radius']), float(drum['length'])],
              'cut footprint of one drum: along x, across (y), m (rover.yaml drum diameter, length)',
              check=lambda v: None if len(v) == 2 and all(math.isfinite(x) and x > 0 for x in v)
              else 'needs 2 finite values > 0'),
        Param('dig_min_drum_radps', 0.5, 'drum speed (digging direction) above which a lowered drum '
              'cuts, rad/s', 0.0, 100.0),
        Param('dig_min_arm_rad', 0.0, 'arm angle (+ lowers) above which a turning drum is in the '
              'ground, rad', -2.0, 2.0),
        Param('max_pose_age_s', 0.5, 'largest cloud/odometry stamp difference accepted, s', 0.0, 60.0),
        Param('publish_rate_hz', 1.0, 'rate of costmap, layers and hazards, Hz', 0.01, 50.0),
        # the site map (mapping/global_map.py): fed from the fine map at publish_rate_hz
        Param('global_map', True, 'keep a coarse map of the whole site (map/global_*)'),
        Param('global_resolution_m', g.resolution_m, 'site map cell size, m', 0.05, 5.0),
        Param('global_size_m', g.size_m, 'side of the square site map, m', 1.0, 2000.0),
        Param('global_centre', [g.centre_x, g.centre_y], 'site map centre x, y in the map frame, m',
              check=lambda v: None if len(v) == 2 and all(math.isfinite(x) for x in v)
              else 'needs 2 finite values'),
        Param('global_min_known_fraction', g.min_known_fraction, 'share of a site cell the fine map '
              'must know to update it (lethal cells always pass)', 0.01, 1.0),
        Param('global_max_variance_m2', g.max_variance_m2, 'site heights above this variance are '
              'forgotten (their costs kept), m^2', 1e-6, 100.0),
        Param('global_update_margin_m', 2.0, 'the site map retakes the fine cells within this of those '
              'seen since its last update (their costs change with their neighbours: hazard windows), m',
              0.0, 50.0),
        Param('global_publish_period_s', 5.0, 'period of the site map update from the fine map and of '
              'map/global_costmap and map/global_elevation*: '
              '384 x 384 cells every 5 s: ~0.27 MB/s for the three', 0.1, 3600.0),
    ]


class MappingNode(Node):
    """Builds the elevation map, costmap and hazard list from stereo point clouds and odometry."""
    def __init__(self, **kwargs):
        super().__init__('mapping_node', **kwargs)
        contract = load_contract()
        self._spec = _params(contract)
        p = declare_and_read(self, self._spec)
        self.cfg = p
        try:
            map_params = MapParams.from_dict(p)
            trav = TraversabilityParams.from_dict(p)
            hazard = HazardParams.from_dict(p)
            self._error_kwargs = dict(sigma_disparity_px=p['sigma_disparity_px'], floor_m=p['height_floor_m'],
                                      max_range_m=p['max_range_m'])
            error = StereoErrorModel(focal_px=p['focal_px'] / p['stereo_downscale'],
                                     baseline_m=p['baseline_m'], **self._error_kwargs)
            self.global_map = GlobalMap(GlobalMapParams(
                resolution_m=p['global_resolution_m'], size_m=p['global_size_m'],
                centre_x=p['global_centre'][0], centre_y=p['global_centre'][1],
                min_known_fraction=p['global_min_known_fraction'],
                max_variance_m2=p['global_max_variance_m2'])) if p['global_map'] else None
        except ValueError as exc:
            raise ParameterError(f'mapping parameters: {exc}') from exc
        self.global_absorb_ms = 0.0
        self._snapshot = None        # the fine map at the last publish, for the site map
        self._absorbed_s = -math.inf  # newest cloud stamp the site map has taken in
        self._last_stamp_s = -math.inf
        self.T_base_cam = xyzrpy_to_matrix(p['camera_xyz'], p['camera_rpy']) @ T_LINK_OPTICAL
        self.mapper = TerrainMapper(map_params, trav, hazard, error, self.T_base_cam, p['max_points'],
                                    classify_sigma_m=p['classify_sigma_m'],
                                    self_box=p['self_filter_box'] if p['self_filter'] else None,
                                    despeckle_cells=p['despeckle_cells'])
        self._poses = deque(maxlen=200)     # (stamp_s, 4x4 map->base)
        self._last_xy = None
        self._last_cov_z = None
        self.clouds_fused = 0
        self.clouds_dropped = 0
        self.points_shadowed = 0
        self.last_hazards = None

        self._pub_elev = self.create_publisher(Image, 'map/elevation', qos.MAP)
        self._pub_var = self.create_publisher(Image, 'map/elevation_variance', qos.MAP)
        self._pub_cloud = self.create_publisher(PointCloud2, 'map/elevation_cloud', qos.MAP)
        self._pub_cost = self.create_publisher(OccupancyGrid, 'map/costmap', qos.MAP)
        self._pub_hazards = self.create_publisher(MarkerArray, 'map/hazards', qos.MAP)
        self._pub_timing = self.create_publisher(DiagnosticStatus, 'map/timing', qos.STATE)
        self.create_subscription(PointCloud2, 'stereo/points', self._on_cloud, qos.SENSOR)
        self.create_subscription(Odometry, 'odom', self._on_odom, qos.STATE)
        if p['mark_excavated'] or p['self_shadow']:
            self.create_subscription(DiagnosticStatus, 'excavator/state', self._on_excavator, qos.STATE)
        self._matched_from_disparity = False
        if p['use_camera_info']:
            self.create_subscription(CameraInfo, contract.right.info, self._on_info, qos.SENSOR)
        if p['use_disparity_info']:
            self.create_subscription(DisparityImage, 'stereo/disparity', self._on_disparity, qos.SENSOR)
        self.create_timer(1.0 / p['publish_rate_hz'], self._publish)
        if self.global_map is not None:
            self._pub_gcost = self.create_publisher(OccupancyGrid, 'map/global_costmap', qos.MAP)
            self._pub_gelev = self.create_publisher(Image, 'map/global_elevation', qos.MAP)
            self._pub_gvar = self.create_publisher(Image, 'map/global_elevation_variance', qos.MAP)
            self.create_timer(p['global_publish_period_s'], self._publish_global)
        m = self.mapper.map
        self.get_logger().info(
            f'elevation map {m.n}x{m.n} cells of {m.resolution} m in {p["map_frame"]}; camera at '
            f'{np.round(self.T_base_cam[:3, 3], 3).tolist()} in base_link')

    def _drop(self, reason: str) -> None:
        self.clouds_dropped += 1
        self.get_logger().warning(f'cloud dropped: {reason}', throttle_duration_sec=LOG_THROTTLE_S)

    # -- inputs -----------------------------------------------------------------------
    def _set_error_model(self, focal_px: float, baseline_m: float) -> None:
        if (focal_px, baseline_m) != (self.mapper.error.focal_px, self.mapper.error.baseline_m):
            self.mapper.error = StereoErrorModel(focal_px=focal_px, baseline_m=baseline_m,
                                                 **self._error_kwargs)

    def _on_info(self, msg: CameraInfo) -> None:
        if self._matched_from_disparity:
            return   # the matched pair's own focal length is known
        try:
            model = camera_info_to_model(msg)
            self._set_error_model(model.fx / self.cfg['stereo_downscale'], -float(model.P[0, 3]) / model.fx)
        except ValueError as exc:
            self.get_logger().warning(f'right camera_info ignored: {exc}',
                                      throttle_duration_sec=LOG_THROTTLE_S)

    def _on_disparity(self, msg: DisparityImage) -> None:
        f, baseline = float(msg.f), float(msg.t)
        if not (math.isfinite(f) and math.isfinite(baseline) and f > 0.0 and baseline > 0.0):
            self.get_logger().warning(f'stereo/disparity with f {f}, T {baseline} ignored: both must be > 0',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        if not self._matched_from_disparity:
            configured = self.mapper.error.focal_px
            if abs(f - configured) > 0.01 * configured:
                self.get_logger().warning(
                    f'matched focal length {f:.1f} px (stereo/disparity) differs from camera_info / '
                    f"stereo_downscale {self.cfg['stereo_downscale']} ({configured:.1f} px): using "
                    f'the matched one; set stereo_downscale to the stereo node downscale')
        self._matched_from_disparity = True
        self._set_error_model(f, baseline)

    def _on_odom(self, msg: Odometry) -> None:
        try:
            T = odometry_to_matrix(msg)
        except ValueError as exc:
            self.get_logger().warning(f'odometry ignored: {exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        if msg.header.frame_id not in (self.cfg['map_frame'], self.cfg['odom_frame']):
            self.get_logger().warning(f'odometry in frame {msg.header.frame_id!r} ignored: expected '
                                      f"{self.cfg['map_frame']!r} or {self.cfg['odom_frame']!r}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._poses.append((stamp_to_seconds(msg.header.stamp), T))
        # Odometry drift makes old heights less certain: per metre driven, and by the
        # growth of the reported vertical position variance.
        xy = T[:2, 3]
        grow = 0.0
        if self._last_xy is not None:
            grow += self.cfg['variance_growth_per_m'] * float(np.hypot(*(xy - self._last_xy)))
        cov_z = float(msg.pose.covariance[14])
        if math.isfinite(cov_z) and self._last_cov_z is not None and cov_z > self._last_cov_z:
            grow += cov_z - self._last_cov_z
        self._last_xy, self._last_cov_z = xy, cov_z if math.isfinite(cov_z) else self._last_cov_z
        if grow > 0.0:
            self.mapper.map.grow_variance(grow)
            if self.global_map is not None:
                self.global_map.grow_variance(grow)

    def _on_excavator(self, msg: DiagnosticStatus) -> None:
        """Drums turning to dig with the arms lowered cut the ground under them (the sim
        contract's + is "digs" for each drum): that ground is marked excavated at the
        latest pose, the front drum ahead of base_link and the rear one behind."""
        values = {kv.key: kv.value for kv in msg.values}
        try:
            arm = float(values['arm_position_rad'])
            drum = float(values['drum_speed_radps'])
        except (KeyError, ValueError) as exc:
            self.get_logger().warning(f'excavator/state without a usable arm/drum value ({exc}): ignored',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        c = self.cfg
        if not (math.isfinite(arm) and math.isfinite(drum)):
            self.get_logger().warning('excavator/state with a non-finite arm/drum value: ignored',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        if c['self_shadow']:
            self._set_drums(arm)
        if not c['mark_excavated'] or not self._poses:
            return
        if drum < c['dig_min_drum_radps'] or arm < c['dig_min_arm_rad']:
            return
        T = self._poses[-1][1]
        reach = c['drum_reach_m'] + c['arm_length_m'] * math.cos(arm)
        along, across = c['drum_footprint_m']
        for side in (1.0, -1.0):
            self.mapper.mark_tool(T, (side * reach, 0.0), along / 2.0, across / 2.0)

    def _set_drums(self, arm_rad: float) -> None:
        """Front and rear drum at ``arm_rad`` (both arms move together) for the shadow test."""
        c = self.cfg
        diameter, length = c['drum_footprint_m']
        first = not self.mapper.occluders
        self.mapper.occluders = tuple(
            drum_on_arm(c['drum_reach_m'], c['arm_length_m'], arm_rad, diameter / 2.0, length,
                        front=front, margin_m=c['self_shadow_margin_m']) for front in (True, False))
        if first:
            d = self.mapper.occluders[0]
            self.get_logger().info(f'self shadow: front drum at x {d.x:.2f} m, z {d.z:.2f} m '
                                   f'(arm {arm_rad:.2f} rad); points seen through a drum are dropped')

    def _pose_at(self, stamp_s: float):
        if not self._poses:
            return None, 'no odometry received yet'
        t, T = min(self._poses, key=lambda e: abs(e[0] - stamp_s))
        if abs(t - stamp_s) > self.cfg['max_pose_age_s']:
            return None, (f'stale pose: nearest odometry is {abs(t - stamp_s):.2f} s from the cloud '
                          f"(max_pose_age_s {self.cfg['max_pose_age_s']})")
        return T, ''

    def _on_cloud(self, msg: PointCloud2) -> None:
        if msg.header.frame_id != self.cfg['cloud_frame']:
            return self._drop(f'frame {msg.header.frame_id!r} is not {self.cfg["cloud_frame"]!r}')
        stamp = stamp_to_seconds(msg.header.stamp)
        T, why = self._pose_at(stamp)
        if T is None:
            return self._drop(why)
        try:
            points = pointcloud2_to_xyz(msg)
            self.mapper.integrate(points, T, stamp)
        except ValueError as exc:
            return self._drop(f'malformed cloud: {exc}')
        self.clouds_fused += 1
        self._last_stamp_s = max(self._last_stamp_s, stamp)
        self.points_shadowed += self.mapper.last_occluded

    # -- outputs ----------------------------------------------------------------------
    def _publish(self) -> None:
        import time
        t0 = time.perf_counter()   # compute time of this callback (a load figure): wall time
        m = self.mapper.map
        m.clear_stale(self.get_clock().now().nanoseconds * 1e-9)
        height = self.mapper.confident_height()
        layers = self.mapper.layers(height)
        hazards = self.mapper.hazards(height)
        cost = self.mapper.costmap(layers, hazards)
        self.last_hazards = hazards
        layers_ms = 1e3 * (time.perf_counter() - t0)
        if self.global_map is not None:
            # the site map takes this snapshot at its own (low) rate, from the cells seen
            # since it last did: it costs nothing per cloud. A pending snapshot of a fine
            # map that has moved since is taken in first (cells may have left it).
            if self._snapshot is not None and not np.array_equal(self._snapshot[3], m.origin):
                self._absorb_snapshot()
            self._snapshot = (m.height.copy(), m.variance.copy(), cost, m.origin.copy(), m.resolution,
                              m.last_seen_s > self._absorbed_s, self._last_stamp_s)
        stamp = self.get_clock().now().to_msg()
        frame = self.cfg['map_frame']
        origin = (float(m.origin[0]), float(m.origin[1]))
        self._pub_cost.publish(numpy_to_occupancy_grid(cost, m.resolution, origin, frame, stamp))
        self._pub_elev.publish(float_grid_to_image(m.height, frame, stamp))
        self._pub_var.publish(float_grid_to_image(m.variance, frame, stamp))
        known = m.known()
        xs, ys = m.cell_centres()
        rows, cols = np.nonzero(known)
        cloud = np.column_stack([xs[cols], ys[rows], m.height[rows, cols]]).astype(np.float32)
        self._pub_cloud.publish(xyz_to_pointcloud2(cloud, frame, stamp))
        self._pub_hazards.publish(self._markers(hazards, frame, stamp))
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name='mapping_node',
                                  message=f'{len(hazards.rocks)} rocks, {len(hazards.craters)} craters')
        status.values = [KeyValue(key='update_ms', value=f'{self.mapper.last_update_ms:.3f}'),
                         KeyValue(key='cells_known', value=str(int(rows.size))),
                         KeyValue(key='layers_ms', value=f'{layers_ms:.3f}'),
                         KeyValue(key='global_absorb_ms', value=f'{self.global_absorb_ms:.3f}'),
                         KeyValue(key='points_shadowed', value=str(self.points_shadowed))]
        self._pub_timing.publish(status)

    def _absorb_snapshot(self) -> None:
        """The site map takes in the pending fine-map snapshot, if any."""
        if self._snapshot is None:
            return
        import time
        t0 = time.perf_counter()    # compute time (a load figure): wall time
        height, variance, cost, origin, res, changed, newest_s = self._snapshot
        self.global_map.absorb(height, variance, cost, origin, res, self.get_clock().now().nanoseconds * 1e-9,
                               changed=changed, margin_m=self.cfg['global_update_margin_m'])
        self._absorbed_s, self._snapshot = newest_s, None
        self.global_absorb_ms = 1e3 * (time.perf_counter() - t0)

    def _publish_global(self) -> None:
        """The site map at its own low rate (it changes only where the rover looks)."""
        g = self.global_map
        self._absorb_snapshot()
        stamp = self.get_clock().now().to_msg()
        frame = self.cfg['map_frame']
        origin = (float(g.origin[0]), float(g.origin[1]))
        self._pub_gcost.publish(numpy_to_occupancy_grid(g.cost, g.resolution, origin, frame, stamp))
        self._pub_gelev.publish(float_grid_to_image(g.height, frame, stamp))
        self._pub_gvar.publish(float_grid_to_image(g.variance, frame, stamp))

    def _markers(self, hazards, frame, stamp) -> MarkerArray:
        out = MarkerArray()
        out.markers.append(Marker(header=make_header(frame, stamp), action=Marker.DELETEALL))
        ground = self.mapper.map.height_at
        for i, c in enumerate(hazards.craters):
            z = float(np.nan_to_num(ground(c.x, c.y), nan=0.0))
            out.markers.append(Marker(
                header=make_header(frame, stamp), ns='craters', id=i, type=Marker.CYLINDER,
                action=Marker.ADD,
                pose=Pose(position=Point(x=c.x, y=c.y, z=z), orientation=Quaternion(w=1.0)),
                scale=Vector3(x=2 * c.radius, y=2 * c.radius, z=max(c.depth, 1e-3)),
                color=ColorRGBA(r=0.9, g=0.3, b=0.1, a=0.5)))
        for i, r in enumerate(hazards.rocks):
            z = float(np.nan_to_num(ground(r.x, r.y), nan=r.height)) - r.height / 2.0  # mid-height
            out.markers.append(Marker(
                header=make_header(frame, stamp), ns='rocks', id=i, type=Marker.CYLINDER,
                action=Marker.ADD,
                pose=Pose(position=Point(x=r.x, y=r.y, z=z), orientation=Quaternion(w=1.0)),
                scale=Vector3(x=2 * r.radius, y=2 * r.radius, z=max(r.height, 1e-3)),
                color=ColorRGBA(r=0.8, g=0.1, b=0.1, a=0.8)))
        return out


def main(args=None):
    """Run the mapping node until shut down."""
    node_main(MappingNode, args)


if __name__ == '__main__':
    main()
