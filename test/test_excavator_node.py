"""excavator_node over real DDS with the odrive_can backend against the fake ODrive."""
import itertools
import math
import os

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

from fake_odrive import FakeOdrive
from mining_rover.contract import load_contract
from mining_rover.nodes.excavator_node import ExcavatorNode
from mining_rover.ros import qos
from mining_rover.ros.params import ParameterError

_channels = itertools.count()
ARMS, DRUMS = (4, 5), (6, 7)


@pytest.fixture
def rig(ros):
    channel = f'exc_{os.getpid()}_{next(_channels)}'
    fake = FakeOdrive(channel, [*ARMS, *DRUMS], watchdog_timeout_s=0.3).start()
    node = ros.add(ExcavatorNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('cmd_timeout_s', value=0.3),
        Parameter('dump_time_s', value=0.6), Parameter('dump_raise_time_s', value=0.3)]))
    helper = ros.node('exc_test_helper')
    states = []
    helper.create_subscription(DiagnosticStatus, '/excavator/state', states.append, qos.STATE)
    drum = helper.create_publisher(Float64, '/excavator/drum_speed', qos.COMMAND)
    arm = helper.create_publisher(Float64, '/excavator/arm_position', qos.COMMAND)
    try:
        yield dict(fake=fake, node=node, helper=helper, states=states, drum=drum, arm=arm, ros=ros)
    finally:
        node.shutdown()
        fake.stop()


def stream(rig, drum=None, arm=None, duration_s=0.6):
    for _ in range(int(duration_s / 0.05)):
        if drum is not None:
            rig['drum'].publish(Float64(data=drum))
        if arm is not None:
            rig['arm'].publish(Float64(data=arm))
        rig['ros'].spin_for(0.05)


def call(rig, srv_type, name, request):
    client = rig['helper'].create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(request)
    assert rig['ros'].spin_until(future.done, 5.0)
    return future.result()


def test_drums_counter_rotate_arms_follow_and_silence_stops(rig):
    fake, node = rig['fake'], rig['node']
    stream(rig, drum=2.0, arm=0.3, duration_s=1.2)   # the arm swings 0.3 rad in ~0.8 s (1 rad/s, 2 rad/s^2)
    gear = node.cfg.drum_gear_ratio
    # + digs for each drum joint; the rear drum motor is mounted mirrored.
    assert fake.axis(6).input_vel == pytest.approx(2.0 / (2 * math.pi) * gear, rel=1e-5)
    assert fake.axis(7).input_vel == pytest.approx(-2.0 / (2 * math.pi) * gear, rel=1e-5)
    arm_gear = node.cfg.arm_gear_ratio
    assert fake.axis(4).input_pos == pytest.approx(0.3 / (2 * math.pi) * arm_gear, rel=1e-4)
    assert rig['ros'].spin_until(lambda: fake.all_stopped(list(DRUMS)), 2.0)    # watchdog
    assert fake.axis(4).state == 8                                              # arms hold
    states = rig['states']
    assert rig['ros'].spin_until(lambda: len(states) > 0, 2.0)
    values = {kv.key: kv.value for kv in states[-1].values}
    assert set(values) == {
        'fill_kg', 'cutting_torque_nm', 'stalled', 'dumping', 'arm_position_rad', 'drum_speed_radps',
        'weighed_fill_kg', 'weigh_age_s', 'weigh_count', 'fill_kg.front_drum_joint',
        'fill_kg.rear_drum_joint'}
    assert float(values['fill_kg.front_drum_joint']) + float(values['fill_kg.rear_drum_joint']) == \
        pytest.approx(float(values['fill_kg']), abs=0.002)
    # no gravity given (no site): no weigh, and the state says so
    assert (values['weigh_count'], values['weigh_age_s'], values['weighed_fill_kg']) == ('-1', 'nan', 'nan')


def test_arm_position_clamped_nan_rejected(rig):
    fake, node = rig['fake'], rig['node']
    stream(rig, arm=5.0, duration_s=1.5)          # swings to the lowered limit, 0.6 rad
    assert fake.axis(4).input_pos == pytest.approx(0.6 / (2 * math.pi) * node.cfg.arm_gear_ratio, rel=1e-4)
    stream(rig, arm=math.nan, drum=math.nan, duration_s=0.3)
    assert fake.axis(4).input_pos == pytest.approx(0.6 / (2 * math.pi) * node.cfg.arm_gear_ratio, rel=1e-4)
    assert fake.all_stopped(list(DRUMS))


def test_dump_sequence(rig):
    fake, node, ros = rig['fake'], rig['node'], rig['ros']
    res = call(rig, Trigger, '/excavator/dump', Trigger.Request())
    assert res.success
    raised = -0.6 / (2 * math.pi) * node.cfg.arm_gear_ratio
    assert ros.spin_until(lambda: fake.axis(4).input_pos == pytest.approx(raised, rel=1e-4), 2.5)
    assert ros.spin_until(lambda: fake.axis(6).input_vel < 0 and fake.axis(7).input_vel > 0, 2.0)
    assert ros.spin_until(lambda: any(kv.key == 'dumping' and kv.value == '1'
                                      for s in rig['states'] for kv in s.values), 2.0)
    assert ros.spin_until(lambda: not node.model.dumping and fake.all_stopped(list(DRUMS)), 3.0)


