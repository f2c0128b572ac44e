"""drive_node over real DDS with the odrive_can backend against the fake ODrive."""
import itertools
import math
import os
import time

import pytest
import rclpy.duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

from fake_odrive import FakeOdrive
from mining_rover.nodes.drive_node import DriveNode
from mining_rover.ros import qos
from mining_rover.ros.params import ParameterError

_channels = itertools.count()
WHEEL_IDS = [0, 1, 2, 3]


def twist(v=0.0, w=0.0):
    m = Twist()
    m.linear.x, m.angular.z = v, w
    return m


@pytest.fixture
def rig(ros):
    channel = f'drive_{os.getpid()}_{next(_channels)}'
    fake = FakeOdrive(channel, WHEEL_IDS, watchdog_timeout_s=1.0).start()
    node = ros.add(DriveNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('cmd_timeout_s', value=0.3),
        Parameter('heartbeat_timeout_s', value=0.5), Parameter('diagnostics_rate_hz', value=10.0)]))
    helper = ros.node('drive_test_helper')
    got = {'odom': [], 'diag': [], 'js': [], 'slip': [], 'estop': []}
    helper.create_subscription(Odometry, '/odom', got['odom'].append, qos.STATE)
    helper.create_subscription(DiagnosticArray, '/diagnostics', got['diag'].append, qos.STATE)
    helper.create_subscription(JointState, '/joint_states', got['js'].append, qos.STATE)
    helper.create_subscription(DiagnosticStatus, '/wheel_slip', got['slip'].append, qos.STATE)
    helper.create_subscription(Bool, '/estop', got['estop'].append, qos.LATCHED)
    pub = helper.create_publisher(Twist, '/cmd_vel', qos.COMMAND)
    estop_pub = helper.create_publisher(Bool, '/estop/cmd', qos.COMMAND)
    client = helper.create_client(SetBool, '/drive_node/set_estop')
    try:
        yield dict(fake=fake, node=node, helper=helper, got=got, pub=pub, estop_pub=estop_pub,
                   client=client, ros=ros)
    finally:
        node.shutdown()
        fake.stop()


def stream(rig, msg, duration_s):
    """Publish msg at 20 Hz for duration_s while spinning."""
    ros, n = rig['ros'], int(duration_s / 0.05)
    for _ in range(n):
        rig['pub'].publish(msg)
        ros.spin_for(0.05)


def moving(fake):
    return all(abs(fake.axis(i).input_vel) > 0.05 for i in WHEEL_IDS)


def call(rig, value):
    ros, client = rig['ros'], rig['client']
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(SetBool.Request(data=value))
    assert ros.spin_until(future.done, 5.0)
    return future.result()


def test_twist_drives_and_silence_stops(rig):
    fake = rig['fake']
    stream(rig, twist(0.5, 0.0), 1.2)
    assert moving(fake)
    # Left wheels forward, right wheels mirrored: motor speeds have opposite signs.
    assert fake.axis(0).input_vel > 0 and fake.axis(1).input_vel < 0
    assert rig['ros'].spin_until(lambda: fake.all_stopped(), 2.0)   # stream cut: watchdog
    got = rig['got']
    assert rig['ros'].spin_until(lambda: got['odom'] and got['odom'][-1].pose.pose.position.x > 0.05, 2.0)
    odom = got['odom'][-1]
    assert odom.header.frame_id == 'odom' and odom.child_frame_id == 'base_link'
    assert odom.pose.covariance[0] > 0 and odom.pose.covariance[35] > 0
    assert rig['ros'].spin_until(lambda: len(got['diag']) > 0 and len(got['js']) > 0 and got['slip'], 2.0)
    status = got['diag'][-1].status
    assert {s.name for s in status} == {'front_left_wheel_joint', 'front_right_wheel_joint',
                                       'rear_left_wheel_joint', 'rear_right_wheel_joint'}
    keys = {kv.key for kv in status[0].values}
    assert {'velocity_radps', 'current_a', 'temperature_c', 'bus_voltage_v', 'power_w',
            'error_flags'} <= keys
    assert {kv.key for kv in got['slip'][-1].values} >= {'slip_ratio', 'slipping'}
    assert got['js'][-1].name[0] == 'front_left_wheel_joint'


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_non_finite_twist_is_rejected_and_stops_a_moving_rover(rig, bad):
    """A driving rover that then gets only non-finite commands stops (they never feed the
    watchdog) and never commands a non-finite speed: the wheels were turning first, so
    a node that did nothing would fail here."""
    fake, node = rig['fake'], rig['node']
    stream(rig, twist(0.5, 0.0), 1.0)
    assert moving(fake)
    stream(rig, twist(bad, 0.0), 0.8)      # longer than cmd_timeout_s (0.3 s)
    assert fake.all_stopped(), [fake.axis(i).input_vel for i in WHEEL_IDS]
    assert all(math.isfinite(fake.axis(i).input_vel) for i in WHEEL_IDS)
    assert node.rejected_commands >= 5


