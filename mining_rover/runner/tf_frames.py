"""The rover's TF tree for the recording: ``/tf`` and ``/tf_static`` as the MCAP carries them.

tf2_ros and tf2_msgs are not on PyPI, so on a bare machine no node broadcasts TF; the
recorder builds the tree itself from what the stack publishes, and Foxglove or
``ros2 bag play`` then see the same frames rviz would (REP-105):

    map -> <p>odom -> <p>base_link -> every URDF link (joint states for the wheels, arms
                                      and drums; fixed joints for the mast, cameras,
                                      camera optical frames and IMU)
    map -> truth/<p>base_link      the simulator's ground truth, beside the estimate

``<p>`` is the rover's frame prefix ('' by default, 'r1/' where several rovers share a
world); ``map`` is shared and never prefixed. ``map -> odom`` is the identity, on
``/tf_static``: the stack has no global localisation, and drive_node starts its odometry
at the surveyed start pose in the site frame (odom == map, ARCHITECTURE.md).

No rclpy here: poses come in as 4x4 matrices or (xyz, quaternion w x y z) pairs, stamps
as nanoseconds; messages go out as nested dicts that McapRecorder.write_message encodes
from the tf2_msgs/TFMessage definition text alone. The monitor runs this for every
recorded joint state and odometry message, in the process that also follows the
simulator, so the moving joints are composed as quaternions (origin times the rotation
about the axis), never through a matrix-to-quaternion conversion per message.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import transforms3d

from mining_rover.description import RobotModel, parse_urdf
from mining_rover.runner import recorder as rec

TF_TOPIC, TF_STATIC_TOPIC = '/tf', '/tf_static'
TF_TYPE = 'tf2_msgs/msg/TFMessage'
#: Prefix of the ground-truth copy of the rover's base frame.
TRUTH_PREFIX = 'truth/'


@dataclass(frozen=True)
class Edge:
    """One transform parent -> child: child coordinates into parent coordinates as a
    translation (m) and a unit quaternion (w, x, y, z)."""
    parent: str
    child: str
    xyz: tuple
    wxyz: tuple

    @classmethod
    def from_pose(cls, parent: str, child: str, pose) -> Edge:
        """pose: a 4x4 matrix or an (xyz, quaternion w x y z) pair."""
        if isinstance(pose, np.ndarray) and pose.shape == (4, 4):
            return cls(parent, child, tuple(float(v) for v in pose[:3, 3]),
                       tuple(float(v) for v in transforms3d.quaternions.mat2quat(pose[:3, :3])))
        xyz, wxyz = pose
        return cls(parent, child, tuple(float(v) for v in xyz), tuple(float(v) for v in wxyz))


def prefixed(prefix: str, name: str) -> str:
    """``name`` with ``prefix`` prepended (an empty name stays empty)."""
    return f'{prefix}{name}' if name else name


def _qmult(a, b) -> tuple:
    """Hamilton product of quaternions (w, x, y, z)."""
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return (w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2)


def joint_transform(joint, position: float = 0.0) -> np.ndarray:
    """parent -> child of a URDF joint at ``position`` (rad for revolute/continuous, m for
    prismatic; ignored for fixed): origin, then the motion about/along the joint axis."""
    T = np.array(joint.origin, dtype=float)
    if joint.type in ('revolute', 'continuous'):
        M = np.eye(4)
        M[:3, :3] = transforms3d.axangles.axangle2mat(joint.axis, float(position))
        T = T @ M
    elif joint.type == 'prismatic':
        M = np.eye(4)
        M[:3, 3] = np.asarray(joint.axis, dtype=float) * float(position)
        T = T @ M
    return T


def transform_dict(edge: Edge, stamp_ns: int) -> dict:
    """geometry_msgs/TransformStamped as nested dicts."""
    w, x, y, z = edge.wxyz
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    tx, ty, tz = edge.xyz
    return {'header': {'stamp': {'sec': sec, 'nanosec': nanosec}, 'frame_id': edge.parent},
            'child_frame_id': edge.child,
            'transform': {'translation': {'x': tx, 'y': ty, 'z': tz},
                          'rotation': {'x': x, 'y': y, 'z': z, 'w': w}}}


def tf_message(edges, stamp_ns: int) -> dict:
    """tf2_msgs/TFMessage as nested dicts, every transform stamped ``stamp_ns``."""
    return {'transforms': [transform_dict(e, stamp_ns) for e in edges]}


class RobotFrames:
    """The transforms of one rover's URDF, its links named with ``prefix``."""

    def __init__(self, model: RobotModel, prefix: str = ''):
        self.model = model
        self.prefix = prefix
        self.root = prefixed(prefix, model.root)
        self.moving = {j.name: j for j in model.joints.values() if j.type != 'fixed'}
        # per moving joint: (parent, child, origin xyz, origin quaternion, unit axis, type)
        self._moving = {}
        for name, j in self.moving.items():
            origin = Edge.from_pose('', '', np.asarray(j.origin, dtype=float))
            axis = np.asarray(j.axis, dtype=float)
            axis = axis / np.linalg.norm(axis)
            self._moving[name] = (self.name(j.parent), self.name(j.child), origin.xyz, origin.wxyz,
                                  tuple(float(v) for v in axis), j.type, np.asarray(j.origin)[:3, :3])

    def name(self, link: str) -> str:
        return prefixed(self.prefix, link)

    def static_edges(self) -> list[Edge]:
        """Every fixed joint (mast, cameras, optical frames, IMU, chassis)."""
        return [Edge.from_pose(self.name(j.parent), self.name(j.child), joint_transform(j))
                for j in self.model.joints.values() if j.type == 'fixed']

    def moving_edges(self, positions: dict) -> list[Edge]:
        """The movable joints that ``positions`` (joint name -> position) names: the
        origin, then the rotation about (or the slide along) the joint axis."""
        edges = []
        for name, (parent, child, xyz, q_origin, axis, kind, R_origin) in self._moving.items():
            if name not in positions:
                continue
            position = float(positions[name])
            if kind == 'prismatic':
                xyz = tuple(float(v) for v in np.asarray(xyz) + R_origin @ (np.asarray(axis) * position))
                edges.append(Edge(parent, child, xyz, q_origin))
                continue
            s = math.sin(0.5 * position)
            q_joint = (math.cos(0.5 * position), axis[0] * s, axis[1] * s, axis[2] * s)
            edges.append(Edge(parent, child, xyz, _qmult(q_origin, q_joint)))
        return edges


