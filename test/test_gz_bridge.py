"""config/gz_bridge.yaml bridges exactly the sim contract, with the Gazebo types and
directions that ros_gz_bridge expects, so Gazebo and the embedded simulator look alike;
its names are relative (but /clock), so under a namespace the bridge (started there with
expand_gz_topic_names) meets the xacro's Gazebo plugins expanded for that namespace."""
import ast
import re
from pathlib import Path

import pytest
import yaml

from mining_rover import stack_table
from mining_rover.contract import load_contract

REPO = Path(__file__).resolve().parent.parent
GZ_TAGS = ('topic', 'odom_topic', 'camera_info_topic')
FRAME_TAGS = ('optical_frame_id', 'gz_frame_id', 'odom_frame', 'robot_base_frame')


def _bridge():
    return yaml.safe_load((REPO / 'config' / 'gz_bridge.yaml').read_text())


def _xacro(**args):
    from mining_rover.description import expand_xacro
    urdf = expand_xacro(None, {'sim': 'true', **args})
    return ({m for t in GZ_TAGS for m in re.findall(f'<{t}>([^<]*)</{t}>', urdf)},
            {m for t in FRAME_TAGS for m in re.findall(f'<{t}>([^<]*)</{t}>', urdf)})


def test_bridge_covers_the_contract():
    bridge = _bridge()
    c = load_contract()
    by_topic = {e['ros_topic_name']: e for e in bridge}
    for e in bridge:
        assert e['ros_topic_name'] == e['gz_topic_name']
        assert e['direction'] in ('GZ_TO_ROS', 'ROS_TO_GZ')
    expected_out = [c.clock, c.left.image, c.left.info, c.right.image, c.right.info, c.imu_topic,
                    c.joint_states_topic, c.ground_truth_topic]
    for topic in expected_out:
        assert by_topic[topic]['direction'] == 'GZ_TO_ROS', topic
    for j in c.joints:
        e = by_topic[j.topic]
        assert (e['direction'], e['ros_type_name'], e['gz_type_name']) == \
            ('ROS_TO_GZ', 'std_msgs/msg/Float64', 'gz.msgs.Double')
    assert len(bridge) == len(expected_out) + len(c.joints)


def test_bridge_names_are_relative_so_they_follow_the_namespace():
    for e in _bridge():
        for key in ('ros_topic_name', 'gz_topic_name'):
            assert not e[key].startswith('/') or e[key] == '/clock', \
                f"gz_bridge.yaml: {key} {e[key]!r} is absolute: it would not follow namespace:=r1"


@pytest.mark.parametrize('namespace', ['', 'r1', 'fleet/r2'])
def test_the_bridge_in_a_namespace_meets_the_xacro_plugins(namespace):
    """What the bridge subscribes/publishes in Gazebo under ``namespace`` (relative names
    expanded there, as expand_gz_topic_names does) is exactly what the plugins of the
    xacro expanded with topic_namespace:=<namespace> use, and their frames carry the
    rover's frame prefix."""
    prefix = stack_table.default_frame_prefix(namespace)
    topics, frames = _xacro(topic_namespace=namespace, frame_prefix=prefix)
    root = f'/{namespace}/' if namespace else '/'
    bridged = {e['gz_topic_name'] if e['gz_topic_name'].startswith('/') else root + e['gz_topic_name']
               for e in _bridge()}
    assert topics == bridged - {'/clock'}
    c = load_contract().with_frame_prefix(prefix)
    assert frames == {c.left.frame, c.right.frame, c.frames['imu'], c.frames['map'], c.frames['base']}


def test_xacro_plugins_use_the_bridged_command_topics():
    from mining_rover.description import expand_xacro
    urdf = expand_xacro(None, {'sim': 'true'})
    for j in load_contract().joints:
        assert f'<topic>/{j.topic}</topic>' in urdf, j.name


def test_sim_launch_bridges_in_the_namespace_and_spawns_a_model_per_namespace():
    """sim.launch.py (parsed): the bridge expands its Gazebo names in the pushed
    namespace; the spawned model is named after it; the description gets that namespace
    for the plugins' topics."""
    tree = ast.parse((REPO / 'launch' / 'sim.launch.py').read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    bridge = [c for c in calls
              if any(k.arg == 'executable' and getattr(k.value, 'value', '') == 'parameter_bridge'
                     for k in c.keywords)]
    assert len(bridge) == 1
    assert "'expand_gz_topic_names': True" in ast.unparse(bridge[0])
    source = ast.unparse(tree)
    assert "'-name', GzModelName(LaunchConfiguration('namespace'))" in source
    assert "'topic_namespace': LaunchConfiguration('namespace')" in source
    assert [stack_table.gz_model_name(n) for n in ('', 'r1', 'fleet/r1')] == ['rover', 'r1', 'fleet_r1']
