"""sim_node with two rovers over real DDS: each rover's topics under its namespace with
its frames prefixed, one /clock, and a command to one rover moves that rover only."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('mujoco')

from nav_msgs.msg import Odometry  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from mining_rover.contract import load_contract  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.sim.fleet import FLEET_SPACING_M  # noqa: E402

os.environ.setdefault('MUJOCO_GL', 'egl')
ROVERS = ('r1', 'r2')


def test_two_rovers_in_one_world_do_not_hear_each_other(ros, launch_node):
    c = load_contract()
    proc = launch_node('sim_node', '--ros-args', '-p', 'world:=moon_south_pole', '-p', 'camera_width:=64',
                       '-p', 'camera_height:=48', '-p', 'camera_rate_hz:=2.0', '-p', 'real_time_factor:=1.0',
                       '-p', 'rovers:=[r1, r2]')
    n = ros.node('fleet_test')
    got = {}

    def keep(name):
        return lambda m: got.setdefault(name, []).append(m)
    topics = [(Clock, '/clock', qos.CLOCK)]
    for r in ROVERS:
        topics += [(Image, f'/{r}/{c.left.image}', qos.SENSOR),
                   (CameraInfo, f'/{r}/{c.right.info}', qos.SENSOR),
                   (Imu, f'/{r}/{c.imu_topic}', qos.SENSOR),
                   (JointState, f'/{r}/{c.joint_states_topic}', qos.STATE),
                   (Odometry, f'/{r}/{c.ground_truth_topic}', qos.STATE)]
    for typ, name, q in topics:
        n.create_subscription(typ, name, keep(name), q)
    ok = ros.spin_until(lambda: all(got.get(name) for _, name, _ in topics), timeout_s=60.0)
    missing = [name for _, name, _ in topics if not got.get(name)]
    assert ok, f'no messages on {missing}; node output:\n{proc.stop() if missing else ""}'

    for r in ROVERS:
        assert got[f'/{r}/{c.left.image}'][-1].header.frame_id == f'{r}/{c.left.frame}'
        assert got[f'/{r}/{c.right.info}'][-1].header.frame_id == f'{r}/{c.right.frame}'
        assert got[f'/{r}/{c.imu_topic}'][-1].header.frame_id == f"{r}/{c.frames['imu']}"
        odom = got[f'/{r}/{c.ground_truth_topic}'][-1]
        assert odom.header.frame_id == f"{r}/{c.frames['map']}"
        assert odom.child_frame_id == f"{r}/{c.frames['base']}"
    # one world: one clock; no rover left on the un-namespaced names
    assert len(n.get_publishers_info_by_topic('/clock')) == 1
    names = {t for t, _ in n.get_topic_names_and_types()}
    assert '/' + c.joint_states_topic not in names and '/' + c.left.image not in names

    def position(r):
        p = got[f'/{r}/{c.ground_truth_topic}'][-1].pose.pose.position
        return np.array([p.x, p.y])
    assert np.linalg.norm(position('r1') - position('r2')) == pytest.approx(FLEET_SPACING_M, abs=0.2)

    # r2's wheel commands turn r2's wheels, not r1's
    pubs = [n.create_publisher(Float64, f'/r2/{j.topic}', qos.COMMAND) for j in c.joints_of('wheel')]
    wheel = c.joints_of('wheel')[0].name

    def speed(r):
        js = got[f'/{r}/{c.joint_states_topic}'][-1]
        return js.velocity[js.name.index(wheel)]

    def commanded():
        for p in pubs:
            p.publish(Float64(data=2.0))
        return abs(speed('r2') - 2.0) < 0.2
    start_r1 = position('r1')
    assert ros.spin_until(commanded, timeout_s=20.0), f'r2 wheel speed {speed("r2")}'
    assert abs(speed('r1')) < 0.05
    assert np.linalg.norm(position('r1') - start_r1) < 0.01
    proc.stop()


def test_sim_node_refuses_a_bad_rover_list(launch_node):
    proc = launch_node('sim_node', '--ros-args', '-p', 'rovers:=[r1, r1]')
    proc.proc.wait(timeout=30)
    out = proc.stop()
    assert proc.proc.returncode == 2
    assert "parameter 'rovers'" in out and "'r1' appears twice" in out
