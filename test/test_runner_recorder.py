"""The mission recorder: raw CDR in, an MCAP that mcap_ros2 decodes back to the same messages.

Two levels: the recorder alone (serialise_message -> write -> read back), and the whole
monitor over real DDS (a publisher node in this process, the monitor subscribing raw,
the file read back with mcap_ros2.reader), so the schemas built from the installed .msg
files are exercised by a real decoder.
"""
from __future__ import annotations

import math

import numpy as np

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('mcap_ros2')

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from rclpy.time import Time  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from mining_rover.contract import load_contract  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.runner import msgdefs  # noqa: E402
from mining_rover.runner.monitor import MissionMonitor, message_class  # noqa: E402
from mining_rover.runner.recorder import McapRecorder, RecorderPolicy, read_messages  # noqa: E402
from mining_rover.runner.timeline import Timeline  # noqa: E402

#: Every message type in docs/INTERFACES.md and the sim contract.
STACK_TYPES = [
    'std_msgs/msg/String', 'std_msgs/msg/Float64', 'std_msgs/msg/Bool', 'rosgraph_msgs/msg/Clock',
    'sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo', 'sensor_msgs/msg/Imu',
    'sensor_msgs/msg/JointState', 'sensor_msgs/msg/PointCloud2', 'stereo_msgs/msg/DisparityImage',
    'nav_msgs/msg/Odometry', 'nav_msgs/msg/OccupancyGrid', 'nav_msgs/msg/Path',
    'geometry_msgs/msg/Twist', 'geometry_msgs/msg/PoseStamped',
    'diagnostic_msgs/msg/DiagnosticStatus', 'diagnostic_msgs/msg/DiagnosticArray',
    'visualization_msgs/msg/MarkerArray', 'rcl_interfaces/msg/Log',
]


def _status(**values):
    return DiagnosticStatus(level=DiagnosticStatus.WARN, name='mission', hardware_id='test',
                            message='EXCAVATE',
                            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])


def _odom(x, y, yaw):
    m = Odometry()
    m.header.frame_id, m.child_frame_id = 'map', 'base_link'
    m.pose.pose.position.x, m.pose.pose.position.y = x, y
    m.pose.pose.orientation.z, m.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    m.pose.covariance[0] = 0.01
    return m


@pytest.mark.parametrize('datatype', STACK_TYPES)
def test_every_stack_type_has_a_schema_the_decoder_parses(datatype):
    """Each definition resolves from the installed .msg files, dependencies included once,
    and mcap_ros2 builds a decoder from it (what Foxglove does with the schema)."""
    from mcap_ros2._dynamic import generate_dynamic
    text = msgdefs.definition(datatype)
    headers = [line for line in text.splitlines() if line.startswith('MSG: ')]
    assert len(headers) == len(set(headers))
    assert datatype in generate_dynamic(datatype, text) or generate_dynamic(datatype, text)


def test_recorder_round_trip_and_rate_limit(tmp_path):
    """Written bytes decode to equal field values; a 1 s period keeps 1 message per second."""
    path = tmp_path / 'x.mcap'
    sent = [_status(cycles=i, regolith_delivered_kg=f'{1.5 * i:.3f}') for i in range(5)]
    with McapRecorder(path, RecorderPolicy(min_period_s={'/fast': 1.0})) as rec:
        assert rec.add_topic('/mission/status', 'diagnostic_msgs/msg/DiagnosticStatus')
        assert rec.add_topic('/fast', 'std_msgs/Float64')
        assert not rec.add_topic('/nope', 'no_such_msgs/msg/Thing')
        for i, msg in enumerate(sent):
            assert rec.write('/mission/status', serialize_message(msg), i * 10**9)
        kept = [rec.write('/fast', serialize_message(Float64(data=float(i))), i * 250_000_000)
                for i in range(12)]  # 4 Hz for 3 s
    assert kept == [True, False, False, False] * 3
    got = list(read_messages(path))
    status = [(t, m) for topic, t, m in got if topic == '/mission/status']
    assert [t for t, _ in status] == [i * 10**9 for i in range(5)]
    for (_, m), want in zip(status, sent):
        assert m.level == 1 and m.message  # byte: WARN == 'EXCAVATE'
        assert [(kv.key, kv.value) for kv in m.values] == [(kv.key, kv.value) for kv in want.values]
    assert [m.data for topic, _, m in got if topic == '/fast'] == [0.0, 4.0, 8.0]


