"""The in-process monitor: an rclpy node that records the mission and keeps its timeline.

It finds topics as they appear (every ``scan_period_s`` of wall time), subscribes to
each with ``raw=True`` and a QoS that matches its publishers (TRANSIENT_LOCAL where all
publishers latch, so late joiners still get maps and plans), writes the bytes to the
MCAP recorder stamped with the simulator's clock, and decodes only the few topics the
report needs, at a low rate. /clock is parsed in place (CDR: 4-byte header, int32 sec,
uint32 nanosec), so following a fast simulator costs one small callback per tick.

Every channel carries its publishers' offered QoS (rosbag2's ``offered_qos_profiles``),
so ``ros2 bag play`` latches /robot_description and the maps again. The recording's
``/tf`` and ``/tf_static`` are built here (runner/tf_frames.py) from /robot_description,
/joint_states, /odom and the ground truth, whether or not tf2 exists on this machine;
TF that nodes broadcast over DDS (where tf2_ros is installed) carries a subset of the
same edges and is not recorded beside it.
"""
from __future__ import annotations

import importlib
import math
import struct
import time

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from mining_rover.runner.recorder import McapRecorder, OfferedQos
from mining_rover.runner.tf_frames import TF_STATIC_TOPIC, TF_TOPIC, TfRecording
from mining_rover.runner.timeline import Marker2D, Timeline

#: Minimum sim-time period between recorded messages, by message type (big or fast ones).
PERIOD_BY_TYPE_S = {
    'sensor_msgs/msg/Image': 10.0,
    'sensor_msgs/msg/CompressedImage': 10.0,
    'sensor_msgs/msg/CameraInfo': 10.0,
    'stereo_msgs/msg/DisparityImage': 10.0,
    'sensor_msgs/msg/PointCloud2': 10.0,
    'nav_msgs/msg/OccupancyGrid': 2.0,
    'sensor_msgs/msg/Imu': 0.1,
    'sensor_msgs/msg/JointState': 0.1,
    'nav_msgs/msg/Odometry': 0.1,
    'tf2_msgs/msg/TFMessage': 0.1,
    'diagnostic_msgs/msg/DiagnosticArray': 0.5,
    'rosgraph_msgs/msg/Clock': 1.0,
}

#: Never subscribed: the right camera doubles the image traffic for nothing a viewer
#: needs (the left frames show the scene); parameter events are noise.
EXCLUDED_TOPICS = frozenset({'/parameter_events', '/stereo/right/image_raw',
                             '/stereo/right/camera_info'})

#: Decoded for the timeline: topic -> minimum sim seconds between decodes.
TRUTH_PERIOD_S = 0.5
#: Minimum sim seconds between recorded transforms from one source (joint states,
#: odometry, truth): 10 Hz, the rate the recorder keeps odometry and joint states at.
TF_PERIOD_S = 0.1


def message_class(datatype: str):
    """The Python class of 'pkg/msg/Type', or None where the package is not installed."""
    try:
        pkg, kind, name = datatype.split('/')
        return getattr(importlib.import_module(f'{pkg}.{kind}'), name)
    except (ValueError, ImportError, AttributeError):
        return None


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _duration_ns(d) -> int:
    return int(getattr(d, 'nanoseconds', 0))


def offered_qos(profile) -> OfferedQos:
    """An rclpy QoSProfile (a publisher's, from get_publishers_info_by_topic) in the
    integer form rosbag2 records."""
    return OfferedQos(reliability=int(profile.reliability), durability=int(profile.durability),
                      history=int(profile.history), depth=int(profile.depth),
                      deadline_ns=_duration_ns(profile.deadline), lifespan_ns=_duration_ns(profile.lifespan),
                      liveliness=int(profile.liveliness),
                      liveliness_lease_ns=_duration_ns(profile.liveliness_lease_duration))


def _values(status) -> dict:
    return {kv.key: kv.value for kv in status.values}


