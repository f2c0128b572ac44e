"""sim_node over real DDS: every contract topic is published, wheel commands are followed,
bad commands are rejected naming the joint, services answer, a bad world refuses start."""
from __future__ import annotations

import os

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('mujoco')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402

from mining_rover.contract import load_contract  # noqa: E402
from mining_rover.ros import qos  # noqa: E402

os.environ.setdefault('MUJOCO_GL', 'egl')


def test_sim_node_publishes_the_contract_and_follows_wheel_commands(ros, launch_node):
    c = load_contract()
    # motor controller watchdog off: this test holds a wheel at its last good command while a
    # NaN is rejected (test_sim_motor_faults.py tests the watchdog)
    proc = launch_node('sim_node', '--ros-args', '-p', 'world:=moon_south_pole', '-p', 'camera_width:=160',
                       '-p', 'camera_height:=120', '-p', 'camera_rate_hz:=5.0', '-p', 'real_time_factor:=1.0',
                       '-p', 'motor_watchdog_s:=0.0')
    n = ros.node('sim_test')
    got = {}

    def keep(name):
        return lambda m: got.setdefault(name, []).append(m)
    topics = [(Clock, '/clock', qos.CLOCK), (Image, c.left.image, qos.SENSOR),
              (Image, c.right.image, qos.SENSOR),
              (CameraInfo, c.left.info, qos.SENSOR), (CameraInfo, c.right.info, qos.SENSOR),
              (Imu, c.imu_topic, qos.SENSOR), (JointState, c.joint_states_topic, qos.STATE),
              (Odometry, c.ground_truth_topic, qos.STATE), (DiagnosticStatus, c.regolith_topic, qos.STATE),
              (DiagnosticArray, c.motors_topic, qos.STATE)]
    for typ, name, q in topics:
        n.create_subscription(typ, name, keep(name), q)
    ok = ros.spin_until(lambda: all(got.get(name) for _, name, _ in topics), timeout_s=40.0)
    missing = [name for _, name, _ in topics if not got.get(name)]
    assert ok, f'no messages on {missing}; node output:\n{proc.stop() if missing else ""}'

    img = got[c.left.image][-1]
    assert (img.width, img.height, img.encoding) == (160, 120, 'rgb8')
    assert img.header.frame_id == c.left.frame
    assert got[c.right.info][-1].p[3] < 0.0            # -fx * baseline
    assert got[c.imu_topic][-1].header.frame_id == c.frames['imu']
    odom = got[c.ground_truth_topic][-1]
    assert (odom.header.frame_id, odom.child_frame_id) == (c.frames['map'], c.frames['base'])
    assert [kv.key for kv in got[c.regolith_topic][-1].values] == list(c.regolith_keys)
    motors = got[c.motors_topic][-1]
    assert {s.name for s in motors.status} == set(c.joint_names)
    assert [kv.key for kv in motors.status[0].values] == ['current_a', 'temperature_c', 'torque_nm']
    assert set(got[c.joint_states_topic][-1].name) == set(c.joint_names)

    pubs = {j.name: n.create_publisher(Float64, j.topic, qos.COMMAND) for j in c.joints_of('wheel')}
    ros.spin_for(0.5)

    def wheel_speeds():
        js = got[c.joint_states_topic][-1]
        return [js.velocity[js.name.index(w)] for w in pubs]

    def commanded():
        for p in pubs.values():
            p.publish(Float64(data=2.0))
        return all(abs(v - 2.0) < 0.2 for v in wheel_speeds())
    assert ros.spin_until(commanded, timeout_s=15.0), f'wheel speeds {wheel_speeds()}'
    # a NaN is rejected with the joint's name; the wheel keeps turning at the old command
    bad = next(iter(pubs))
    pubs[bad].publish(Float64(data=float('nan')))
    ros.spin_for(1.0)
    assert all(abs(v - 2.0) < 0.3 for v in wheel_speeds())

    # hold-down thrust: followed while commanded, a bad value rejected, off when it goes stale
    thrust = n.create_publisher(Float64, c.holddown_topic, qos.COMMAND)

    def telemetry(key):
        return float({kv.key: kv.value for kv in got[c.regolith_topic][-1].values}[key])

    def held():
        thrust.publish(Float64(data=3.0))
        return telemetry('holddown_n') == 3.0
    assert ros.spin_until(held, timeout_s=10.0)
    thrust.publish(Float64(data=-1.0))
    ros.spin_for(0.1)
    # the command timeout counts sim time: a deadline in wall time generous for a slow machine
    assert ros.spin_until(lambda: telemetry('holddown_n') == 0.0, timeout_s=30.0)
    assert telemetry('propellant_used_kg') > 0.0

    pause = n.create_client(SetBool, c.pause_service)
    reset = n.create_client(Trigger, c.reset_service)
    assert pause.wait_for_service(timeout_sec=5.0) and reset.wait_for_service(timeout_sec=5.0)
    fut = reset.call_async(Trigger.Request())
    assert ros.spin_until(fut.done, timeout_s=5.0) and fut.result().success
    fut = pause.call_async(SetBool.Request(data=True))
    assert ros.spin_until(fut.done, timeout_s=5.0) and fut.result().success
    out = proc.stop()
    assert 'rejected command for ' + bad in out
    assert 'rejected hold-down command' in out and 'thrust off' in out


def test_sim_node_refuses_a_malformed_world(tmp_path, launch_node):
    bad = tmp_path / 'broken.sdf'
    bad.write_text('<sdf version="1.9"><world name="x"></world></sdf>')
    proc = launch_node('sim_node', '--ros-args', '-p', f'world:={bad}')
    proc.proc.wait(timeout=30)
    out = proc.stop()
    assert proc.proc.returncode == 2
    assert 'broken.sdf' in out and 'gravity' in out
