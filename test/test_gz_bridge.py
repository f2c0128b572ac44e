"""config/gz_bridge.yaml bridges exactly the sim contract, with the Gazebo types and
directions that ros_gz_bridge expects, so Gazebo and the embedded simulator look alike."""
from pathlib import Path

import yaml

from mining_rover.contract import load_contract

REPO = Path(__file__).resolve().parent.parent


def test_bridge_covers_the_contract():
    bridge = yaml.safe_load((REPO / 'config' / 'gz_bridge.yaml').read_text())
    c = load_contract()
    by_topic = {e['ros_topic_name']: e for e in bridge}
    for e in bridge:
        assert e['ros_topic_name'] == e['gz_topic_name']
        assert e['direction'] in ('GZ_TO_ROS', 'ROS_TO_GZ')
    expected_out = ['/clock', '/' + c.left.image, '/' + c.left.info, '/' + c.right.image,
                    '/' + c.right.info, '/' + c.imu_topic, '/' + c.joint_states_topic,
                    '/' + c.ground_truth_topic]
    for topic in expected_out:
        assert by_topic[topic]['direction'] == 'GZ_TO_ROS', topic
    for j in c.joints:
        e = by_topic['/' + j.topic]
        assert (e['direction'], e['ros_type_name'], e['gz_type_name']) == \
            ('ROS_TO_GZ', 'std_msgs/msg/Float64', 'gz.msgs.Double')
    assert len(bridge) == len(expected_out) + len(c.joints)


def test_xacro_plugins_use_the_bridged_command_topics():
    from mining_rover.description import expand_xacro
    urdf = expand_xacro(None, {'sim': 'true'})
    for j in load_contract().joints:
        assert f'<topic>/{j.topic}</topic>' in urdf, j.name