class MissionMonitor(Node):
    """Records every topic into ``recorder`` (may be None) and fills ``timeline``."""

    def __init__(self, timeline: Timeline, recorder: McapRecorder | None, contract,
                 scan_period_s: float = 1.0, frame_prefix: str = '', **kwargs):
        super().__init__('mission_monitor', **kwargs)
        self.timeline = timeline
        self.recorder = recorder
        self.contract = contract
        self.clock_ns = 0
        self._subs = {}
        self._unrecordable = set()
        self._last_decode = {}
        self._raw_last = {}
        self._handlers = {
            '/mission/status': self._on_status,
            '/' + contract.regolith_topic: self._on_regolith,
            '/' + contract.ground_truth_topic: self._on_truth,
            '/odom': self._on_odom,
            '/localization/odometry': self._on_localization,
            '/map/hazards': self._keep_last,
            '/planner/dig_sites': self._keep_last,
            '/robot_description': self._on_description,
            '/' + contract.joint_states_topic.lstrip('/'): self._on_joint_states,
        }
        self.tf = None
        if recorder is not None:
            try:
                self.tf = TfRecording(recorder, frame_prefix, contract.frames['map'], contract.frames['odom'])
            except FileNotFoundError as exc:
                self.get_logger().warning(f'no /tf in the recording: {exc}')
        self.actuator_topics = {'/' + j.topic: j.kind for j in contract.joints}
        #: topic -> callable(sim time s, message class, raw bytes), called for every message
        #: (runner/faults.py reads the simulator's joint states through one)
        self.taps = {}
        self._clock_sub = self.create_subscription(
            message_class('rosgraph_msgs/msg/Clock'), contract.clock, self._on_clock,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST),
            raw=True)
        self.scan()
        self._scan_timer = self.create_timer(scan_period_s, self.scan)

    # -- discovery ------------------------------------------------------------------
    def scan(self):
        """Subscribe to every topic that has a publisher and is not yet subscribed."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._subs or topic in EXCLUDED_TOPICS or topic in self._unrecordable:
                continue
            if self.tf is not None and topic in (TF_TOPIC, TF_STATIC_TOPIC):
                continue  # the recording's TF is built here (see the module docstring)
            if topic == self.contract.clock:
                self._subs[topic] = self._clock_sub
                if self.recorder:
                    self.recorder.policy.min_period_s[topic] = PERIOD_BY_TYPE_S['rosgraph_msgs/msg/Clock']
                    self.recorder.add_topic(topic, types[0])
                continue
            datatype = types[0]
            cls = message_class(datatype)
            qos, offered = self._qos_for(topic)
            if cls is None:
                self._unrecordable.add(topic)
                continue
            if qos is None:
                continue  # no publisher yet
            if self.recorder is not None:
                self.recorder.policy.min_period_s.setdefault(topic, PERIOD_BY_TYPE_S.get(datatype, 0.0))
                self.recorder.add_topic(topic, datatype, offered)
            self._subs[topic] = self.create_subscription(
                cls, topic, self._callback(topic, cls), qos, raw=True)

    def _qos_for(self, topic: str) -> tuple:
        """(the QoS to subscribe with, each publisher's OfferedQos); (None, []) without
        publishers."""
        pubs = self.get_publishers_info_by_topic(topic)
        if not pubs:
            return None, []
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in pubs)
        latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in pubs)
        return QoSProfile(
            depth=50, history=HistoryPolicy.KEEP_LAST,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE
        ), [offered_qos(p.qos_profile) for p in pubs]

    # -- callbacks -------------------------------------------------------------------
    def _on_clock(self, data: bytes):
        sec, nanosec = struct.unpack_from('<iI' if data[1] == 1 else '>iI', data, 4)
        ns = sec * 1_000_000_000 + nanosec
        if ns > self.clock_ns:
            self.clock_ns = ns
        self.timeline.on_clock(ns * 1e-9, time.monotonic())
        if self.recorder is not None and self.contract.clock in self._subs:
            self.recorder.write(self.contract.clock, data, ns)

    def _callback(self, topic: str, cls):
        handler = self._handlers.get(topic)
        kind = self.actuator_topics.get(topic)

        def on_message(data: bytes):
            if self.recorder is not None:
                self.recorder.write(topic, data, self.clock_ns)
            tap = self.taps.get(topic)
            if tap is not None:
                tap(self.clock_ns * 1e-9, cls, data)
            if handler is not None:
                handler(topic, cls, data)
            elif kind is not None or topic == '/cmd_vel':
                self._on_command(topic, data)
        return on_message

    def _due(self, topic: str, period_s: float) -> bool:
        t = self.clock_ns * 1e-9
        last = self._last_decode.get(topic)
        if last is not None and 0.0 <= t - last < period_s:
            return False
        self._last_decode[topic] = t
        return True

    def _on_status(self, topic, cls, data):
        self.timeline.on_status(self.clock_ns * 1e-9, _values(deserialize_message(data, cls)))

    def _on_regolith(self, topic, cls, data):
        if self._due(topic, TRUTH_PERIOD_S):
            self.timeline.regolith.append((self.clock_ns * 1e-9, _values(deserialize_message(data, cls))))

    def _on_truth(self, topic, cls, data):
        self._pose(topic, cls, data, self.timeline.truth_path, 'on_truth')

    def _on_odom(self, topic, cls, data):
        self._pose(topic, cls, data, self.timeline.odom_path, 'on_odometry')

    def _on_localization(self, topic, cls, data):
        if self._due(topic, TRUTH_PERIOD_S):
            self.timeline.loc_path.append(self._pose_row(deserialize_message(data, cls)))

    def _pose(self, topic, cls, data, path: list, tf_method: str):
        """Odometry into the timeline (every TRUTH_PERIOD_S) and /tf (every TF_PERIOD_S)."""
        tf_due = self.tf is not None and self._due('tf:' + topic, TF_PERIOD_S)
        path_due = self._due(topic, TRUTH_PERIOD_S)
        if not (tf_due or path_due):
            return
        msg = deserialize_message(data, cls)
        if path_due:
            path.append(self._pose_row(msg))
        if tf_due:
            p, q = msg.pose.pose.position, msg.pose.pose.orientation
            getattr(self.tf, tf_method)(((p.x, p.y, p.z), (q.w, q.x, q.y, q.z)), _stamp_ns(msg.header),
                                        self.clock_ns)

    def _on_description(self, topic, cls, data):
        if self.tf is None:
            return
        try:
            n = self.tf.on_description(deserialize_message(data, cls).data, self.clock_ns)
        except ValueError as exc:
            self.get_logger().warning(f'{topic}: not a URDF the TF tree can use: {exc}')
            return
        self.get_logger().debug(f'{topic}: {n} static transforms recorded')

    def _on_joint_states(self, topic, cls, data):
        if self.tf is not None and self.tf.frames is not None and self._due('tf:' + topic, TF_PERIOD_S):
            msg = deserialize_message(data, cls)
            self.tf.on_joint_states(msg.name, msg.position, _stamp_ns(msg.header), self.clock_ns)

    def _pose_row(self, odom) -> tuple:
        p = odom.pose.pose
        return (self.clock_ns * 1e-9, p.position.x, p.position.y, _yaw(p.orientation))

    def _keep_last(self, topic, cls, data):
        self._raw_last[topic] = (cls, data)

    def _on_command(self, topic: str, data: bytes):
        """Float64 command (or the Twist's linear.x and angular.z): the last value sent."""
        if topic == '/cmd_vel':
            lin = struct.unpack_from('<3d', data, 4)
            ang = struct.unpack_from('<3d', data, 28)
            self.timeline.last_commands[topic] = (lin[0], ang[2])
        else:
            self.timeline.last_commands[topic] = struct.unpack_from('<d', data, 4)[0]

    # -- end of mission ----------------------------------------------------------------
    def finalise(self):
        """Decode the last hazard and dig-site marker arrays into the timeline."""
        for topic, target in (('/map/hazards', self.timeline.hazards),
                              ('/planner/dig_sites', self.timeline.dig_sites)):
            if topic not in self._raw_last:
                continue
            cls, data = self._raw_last[topic]
            target.clear()
            for m in deserialize_message(data, cls).markers:
                if m.action != 0:  # ADD/MODIFY only
                    continue
                size = m.scale.x if m.ns == 'craters' else m.scale.z
                target.append(Marker2D(m.ns, m.pose.position.x, m.pose.position.y, float(size), m.text))

    def motors_zeroed(self) -> bool | None:
        """Whether the last command to every wheel and drum was zero (None: none seen)."""
        last = [v for t, v in self.timeline.last_commands.items()
                if self.actuator_topics.get(t) in ('wheel', 'drum')]
        if not last:
            return None
        return all(abs(v) < 1e-9 for v in last)

    def topics(self) -> list:
        return sorted(self._subs)