def test_huge_twist_clamped(rig):
    stream(rig, twist(1e9, -1e9), 3.0)  # long enough under a loaded 2-core CI machine
    node, fake = rig['node'], rig['fake']
    limit_rev_s = node.cfg.max_wheel_radps / (2 * math.pi)
    assert moving(fake), (node.safety.status(), [fake.axis(i).input_vel for i in WHEEL_IDS])
    assert all(abs(fake.axis(i).input_vel) <= limit_rev_s + 1e-6 for i in WHEEL_IDS)


def test_estop_service_latches_and_blocks(rig):
    fake, got, ros = rig['fake'], rig['got'], rig['ros']
    stream(rig, twist(0.5), 0.8)
    assert moving(fake)
    assert call(rig, True).success
    assert ros.spin_until(lambda: fake.all_stopped(), 1.0)
    stream(rig, twist(0.5), 0.6)                       # ignored while e-stopped
    assert fake.all_stopped()
    assert ros.spin_until(lambda: got['estop'] and got['estop'][-1].data, 2.0)
    assert call(rig, False).success
    stream(rig, twist(0.5), 0.8)
    assert moving(fake)
    assert ros.spin_until(lambda: got['estop'][-1].data is False, 2.0)


def test_estop_topic_latches(rig):
    fake = rig['fake']
    stream(rig, twist(0.5), 0.8)
    assert moving(fake)
    rig['estop_pub'].publish(Bool(data=True))
    assert rig['ros'].spin_until(lambda: fake.all_stopped(), 1.0)
    rig['estop_pub'].publish(Bool(data=False))         # the topic cannot clear it
    stream(rig, twist(0.5), 0.5)
    assert fake.all_stopped() and rig['node'].safety.estop.engaged


def test_motor_fault_safe_state(rig):
    fake = rig['fake']
    stream(rig, twist(0.5), 0.8)
    assert moving(fake)
    fake.motor_error(3, 0x2000)   # MOTOR_OVER_TEMP on one wheel
    stream(rig, twist(0.5), 0.5)
    assert fake.all_stopped()
    assert 'MOTOR_OVER_TEMP' in rig['node'].safety.status().faults['rear_right_wheel_joint']


def test_deactivate_stops_and_ignores(rig):
    fake, node = rig['fake'], rig['node']
    stream(rig, twist(0.5), 0.8)
    assert moving(fake)
    node.trigger_deactivate()
    assert rig['ros'].spin_until(lambda: fake.all_stopped(), 1.0)
    stream(rig, twist(0.5), 0.5)
    assert fake.all_stopped()


def test_shutdown_disarms(rig):
    fake, node = rig['fake'], rig['node']
    stream(rig, twist(0.5), 0.8)
    node.shutdown()
    assert rig['ros'].spin_until(lambda: all(fake.axis(i).state == 1 for i in WHEEL_IDS), 1.0)


@pytest.mark.parametrize('name,value,match', [
    ('cmd_timeout_s', -1.0, 'cmd_timeout_s'),
    ('backend', 'ethercat', 'backend'),
    ('wheel_node_ids', [0, 1, 2], 'wheel_node_ids'),
    ('wheel_directions', [1, 0, 1, -1], 'wheel_directions'),
    ('thermal_stop_c', 170.0, 'thermal_stop_c'),
])
def test_bad_parameters_refuse_start(ros, name, value, match):
    with pytest.raises(ParameterError, match=match):
        DriveNode(context=ros.context, parameter_overrides=[Parameter(name, value=value)])


def test_a_loaded_rear_drum_moves_the_turning_pivot_in_odometry(rig):
    """Turning in place with empty drums leaves base_link where it is; with a full rear
    drum the rover pivots behind its centre and odometry moves base_link sideways. A
    fill that is no mass is logged and counted as an empty drum."""
    from diagnostic_msgs.msg import KeyValue
    ros, got = rig['ros'], rig['got']
    exc_pub = rig['helper'].create_publisher(DiagnosticStatus, '/excavator/state', qos.STATE)

    def load(front, rear):
        exc_pub.publish(DiagnosticStatus(name='excavator', values=[
            KeyValue(key='fill_kg', value='0'), KeyValue(key='fill_kg.front_drum_joint', value=front),
            KeyValue(key='fill_kg.rear_drum_joint', value=rear)]))

    def xy():
        p = got['odom'][-1].pose.pose.position
        return p.x, p.y

    load('0.0', 'nan')
    stream(rig, twist(0.0, 0.5), 1.5)
    assert ros.spin_until(lambda: got['odom'], 2.0)
    assert math.hypot(*xy()) < 0.01
    load('0.0', '18.0')
    ros.spin_for(0.2)
    stream(rig, twist(0.0, 0.5), 1.5)
    assert math.hypot(*xy()) > 0.05


