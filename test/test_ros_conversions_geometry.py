"""Pose/Transform/Odometry <-> 4x4, OccupancyGrid <-> int8 grid, and optional tf2."""
from __future__ import annotations

import array
import math
import sys
import types

import numpy as np
import pytest
from geometry_msgs.msg import Pose, Quaternion, TransformStamped
from hypothesis import given, settings
from hypothesis import strategies as st
from nav_msgs.msg import OccupancyGrid
from transforms3d.euler import euler2mat
from transforms3d.quaternions import mat2quat

from mining_rover.ros import tf as rtf
from mining_rover.ros.conversions import (matrix_to_odometry, matrix_to_pose, matrix_to_transform,
                                          numpy_to_occupancy_grid, occupancy_grid_to_numpy,
                                          odometry_to_matrix, odometry_to_twist, pose_to_matrix,
                                          stamp_to_seconds, transform_to_matrix, yaw_from_matrix)

FAST = settings(max_examples=150, deadline=None)
angles = st.floats(-math.pi, math.pi, allow_nan=False)
coords = st.floats(-1e4, 1e4, allow_nan=False)


@st.composite
def rigid_transforms(draw):
    """Random rigid 4x4: Z-Y-X Euler angles (yaw, pitch, roll) and a translation in metres."""
    T = np.eye(4)
    yaw, pitch, roll = draw(angles), draw(angles), draw(angles)
    T[:3, :3] = euler2mat(yaw, pitch, roll, 'rzyx')
    T[:3, 3] = [draw(coords), draw(coords), draw(coords)]
    return T


@FAST
@given(rigid_transforms())
def test_pose_and_transform_round_trip(T):
    for to_msg, from_msg in ((matrix_to_pose, pose_to_matrix), (matrix_to_transform, transform_to_matrix)):
        msg = to_msg(T)
        q = msg.orientation if hasattr(msg, 'orientation') else msg.rotation
        assert q.w >= 0.0
        assert math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0, abs_tol=1e-12)
        # rotation entries are O(1): 1e-12 is float64 round-off through the quaternion
        np.testing.assert_allclose(from_msg(msg), T, atol=1e-9, rtol=0)


def test_quaternion_order_is_ros_xyzw():
    T = np.eye(4)
    T[:3, :3] = euler2mat(math.pi / 2, 0, 0, 'rzyx')  # +90 deg yaw
    q = matrix_to_pose(T).orientation
    assert (q.x, q.y) == (0.0, 0.0)
    assert q.z == pytest.approx(math.sqrt(0.5)) and q.w == pytest.approx(math.sqrt(0.5))
    pose = Pose(orientation=Quaternion(x=1.0, y=0.0, z=0.0, w=0.0))  # 180 deg about x
    np.testing.assert_allclose(pose_to_matrix(pose)[:3, :3], np.diag([1.0, -1.0, -1.0]), atol=1e-15)


@FAST
@given(yaw=angles, pitch=st.floats(-1.5, 1.5), roll=angles)
def test_yaw_from_matrix_recovers_zyx_yaw(yaw, pitch, roll):
    T = np.eye(4)
    T[:3, :3] = euler2mat(yaw, pitch, roll, 'rzyx')
    got = yaw_from_matrix(T)
    assert math.isclose(math.remainder(got - yaw, 2 * math.pi), 0.0, abs_tol=1e-9)
    assert yaw_from_matrix(T[:3, :3]) == got


@pytest.mark.parametrize('T, match', [
    (np.diag([2.0, 1.0, 1.0, 1.0]), r'rotation is not rigid: max\|R\^T R - I\| = 3'),
    (np.diag([1.0, 1.0, -1.0, 1.0]), r'det R = -1'),
    (np.eye(3), r'must be 4x4, got shape \(3, 3\)'),
    (np.where(np.eye(4) == 1, np.nan, 0.0), r'non-finite'),
    (np.vstack([np.eye(4)[:3], [0.0, 0.0, 1.0, 1.0]]), r'bottom row must be \[0, 0, 0, 1\]'),
])
def test_non_rigid_matrices_are_rejected(T, match):
    for fn in (matrix_to_pose, matrix_to_transform):
        with pytest.raises(ValueError, match=match):
            fn(T)


def test_bad_quaternions_are_rejected():
    with pytest.raises(ValueError, match=r'has norm 0, expected 1'):
        pose_to_matrix(Pose(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)))
    with pytest.raises(ValueError, match=r'non-finite'):
        pose_to_matrix(Pose(orientation=Quaternion(x=float('nan'), w=1.0)))
    pose = Pose()
    pose.position.x = float('inf')
    with pytest.raises(ValueError, match=r'pose position has non-finite entries'):
        pose_to_matrix(pose)


