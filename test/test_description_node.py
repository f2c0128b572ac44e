"""description_node over real DDS: the latched /robot_description reaches a late subscriber."""
from std_msgs.msg import String

from mining_rover.description import parse_urdf
from mining_rover.nodes.description_node import DescriptionNode
from mining_rover.ros import qos


def test_publishes_latched_description(ros):
    ros.add(DescriptionNode(context=ros.context))
    got = []
    listener = ros.node('listener')
    listener.create_subscription(String, '/robot_description', got.append, qos.LATCHED)
    assert ros.spin_until(lambda: got, timeout_s=15.0), 'no /robot_description received'
    model = parse_urdf(got[-1].data)
    assert 'front_drum_joint' in model.joints


def test_parameters_reach_xacro_in_a_subprocess(ros, launch_node):
    proc = launch_node('description_node', '--ros-args', '-p', 'camera_baseline:=0.35')
    got = []
    ros.node('listener').create_subscription(String, '/robot_description', got.append, qos.LATCHED)
    assert ros.spin_until(lambda: got, timeout_s=30.0), proc.stop()
    model = parse_urdf(got[-1].data)
    left = model.fixed_transform('left_camera_link', 'left_camera_optical_frame')
    assert left is not None
    y = model.joints['left_camera_joint'].origin[1, 3] - model.joints['right_camera_joint'].origin[1, 3]
    assert abs(y - 0.35) < 1e-9


def test_out_of_range_parameter_refuses_to_start(launch_node):
    proc = launch_node('description_node', '--ros-args', '-p', 'camera_baseline:=5.0')
    proc.proc.wait(timeout=30)
    out = proc.stop()
    assert proc.proc.returncode == 2
    assert "camera_baseline" in out and 'maximum' in out
