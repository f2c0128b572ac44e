"""stereo_node: left/right images + camera_info -> disparity and a point cloud.

Subscribes (sim contract, SENSOR QoS): stereo/left/image_raw, stereo/right/image_raw,
stereo/left/camera_info, stereo/right/camera_info. Publishes (SENSOR QoS):
stereo/disparity (stereo_msgs/DisparityImage) and stereo/points (PointCloud2, xyz
float32, left optical frame), both stamped with the left image's stamp.

Visual odometry (``visual_odometry``, mining_rover.perception.visual_odometry): each
processed pair also gives the rover's motion since the previous one, published on
stereo/odometry (nav_msgs/Odometry, STATE QoS, ``vo_frame`` -> base_link, the image's
stamp; the pose integrates the motions from identity at start, the twist is the last
interval's mean velocity in base_link). A frame that measured no motion (too few
features, tracking lost, implausible result) keeps the pose and sets
pose.covariance[0] = -1; drive_node then bridges that interval with the wheels. The
camera extrinsics (``camera_xyz``, ``camera_rpy``: base_link -> left camera link)
default to the URDF, as mapping_node's do.

Image callbacks only pair frames by stamp (``sync_slop_s``) and keep the newest pair; a
timer runs the pipeline (mining_rover.perception.stereo) on it, so a slow frame drops
old ones instead of building a backlog. Bad input (mismatched sizes or encodings,
missing or zero camera_info, frames further apart than the slop) is logged, throttled,
with the reason, and dropped.
"""
from __future__ import annotations

from dataclasses import fields

import math

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage
from sensor_msgs.msg import PointCloud2

from mining_rover.contract import load_contract
from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
from mining_rover.perception.stereo import DISP_SCALE, MODES, StereoParams, StereoPipeline
from mining_rover.perception.visual_odometry import StereoVisualOdometry, VoParams
from mining_rover.perception.sync import StampPairer
from mining_rover.ros import qos
from mining_rover.ros.conversions import (camera_info_to_model, disparity_to_msg, image_to_numpy,
                                          stamp_to_seconds, xyz_to_pointcloud2)
from mining_rover.ros.geometry import matrix_to_odometry
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.runtime import node_main

LOG_THROTTLE_S = 5.0
COLOUR_ENCODINGS = ('mono8', 'rgb8', 'bgr8', 'rgba8', 'bgra8')

_DOC = {
    'num_disparities': ('SGBM disparity search range, px (multiple of 16)', 16, 256),
    'min_disparity': ('smallest disparity searched, px', 0, 64),
    'block_size': ('SGBM matching block, px (odd)', 1, 11),
    'p1': ('SGBM smoothness penalty for +-1 px disparity changes; 0 = 8*block^2', 0, 10000),
    'p2': ('SGBM penalty for larger disparity changes; 0 = 32*block^2', 0, 40000),
    'uniqueness_ratio': ('SGBM uniqueness margin, percent', 0, 100),
    'speckle_window_size': ('largest speckle (px) the filter removes; 0 = off', 0, 1000),
    'speckle_range': ('disparity variation within a speckle, px', 0, 16),
    'disp12_max_diff': ('left-right consistency check tolerance, px; -1 = off', -1, 16),
    'pre_filter_cap': ('SGBM pre-filter clip', 1, 63),
    'texture_threshold': ('grey std (levels) below which a pixel is textureless: no disparity',
                          0.0, 50.0),
    'impulse_threshold': ('grey levels off the 3x3 median that mark a radiation hit; 0 = off', 0, 255),
    'mode': ('SGBM variant: ' + ', '.join(sorted(MODES)), None, None),
    'downscale': ('match on a pair shrunk by this factor (1, 2, 4)', 1, 4),
    'threads': ('OpenCV threads; 0 = OpenCV default', 0, 64),
    'min_range_m': ('nearest depth kept in the cloud, m', 0.05, 100.0),
    'max_range_m': ('farthest depth kept in the cloud, m', 0.1, 200.0),
    'pixel_stride': ('keep every n-th pixel row and column in the cloud', 1, 16),
    'sigma_disparity_px': ('disparity noise for the depth error model, px', 0.01, 5.0),
    'voxel_size_m': ('voxel down-sampling of the cloud, m; 0 = off', 0.0, 1.0),
    'outlier_neighbors': ('statistical outlier removal neighbours; 0 = off', 0, 100),
    'outlier_std_ratio': ('statistical outlier removal threshold, std', 0.1, 10.0),
}
_VO_DOC = {
    'max_features': ('corners detected per frame', 10, 5000),
    'quality_level': ('corner score kept, fraction of the strongest', 1e-4, 0.99),
    'min_feature_distance_px': ('closest two corners, px', 1, 100),
    'lk_window_px': ('Lucas-Kanade window, px (odd)', 5, 101),
    'lk_levels': ('Lucas-Kanade pyramid levels', 0, 6),
    'forward_backward_px': ('largest forward-backward tracking error kept, px', 0.05, 20.0),
    'min_range_m': ('nearest feature depth used, m', 0.05, 100.0),
    'max_range_m': ('farthest feature depth used, m', 0.1, 200.0),
    'body_radius_m': ('features within this horizontal distance of base_link are the rover itself, m',
                      0.0, 10.0),
    'ransac_reprojection_px': ('RANSAC inlier threshold, px', 0.1, 20.0),
    'ransac_iterations': ('RANSAC iterations', 10, 10000),
    'min_inliers': ('fewest RANSAC inliers for a motion', 6, 5000),
    'min_inlier_ratio': ('fewest RANSAC inliers as a share of the tracked features', 0.01, 1.0),
    'max_speed_mps': ('faster motions are rejected as wrong, m/s', 0.01, 100.0),
    'max_yaw_rate_radps': ('faster turns are rejected as wrong, rad/s', 0.01, 100.0),
}
#: Visual odometry drift per metre travelled, as a standard deviation (Maimone et al.
#: 2007: MER VO within 2 % of distance; our frame-to-frame VO on the simulated terrain
#: measured better, bench/visual_odometry): grows the published pose covariance.
VO_DRIFT_PER_M = 0.02


