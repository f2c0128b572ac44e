"""geometry_msgs Pose/Transform and nav_msgs/Odometry <-> 4x4 homogeneous matrices.

A matrix ``T_parent_child`` maps points from the child frame to the parent frame
(metres, REP-103). Quaternions in messages are (x, y, z, w); transforms3d orders them
(w, x, y, z): the conversion happens here and nowhere else. Matrices must be rigid
(orthonormal rotation with det +1, bottom row 0 0 0 1) and finite, else ValueError.
"""
from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import (Point, Pose, PoseWithCovariance, Quaternion, Transform,
                               Twist, TwistWithCovariance, Vector3)
from nav_msgs.msg import Odometry
from transforms3d.quaternions import mat2quat, quat2mat

from mining_rover.ros.stamps import make_header

#: Tolerance on R^T R = I, det R = 1 and the bottom row: float32 round-off of composed
#: transforms stays well below it, a scaled or sheared matrix does not.
RIGID_TOL = 1e-5
#: A message quaternion whose norm differs from 1 by more than this is rejected, not fixed.
QUAT_NORM_TOL = 1e-3


def check_rigid(T) -> np.ndarray:
    """Return T as a float64 4x4 array after checking it is a finite rigid transform."""
    m = np.asarray(T, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f'transform must be 4x4, got shape {m.shape}')
    if not np.all(np.isfinite(m)):
        raise ValueError(f'transform has non-finite entries: {m.tolist()}')
    if np.max(np.abs(m[3] - (0.0, 0.0, 0.0, 1.0))) > RIGID_TOL:
        raise ValueError(f'transform bottom row must be [0, 0, 0, 1], got {m[3].tolist()}')
    R = m[:3, :3]
    err = float(np.max(np.abs(R.T @ R - np.eye(3))))
    det = float(np.linalg.det(R))
    if err > RIGID_TOL or abs(det - 1.0) > RIGID_TOL:
        raise ValueError(f'transform rotation is not rigid: max|R^T R - I| = {err:.3g}, '
                         f'det R = {det:.6g} (tolerance {RIGID_TOL})')
    return m


def _quat_msg_to_matrix(q: Quaternion) -> np.ndarray:
    wxyz = np.array([q.w, q.x, q.y, q.z], dtype=np.float64)
    if not np.all(np.isfinite(wxyz)):
        raise ValueError(f'quaternion has non-finite entries (x, y, z, w) = '
                         f'{(q.x, q.y, q.z, q.w)}')
    norm = float(np.linalg.norm(wxyz))
    if abs(norm - 1.0) > QUAT_NORM_TOL:
        raise ValueError(f'quaternion (x, y, z, w) = {(q.x, q.y, q.z, q.w)} has norm {norm:.6g}, '
                         f'expected 1')
    return quat2mat(wxyz / norm)


def _matrix_to_quat_msg(R: np.ndarray) -> Quaternion:
    w, x, y, z = mat2quat(R)
    if w < 0.0:  # q and -q are the same rotation: publish the one with w >= 0
        w, x, y, z = -w, -x, -y, -z
    return Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))


def _translation(values, what: str) -> np.ndarray:
    t = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError(f'{what} has non-finite entries: {t.tolist()}')
    return t


def pose_to_matrix(pose: Pose) -> np.ndarray:
    """geometry_msgs/Pose -> 4x4 float64 T_parent_child."""
    T = np.eye(4)
    T[:3, :3] = _quat_msg_to_matrix(pose.orientation)
    T[:3, 3] = _translation((pose.position.x, pose.position.y, pose.position.z), 'pose position')
    return T


def matrix_to_pose(T) -> Pose:
    """4x4 rigid T_parent_child -> geometry_msgs/Pose (quaternion with w >= 0)."""
    m = check_rigid(T)
    x, y, z = (float(v) for v in m[:3, 3])
    return Pose(position=Point(x=x, y=y, z=z), orientation=_matrix_to_quat_msg(m[:3, :3]))


def transform_to_matrix(transform: Transform) -> np.ndarray:
    """geometry_msgs/Transform -> 4x4 float64 T_parent_child."""
    T = np.eye(4)
    T[:3, :3] = _quat_msg_to_matrix(transform.rotation)
    tr = transform.translation
    T[:3, 3] = _translation((tr.x, tr.y, tr.z), 'transform translation')
    return T


