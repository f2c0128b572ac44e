"""ground_link_node over real DDS: relays after the link model, e-stop priority, outages.

The node runs in the test process with a 0.2 s one-way latency; the test publishes on
the rover's and the operator's topics and listens on the other side. Time checks are
lower bounds only (nothing can arrive before light time), never upper bounds on speed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from mining_rover.nodes.ground_link_node import GroundLinkNode  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.ros.conversions import image_to_numpy, numpy_to_image  # noqa: E402
from mining_rover.ros.params import ParameterError  # noqa: E402

LATENCY_S = 0.2
BASE = {'one_way_latency_s': LATENCY_S, 'jitter_s': 0.0, 'status_rate_hz': 5.0,
        'link_timeout_s': 0.6, 'thumbnail_rate_hz': 0.0, 'costmap_rate_hz': 0.0}


def start_link(ros, **overrides):
    params = {**BASE, **overrides}
    return ros.add(GroundLinkNode(context=ros.context,
                                  parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]))


def now_s(node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9


class Operator:
    """The test's side of both ends: publishes rover and ground inputs, records outputs."""

    def __init__(self, ros):
        n = self.node = ros.node('operator')
        self.sent_at = {}      # status name -> publish time, s
        self.status = []       # (receive time, DiagnosticStatus)
        self.link = []
        self.estop = []
        self.thumbs = []
        self.overrides = []
        self.status_pub = n.create_publisher(DiagnosticStatus, 'mission/status', qos.STATE)
        self.image_pub = n.create_publisher(Image, 'stereo/left/image_raw', qos.SENSOR)
        self.estop_pub = n.create_publisher(Bool, 'ground/estop', qos.COMMAND)
        self.override_pub = n.create_publisher(PoseStamped, 'ground/site_override', qos.COMMAND)
        n.create_subscription(DiagnosticStatus, 'ground/mission_status',
                              lambda m: self.status.append((now_s(n), m)), qos.STATE)
        n.create_subscription(DiagnosticStatus, 'ground/link_status', self.link.append, qos.STATE)
        n.create_subscription(Bool, 'estop/cmd', self.estop.append, qos.COMMAND)
        n.create_subscription(Image, 'ground/thumbnail', self.thumbs.append, qos.SENSOR)
        n.create_subscription(PoseStamped, 'mission/site_override', self.overrides.append, qos.COMMAND)
        self.count = 0

    def send_status(self):
        name = f'status_{self.count}'
        self.count += 1
        self.sent_at[name] = now_s(self.node)
        self.status_pub.publish(DiagnosticStatus(name=name, values=[KeyValue(key='state', value='DIG')]))

    def received_names(self):
        return {m.name for _t, m in self.status}

    def last_link(self) -> dict:
        return {kv.key: kv.value for kv in self.link[-1].values} if self.link else {}


def test_status_goes_down_no_sooner_than_light_time(ros):
    start_link(ros)
    op = Operator(ros)
    op.node.create_timer(0.05, op.send_status)
    assert ros.spin_until(lambda: len(op.status) >= 10, timeout_s=20.0), 'no relayed /ground/mission_status'
    for t, msg in op.status:
        assert t - op.sent_at[msg.name] >= LATENCY_S - 1e-3, msg.name
    # Sequenced link: relayed in the order sent.
    order = [int(m.name.split('_')[1]) for _t, m in op.status]
    assert order == sorted(order)
    assert ros.spin_until(lambda: op.last_link().get('link_up') == '1', timeout_s=10.0), op.last_link()
    assert float(op.last_link()['down_mean_latency_s']) >= LATENCY_S


def test_estop_arrives_through_saturated_links(ros):
    # Downlink 25 kB/s against ~20 thumbnails/s of ~12 kB; uplink 1 kB/s against 100 site
    # overrides/s of ~80 bytes: both buckets run dry, and the e-stop still gets through.
    start_link(ros, thumbnail_rate_hz=20.0, thumbnail_max_side_px=64, downlink_bandwidth_bps=200_000.0,
               uplink_bandwidth_bps=8_000.0)
    op = Operator(ros)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    op.node.create_timer(0.04, lambda: op.image_pub.publish(numpy_to_image(frame, 'bgr8', 'left_optical')))
    pose = PoseStamped()
    pose.header.frame_id = 'map'
    pose.pose.position.x, pose.pose.orientation.w = 1.0, 1.0
    op.node.create_timer(0.01, lambda: op.override_pub.publish(pose))

    def saturated():
        link = op.last_link()
        return int(link.get('down_dropped_bandwidth', 0)) > 0 and int(link.get('up_dropped_bandwidth', 0)) > 0
    assert ros.spin_until(saturated, timeout_s=20.0), op.last_link()
    sent = now_s(op.node)
    op.estop_pub.publish(Bool(data=True))
    assert ros.spin_until(lambda: op.estop, timeout_s=10.0), f'no e-stop on /estop/cmd: {op.last_link()}'
    assert op.estop[0].data is True
    assert now_s(op.node) - sent >= LATENCY_S - 1e-3
    # Thumbnails queue behind each other on the thin downlink; some do get through.
    assert ros.spin_until(lambda: op.thumbs, timeout_s=10.0), 'no thumbnail got through'
    th = op.thumbs[-1]
    assert (th.encoding, th.width, th.height) == ('rgb8', 64, 48)
    # bgr8 in, rgb8 out: the channels are swapped back (area-averaged, so compare means).
    rgb = image_to_numpy(th).reshape(-1, 3).mean(axis=0)
    assert np.allclose(rgb, frame[:, :, ::-1].reshape(-1, 3).mean(axis=0), atol=2.0)


