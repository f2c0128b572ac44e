"""On hardware the drum weigh reads the arm motors' torque from the ODrives' Get_Torques
(0x1C): excavator_node with the odrive_can backend against the fake ODrive, whose raised,
still arms hold 7 and 3 kg of regolith, reports that fill. Before Get_Torques was
requested and decoded, the arm torque stayed NaN on hardware and no weigh ever came."""
import itertools
import math
import os

import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from fake_odrive import FakeOdrive  # noqa: E402
from mining_rover.nodes.excavator_node import ExcavatorNode  # noqa: E402
from mining_rover.ros import qos  # noqa: E402

_channels = itertools.count()
ARMS = {'front_arm_joint': (4, 1), 'rear_arm_joint': (5, -1)}   # node id, direction (drivers_rover.yaml)
DRUMS = (6, 7)


def test_weigh_from_get_torques_on_the_odrive_backend(ros):
    g, length, arm_kg, drum_kg, gear = 1.62, 0.45, 2.5, 5.5, 100.0     # rover.yaml, drivers_rover.yaml
    loads = {'front_arm_joint': 7.0, 'rear_arm_joint': 3.0}
    channel = f'weigh_{os.getpid()}_{next(_channels)}'
    fake = FakeOdrive(channel, [4, 5, *DRUMS]).start()
    # An arm still at 0 rad holds its drum, half its own mass and the load against gravity:
    # joint torque -g cos(0) L (m_arm/2 + m_drum + load), the same moment balance the sim's
    # joint effort gives (test_excavator_node.test_weighs_each_drum_from_its_arm_torque).
    for joint, (node_id, direction) in ARMS.items():
        joint_nm = -g * length * (arm_kg / 2 + drum_kg + loads[joint])
        fake.set_load_torque(node_id, joint_nm / (gear * direction))
    node = ros.add(ExcavatorNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('gravity_mps2', value=g),
        Parameter('arm_gear_ratio', value=gear), Parameter('arm_directions', value=[1, -1]),
        Parameter('arm_node_ids', value=[4, 5]), Parameter('drum_node_ids', value=list(DRUMS))]))
    helper = ros.node('weigh_helper')
    states = []
    helper.create_subscription(DiagnosticStatus, '/excavator/state', states.append, qos.STATE)

    def values():
        return {kv.key: kv.value for kv in states[-1].values} if states else {}
    try:
        assert ros.spin_until(lambda: int(values().get('weigh_count', '0')) >= 1, 15.0), values()
        v = values()
        # the fake sends the torque as float32: 1e-6 relative, and 1 g rounding in the state
        assert float(v['weighed_fill_kg']) == pytest.approx(10.0, abs=0.003)
        assert node.model.fill_kg == pytest.approx({'front_drum_joint': 7.0, 'rear_drum_joint': 3.0},
                                                   abs=0.003)
        target, estimate = node.backend.torques()['front_arm_joint']
        assert estimate == pytest.approx(-g * length * (arm_kg / 2 + drum_kg + 7.0), rel=1e-5)
        assert math.isfinite(target)
    finally:
        node.shutdown()
        fake.stop()