def matrix_to_transform(T) -> Transform:
    """4x4 rigid T_parent_child -> geometry_msgs/Transform (quaternion with w >= 0)."""
    m = check_rigid(T)
    x, y, z = (float(v) for v in m[:3, 3])
    return Transform(translation=Vector3(x=x, y=y, z=z), rotation=_matrix_to_quat_msg(m[:3, :3]))


def yaw_from_matrix(T) -> float:
    """Heading (rad, in (-pi, pi]) of a 3x3 rotation or 4x4 transform: the Z angle of the
    Z-Y-X (yaw-pitch-roll) decomposition, i.e. the direction of the child x axis in the
    parent x-y plane."""
    m = np.asarray(T, dtype=np.float64)
    if m.shape not in ((3, 3), (4, 4)):
        raise ValueError(f'yaw_from_matrix expects a 3x3 or 4x4 matrix, got shape {m.shape}')
    if not np.all(np.isfinite(m)):
        raise ValueError(f'matrix has non-finite entries: {m.tolist()}')
    return math.atan2(m[1, 0], m[0, 0])


def yaw_to_quaternion(yaw: float) -> Quaternion:
    """Rotation by ``yaw`` rad about +z as a message quaternion."""
    if not math.isfinite(yaw):
        raise ValueError(f'yaw must be finite, got {yaw}')
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def odometry_to_matrix(msg: Odometry) -> np.ndarray:
    """nav_msgs/Odometry -> 4x4 T_{header.frame_id}_{child_frame_id} (odom -> base_link)."""
    return pose_to_matrix(msg.pose.pose)


def odometry_to_twist(msg: Odometry) -> tuple:
    """nav_msgs/Odometry -> (vx, vy, vz, wx, wy, wz): m/s and rad/s in child_frame_id."""
    lin, ang = msg.twist.twist.linear, msg.twist.twist.angular
    return (float(lin.x), float(lin.y), float(lin.z), float(ang.x), float(ang.y), float(ang.z))


def _covariance(value, name: str) -> np.ndarray:
    if value is None:
        return np.zeros(36)
    c = np.asarray(value, dtype=np.float64)
    if c.shape not in ((6, 6), (36,)):
        raise ValueError(f'{name} must be 6x6 (or 36 row-major), got shape {c.shape}')
    if not np.all(np.isfinite(c)):
        raise ValueError(f'{name} has non-finite entries')
    return c.reshape(36).copy()


def matrix_to_odometry(T, frame_id: str, child_frame_id: str, stamp=None, twist=None,
                       pose_covariance=None, twist_covariance=None) -> Odometry:
    """4x4 T_{frame_id}_{child_frame_id} -> nav_msgs/Odometry.

    ``twist`` is (vx, vy, vz, wx, wy, wz) in m/s and rad/s, expressed in
    ``child_frame_id`` (nav_msgs/Odometry convention); covariances are 6x6 in the order
    (x, y, z, rot x, rot y, rot z), zeros when not given.
    """
    pose = matrix_to_pose(T)
    tw = np.zeros(6) if twist is None else np.asarray(twist, dtype=np.float64)
    if tw.shape != (6,) or not np.all(np.isfinite(tw)):
        raise ValueError(f'twist must be 6 finite values (vx, vy, vz, wx, wy, wz), got {tw.tolist()}')
    vx, vy, vz, wx, wy, wz = (float(v) for v in tw)
    msg = Odometry(header=make_header(frame_id, stamp), child_frame_id=child_frame_id)
    msg.pose = PoseWithCovariance(pose=pose, covariance=_covariance(pose_covariance, 'pose_covariance'))
    msg.twist = TwistWithCovariance(
        twist=Twist(linear=Vector3(x=vx, y=vy, z=vz), angular=Vector3(x=wx, y=wy, z=wz)),
        covariance=_covariance(twist_covariance, 'twist_covariance'))
    return msg


def imu_roll_pitch(msg) -> tuple:
    """sensor_msgs/Imu -> (roll, pitch) rad of its orientation (Z-Y-X Euler angles, the
    gravity-referenced part of an AHRS attitude), or (None, None) where the message has
    no usable attitude: ``orientation_covariance[0] == -1`` (REP-145: no orientation
    estimate), a non-finite quaternion or one whose norm is not 1."""
    if msg.orientation_covariance[0] == -1.0:
        return None, None
    try:
        R = _quat_msg_to_matrix(msg.orientation)
    except ValueError:
        return None, None
    pitch = math.asin(max(-1.0, min(1.0, -R[2, 0])))
    roll = math.atan2(R[2, 1], R[2, 2])
    return roll, pitch