def _params() -> list:
    defaults = StereoParams()
    out = []
    for f in fields(StereoParams):
        desc, lo, hi = _DOC[f.name]
        choices = tuple(sorted(MODES)) if f.name == 'mode' else ()
        out.append(Param(f.name, getattr(defaults, f.name), desc, lo, hi, choices=choices))
    out += [
        Param('sync_slop_s', 0.01, 'largest left/right stamp difference paired, s', 0.0, 1.0),
        Param('queue_size', 5, 'frames kept per side while waiting for a partner', 1, 50),
        Param('process_rate_hz', 30.0, 'how often the newest pair is processed, Hz', 0.1, 200.0),
        Param('publish_disparity', True, 'publish stereo/disparity (the cloud is always published)'),
        Param('visual_odometry', True, 'publish stereo/odometry (stereo visual odometry)'),
        Param('vo_frame', 'vo_odom', 'frame of the visual odometry pose'),
        Param('base_frame', 'base_link', 'robot body frame (REP-105)'),
    ]
    xyz, rpy = left_camera_xyz_rpy()
    three = lambda v: None if len(v) == 3 and all(math.isfinite(x) for x in v) else 'needs 3 finite values'
    out += [Param('camera_xyz', xyz, 'base_link -> left camera link translation, m', check=three),
            Param('camera_rpy', rpy, 'base_link -> left camera link roll, pitch, yaw, rad', check=three)]
    vo = VoParams()
    for f in fields(VoParams):
        desc, lo, hi = _VO_DOC[f.name]
        out.append(Param(f'vo_{f.name}', getattr(vo, f.name), f'visual odometry: {desc}', lo, hi))
    return out


