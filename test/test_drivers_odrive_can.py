"""ODrive CANSimple: byte layouts, frame-by-frame against the fake ODrive, every fault."""
import itertools
import math
import struct
import time

import can
import pytest

from fake_odrive import FakeOdrive, FaultyBus
from mining_rover.drivers import odrive_protocol as p
from mining_rover.drivers.odrive_can import AxisConfig, OdriveCanBackend, virtual_bus_factory

_channels = itertools.count()


def wait_for(predicate, timeout_s=5.0):
    """Poll until predicate() holds or timeout_s (wall) passes. The deadline is generous on
    purpose: these tests check that the safe state is reached; how fast is measured by
    bench/can_faults.py, not asserted here (a loaded CI machine stretches wall time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


@pytest.fixture
def rig():
    """A fake with 3 axes (node 1, 2, 3) and a started backend; yields (fake, backend, bus)."""
    channel = f'odrive_test_{next(_channels)}'
    fake = FakeOdrive(channel, [1, 2, 3], record=True, watchdog_timeout_s=0.2).start()
    holder = {}

    def factory():
        holder['bus'] = FaultyBus(virtual_bus_factory(channel)())
        return holder['bus']

    axes = [AxisConfig('left', 'wheel', 1, gear_ratio=2.0),
            AxisConfig('right', 'wheel', 2, gear_ratio=2.0, direction=-1),
            AxisConfig('arm', 'arm', 3, gear_ratio=1.0)]
    backend = OdriveCanBackend(axes, factory, heartbeat_timeout_s=0.1, startup_timeout_s=1.0,
                               reopen_period_s=0.05)
    faults = []
    backend.add_fault_listener(lambda src, reason: faults.append((src, reason)))
    assert backend.start() == []
    backend.faults_seen = faults
    try:
        yield fake, backend, holder
    finally:
        backend.close()
        fake.stop()


# -- byte layouts (ODrive 0.6 CAN protocol table) ---------------------------------------
def test_arbitration_id():
    assert p.arbitration_id(0x01, 0x0C) == 0x2C          # the ODrive documentation's example
    assert p.split_id(0x2C) == (1, 0x0C)
    assert p.arbitration_id(0x3F, 0x1F) == 0x7FF
    with pytest.raises(ValueError):
        p.arbitration_id(64, 1)


def test_layouts_little_endian():
    assert p.encode_set_input_vel(1.5, -0.25) == struct.pack('<f', 1.5) + struct.pack('<f', -0.25)
    assert p.encode_set_axis_state(8) == b'\x08\x00\x00\x00'
    assert p.encode_set_controller_mode(2, 1) == b'\x02\x00\x00\x00\x01\x00\x00\x00'
    assert p.encode_set_input_pos(2.0, 1.234, -0.5) == struct.pack('<f', 2.0) + \
        (1234).to_bytes(2, 'little', signed=True) + (-500).to_bytes(2, 'little', signed=True)
    assert p.encode_set_limits(10.0, 20.0) == struct.pack('<ff', 10.0, 20.0)
    hb = p.decode_heartbeat(bytes([0x20, 0, 0, 0x02, 8, 0, 1, 0]))
    assert (hb.axis_error, hb.axis_state, hb.procedure_result, hb.trajectory_done) == (0x02000020, 8, 0, True)
    assert hb.errors == ('DRV_FAULT', 'ESTOP_REQUESTED') and hb.state_name == 'CLOSED_LOOP_CONTROL'
    assert p.encode_address(5, 0x0102030405)[:7] == bytes([5, 5, 4, 3, 2, 1, 0])
    assert p.encode_clear_errors() == b'\x00' and p.encode_reboot(1) == b'\x01'


def test_error_decoding_names_unknown_bits():
    assert p.decode_errors(0) == ()
    assert p.decode_errors(0x2000 | 0x01000000) == ('MOTOR_OVER_TEMP', 'WATCHDOG_TIMER_EXPIRED')
    assert p.decode_errors(0x80) == ('UNKNOWN_0x00000080',)


# -- against the fake --------------------------------------------------------------------
def test_startup_sequence_frame_by_frame(rig):
    fake, backend, _ = rig
    frames = [(cmd, data) for _, cmd, data, remote in fake.axis(1).received if not remote]
    cmds = [c for c, _ in frames]
    first = cmds.index(p.Cmd.CLEAR_ERRORS)
    assert cmds[first:first + 5] == [p.Cmd.CLEAR_ERRORS, p.Cmd.SET_CONTROLLER_MODE, p.Cmd.SET_LIMITS,
                                     p.Cmd.SET_INPUT_VEL, p.Cmd.SET_AXIS_STATE]
    assert frames[first + 1][1] == p.encode_set_controller_mode(2, 1)   # velocity, passthrough
    assert frames[first + 4][1] == p.encode_set_axis_state(8)           # closed loop
    arm = [(c, d) for _, c, d, r in fake.axis(3).received if not r]
    assert (p.Cmd.SET_CONTROLLER_MODE, p.encode_set_controller_mode(3, 3)) in arm  # position, filter
    assert backend.axis_states() == {'left': 'CLOSED_LOOP_CONTROL', 'right': 'CLOSED_LOOP_CONTROL',
                                     'arm': 'CLOSED_LOOP_CONTROL'}


def test_velocity_units_direction_and_feedback(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': math.pi, 'right': math.pi})
    # joint pi rad/s = 0.5 rev/s at the joint = 1 rev/s at a 2:1 motor; right is mirrored.
    assert wait_for(lambda: fake.axis(1).input_vel == pytest.approx(1.0)
                    and fake.axis(2).input_vel == pytest.approx(-1.0))
    assert wait_for(lambda: abs(backend.feedback()['left'].velocity_radps - math.pi) < 1e-3
                    and abs(backend.feedback()['right'].velocity_radps - math.pi) < 1e-3)
    assert wait_for(lambda: backend.feedback()['left'].bus_voltage_v == 48.0
                    and backend.feedback()['left'].temperature_c == 25.0
                    and backend.feedback()['left'].current_a > 0)
    fb = backend.feedback()['left']
    assert math.isfinite(fb.power_w) and fb.power_w > 0
    backend.set_arm_positions({'arm': 0.5})
    assert wait_for(lambda: abs(fake.axis(3).input_pos - 0.5 / (2 * math.pi)) < 1e-6)
    assert wait_for(lambda: abs(backend.feedback()['arm'].position_rad - 0.5) < 0.01)
    # Set_Input_Pos frame: pos f32 rev, vel_ff i16, torque_ff i16.
    last = [d for _, c, d, r in fake.axis(3).received if c == p.Cmd.SET_INPUT_POS and not r][-1]
    assert struct.unpack('<fhh', last) == (pytest.approx(0.5 / (2 * math.pi)), 0, 0)


def test_setpoint_refresh_feeds_controller_watchdog(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 1.0})
    time.sleep(0.5)  # > the fake's 0.2 s axis watchdog: the refresh keeps it armed
    assert fake.axis(1).state == p.AxisState.CLOSED_LOOP_CONTROL and backend.faults() == {}


def test_garbage_and_error_frames_counted_and_ignored(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 1.0})
    fake.garbage(24)
    fake.error_frames(5)
    assert wait_for(lambda: backend.stats()['error_frames'] >= 5 and backend.stats()['bad_payload'] >= 4)
    s = backend.stats()
    assert s['unknown_node'] >= 4 and s['bad_dlc'] >= 8 and s['extended_id'] >= 4 and s['unexpected_cmd'] >= 4
    assert backend.faults() == {} and fake.axis(1).input_vel != 0.0
    assert math.isfinite(backend.feedback()['left'].velocity_radps)


def test_motor_error_safe_state_and_recovery(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 2.0, 'right': 2.0})
    assert wait_for(lambda: not fake.all_stopped([1, 2]))
    fake.motor_error(2, 0x20)
    assert wait_for(lambda: fake.all_stopped([1, 2]))
    assert backend.faults() == {'right': 'axis error: DRV_FAULT'}
    assert backend.faults_seen[0] == ('right', 'axis error: DRV_FAULT')
    backend.set_wheel_velocities({'left': 2.0, 'right': 2.0})     # ignored for the faulted axis
    assert fake.axis(2).state == p.AxisState.IDLE
    assert backend.clear_errors()
    assert wait_for(lambda: backend.axis_states()['right'] == 'CLOSED_LOOP_CONTROL')
    backend.set_wheel_velocities({'right': 2.0})
    assert wait_for(lambda: fake.axis(2).input_vel != 0.0) and backend.faults() == {}


def test_heartbeat_loss(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 2.0, 'right': 2.0})
    fake.heartbeat_loss(1)
    assert wait_for(lambda: 'left' in backend.faults())
    assert backend.faults()['left'].startswith('heartbeat lost')
    assert backend.feedback()['left'].state == 'lost'
    assert wait_for(lambda: fake.all_stopped([1, 2]))
    fake.heartbeat_loss(1, False)
    assert backend.clear_errors()
    assert wait_for(lambda: backend.axis_states()['left'] == 'CLOSED_LOOP_CONTROL' and not backend.faults())


def test_axis_disarmed_by_controller_is_a_fault(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 1.0})
    with fake._lock:
        fake.axis(1).disarm(0x02000000)     # e.g. an e-stop input on the ODrive itself
    assert wait_for(lambda: 'left' in backend.faults())
    assert 'ESTOP_REQUESTED' in backend.faults()['left']


def test_bus_off_error_frame(rig):
    fake, backend, _ = rig
    backend.set_wheel_velocities({'left': 1.0, 'right': 1.0})
    fake.error_frames(1, bus_off=True)
    assert wait_for(lambda: backend.faults().get('bus', '').startswith('bus-off'))
    assert wait_for(lambda: fake.all_stopped([1, 2]))


def test_bus_gone_then_back(rig):
    fake, backend, holder = rig
    backend.set_wheel_velocities({'left': 1.0, 'right': 1.0})
    holder['bus'].fail = True                       # adapter unplugged: send and recv raise
    assert wait_for(lambda: 'bus' in backend.faults())
    # The host cannot reach the motors: the ODrives' own watchdog (0.2 s) disarms them,
    # unless the reopened bus lets the host's heartbeat-loss stop get there first.
    assert wait_for(lambda: fake.all_stopped([1, 2]))
    assert wait_for(lambda: backend.stats()['bus_reopened'] >= 1, 1.0)   # reopened a fresh bus
    assert backend.clear_errors()
    assert wait_for(lambda: set(backend.axis_states().values()) == {'CLOSED_LOOP_CONTROL'}
                    and not backend.faults(), 2.0)
    backend.set_wheel_velocities({'left': 1.0})
    assert wait_for(lambda: fake.axis(1).input_vel != 0.0)


def test_start_reports_missing_axis():
    channel = f'odrive_test_{next(_channels)}'
    with FakeOdrive(channel, [1]):
        backend = OdriveCanBackend([AxisConfig('a', 'wheel', 1), AxisConfig('b', 'wheel', 9)],
                                   virtual_bus_factory(channel), heartbeat_timeout_s=0.1,
                                   startup_timeout_s=0.3)
        try:
            problems = backend.start()
        finally:
            backend.close()
    assert len(problems) == 1 and problems[0].startswith('b (node 9)')


def test_bus_that_cannot_open_is_reported_not_raised():
    def factory():
        raise can.CanInterfaceNotImplementedError('no such interface')
    backend = OdriveCanBackend([AxisConfig('a', 'wheel', 1)], factory, startup_timeout_s=0.1)
    try:
        problems = backend.start()
    finally:
        backend.close()
    assert any('cannot open CAN bus' in x for x in problems)


# -- ODrive 0.6 CANSimple parity: Get_Version, Get_Torques, torque input, gains, trajectory --
def test_0_6_layouts_match_the_dbc():
    """Byte layouts as ODrive's DBC gives them (start bit / 8 = byte; little-endian;
    odriverobotics/ros_odrive odrive_base/include/can_simple_messages.hpp, generated from it)."""
    assert p.Cmd.GET_TORQUES == 0x1C and p.Cmd.SET_VEL_GAINS == 0x1B and p.Cmd.GET_VERSION == 0x00
    assert (p.Cmd.SET_TRAJ_VEL_LIMIT, p.Cmd.SET_TRAJ_ACCEL_LIMITS,
            p.Cmd.SET_INPUT_TORQUE) == (0x11, 0x12, 0x0E)
    for cmd in (p.Cmd.GET_TORQUES, p.Cmd.SET_VEL_GAINS, p.Cmd.SET_INPUT_TORQUE, p.Cmd.SET_TRAJ_VEL_LIMIT,
                p.Cmd.SET_TRAJ_ACCEL_LIMITS, p.Cmd.GET_VERSION):
        assert p.DLC[cmd] == 8
    assert p.encode_set_input_torque(-1.25) == struct.pack('<f', -1.25) + bytes(4)
    assert p.decode_f32(p.encode_set_input_torque(-1.25)) == -1.25
    assert p.encode_set_vel_gains(0.16, 0.32) == struct.pack('<ff', 0.16, 0.32)
    assert p.encode_set_traj_vel_limit(2.0) == struct.pack('<f', 2.0) + bytes(4)
    assert p.encode_set_traj_accel_limits(0.5, 0.75) == struct.pack('<ff', 0.5, 0.75)
    v = p.decode_version(bytes([2, 4, 4, 58, 0, 6, 10, 0]))
    assert (v.protocol, v.hardware, v.firmware) == (2, '4.4-58', '0.6.10')
    assert p.firmware_problem(v) is None
    assert 'firmware 0.5.6' in p.firmware_problem(p.decode_version(p.encode_version((0, 5, 6))))
    assert p.Cmd.GET_TORQUES in p.AXIS_TO_HOST


def test_get_torques_feeds_the_joint_effort(rig):
    """Get_Torques is polled and decoded (it was dropped as unexpected): the estimate,
    through gear ratio and direction, is the joint torque the drum weigh reads."""
    fake, backend, _ = rig
    fake.set_load_torque(1, 0.75)     # left: gear 2, direction +1
    fake.set_load_torque(2, 0.5)      # right: gear 2, direction -1
    assert wait_for(lambda: backend.feedback()['left'].torque_nm == pytest.approx(1.5)
                    and backend.feedback()['right'].torque_nm == pytest.approx(-1.0), 2.0)
    target, estimate = backend.torques()['left']
    assert target == pytest.approx(1.5) and estimate == pytest.approx(1.5)
    polled = [c for _, c, _, remote in fake.axis(1).received if remote]
    assert p.Cmd.GET_TORQUES in polled
    assert backend.stats()['unexpected_cmd'] == 0


def test_set_input_torque_reaches_a_torque_controlled_axis():
    """The encoded frame, sent as a host would, puts the fake's torque target there."""
    channel = f'odrive_test_{next(_channels)}'
    with FakeOdrive(channel, [4]) as fake:
        bus = virtual_bus_factory(channel)()
        try:
            def send(cmd, data=b'', remote=False):
                bus.send(can.Message(arbitration_id=p.arbitration_id(4, cmd), data=data, is_extended_id=False,
                                     is_remote_frame=remote, dlc=8 if remote else len(data)))
            send(p.Cmd.SET_CONTROLLER_MODE, p.encode_set_controller_mode(p.ControlMode.TORQUE_CONTROL,
                                                                         p.InputMode.PASSTHROUGH))
            send(p.Cmd.SET_INPUT_TORQUE, p.encode_set_input_torque(0.42))
            send(p.Cmd.SET_AXIS_STATE, p.encode_set_axis_state(p.AxisState.CLOSED_LOOP_CONTROL))
            assert wait_for(lambda: fake.axis(4).state == p.AxisState.CLOSED_LOOP_CONTROL)
            send(p.Cmd.GET_TORQUES, remote=True)
            deadline = time.monotonic() + 2.0
            reply = None
            while time.monotonic() < deadline and reply is None:
                m = bus.recv(timeout=0.1)
                if m is not None and m.arbitration_id == p.arbitration_id(4, p.Cmd.GET_TORQUES):
                    reply = p.decode_two_f32(m.data)
            assert reply == (pytest.approx(0.42), pytest.approx(0.42))
        finally:
            bus.shutdown()