@FAST
@given(T=rigid_transforms(), twist=st.lists(st.floats(-10, 10), min_size=6, max_size=6),
       t=st.floats(0, 1e6))
def test_odometry_round_trip(T, twist, t):
    cov = np.diag(np.arange(1.0, 7.0))
    msg = matrix_to_odometry(T, 'odom', 'base_link', stamp=t, twist=twist, pose_covariance=cov,
                             twist_covariance=cov * 2)
    assert (msg.header.frame_id, msg.child_frame_id) == ('odom', 'base_link')
    assert stamp_to_seconds(msg.header.stamp) == pytest.approx(t, abs=1e-9)
    np.testing.assert_allclose(odometry_to_matrix(msg), T, atol=1e-9, rtol=0)
    assert odometry_to_twist(msg) == tuple(twist)
    np.testing.assert_array_equal(msg.pose.covariance.reshape(6, 6), cov)
    np.testing.assert_array_equal(msg.twist.covariance.reshape(6, 6), cov * 2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(twist=[0.0] * 5), r'twist must be 6 finite values'),
    (dict(twist=[0, 0, 0, 0, 0, float('nan')]), r'twist must be 6 finite values'),
    (dict(pose_covariance=np.eye(3)), r'pose_covariance must be 6x6'),
    (dict(twist_covariance=np.full((6, 6), np.inf)), r'twist_covariance has non-finite'),
])
def test_matrix_to_odometry_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        matrix_to_odometry(np.eye(4), 'odom', 'base_link', **kwargs)


# --- OccupancyGrid ---------------------------------------------------------------------

@FAST
@given(height=st.integers(0, 9), width=st.integers(0, 9), resolution=st.floats(0.01, 2.0),
       ox=coords, oy=coords, yaw=angles, seed=st.integers(0, 2**32 - 1))
def test_occupancy_grid_round_trip(height, width, resolution, ox, oy, yaw, seed):
    grid = np.random.default_rng(seed).integers(-1, 101, (height, width))
    msg = numpy_to_occupancy_grid(grid, resolution, (ox, oy), stamp=2.0, yaw=yaw)
    assert (msg.info.width, msg.info.height, msg.header.frame_id) == (width, height, 'map')
    out, res, origin, yaw_out = occupancy_grid_to_numpy(msg)
    np.testing.assert_array_equal(out, grid)
    assert out.dtype == np.int8 and res == pytest.approx(resolution, rel=1e-6)
    assert origin == (ox, oy)
    assert math.isclose(math.remainder(yaw_out - yaw, 2 * math.pi), 0.0, abs_tol=1e-9)


def test_occupancy_grid_row_zero_is_lowest_y():
    grid = np.zeros((3, 2), np.int8)
    grid[0, 1] = 100  # cell x in [0.5, 1.0), y in [0, 0.5) of a 0.5 m grid
    msg = numpy_to_occupancy_grid(grid, 0.5, (0.0, 0.0))
    assert list(msg.data) == [0, 100, 0, 0, 0, 0]  # nav_msgs: row-major from the origin cell


@pytest.mark.parametrize('grid, resolution, match', [
    (np.array([[0, 101]]), 0.1, r'must be -1 or 0..100, found \[101\] in 1 cells'),
    (np.array([[-2, 5]]), 0.1, r'found \[-2\]'),
    (np.zeros((2, 2), np.float32), 0.1, r'integer dtype, got float32'),
    (np.zeros(4, np.int8), 0.1, r'must be 2-D, got shape \(4,\)'),
    (np.zeros((2, 2), np.int8), 0.0, r'resolution must be finite and > 0 m/cell, got 0.0'),
])
def test_numpy_to_occupancy_grid_rejects(grid, resolution, match):
    with pytest.raises(ValueError, match=match):
        numpy_to_occupancy_grid(grid, resolution, (0.0, 0.0))


@pytest.mark.parametrize('origin', [(0.0, 1.0, 2.0), (float('nan'), 0.0)])
def test_numpy_to_occupancy_grid_rejects_bad_origin(origin):
    with pytest.raises(ValueError, match=r'origin_xy must be 2 finite values'):
        numpy_to_occupancy_grid(np.zeros((2, 2), np.int8), 0.1, origin)


