"""The mission recorder: raw CDR in, an MCAP that mcap_ros2 decodes back to the same messages.

Two levels: the recorder alone (serialise_message -> write -> read back), and the whole
monitor over real DDS (a publisher node in this process, the monitor subscribing raw,
the file read back with mcap_ros2.reader), so the schemas built from the installed .msg
files are exercised by a real decoder.
"""
from __future__ import annotations

import math

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