def test_gains_and_trajectory_limits_are_sent_where_configured():
    channel = f'odrive_test_{next(_channels)}'
    with FakeOdrive(channel, [1, 2, 3], record=True) as fake:
        axes = [AxisConfig('left', 'wheel', 1, gear_ratio=2.0, vel_gain=0.16, vel_integrator_gain=0.32),
                AxisConfig('right', 'wheel', 2, gear_ratio=2.0),
                AxisConfig('arm', 'arm', 3, gear_ratio=100.0, traj_vel_limit_radps=math.pi / 50,
                           traj_accel_limit_radps2=math.pi / 25, traj_decel_limit_radps2=math.pi / 10)]
        backend = OdriveCanBackend(axes, virtual_bus_factory(channel), heartbeat_timeout_s=0.1,
                                   startup_timeout_s=1.0)
        try:
            assert backend.start() == []
            assert backend.versions() == {'left': '0.6.10', 'right': '0.6.10', 'arm': '0.6.10'}
        finally:
            backend.close()
        left, right, arm = fake.axis(1), fake.axis(2), fake.axis(3)
        assert (left.vel_gain, left.vel_integrator_gain) == (pytest.approx(0.16), pytest.approx(0.32))
        assert right.vel_gain is None, 'no gains configured: the controller keeps its own'
        assert p.Cmd.SET_VEL_GAINS not in [c for _, c, _, _ in right.received]
        # joint rad/s -> motor rev/s through the 100:1 gearbox: pi/50 rad/s = 1 rev/s
        assert arm.traj_vel_limit == pytest.approx(1.0)
        assert (arm.traj_accel_limit, arm.traj_decel_limit) == (pytest.approx(2.0), pytest.approx(5.0))
        assert arm.input_mode == p.InputMode.TRAP_TRAJ
        assert right.traj_vel_limit is None