def test_outage_drops_traffic_and_link_status_reports_it(ros):
    node = start_link(ros)
    op = Operator(ros)
    op.node.create_timer(0.05, op.send_status)
    assert ros.spin_until(lambda: op.status, timeout_s=20.0), 'no relayed status before the outage'
    assert ros.spin_until(lambda: op.last_link().get('link_up') == '1', timeout_s=10.0)

    assert node.set_parameters([Parameter('outage', value=True)])[0].successful
    first_after = op.count  # statuses with this index or above are offered during the outage

    def dark():
        link = op.last_link()
        return link.get('link_up') == '0' and link.get('outage') == '1'
    assert ros.spin_until(dark, timeout_s=10.0), op.last_link()
    ros.spin_for(0.5)
    during = {f'status_{i}' for i in range(first_after, op.count)}
    assert during and not during & op.received_names()
    assert int(op.last_link()['down_dropped_outage']) > 0
    assert op.link[-1].level == DiagnosticStatus.WARN

    # Only `outage` may change at run time, and only to a valid value.
    assert not node.set_parameters([Parameter('one_way_latency_s', value=5.0)])[0].successful
    assert not node.set_parameters([Parameter('outage', value=3)])[0].successful

    assert node.set_parameters([Parameter('outage', value=False)])[0].successful
    resumed = op.count
    assert ros.spin_until(
        lambda: any(int(n.split('_')[1]) >= resumed for n in op.received_names()), timeout_s=10.0)
    assert ros.spin_until(lambda: op.last_link().get('link_up') == '1', timeout_s=10.0)


def test_bad_inputs_are_dropped(ros):
    start_link(ros, thumbnail_rate_hz=10.0)
    op = Operator(ros)
    broken = Image(height=10, width=10, encoding='rgb8', step=30, data=b'\x00' * 7)   # too short
    float_img = numpy_to_image(np.zeros((10, 10), np.float32), '32FC1')               # not 8-bit
    nan_pose = PoseStamped()
    nan_pose.header.frame_id = 'map'
    nan_pose.pose.position.x = math.nan

    def send_bad():
        op.image_pub.publish(broken)
        op.image_pub.publish(float_img)
        op.override_pub.publish(nan_pose)
    timer = op.node.create_timer(0.05, send_bad)
    assert ros.spin_until(lambda: op.link and int(op.last_link()['up_sent']) > 0, timeout_s=1.5) is False
    assert not op.thumbs and not op.overrides
    timer.cancel()

    good = PoseStamped()
    good.header.frame_id = 'map'
    good.pose.position.x, good.pose.orientation.w = 2.0, 1.0
    op.node.create_timer(0.1, lambda: (op.override_pub.publish(good),
                                       op.image_pub.publish(numpy_to_image(np.zeros((8, 8), np.uint8),
                                                                           'mono8'))))
    assert ros.spin_until(lambda: op.overrides and op.thumbs, timeout_s=10.0)
    assert op.overrides[0].pose.position.x == 2.0
    assert (op.thumbs[0].encoding, op.thumbs[0].width) == ('rgb8', 8)


@pytest.mark.parametrize('bad, name', [
    ({'loss_probability': 1.5}, 'loss_probability'),
    ({'one_way_latency_s': -1.0}, 'one_way_latency_s'),
    ({'thumbnail_rate_hz': 1.0, 'thumbnail_max_side_px': 1024}, 'thumbnail_max_side_px'),
    ({'link_timeout_s': 0.1}, 'link_timeout_s'),
])
def test_bad_parameters_refuse_to_start(ros, bad, name):
    with pytest.raises(ParameterError, match=name):
        GroundLinkNode(context=ros.context,
                       parameter_overrides=[Parameter(k, value=v) for k, v in {**BASE, **bad}.items()])


def test_console_script_reads_the_params_file(ros, launch_node):
    from mining_rover.paths import config_path
    params_file = str(config_path('ground_link.yaml'))
    proc = launch_node('ground_link_node', '--ros-args', '--params-file', params_file,
                       '-p', 'status_rate_hz:=5.0')
    op = Operator(ros)
    assert ros.spin_until(lambda: op.link, timeout_s=30.0), proc.stop()
    assert op.last_link()['one_way_latency_s'] == '1.282'
