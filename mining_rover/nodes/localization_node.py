"""localization_node: odometry + fiducial fixes -> the rover's pose in map, and map -> odom.

Subscribes: odom (nav_msgs/Odometry, STATE; drive_node: wheels + IMU + visual odometry),
the sim contract's stereo images and camera_info (SENSOR). Publishes:
localization/pose (geometry_msgs/PoseWithCovarianceStamped, map frame, STATE) and
localization/odometry (nav_msgs/Odometry map -> base_link, the same pose with odom's
twist: what the executive drives by), both at odom's rate; localization/status
(diagnostic_msgs/DiagnosticStatus, 1 Hz; keys sigma_xy_m, sigma_yaw_rad, since_fix_s,
since_fix_m, fixes_accepted, fixes_rejected, last_fix_reason; level WARN once sigma_xy_m
exceeds ``warn_sigma_m``: fixes have not come for long and odometry alone is being
trusted; map_absorbed, map_fixes, map_refused, last_map_reason); and map -> odom on TF
where tf2_ros exists.

Re-localization against the rover's own map (``map_relocalization``, on by default;
mining_rover.localization.relocalization): the stereo cloud on ``points_topic``
(PointCloud2 in the left optical frame, SENSOR) is levelled with the odometry's tilt at
its stamp and, while the pose is anchored by the boards and good, laid into a reference
height grid in ``map`` (``reloc_*`` parameters; centred on the world's berm zone); when
the position sd has grown and no board is in view, it is matched against that grid and
an accepted match is fused as a 'map' fix. Accepted matches are published on
localization/map_fix (PoseWithCovarianceStamped, map frame, STATE).

The board map and the start pose come from the world file (``world``: a name in worlds/
or a path; its ``<mining:fiducials>``, sim/fiducials.py). Fixes (perception/fiducials.py)
run on a timer at ``fix_rate_hz`` on the newest stereo pair; the filter is
mining_rover.localization.filter. Bad parameters (an unknown tag family, a world with no
boards, a limit <= 0) refuse the start with one line naming the parameter.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseWithCovariance, PoseWithCovarianceStamped
from nav_msgs.msg import Odometry
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mining_rover.contract import load_contract
from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
from mining_rover.localization.filter import FilterConfig, PoseFilter
from mining_rover.localization.relocalization import MapRelocalizer, RelocParams, level_points
from mining_rover.perception.fiducials import FiducialLocalizer, FixLimits
from mining_rover.perception.sync import StampPairer
from mining_rover.ros import qos
from mining_rover.ros.conversions import camera_info_to_model, image_to_numpy, stamp_to_seconds
from mining_rover.ros.geometry import matrix_to_odometry, matrix_to_pose, odometry_to_matrix, yaw_from_matrix
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.pointcloud import pointcloud2_to_xyz
from mining_rover.ros.runtime import node_main

LOG_THROTTLE_S = 5.0
#: Odometry poses kept to level a cloud by the tilt at its stamp: 10 s at 50 Hz.
ODOM_HISTORY = 500
#: RelocParams fields that come from the world (centre: its berm zone), not parameters.
_RELOC_FROM_WORLD = ('centre_x', 'centre_y')


def planar_matrix(x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 of a planar pose (m, rad)."""
    T = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    T[:2, :2] = [[c, -s], [s, c]]
    T[0, 3], T[1, 3] = x, y
    return T


def covariance_6x6(P: np.ndarray) -> np.ndarray:
    """ROS (x, y, z, roll, pitch, yaw) covariance from the filter's (x, y, yaw) one;
    unobserved axes get 1e3 (REP-105 practice for planar estimates)."""
    cov = np.diag([0.0, 0.0, 1e3, 1e3, 1e3, 0.0])
    idx = (0, 1, 5)
    for i, a in enumerate(idx):
        for j, b in enumerate(idx):
            cov[a, b] = P[i, j]
    return cov