def test_gains_must_come_in_pairs():
    with pytest.raises(ValueError, match='vel_gain and vel_integrator_gain'):
        AxisConfig('w', 'wheel', 1, vel_gain=0.1)
    with pytest.raises(ValueError, match='trajectory limits'):
        AxisConfig('a', 'arm', 1, traj_vel_limit_radps=1.0)


@pytest.mark.parametrize('firmware, answer, words', [
    ((0, 5, 6), True, 'firmware 0.5.6'),
    ((0, 7, 0), True, 'firmware 0.7.0'),
    ((0, 6, 10), False, 'no answer to Get_Version'),
])
def test_another_firmware_line_is_named_and_never_armed(firmware, answer, words):
    channel = f'odrive_test_{next(_channels)}'
    with FakeOdrive(channel, [1], record=True, firmware=firmware, answer_version=answer) as fake:
        backend = OdriveCanBackend([AxisConfig('a', 'wheel', 1)], virtual_bus_factory(channel),
                                   heartbeat_timeout_s=0.1, startup_timeout_s=0.3)
        try:
            problems = backend.start()
            assert len(problems) == 1 and problems[0].startswith('a (node 1): ') and words in problems[0]
            assert '0.6' in problems[0]
            assert backend.clear_errors() is True
            time.sleep(0.1)
            assert words in backend.faults()['a'], 'clearing errors does not change the firmware'
        finally:
            backend.close()
        sent = [c for _, c, _, remote in fake.axis(1).received if not remote]
        assert p.Cmd.SET_AXIS_STATE not in sent and p.Cmd.SET_INPUT_VEL not in sent
        assert fake.axis(1).state == p.AxisState.IDLE