def test_visual_odometry_moves_odom_where_the_wheels_saw_nothing(rig):
    """The rover slides sideways on standing wheels: only the camera sees it. Frames that
    measured nothing, frames in another body frame and non-finite poses change nothing."""
    from mining_rover.ros.geometry import matrix_to_odometry
    import numpy as np
    ros, got, helper = rig['ros'], rig['got'], rig['helper']
    vo_pub = helper.create_publisher(Odometry, '/stereo/odometry', qos.STATE)
    clock = rig['node'].get_clock()

    def frame(y, measured=True, child='base_link', stamp_back_s=0.1):
        T = np.eye(4)
        T[1, 3] = y
        stamp = clock.now() - rclpy.duration.Duration(seconds=stamp_back_s)
        cov = np.zeros((6, 6))
        if not measured:
            cov[0, 0] = -1.0
        vo_pub.publish(matrix_to_odometry(T, 'vo_odom', child, stamp.to_msg(), pose_covariance=cov))
        ros.spin_for(0.25)

    def y():
        return got['odom'][-1].pose.pose.position.y

    assert ros.spin_until(lambda: got['odom'], 2.0)
    ros.spin_for(0.5)                       # wheel history older than the frames' stamps
    frame(0.0)                              # anchors
    for k in range(1, 4):
        frame(0.05 * k)                     # 5 cm to the left per frame
    ros.spin_for(0.2)
    assert y() == pytest.approx(0.15, abs=0.01)
    frame(0.50, measured=False)             # tracking lost: the wheels (standing) bridge it
    frame(0.50, child='left_camera_optical_frame')
    ros.spin_for(0.2)
    assert y() == pytest.approx(0.15, abs=0.01)
    frame(0.55)                             # measured again, from the unmeasured frame on
    ros.spin_for(0.2)
    assert y() == pytest.approx(0.20, abs=0.01)
    x = got['odom'][-1].pose.pose.position.x
    assert math.isfinite(x) and abs(x) < 0.01


def test_holddown_thrust_while_active_off_on_estop_and_shutdown(ros):
    """On a rubble pile the site sets holddown_n: the node commands that thrust while active,
    0 on an e-stop, and 0 as its last word on shutdown."""
    from std_msgs.msg import Float64
    from mining_rover.contract import load_contract
    channel = f'drive_{os.getpid()}_{next(_channels)}'
    fake = FakeOdrive(channel, WHEEL_IDS, watchdog_timeout_s=1.0).start()
    node = ros.add(DriveNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('holddown_n', value=2.5)]))
    helper = ros.node('drive_holddown_helper')
    thrust = []
    helper.create_subscription(Float64, '/' + load_contract().holddown_topic,
                               lambda m: thrust.append(m.data), qos.COMMAND)
    estop = helper.create_publisher(Bool, '/estop/cmd', qos.COMMAND)
    try:
        assert ros.spin_until(lambda: thrust and thrust[-1] == 2.5, 5.0)
        estop.publish(Bool(data=True))
        assert ros.spin_until(lambda: thrust[-1] == 0.0, 2.0)
        ros.spin_for(0.3)
        assert thrust[-1] == 0.0
        assert node.safety.estop.engaged
        node.safety.set_estop(False)
        assert ros.spin_until(lambda: thrust[-1] == 2.5, 2.0)
        # tipped past holddown_max_tilt_rad (IMU attitude): off, it would push the rover away
        from sensor_msgs.msg import Imu
        imu = helper.create_publisher(Imu, '/' + load_contract().imu_topic, qos.SENSOR)

        def tilted(roll_rad):
            m = Imu()
            m.orientation.w, m.orientation.x = math.cos(roll_rad / 2), math.sin(roll_rad / 2)
            return m
        for roll, expected in ((2.0, 0.0), (0.2, 2.5)):
            def sent(roll=roll, expected=expected):
                imu.publish(tilted(roll))
                return thrust[-1] == expected
            assert ros.spin_until(sent, 3.0), (roll, thrust[-5:])
        node.shutdown()
        assert ros.spin_until(lambda: thrust[-1] == 0.0, 2.0)
    finally:
        node.shutdown()
        fake.stop()