class StereoNode(Node):
    """Pairs left/right images into disparity and point clouds, and optionally visual odometry."""
    def __init__(self, **kwargs):
        super().__init__('stereo_node', **kwargs)
        self._spec = _params()
        p = declare_and_read(self, self._spec)
        try:
            self.stereo_params = StereoParams.from_dict(p)
        except ValueError as exc:
            raise ParameterError(f'stereo parameters: {exc}') from exc
        try:
            self.vo_params = VoParams.from_dict({k[3:]: v for k, v in p.items() if k.startswith('vo_')})
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        self.cfg = p
        self.T_base_opt = xyzrpy_to_matrix(p['camera_xyz'], p['camera_rpy']) @ T_LINK_OPTICAL
        self._vo = None
        self._vo_pose = np.eye(4)
        self._vo_var = 0.0
        self.vo_frames = 0
        self.vo_failures = 0
        contract = load_contract()
        self.default_frame = contract.left.frame
        self._pairer = StampPairer(p['sync_slop_s'], p['queue_size'])
        self._info = {'left': None, 'right': None}
        self._models = {'left': None, 'right': None}
        self._pipeline = None
        self._pending = None
        self.frames_processed = 0
        self.frames_dropped = 0
        self.last_timing_ms = {}

        self._pub_disp = self.create_publisher(DisparityImage, 'stereo/disparity', qos.SENSOR)
        self._pub_points = self.create_publisher(PointCloud2, 'stereo/points', qos.SENSOR)
        self._pub_vo = (self.create_publisher(Odometry, 'stereo/odometry', qos.STATE)
                        if p['visual_odometry'] else None)
        self.create_subscription(Image, contract.left.image, lambda m: self._on_image('left', m), qos.SENSOR)
        self.create_subscription(Image, contract.right.image,
                                 lambda m: self._on_image('right', m), qos.SENSOR)
        self.create_subscription(CameraInfo, contract.left.info,
                                 lambda m: self._on_info('left', m), qos.SENSOR)
        self.create_subscription(CameraInfo, contract.right.info,
                                 lambda m: self._on_info('right', m), qos.SENSOR)
        self.create_timer(1.0 / p['process_rate_hz'], self._process,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(
            f'stereo: {contract.left.image} + {contract.right.image} -> {self._pub_points.topic_name}, '
            f'{self._pub_disp.topic_name}; SGBM {self.stereo_params.mode}, '
            f'{self.stereo_params.num_disparities} disparities, downscale {self.stereo_params.downscale}')

    # -- inputs -----------------------------------------------------------------------
    def _drop(self, reason: str) -> None:
        self.frames_dropped += 1
        self.get_logger().warning(f'stereo frame dropped: {reason}', throttle_duration_sec=LOG_THROTTLE_S)

    def _on_info(self, side: str, msg: CameraInfo) -> None:
        try:
            model = camera_info_to_model(msg)
        except ValueError as exc:
            self._drop(f'{side} camera_info invalid: {exc}')
            return
        if self._models[side] is not None and self._models[side] == model:
            return
        self._models[side] = model
        self._pipeline = None   # rebuilt (maps, Q) on the next pair

    def _on_image(self, side: str, msg: Image) -> None:
        pair = self._pairer.add(side, stamp_to_seconds(msg.header.stamp), msg)
        if pair is None:
            if self._pairer.last_gap_s is not None:
                self._drop(f'no {("right" if side == "left" else "left")} image within '
                           f'{self.cfg["sync_slop_s"]} s of the {side} one '
                           f'(closest {self._pairer.last_gap_s:.3f} s apart)')
            return
        self._pending = pair[:2]

    def _ensure_pipeline(self) -> bool:
        if self._pipeline is not None:
            return True
        if self._models['left'] is None or self._models['right'] is None:
            self._drop('no valid camera_info yet for ' +
                       ' and '.join(s for s in ('left', 'right') if self._models[s] is None))
            return False
        try:
            self._pipeline = StereoPipeline(self._models['left'], self._models['right'], self.stereo_params)
        except ValueError as exc:
            self._drop(f'camera_info pair unusable: {exc}')
            return False
        if self._pub_vo is not None:
            # a new camera model starts visual odometry afresh; its pose carries on
            self._vo = StereoVisualOdometry.from_pipeline(self._pipeline, self.T_base_opt, self.vo_params)
        return True

    # -- processing -------------------------------------------------------------------
    def _process(self) -> None:
        if self._pending is None:
            return
        left_msg, right_msg = self._pending
        self._pending = None
        if left_msg.encoding != right_msg.encoding:
            return self._drop(f'encodings differ: left {left_msg.encoding!r}, right {right_msg.encoding!r}')
        if left_msg.encoding not in COLOUR_ENCODINGS:
            return self._drop(f'unsupported encoding {left_msg.encoding!r}; use one of {COLOUR_ENCODINGS}')
        if (left_msg.width, left_msg.height) != (right_msg.width, right_msg.height):
            return self._drop(f'sizes differ: left {left_msg.width}x{left_msg.height}, '
                              f'right {right_msg.width}x{right_msg.height}')
        if not self._ensure_pipeline():
            return
        try:
            left, right = image_to_numpy(left_msg), image_to_numpy(right_msg)
            result = self._pipeline.process(left, right, left_msg.encoding,
                                            want_disparity=(self.cfg['publish_disparity']
                                                            or self._vo is not None))
        except ValueError as exc:
            return self._drop(str(exc))
        frame = left_msg.header.frame_id or self._models['left'].frame_id or self.default_frame
        stamp = left_msg.header.stamp
        self._pub_points.publish(xyz_to_pointcloud2(result.points, frame, stamp))
        if self.cfg['publish_disparity']:
            self._pub_disp.publish(disparity_to_msg(
                result.disparity, result.focal_px, result.baseline_m,
                result.min_disparity, result.max_disparity, 1.0 / DISP_SCALE, frame, stamp))
        if self._vo is not None:
            self._visual_odometry(stamp, result)
        self.frames_processed += 1
        self.last_timing_ms = result.timing_ms

    def _visual_odometry(self, stamp, result) -> None:
        step = self._vo.update(stamp_to_seconds(stamp), result.left_rect, result.disparity)
        cov = np.zeros((6, 6))
        twist = None
        if step.ok:
            self._vo_pose = self._vo_pose @ step.motion
            d = float(np.linalg.norm(step.motion[:3, 3]))
            self._vo_var += (VO_DRIFT_PER_M * d) ** 2
            cov[np.diag_indices(6)] = self._vo_var
            rot = step.motion[:3, :3]
            yaw = math.atan2(rot[1, 0], rot[0, 0])
            twist = (*(step.motion[:3, 3] / step.dt_s), 0.0, 0.0, yaw / step.dt_s)
            self.vo_frames += 1
        else:
            cov[0, 0] = -1.0     # no motion measured over this interval
            if step.reason != 'first frame':
                self.vo_failures += 1
                self.get_logger().warning(f'visual odometry: no motion from this frame: {step.reason}',
                                          throttle_duration_sec=LOG_THROTTLE_S)
        self._pub_vo.publish(matrix_to_odometry(self._vo_pose, self.cfg['vo_frame'], self.cfg['base_frame'],
                                                stamp, twist=twist, pose_covariance=cov))


def main(args=None):
    """Run the stereo node until shut down."""
    node_main(StereoNode, args)


if __name__ == '__main__':
    main()