def test_monitor_records_what_was_published_over_dds(ros, tmp_path):
    """Publisher -> DDS -> monitor (raw) -> MCAP -> mcap_ros2 decode: equal messages,
    stamped with the sim clock, latched topics included, timeline filled."""
    contract = load_contract()
    pub_node = ros.node('fake_stack')
    clock_pub = pub_node.create_publisher(Clock, '/clock', qos.CLOCK)
    status_pub = pub_node.create_publisher(DiagnosticStatus, 'mission/status', qos.STATE)
    truth_pub = pub_node.create_publisher(Odometry, contract.ground_truth_topic, qos.STATE)
    image_pub = pub_node.create_publisher(Image, contract.left.image, qos.SENSOR)
    wheel = contract.joints_of('wheel')[0].topic
    wheel_pub = pub_node.create_publisher(Float64, wheel, qos.COMMAND)
    hazards_pub = pub_node.create_publisher(MarkerArray, 'map/hazards', qos.MAP)
    crater = Marker(ns='craters', id=0, type=Marker.CYLINDER, action=Marker.ADD)
    crater.pose.position.x, crater.pose.position.y = 3.0, -2.0
    crater.scale.x, crater.scale.z = 1.2, 0.3
    hazards_pub.publish(MarkerArray(markers=[crater]))  # latched before the monitor exists

    timeline = Timeline()
    rec = McapRecorder(tmp_path / 'm.mcap')
    monitor = ros.add(MissionMonitor(timeline, rec, contract, scan_period_s=0.2,
                                     context=ros.context))
    topics = ['/clock', '/mission/status', '/' + contract.ground_truth_topic,
              '/' + contract.left.image, '/' + wheel, '/map/hazards']
    assert ros.spin_until(lambda: all(t in monitor.topics() for t in topics), timeout_s=15), \
        f'monitor subscribed to {monitor.topics()}'
    ros.spin_for(0.5)  # let the matched subscriptions settle (reliable + best effort)

    statuses, odoms = [], []
    img = Image(height=4, width=6, encoding='rgb8', step=18, data=bytes(range(72)))
    for i in range(1, 11):
        clock_pub.publish(Clock(clock=Time(seconds=i).to_msg()))
        ros.spin_until(lambda: monitor.clock_ns == i * 10**9, timeout_s=5)
        statuses.append(_status(state='HAUL', cycles=i, regolith_delivered_kg=f'{2.0 * i:.3f}'))
        status_pub.publish(statuses[-1])
        odoms.append(_odom(0.5 * i, 0.1 * i, 0.05 * i))
        truth_pub.publish(odoms[-1])
        wheel_pub.publish(Float64(data=2.0 if i < 10 else 0.0))
        image_pub.publish(img)
        ros.spin_until(lambda: len(timeline.status) == i, timeout_s=5)
    ros.spin_until(lambda: timeline.last_commands.get('/' + wheel) == 0.0, timeout_s=5)
    ros.spin_for(0.3)
    monitor.finalise()
    rec.close()

    got = {}
    for topic, t, m in read_messages(tmp_path / 'm.mcap'):
        got.setdefault(topic, []).append((t, m))
    assert [[(kv.key, kv.value) for kv in m.values] for _, m in got['/mission/status']] == \
        [[(kv.key, kv.value) for kv in s.values] for s in statuses]
    assert [t for t, _ in got['/mission/status']] == [i * 10**9 for i in range(1, 11)]
    truth = got['/' + contract.ground_truth_topic]
    assert [(m.pose.pose.position.x, m.pose.pose.orientation.z) for _, m in truth] == \
        [(o.pose.pose.position.x, o.pose.pose.orientation.z) for o in odoms]
    assert truth[0][1].pose.covariance[0] == 0.01 and truth[0][1].child_frame_id == 'base_link'
    images = got['/' + contract.left.image]
    assert len(images) == 1, 'images are kept at most every 10 sim seconds'
    assert bytes(images[0][1].data) == bytes(img.data) and images[0][1].encoding == 'rgb8'
    assert got['/map/hazards'][0][1].markers[0].scale.x == pytest.approx(1.2)
    # the timeline the report reads
    assert [round(v) for v in timeline.series('regolith_delivered_kg')[1]] == list(range(2, 21, 2))
    assert timeline.truth_path and timeline.truth_path[0][1] == pytest.approx(0.5)
    assert [(h.ns, h.x, h.size_m) for h in timeline.hazards] == [('craters', 3.0, pytest.approx(1.2))]
    assert monitor.motors_zeroed() is True
    assert timeline.sim_time == pytest.approx(10.0)