def _params() -> list:
    three = lambda v: None if len(v) == 3 and all(math.isfinite(x) for x in v) else 'needs 3 finite values'
    xyz, rpy = left_camera_xyz_rpy()
    lim, cfg = FixLimits(), FilterConfig()
    out = [
        Param('world', 'moon_south_pole', 'world name or .sdf path: its <mining:fiducials> board map '
              'and start pose'),
        Param('tag_family', 'apriltag_36h11', 'tag family of the boards', choices=('apriltag_36h11',)),
        Param('map_frame', 'map', 'global frame (REP-105)'),
        Param('odom_frame', 'odom', 'odometry frame (REP-105)'),
        Param('base_frame', 'base_link', 'robot body frame (REP-105)'),
        Param('fix_rate_hz', 2.0, 'how often the newest stereo pair is searched for tags, Hz', 0.05, 30.0),
        Param('sync_slop_s', 0.01, 'largest left/right stamp difference paired, s', 0.0, 1.0),
        Param('publish_tf', True, 'broadcast map -> odom where tf2_ros exists'),
        Param('warn_sigma_m', 0.5, 'position sd above which the status is WARN (no fix for long), m',
              0.001, 100.0),
        Param('camera_xyz', xyz, 'base_link -> left camera link translation, m', check=three),
        Param('camera_rpy', rpy, 'base_link -> left camera link roll, pitch, yaw, rad', check=three),
    ]
    out += [Param(f'fix_{k}', float(v), f'fix refused above this ({k})', 1e-6, 1e6)
            for k, v in lim.__dict__.items()]
    out += [Param('map_relocalization', True, 'match the stereo cloud against the rover\'s own height map '
                  'where no board is in view (localization/relocalization.py); false: board fixes only'),
            Param('points_topic', 'stereo/points', 'PointCloud2 of the stereo cloud, left optical frame'),
            Param('reloc_rate_hz', 2.0, 'how often the newest cloud is laid down or matched, Hz', 0.05, 30.0)]
    out += [Param(f'reloc_{k}', v, f'map re-localization ({k}; localization/relocalization.py RelocParams)',
                  1 if isinstance(v, int) else 1e-9, 1e6)
            for k, v in RelocParams().as_dict().items() if k not in _RELOC_FROM_WORLD]
    out += [Param(f'filter_{k}', v, f'filter process noise / gate ({k})', 1 if isinstance(v, int) else 1e-9,
                  1e6) for k, v in cfg.__dict__.items()]
    return out