class TfRecording:
    """Writes the rover's TF tree into a McapRecorder as the stack's messages arrive.

    Call ``on_description`` with the URDF text (from /robot_description) before the
    rest: until then joint states have no tree to go into and are skipped. Every
    ``on_*`` takes the message's own stamp (``stamp_ns``, sim time) and the log time
    the monitor uses for every channel (``log_ns``).
    """

    def __init__(self, recorder, frame_prefix: str = '', map_frame: str = 'map',
                 odom_frame: str = 'odom'):
        self.recorder = recorder
        self.prefix = frame_prefix
        self.map_frame = map_frame
        self.odom_frame = prefixed(frame_prefix, odom_frame)
        self.frames: RobotFrames | None = None
        recorder.policy.min_period_s[TF_TOPIC] = 0.0   # several sources share it: the
        recorder.policy.min_period_s[TF_STATIC_TOPIC] = 0.0   # caller limits each source
        ok = (recorder.add_topic(TF_TOPIC, TF_TYPE, [rec.TF])
              and recorder.add_topic(TF_STATIC_TOPIC, TF_TYPE, [rec.LATCHED]))
        if not ok:
            raise FileNotFoundError(f'no definition for {TF_TYPE} or its dependencies')
        # build the encoder now (importing mcap_ros2's dynamic encoder and parsing the
        # definition takes seconds on a loaded machine), not at the first transform,
        # which arrives while the simulator runs
        recorder.encode(TF_TYPE, {'transforms': []})
        self.static_written = 0

    @property
    def base_frame(self) -> str:
        return self.frames.root if self.frames else prefixed(self.prefix, 'base_link')

    @property
    def truth_frame(self) -> str:
        return TRUTH_PREFIX + self.base_frame

    def on_description(self, urdf_xml: str, log_ns: int, stamp_ns: int | None = None) -> int:
        """Parse the URDF and write /tf_static (map -> odom and every fixed joint); the
        number of static transforms written. A new description replaces the old tree."""
        self.frames = RobotFrames(parse_urdf(urdf_xml), self.prefix)
        edges = [Edge.from_pose(self.map_frame, self.odom_frame, np.eye(4))] + self.frames.static_edges()
        self.recorder.write_message(TF_STATIC_TOPIC, tf_message(edges, stamp_ns or log_ns), log_ns)
        self.static_written = len(edges)
        return len(edges)

    def on_joint_states(self, names, positions, stamp_ns: int, log_ns: int) -> int:
        if self.frames is None:
            return 0
        edges = self.frames.moving_edges({n: float(p) for n, p in zip(names, positions)})
        if edges:
            self.recorder.write_message(TF_TOPIC, tf_message(edges, stamp_ns), log_ns)
        return len(edges)

    def on_odometry(self, pose_odom_base, stamp_ns: int, log_ns: int):
        """The rover's estimate: odom -> base_link (a 4x4 or an (xyz, wxyz) pair)."""
        edge = Edge.from_pose(self.odom_frame, self.base_frame, pose_odom_base)
        self.recorder.write_message(TF_TOPIC, tf_message([edge], stamp_ns), log_ns)

    def on_truth(self, pose_map_base, stamp_ns: int, log_ns: int):
        """The simulator's ground truth: map -> truth/base_link (a 4x4 or (xyz, wxyz))."""
        edge = Edge.from_pose(self.map_frame, self.truth_frame, pose_map_base)
        self.recorder.write_message(TF_TOPIC, tf_message([edge], stamp_ns), log_ns)