def test_message_class_of_unknown_type_is_none():
    assert message_class('no_such_msgs/msg/Thing') is None
    assert message_class('std_msgs/msg/Float64') is Float64


# -- TF in the recording ---------------------------------------------------------------
def _pose(x, y, z, roll, pitch, yaw):
    import transforms3d
    T = np.eye(4)
    T[:3, :3] = transforms3d.euler.euler2mat(roll, pitch, yaw, 'sxyz')
    T[:3, 3] = x, y, z
    return T


def _tf_edges(path):
    """child -> (parent, 4x4) from every /tf and /tf_static message (the last one wins),
    composed here from the decoded fields with transforms3d, not with the package's code."""
    import transforms3d
    edges = {}
    for topic, _t, m in read_messages(path, topics=['/tf', '/tf_static']):
        for ts in m.transforms:
            q, p = ts.transform.rotation, ts.transform.translation
            T = np.eye(4)
            T[:3, :3] = transforms3d.quaternions.quat2mat([q.w, q.x, q.y, q.z])
            T[:3, 3] = p.x, p.y, p.z
            edges[ts.child_frame_id] = (ts.header.frame_id, T)
    return edges


def _resolve(edges, frame, target='map'):
    """4x4 target <- frame by walking up the recorded tree; KeyError names a broken link."""
    T = np.eye(4)
    seen = []
    while frame != target:
        seen.append(frame)
        if frame not in edges:
            raise KeyError(f'no transform to the parent of {frame!r} (path so far {seen})')
        parent, T_pc = edges[frame]
        T = T_pc @ T
        frame = parent
    return T


def _channel_metadata(path):
    from mcap.reader import make_reader
    with open(path, 'rb') as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        channels = {c.topic: dict(c.metadata) for c in summary.channels.values()}
        schemas = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
        meta = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    return channels, schemas, meta