# -- sim time: the command watchdog runs on the node clock -----------------------------------
CMD_PERIOD_SIM_S = 0.2      # a mission_node-like command stream, paced in sim time
SIM_TIMEOUT_S = 0.5         # cmd_timeout_s of the node under test
MAX_CLOCK_STEP_S = 0.04     # one /clock step at most (a loaded machine makes the steps coarse)


def _run_on_sim_clock(ros, launch_node, rtf):
    """drive_node (its console script) under use_sim_time with /clock at ``rtf`` x wall
    time: 3 s (sim) of commands every 0.2 s (sim), then none. Returns (wheel zeros while
    commands flowed, sim seconds from the last command to the first zero, achieved rtf)."""
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import Float64
    from mining_rover.contract import load_contract
    proc = launch_node('drive_node', '--ros-args', '-p', 'backend:=sim', '-p', 'use_sim_time:=true',
                       '-p', f'cmd_timeout_s:={SIM_TIMEOUT_S}')
    helper = ros.node(f'sim_clock_helper_{int(rtf * 10)}')
    clock_pub = helper.create_publisher(Clock, '/clock', qos.CLOCK)
    cmd_pub = helper.create_publisher(Twist, '/cmd_vel', qos.COMMAND)
    topic = '/' + load_contract().joints_of('wheel')[0].topic.lstrip('/')
    sim = 100.0
    got = []   # (sim time of arrival, wheel command)
    helper.create_subscription(Float64, topic, lambda m: got.append((sim, m.data)), qos.COMMAND)

    def publish_clock():
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = int(sim), int((sim % 1.0) * 1e9)
        clock_pub.publish(msg)

    def up():
        publish_clock()
        return helper.count_subscribers('/cmd_vel') > 0 and helper.count_publishers(topic) > 0
    assert ros.spin_until(up, 60.0), proc.stop()
    ros.spin_for(1.0)
    wall = time.monotonic()
    wall0, sim0 = wall, sim
    last_cmd = None

    def advance():
        nonlocal sim, wall
        now = time.monotonic()
        sim += min(rtf * (now - wall), MAX_CLOCK_STEP_S)
        wall = now
        publish_clock()
        ros.executor.spin_once(timeout_sec=0.002)

    while sim < sim0 + 3.0:
        advance()
        if last_cmd is None or sim - last_cmd >= CMD_PERIOD_SIM_S:
            cmd_pub.publish(twist(0.5))
            last_cmd = sim
    achieved = (sim - sim0) / (wall - wall0)
    moving = [t for t, v in got if v != 0.0]
    assert moving, ('the wheels never turned', proc.stop())
    trips = sum(1 for t, v in got if v == 0.0 and t > moving[0])
    stop_sim = last_cmd
    while sim < stop_sim + 3 * SIM_TIMEOUT_S:
        advance()
    zeros = [t for t, v in got if v == 0.0 and t > stop_sim]
    assert zeros, ('the watchdog never stopped the wheels', proc.stop())
    proc.stop()
    return trips, zeros[0] - stop_sim, achieved


def test_the_watchdog_runs_on_sim_time_at_any_real_time_factor(ros, launch_node):
    slow_trips, slow_latency, slow_rtf = _run_on_sim_clock(ros, launch_node, 0.3)
    fast_trips, fast_latency, fast_rtf = _run_on_sim_clock(ros, launch_node, 3.0)
    figures = (f'rtf {slow_rtf:.2f}: {slow_trips} trips, latency {slow_latency:.3f} s; '
               f'rtf {fast_rtf:.2f}: {fast_trips} trips, latency {fast_latency:.3f} s (sim)')
    print(figures)   # shown with pytest -rP
    assert slow_rtf < 1.0 < fast_rtf, figures
    assert slow_trips == 0 and fast_trips == 0, figures
    # Trips after cmd_timeout_s of sim time. The margin: a control tick (0.02 s), a clock
    # step (0.04 s) and the delivery of the command and of the zero, which on a loaded
    # machine take tens of ms of wall time: x RTF in sim time. On wall time the fast run
    # tripped 0.9 s later than this and the slow one tripped between commands.
    for latency in (slow_latency, fast_latency):
        assert SIM_TIMEOUT_S <= latency <= SIM_TIMEOUT_S + 0.3, figures
    assert abs(slow_latency - fast_latency) <= 0.25, figures