class LocalizationNode(Node):
    """The map-frame pose from odometry and fiducial fixes (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__('localization_node', **kwargs)
        p = declare_and_read(self, _params())
        from mining_rover.sim.fiducials import check_family, load_fiducials
        from mining_rover.sim.world import load_world
        try:
            check_family(p['tag_family'], "parameter 'tag_family'")
            world = load_world(p['world'])
            self.board_map = load_fiducials(world.sdf_path)
            if self.board_map is None:
                raise ValueError(f"parameter 'world': {world.sdf_path} has no <mining:fiducials> board map")
            self.limits = FixLimits(**{k[4:]: v for k, v in p.items()
                                       if k.startswith('fix_') and k != 'fix_rate_hz'})
            self.filter_config = FilterConfig(**{k[7:]: v for k, v in p.items() if k.startswith('filter_')})
            bx, by, _ = world.zones.berm_zone
            self.reloc_params = RelocParams(centre_x=bx, centre_y=by,
                                            **{k[6:]: v for k, v in p.items()
                                               if k.startswith('reloc_') and k != 'reloc_rate_hz'})
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        self.cfg = p
        self.T_base_cam = xyzrpy_to_matrix(p['camera_xyz'], p['camera_rpy']) @ T_LINK_OPTICAL
        self.filter = PoseFilter(world.zones.start_xy_yaw, self.filter_config)
        self.last_fix_reason = ''
        self._localizer = None
        self._models = {'left': None, 'right': None}
        self._pairer = StampPairer(p['sync_slop_s'], 3)
        self._pending = None
        self._twist = None
        self.reloc = MapRelocalizer(self.reloc_params) if p['map_relocalization'] else None
        self.reloc_counts = {'map_absorbed': 0, 'map_fixes': 0, 'map_refused': 0}
        self.last_map_reason = ''
        self._odom_hist = deque(maxlen=ODOM_HISTORY)    # (t, odom -> base_link 4x4)
        self._cloud = None
        self._board_fix_t = -math.inf
        contract = load_contract()
        self._pub_pose = self.create_publisher(PoseWithCovarianceStamped, 'localization/pose', qos.STATE)
        self._pub_odom = self.create_publisher(Odometry, 'localization/odometry', qos.STATE)
        self._pub_status = self.create_publisher(DiagnosticStatus, 'localization/status', qos.STATE)
        self.create_subscription(Odometry, 'odom', self._on_odom, qos.STATE)
        for side, cam in (('left', contract.left), ('right', contract.right)):
            self.create_subscription(Image, cam.image, lambda m, s=side: self._on_image(s, m), qos.SENSOR)
            self.create_subscription(CameraInfo, cam.info, lambda m, s=side: self._on_info(s, m), qos.SENSOR)
        self.create_timer(1.0 / p['fix_rate_hz'], self._process,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(1.0, self._publish_status)
        if self.reloc is not None:
            self._pub_map_fix = self.create_publisher(PoseWithCovarianceStamped, 'localization/map_fix',
                                                      qos.STATE)
            self.create_subscription(PointCloud2, p['points_topic'], self._on_cloud, qos.SENSOR)
            self.create_timer(1.0 / p['reloc_rate_hz'], self._relocalize,
                              callback_group=MutuallyExclusiveCallbackGroup())
        self._tf = None
        if p['publish_tf']:
            from mining_rover.ros.tf import make_tf_broadcaster
            self._tf = make_tf_broadcaster(self, static=False)
        self.get_logger().info(f'localization: {len(self.board_map.boards)} boards of {world.sdf_path.name}, '
                               f'start {tuple(round(v, 3) for v in world.zones.start_xy_yaw)}')

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -- inputs -----------------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        try:
            T = odometry_to_matrix(msg)
        except ValueError as exc:
            self.get_logger().warning(f'odometry rejected: {exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        t = stamp_to_seconds(msg.header.stamp)
        self.filter.predict_odometry((T[0, 3], T[1, 3], yaw_from_matrix(T)), t)
        self._odom_hist.append((t, T))
        self._twist = msg.twist
        self._publish(msg.header.stamp, T)

    def _on_info(self, side: str, msg: CameraInfo) -> None:
        try:
            model = camera_info_to_model(msg)
        except ValueError as exc:
            self.get_logger().warning(f'{side} camera_info rejected: {exc}',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        if self._models[side] != model:
            self._models[side] = model
            self._localizer = None

    def _on_image(self, side: str, msg: Image) -> None:
        pair = self._pairer.add(side, stamp_to_seconds(msg.header.stamp), msg)
        if pair is not None:
            self._pending = pair

    # -- fixes ------------------------------------------------------------------------
    def _ensure_localizer(self) -> bool:
        if self._localizer is None and None not in self._models.values():
            left, right = self._models['left'], self._models['right']
            baseline = -right.P[0, 3] / right.fx if right.fx > 0 else 0.0
            try:
                self._localizer = FiducialLocalizer(self.board_map, np.asarray(left.P[:, :3]), baseline,
                                                    self.T_base_cam, self.limits)
            except ValueError as exc:
                self.get_logger().warning(f'camera_info unusable for fixes: {exc}',
                                          throttle_duration_sec=LOG_THROTTLE_S)
        return self._localizer is not None

    def _process(self) -> None:
        if self._pending is None or not self._ensure_localizer():
            return
        left_msg, right_msg, t = self._pending
        self._pending = None
        try:
            fix = self._localizer.fix(image_to_numpy(left_msg), image_to_numpy(right_msg))
        except ValueError as exc:
            self.get_logger().warning(f'stereo pair rejected: {exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        if fix is None:
            return
        if not fix.ok:
            self.last_fix_reason = f'refused: {fix.reason}'
            self.filter.rejected += 1
            self.get_logger().info(f'fiducial fix refused: {fix.reason}',
                                   throttle_duration_sec=LOG_THROTTLE_S)
            return
        if self.filter.update_fix((fix.x, fix.y, fix.yaw), fix.cov, t):
            self._board_fix_t = t
            self.last_fix_reason = f'accepted: tags {list(fix.tags)}, {fix.range_m:.1f} m'
        else:
            self.last_fix_reason = f'refused: {self.filter.last_reject_reason}'
            self.get_logger().info(f'fiducial fix refused: {self.filter.last_reject_reason}',
                                   throttle_duration_sec=LOG_THROTTLE_S)

    # -- map re-localization ----------------------------------------------------------
    def _on_cloud(self, msg: PointCloud2) -> None:
        self._cloud = msg

    def _relocalize(self) -> None:
        """The newest cloud: laid into the reference, or matched against it (RelocParams)."""
        msg, self._cloud = self._cloud, None
        if msg is None or not self._odom_hist:
            return
        t = stamp_to_seconds(msg.header.stamp)
        t_odom, T_odom = min(self._odom_hist, key=lambda e: abs(e[0] - t))
        if abs(t_odom - t) > 0.5:
            self.get_logger().warning(f'{self.cfg["points_topic"]}: no odometry within 0.5 s of the cloud '
                                      f'at {t:.2f} s', throttle_duration_sec=LOG_THROTTLE_S)
            return
        try:
            pts = pointcloud2_to_xyz(msg)
        except ValueError as exc:
            self.get_logger().warning(f'cloud rejected: {exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        odom_xyyaw = (T_odom[0, 3], T_odom[1, 3], yaw_from_matrix(T_odom))
        level = level_points(pts, T_odom @ self.T_base_cam, odom_xyyaw)
        st = self.filter.status()
        board_now = abs(t - self._board_fix_t) <= 1.0 / self.cfg['fix_rate_hz']
        what, out = self.reloc.step(level, odom_xyyaw, self.filter.map_to_odom(), st.sigma_xy_m,
                                    self.filter.last_fix_source, board_now, t)
        if what == 'absorbed':
            self.reloc_counts['map_absorbed'] += int(out > 0)
        elif what == 'match':
            ok = out.ok and self.filter.update_fix((out.x, out.y, out.yaw), out.cov, t, source='map')
            self.reloc_counts['map_fixes' if ok else 'map_refused'] += 1
            why = out.reason if not out.ok else self.filter.last_reject_reason
            self.last_map_reason = (f'accepted: {out.reason}, corrected {out.correction_m:.2f} m' if ok
                                    else f'refused: {why}')
            if ok:
                fix = PoseWithCovarianceStamped()
                fix.header.stamp, fix.header.frame_id = msg.header.stamp, self.cfg['map_frame']
                fix.pose = PoseWithCovariance(pose=matrix_to_pose(planar_matrix(out.x, out.y, out.yaw)),
                                              covariance=covariance_6x6(out.cov).reshape(36).tolist())
                self._pub_map_fix.publish(fix)

    # -- outputs ----------------------------------------------------------------------
    def _publish(self, stamp, T_odom_base: np.ndarray) -> None:
        x, y, yaw = self.filter.pose
        T_map_base = planar_matrix(x, y, yaw)
        T_map_base[2, 3] = T_odom_base[2, 3]
        T_map_base[:3, :3] = planar_matrix(0, 0, yaw)[:3, :3] @ planar_matrix(0, 0, -yaw_from_matrix(
            T_odom_base))[:3, :3] @ T_odom_base[:3, :3]
        cov = covariance_6x6(self.filter.covariance)
        msg = PoseWithCovarianceStamped()
        msg.header.stamp, msg.header.frame_id = stamp, self.cfg['map_frame']
        msg.pose = PoseWithCovariance(pose=matrix_to_pose(T_map_base), covariance=cov.reshape(36).tolist())
        self._pub_pose.publish(msg)
        odom = matrix_to_odometry(T_map_base, self.cfg['map_frame'], self.cfg['base_frame'], stamp,
                                  pose_covariance=cov)
        if self._twist is not None:
            odom.twist = self._twist
        self._pub_odom.publish(odom)
        if self._tf is not None:
            from mining_rover.ros.tf import make_transform_stamped
            mx, my, myaw = self.filter.map_to_odom()
            self._tf.send([make_transform_stamped(planar_matrix(mx, my, myaw), self.cfg['map_frame'],
                                                  self.cfg['odom_frame'], stamp)])

    def _publish_status(self) -> None:
        st = self.filter.status(self._now_s())
        warn = st.sigma_xy_m > self.cfg['warn_sigma_m']
        values = {'sigma_xy_m': f'{st.sigma_xy_m:.4g}', 'sigma_yaw_rad': f'{st.sigma_yaw_rad:.4g}',
                  'since_fix_s': f'{st.since_fix_s:.4g}', 'since_fix_m': f'{st.since_fix_m:.4g}',
                  'fixes_accepted': str(st.fixes_accepted), 'fixes_rejected': str(st.fixes_rejected),
                  'resets': str(st.resets), 'last_fix_reason': self.last_fix_reason,
                  **{k: str(v) for k, v in self.reloc_counts.items()},
                  'last_map_reason': self.last_map_reason}
        msg = DiagnosticStatus(level=DiagnosticStatus.WARN if warn else DiagnosticStatus.OK,
                               name=self.get_fully_qualified_name(),
                               message=(f'no fiducial fix for {st.since_fix_m:.1f} m: position sd '
                                        f'{st.sigma_xy_m:.2f} m' if warn else 'localized'),
                               values=[KeyValue(key=k, value=v) for k, v in values.items()])
        self._pub_status.publish(msg)


def main(args=None):
    """Run the localization node until shut down."""
    return node_main(LocalizationNode, args)


if __name__ == '__main__':
    main()