def test_tf_places_the_camera_optical_frame_in_map(tmp_path):
    """Synthetic rover pose, joint angles and truth in; the MCAP's /tf and /tf_static
    resolve the left camera's optical frame into map where config/rover.yaml puts it
    (mast x, baseline / 2 to the left, optical centre height, pitched down), every URDF
    link resolves (the tree is connected), truth is its own frame, and the latched
    topics carry rosbag2's transient-local QoS."""
    import yaml

    from mining_rover.description import load_rover
    from mining_rover.paths import rover_config
    from mining_rover.runner.tf_frames import TfRecording

    urdf, model = load_rover({'sim': 'true'})
    path = tmp_path / 'tf.mcap'
    T_odom_base = _pose(3.0, -2.0, 0.15, 0.02, -0.03, 0.7)
    T_truth = _pose(3.1, -2.05, 0.14, 0.0, 0.0, 0.72)
    joints = {name: 0.1 * i for i, (name, j) in enumerate(model.joints.items()) if j.type != 'fixed'}
    joints['front_arm_joint'] = 0.4
    with McapRecorder(path) as rec:
        tf = TfRecording(rec, frame_prefix='r1/')
        assert tf.on_description(urdf, log_ns=0) >= 8
        tf.on_odometry(T_odom_base, stamp_ns=5 * 10**9, log_ns=5 * 10**9)
        assert tf.on_joint_states(list(joints), list(joints.values()), 5 * 10**9,
                                  5 * 10**9) == len(joints) == 8
        tf.on_truth(T_truth, stamp_ns=5 * 10**9, log_ns=5 * 10**9)
    edges = _tf_edges(path)

    r = rover_config()
    pitch, yaw = float(r['camera']['pitch']), 0.7
    T = _resolve(edges, 'r1/left_camera_optical_frame')
    want_in_base = np.array([float(r['mast']['x']), float(r['camera']['baseline']) / 2,
                             float(r['mast']['height']), 1.0])
    assert T[:3, 3] == pytest.approx((T_odom_base @ want_in_base)[:3], abs=1e-9)
    # optical z looks forward and down by the camera pitch; optical x points right
    forward = T_odom_base[:3, :3] @ np.array([math.cos(pitch), 0.0, -math.sin(pitch)])
    assert T[:3, 2] == pytest.approx(forward, abs=1e-9)
    assert T[:3, 0] == pytest.approx(T_odom_base[:3, :3] @ np.array([0.0, -1.0, 0.0]), abs=1e-9)
    assert math.atan2(T[1, 2], T[0, 2]) == pytest.approx(yaw, abs=0.05)
    # every link resolves; a moved arm moves its drum; truth is its own frame
    for link in model.links:
        _resolve(edges, 'r1/' + link)
    arm = model.joints['front_arm_joint']
    drum_moved = _resolve(edges, 'r1/front_drum')[:3, 3]
    drum_zero = (T_odom_base @ model.fixed_transform('base_link', 'front_drum'))[:3, 3]
    pivot = (T_odom_base @ model.fixed_transform('base_link', arm.child))[:3, 3]
    assert np.linalg.norm(drum_moved - pivot) == pytest.approx(np.linalg.norm(drum_zero - pivot), abs=1e-9)
    assert np.linalg.norm(drum_moved - drum_zero) > 0.05
    assert _resolve(edges, 'truth/r1/base_link') == pytest.approx(T_truth, abs=1e-9)
    assert edges['r1/odom'][0] == 'map' and edges['r1/base_link'][0] == 'r1/odom'

    channels, schemas, meta = _channel_metadata(path)
    assert schemas['/tf'] == schemas['/tf_static'] == 'tf2_msgs/msg/TFMessage'
    static_qos = yaml.safe_load(channels['/tf_static']['offered_qos_profiles'])
    assert static_qos[0]['durability'] == 1 and static_qos[0]['reliability'] == 1  # transient local
    assert yaml.safe_load(channels['/tf']['offered_qos_profiles'])[0]['durability'] == 2  # volatile
    bag = yaml.safe_load(meta['rosbag2']['serialized_metadata'])
    assert bag['version'] == 8 and bag['message_count'] == 4
    assert {t['topic_metadata']['name'] for t in bag['topics_with_message_count']} == {'/tf', '/tf_static'}


def test_tf_schema_comes_from_the_embedded_text_where_tf2_msgs_is_absent(monkeypatch):
    """No tf2_msgs .msg file on the search path: the embedded TFMessage text is used,
    its geometry_msgs dependencies still come from the installed files."""
    installed = msgdefs.share_prefixes()
    monkeypatch.setattr(msgdefs, 'share_prefixes',
                        lambda: [p for p in installed if not (p / 'tf2_msgs').is_dir()])
    msgdefs.msg_file.cache_clear()
    msgdefs.definition.cache_clear()
    try:
        text = msgdefs.definition('tf2_msgs/msg/TFMessage')
    finally:
        msgdefs.msg_file.cache_clear()
        msgdefs.definition.cache_clear()
    assert text.startswith('geometry_msgs/TransformStamped[] transforms\n')
    assert 'MSG: geometry_msgs/TransformStamped' in text and 'MSG: geometry_msgs/Quaternion' in text
    from mcap_ros2._dynamic import generate_dynamic
    assert 'tf2_msgs/msg/TFMessage' in generate_dynamic('tf2_msgs/msg/TFMessage', text)