def test_occupancy_grid_to_numpy_rejects_bad_messages():
    msg = numpy_to_occupancy_grid(np.zeros((2, 3), np.int8), 0.1, (0.0, 0.0))
    msg.data = array.array('b', [0] * 5)
    with pytest.raises(ValueError, match=r'data has 5 cells, expected width\*height = 6'):
        occupancy_grid_to_numpy(msg)
    msg = OccupancyGrid()
    msg.info.resolution, msg.info.width, msg.info.height = 0.1, 1, 1
    msg.data = array.array('b', [-7])
    with pytest.raises(ValueError, match=r'found \[-7\]'):
        occupancy_grid_to_numpy(msg)
    msg.data = array.array('b', [0])
    msg.info.origin.orientation = Quaternion(x=1.0, y=0.0, z=0.0, w=0.0)
    with pytest.raises(ValueError, match='rotate about z only'):
        occupancy_grid_to_numpy(msg)


# --- tf (tf2_ros is absent on a pip machine; both paths are exercised) -------------------

class _Logger:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)


class _Node:
    def __init__(self):
        self.logger = _Logger()

    def get_logger(self):
        return self.logger


def test_make_transform_stamped():
    T = np.eye(4)
    T[:3, 3] = [0.3, 0.0, 0.5]
    ts = rtf.make_transform_stamped(T, 'base_link', 'left_camera_link', stamp=1.5)
    assert (ts.header.frame_id, ts.child_frame_id) == ('base_link', 'left_camera_link')
    assert stamp_to_seconds(ts.header.stamp) == 1.5
    np.testing.assert_array_equal(transform_to_matrix(ts.transform), T)
    with pytest.raises(ValueError, match="parent and child frames are both 'a'"):
        rtf.make_transform_stamped(T, 'a', 'a')
    with pytest.raises(ValueError, match="child frame must be a non-empty str, got ''"):
        rtf.make_transform_stamped(T, 'a', '')
    with pytest.raises(ValueError, match='not rigid'):
        rtf.make_transform_stamped(np.diag([2.0, 1.0, 1.0, 1.0]), 'a', 'b')


def test_null_broadcaster_logs_once_and_sends_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tf2_ros', None)  # import fails even where tf2 exists
    assert not rtf.tf_available()
    node = _Node()
    b = rtf.make_tf_broadcaster(node, static=True)
    assert not b.available and b.static
    ts = rtf.make_transform_stamped(np.eye(4), 'map', 'odom')
    b.send(ts)
    b.send([ts, ts])
    assert b.dropped == 3
    assert len(node.logger.lines) == 1 and 'map->odom' in node.logger.lines[0]
    with pytest.raises(ValueError, match='expected geometry_msgs/TransformStamped, got int'):
        b.send([1])


def test_broadcaster_uses_tf2_ros_when_importable(monkeypatch):
    sent = []

    class FakeBroadcaster:
        def __init__(self, node):
            self.node = node

        def sendTransform(self, transforms):  # noqa: N802 (tf2_ros's name)
            sent.append((type(self).__name__, transforms))

    fake = types.ModuleType('tf2_ros')
    fake.TransformBroadcaster = type('TransformBroadcaster', (FakeBroadcaster,), {})
    fake.StaticTransformBroadcaster = type('StaticTransformBroadcaster', (FakeBroadcaster,), {})
    monkeypatch.setitem(sys.modules, 'tf2_ros', fake)
    assert rtf.tf_available()
    ts = rtf.make_transform_stamped(np.eye(4), 'odom', 'base_link')
    rtf.make_tf_broadcaster(_Node()).send(ts)
    rtf.make_tf_broadcaster(_Node(), static=True).send([ts])
    assert [name for name, _ in sent] == ['TransformBroadcaster', 'StaticTransformBroadcaster']
    assert all(isinstance(t, TransformStamped) for _, ts_list in sent for t in ts_list)


def test_null_broadcaster_with_a_real_node(ros):
    """The no-op path with a real rclpy node: nothing raised, nothing published."""
    if rtf.tf_available():
        pytest.skip('tf2_ros is installed here: the real broadcaster is used')
    node = ros.node('tf_probe')
    b = rtf.make_tf_broadcaster(node)
    b.send(rtf.make_transform_stamped(np.eye(4), 'map', 'odom', stamp=node.get_clock().now()))
    assert b.dropped == 1
    assert node.count_publishers('/tf') == 0


def test_imu_roll_pitch_reads_the_attitude_and_refuses_none():
    from sensor_msgs.msg import Imu
    from mining_rover.ros.geometry import imu_roll_pitch
    msg = Imu()
    w, x, y, z = mat2quat(euler2mat(0.7, -0.2, 0.1, 'rzyx'))   # yaw, pitch, roll
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = w, x, y, z
    assert imu_roll_pitch(msg) == pytest.approx((0.1, -0.2), abs=1e-9)
    msg.orientation_covariance[0] = -1.0          # REP-145: no orientation estimate
    assert imu_roll_pitch(msg) == (None, None)
    msg.orientation_covariance[0] = 0.0
    msg.orientation.w = math.nan
    assert imu_roll_pitch(msg) == (None, None)