def test_dump_front_only_reverses_the_front_drum(rig):
    fake, node, ros = rig['fake'], rig['node'], rig['ros']
    res = call(rig, Trigger, '/excavator/dump_front', Trigger.Request())
    assert res.success and 'front_drum_joint' in res.message
    raised = -0.6 / (2 * math.pi) * node.cfg.arm_gear_ratio
    assert ros.spin_until(lambda: fake.axis(4).input_pos == pytest.approx(raised, rel=1e-4), 2.5)
    assert ros.spin_until(lambda: fake.axis(6).input_vel < 0, 2.0)
    assert fake.axis(7).input_vel == 0.0                        # the rear drum is not over the berm
    assert fake.axis(5).input_pos == pytest.approx(0.0, abs=1e-6)  # its arm stays where it was
    assert ros.spin_until(lambda: not node.model.dumping and fake.all_stopped(list(DRUMS)), 3.0)
    assert call(rig, Trigger, '/excavator/dump_rear', Trigger.Request()).success


def turning(fake):
    return all(abs(fake.axis(i).input_vel) > 0.05 for i in DRUMS)


def test_estop_blocks_drums_and_dump(rig):
    fake, ros = rig['fake'], rig['ros']
    stream(rig, drum=2.0, duration_s=0.4)
    assert turning(fake)      # stopped afterwards by the e-stop, not for want of a command
    assert call(rig, SetBool, '/excavator_node/set_estop', SetBool.Request(data=True)).success
    assert ros.spin_until(lambda: fake.all_stopped(list(DRUMS)), 1.0)
    stream(rig, drum=2.0, duration_s=0.4)
    assert fake.all_stopped(list(DRUMS))
    assert not call(rig, Trigger, '/excavator/dump', Trigger.Request()).success


def test_drum_fault_stops_drums(rig):
    fake, node = rig['fake'], rig['node']
    stream(rig, drum=2.0, duration_s=0.4)
    assert turning(fake)
    fake.motor_error(7, 0x20)
    stream(rig, drum=2.0, duration_s=0.4)
    assert fake.all_stopped(list(DRUMS))
    assert 'DRV_FAULT' in node.safety.status().faults['rear_drum_joint']


def test_bad_dump_position_refuses_start(ros):
    with pytest.raises(ParameterError, match='dump_arm_rad'):
        ExcavatorNode(context=ros.context, parameter_overrides=[Parameter('dump_arm_rad', value=2.0)])


def test_weighs_each_drum_from_its_arm_torque(ros):
    """Sim backend: joint states of two raised, still arms holding 7 and 3 kg of regolith
    (torques from the moment balance, rover.yaml geometry, lunar g) give that fill."""
    g, length, arm_kg, drum_kg = 1.62, 0.45, 2.5, 5.5
    node = ros.add(ExcavatorNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='sim'), Parameter('gravity_mps2', value=g)]))
    contract = load_contract()
    helper = ros.node('exc_weigh_helper')
    states = []
    helper.create_subscription(DiagnosticStatus, '/excavator/state', states.append, qos.STATE)
    js_pub = helper.create_publisher(JointState, contract.joint_states_topic, qos.STATE)
    loads = {'front_arm_joint': 7.0, 'rear_arm_joint': 3.0}
    arm_rad = -0.4
    names = list(contract.joint_names)
    effort = [-g * math.cos(arm_rad) * length * (arm_kg / 2 + drum_kg + loads[n]) if n in loads else 0.0
              for n in names]
    position = [arm_rad if n in loads else 0.0 for n in names]
    msg = JointState(name=names, position=position, velocity=[0.0] * len(names), effort=effort)
    try:
        def weighed():
            v = {kv.key: kv.value for kv in states[-1].values} if states else {}
            return int(v.get('weigh_count', '0')) >= 1
        deadline = 40   # 2 s of joint states at 20 Hz; the weigh window is 0.6 s
        for _ in range(deadline):
            js_pub.publish(msg)
            ros.spin_for(0.05)
            if weighed():
                break
        assert weighed(), [kv for kv in states[-1].values] if states else 'no state'
        v = {kv.key: kv.value for kv in states[-1].values}
        # exact torques; 1 g rounding of the published values
        assert float(v['weighed_fill_kg']) == pytest.approx(10.0, abs=0.002)
        assert float(v['fill_kg']) == pytest.approx(10.0, abs=0.002)
        assert 0.0 <= float(v['weigh_age_s']) < 1.0
        assert node.model.fill_kg == pytest.approx({'front_drum_joint': 7.0, 'rear_drum_joint': 3.0})
    finally:
        node.shutdown()


def test_arms_swing_gently_enough_to_keep_the_wheels_down_on_psyche(ros):
    """On Psyche (g 0.144) a step arm command is followed as a slow trapezoidal swing: the
    commanded angle never moves faster than the gravity limit, and the dump waits for it."""
    channel = f'exc_{os.getpid()}_{next(_channels)}'
    fake = FakeOdrive(channel, [*ARMS, *DRUMS], watchdog_timeout_s=0.3).start()
    node = ros.add(ExcavatorNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('gravity_mps2', value=0.144)]))
    try:
        limits = node.arm_swing
        assert limits.max_radps < 0.5 * node.cfg.arm_max_radps and limits.max_radps2 < 0.2
        assert node.model.cfg.dump_raise_time_s >= limits.swing_time_s(1.2)
        helper = ros.node('exc_swing_helper')
        arm = helper.create_publisher(Float64, '/excavator/arm_position', qos.COMMAND)
        to_rad = 2 * math.pi / node.cfg.arm_gear_ratio
        samples = []
        for _ in range(40):                                      # 2 s of a step to +0.5 rad
            arm.publish(Float64(data=0.5))
            ros.spin_for(0.05)
            samples.append((node.get_clock().now().nanoseconds * 1e-9, fake.axis(4).input_pos * to_rad))
        moved = samples[-1][1] - samples[0][1]
        assert 0.0 < moved < 0.5
        rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(samples, samples[1:]) if b[0] > a[0]]
        assert max(rates) <= limits.max_radps * 1.5               # 1.5: sample timing jitter
    finally:
        node.shutdown()
        fake.stop()