def test_monitor_builds_tf_from_the_stack_and_latches_the_description(ros, tmp_path):
    """Over DDS: /robot_description (latched, published before the monitor exists),
    /joint_states and /odom and the ground truth in; the MCAP's TF resolves the camera's
    optical frame into map at the published odometry pose, truth is a separate frame,
    and /robot_description carries the transient-local QoS that ros2 bag play latches."""
    import yaml
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from mining_rover.description import load_rover

    contract = load_contract()
    urdf, model = load_rover({'sim': 'true'})
    pub_node = ros.node('fake_stack_tf')
    pub_node.create_publisher(String, 'robot_description', qos.LATCHED).publish(String(data=urdf))
    clock_pub = pub_node.create_publisher(Clock, '/clock', qos.CLOCK)
    joints_pub = pub_node.create_publisher(JointState, contract.joint_states_topic, qos.SENSOR)
    odom_pub = pub_node.create_publisher(Odometry, 'odom', qos.STATE)
    truth_pub = pub_node.create_publisher(Odometry, contract.ground_truth_topic, qos.STATE)

    rec = McapRecorder(tmp_path / 'm.mcap')
    monitor = ros.add(MissionMonitor(Timeline(), rec, contract, scan_period_s=0.2, context=ros.context))
    topics = ['/clock', '/robot_description', '/' + contract.joint_states_topic.lstrip('/'), '/odom',
              '/' + contract.ground_truth_topic]
    assert ros.spin_until(lambda: all(t in monitor.topics() for t in topics), timeout_s=15), monitor.topics()
    assert ros.spin_until(lambda: monitor.tf.frames is not None, timeout_s=5), 'no /robot_description'
    ros.spin_for(0.5)
    moving = [n for n, j in model.joints.items() if j.type != 'fixed']
    for i in range(1, 6):
        stamp = Time(seconds=i).to_msg()
        clock_pub.publish(Clock(clock=stamp))
        ros.spin_until(lambda: monitor.clock_ns == i * 10**9, timeout_s=5)
        js = JointState(name=moving, position=[0.2] * len(moving))
        js.header.stamp = stamp
        joints_pub.publish(js)
        odom, truth = _odom(2.0, 1.0 + 0.1 * i, 0.3), _odom(2.1, 1.0 + 0.1 * i, 0.32)
        odom.header.stamp = truth.header.stamp = stamp
        odom_pub.publish(odom)
        truth_pub.publish(truth)
        ros.spin_for(0.1)
    ros.spin_for(0.3)
    rec.close()

    edges = _tf_edges(tmp_path / 'm.mcap')
    T_map_base = _pose(2.0, 1.5, 0.0, 0.0, 0.0, 0.3)   # the last /odom
    T = _resolve(edges, 'left_camera_optical_frame')
    want = T_map_base @ model.fixed_transform('base_link', 'left_camera_optical_frame')
    assert T == pytest.approx(want, abs=1e-6)
    assert _resolve(edges, 'truth/base_link')[:3, 3] == pytest.approx([2.1, 1.5, 0.0], abs=1e-6)
    for link in model.links:
        _resolve(edges, link)
    channels, _schemas, _meta = _channel_metadata(tmp_path / 'm.mcap')
    offered = yaml.safe_load(channels['/robot_description']['offered_qos_profiles'])
    assert [(p['reliability'], p['durability']) for p in offered] == [(1, 1)]  # reliable, transient local
    assert yaml.safe_load(channels['/odom']['offered_qos_profiles'])[0]['durability'] == 2
    got = [m.data for _, _, m in read_messages(tmp_path / 'm.mcap', topics=['/robot_description'])]
    assert got == [urdf]
