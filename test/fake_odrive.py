"""A fake ODrive (firmware 0.6 CANSimple) on a python-can virtual bus, with fault injection.

It answers as the firmware does: cyclic heartbeat and encoder estimates, remote-frame
(RTR) answers for Get_Version / Get_Error / Get_Iq / Get_Torques / Get_Temperature /
Get_Bus_Voltage_Current (layouts: mining_rover/drivers/odrive_protocol.py, after ODrive's
CANSimple 0.6 DBC), the controller settings it is sent (Set_Vel_Gains, Set_Traj_*,
Set_Pos_Gain, Set_Input_Torque in TORQUE_CONTROL), the
IDLE <-> CLOSED_LOOP_CONTROL state machine (closed loop refused while an error is
active), Estop (IDLE + ESTOP_REQUESTED), Clear_Errors, the axis watchdog
(IDLE + WATCHDOG_TIMER_EXPIRED when setpoints stop coming), and encoder estimates that
integrate the commanded velocity through a first-order lag.

Faults it can inject: another firmware line (``firmware=(0, 5, 6)``, or
``answer_version=False`` for a 0.5.x that has no Get_Version), heartbeat loss (an axis
goes silent), a motor error (axis
disarms with an error bit), error frames (bus-off among them), garbage (unknown node
ids, wrong lengths, extended ids, unexpected commands, NaN payloads), and, with
``FaultyBus`` wrapping the host's bus, a bus that is gone (send/recv raise).
"""
from __future__ import annotations

import math
import threading
import time

import can

from mining_rover.drivers import odrive_protocol as p


class FaultyBus:
    """Wraps the host's python-can bus; ``fail = True`` makes send/recv raise as a bus
    in bus-off or an unplugged adapter does."""

    def __init__(self, bus):
        self._bus = bus
        self.fail_send = False
        self.fail_recv = False

    @property
    def fail(self):
        return self.fail_send or self.fail_recv

    @fail.setter
    def fail(self, value: bool):
        self.fail_send = self.fail_recv = bool(value)

    def send(self, msg, timeout=None):
        if self.fail_send:
            raise can.CanOperationError('Transmit failed: bus-off (injected)')
        return self._bus.send(msg, timeout=timeout)

    def recv(self, timeout=None):
        if self.fail_recv:
            time.sleep(min(timeout or 0.0, 0.005))
            raise can.CanOperationError('Receive failed: network is down (injected)')
        return self._bus.recv(timeout=timeout)

    def shutdown(self):
        self._bus.shutdown()


class FakeAxis:
    def __init__(self, node_id: int, temperature_c: float, bus_voltage_v: float):
        self.node_id = node_id
        self.state = p.AxisState.IDLE
        self.error = 0
        self.disarm_reason = 0
        self.control_mode = p.ControlMode.VELOCITY_CONTROL
        self.input_mode = p.InputMode.PASSTHROUGH
        self.input_vel = 0.0
        self.input_pos = 0.0
        self.pos = 0.0
        self.vel = 0.0
        self.vel_limit = 1e3
        self.current_limit = 1e3
        self.iq = 0.0
        self.motor_temperature_c = temperature_c
        self.fet_temperature_c = temperature_c
        self.bus_voltage_v = bus_voltage_v
        self.last_input_s = time.monotonic()
        self.silent = False
        self.stopped_at = time.monotonic()
        self.received = []    # (time, cmd, bytes) of every host frame, when recording
        self.input_torque = 0.0
        self.load_torque_nm = 0.0     # what the motor must push against (a full drum), N m
        self.vel_gain = self.vel_integrator_gain = self.pos_gain = None
        self.traj_vel_limit = self.traj_accel_limit = self.traj_decel_limit = None

    def torques(self) -> tuple:
        """(torque target, torque estimate), N m, motor side: in torque control the input;
        otherwise what holding the commanded motion against the load takes."""
        if self.state != p.AxisState.CLOSED_LOOP_CONTROL:
            return 0.0, 0.0
        if self.control_mode == p.ControlMode.TORQUE_CONTROL:
            return self.input_torque, self.input_torque
        return self.load_torque_nm, self.load_torque_nm

    def stopped(self) -> bool:
        """Safe: disarmed, or commanded to zero speed (velocity mode)."""
        return self.state != p.AxisState.CLOSED_LOOP_CONTROL or (
            self.control_mode == p.ControlMode.VELOCITY_CONTROL and self.input_vel == 0.0)

    def disarm(self, error_bits: int):
        self.state = p.AxisState.IDLE
        self.error |= error_bits
        self.disarm_reason = error_bits


class FakeOdrive:
    """Several ODrive axes on one virtual channel. Start with ``start()``, stop by
    ``stop()`` (or use as a context manager)."""

    def __init__(self, channel: str, node_ids, heartbeat_period_s: float = 0.02,
                 encoder_period_s: float = 0.01, watchdog_timeout_s: float = 0.0,
                 temperature_c: float = 25.0, bus_voltage_v: float = 48.0,
                 velocity_tau_s: float = 0.02, record: bool = False, firmware: tuple = (0, 6, 10),
                 answer_version: bool = True):
        self.channel = channel
        self.axes = {n: FakeAxis(n, temperature_c, bus_voltage_v) for n in node_ids}
        self.heartbeat_period_s = heartbeat_period_s
        self.encoder_period_s = encoder_period_s
        self.watchdog_timeout_s = watchdog_timeout_s
        self.velocity_tau_s = velocity_tau_s
        self.record = record
        self.firmware = tuple(firmware)
        self.answer_version = answer_version
        self.ignored_host_frames = 0
        self._bus = can.Bus(interface='virtual', channel=channel, receive_own_messages=False)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name='fake_odrive', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2.0)
        self._bus.shutdown()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- fault injection ----------------------------------------------------------------
    def heartbeat_loss(self, node_id: int, lost: bool = True):
        """The axis stops transmitting (it still hears the host)."""
        with self._lock:
            self.axes[node_id].silent = lost

    def motor_error(self, node_id: int, bits: int = 0x20):
        """The firmware disarms the axis with an error (default DRV_FAULT)."""
        with self._lock:
            self.axes[node_id].disarm(bits)

    def set_load_torque(self, node_id: int, torque_nm: float):
        """The motor now works against this torque (motor side, N m)."""
        with self._lock:
            self.axes[node_id].load_torque_nm = torque_nm

    def set_temperature(self, node_id: int, motor_c: float):
        with self._lock:
            self.axes[node_id].motor_temperature_c = motor_c

    def error_frames(self, count: int = 1, bus_off: bool = False):
        cls = p.CAN_ERR_BUSOFF if bus_off else p.CAN_ERR_PROT
        for _ in range(count):
            self._send(can.Message(arbitration_id=cls, is_error_frame=True, data=bytes(8),
                                   is_extended_id=False))

    def garbage(self, count: int = 10) -> int:
        """Frames a healthy host must count and ignore; returns how many were sent."""
        known = next(iter(self.axes))
        unknown = next(n for n in range(p.MAX_NODE_ID + 1) if n not in self.axes)
        frames = [
            can.Message(arbitration_id=p.arbitration_id(unknown, p.Cmd.HEARTBEAT),
                        data=p.encode_heartbeat(0x20, 1), is_extended_id=False),
            can.Message(arbitration_id=p.arbitration_id(known, p.Cmd.HEARTBEAT),
                        data=b'\x00\x00\x00', is_extended_id=False),              # short
            can.Message(arbitration_id=p.arbitration_id(known, p.Cmd.GET_ENCODER_ESTIMATES),
                        data=b'\x01\x02', is_extended_id=False),                   # short
            can.Message(arbitration_id=0x1ABCDE00 | p.Cmd.HEARTBEAT, data=bytes(8),
                        is_extended_id=True),
            can.Message(arbitration_id=p.arbitration_id(known, p.Cmd.SET_INPUT_VEL),
                        data=p.encode_set_input_vel(99.0), is_extended_id=False),  # host cmd
            can.Message(arbitration_id=p.arbitration_id(known, p.Cmd.GET_ENCODER_ESTIMATES),
                        data=p.encode_two_f32(math.nan, math.inf), is_extended_id=False),
        ]
        for i in range(count):
            self._send(frames[i % len(frames)])
        return count

    # -- observation --------------------------------------------------------------------
    def axis(self, node_id: int) -> FakeAxis:
        return self.axes[node_id]

    def all_stopped(self, node_ids=None) -> bool:
        with self._lock:
            return all(self.axes[n].stopped() for n in (node_ids or self.axes))

    def last_stop_time(self, node_ids=None) -> float:
        """Latest moment (time.monotonic) at which one of the axes became stopped."""
        with self._lock:
            return max(self.axes[n].stopped_at for n in (node_ids or self.axes))

    # -- firmware -----------------------------------------------------------------------
    def _send(self, msg):
        try:
            self._bus.send(msg)
        except can.CanError:
            pass

    def _tx(self, axis: FakeAxis, cmd: int, data: bytes):
        if not axis.silent:
            self._send(can.Message(arbitration_id=p.arbitration_id(axis.node_id, cmd),
                                   data=data, is_extended_id=False))

    def _run(self):
        last = time.monotonic()
        next_hb = next_enc = last
        while not self._stop.is_set():
            msg = self._bus.recv(timeout=0.002)
            now = time.monotonic()
            with self._lock:
                while msg is not None:   # drain: firmware handles every frame it got
                    self._handle(msg, now)
                    msg = self._bus.recv(timeout=0.0)
                self._integrate(now - last, now)
                last = now
                if now >= next_hb:
                    next_hb = max(next_hb + self.heartbeat_period_s, now)
                    for a in self.axes.values():
                        self._tx(a, p.Cmd.HEARTBEAT, p.encode_heartbeat(a.error, a.state))
                if now >= next_enc:
                    next_enc = max(next_enc + self.encoder_period_s, now)
                    for a in self.axes.values():
                        self._tx(a, p.Cmd.GET_ENCODER_ESTIMATES, p.encode_two_f32(a.pos, a.vel))

    def _integrate(self, dt: float, now: float):
        if dt <= 0:
            return
        for a in self.axes.values():
            was_stopped = a.stopped()
            if a.state == p.AxisState.CLOSED_LOOP_CONTROL and self.watchdog_timeout_s > 0 \
                    and now - a.last_input_s > self.watchdog_timeout_s:
                a.disarm(0x01000000)  # WATCHDOG_TIMER_EXPIRED
            if a.state == p.AxisState.CLOSED_LOOP_CONTROL:
                if a.control_mode == p.ControlMode.POSITION_CONTROL:
                    target = max(-a.vel_limit, min(a.vel_limit, (a.input_pos - a.pos) / 0.1))
                else:
                    target = max(-a.vel_limit, min(a.vel_limit, a.input_vel))
            else:
                target = 0.0
            k = min(1.0, dt / self.velocity_tau_s)
            a.vel += k * (target - a.vel)
            a.pos += a.vel * dt
            a.iq = (0.5 + 0.2 * abs(a.vel)) * math.copysign(1.0, a.vel) \
                if a.state == p.AxisState.CLOSED_LOOP_CONTROL and abs(a.vel) > 1e-3 else 0.0
            if a.stopped() and not was_stopped:
                a.stopped_at = now

    def _handle(self, msg: can.Message, now: float):
        if msg.is_error_frame or msg.is_extended_id:
            self.ignored_host_frames += 1
            return
        node_id, cmd = p.split_id(msg.arbitration_id)
        a = self.axes.get(node_id)
        if a is None:
            return
        data = bytes(msg.data)
        if self.record:
            a.received.append((now, cmd, data, msg.is_remote_frame))
        was_stopped = a.stopped()
        if msg.is_remote_frame:
            replies = {
                p.Cmd.GET_ERROR: lambda: p.encode_get_error(a.error, a.disarm_reason),
                p.Cmd.GET_IQ: lambda: p.encode_two_f32(a.iq, a.iq),
                p.Cmd.GET_TEMPERATURE: lambda: p.encode_two_f32(a.fet_temperature_c, a.motor_temperature_c),
                p.Cmd.GET_BUS_VOLTAGE_CURRENT: lambda: p.encode_two_f32(a.bus_voltage_v, abs(a.iq) * 0.8),
                p.Cmd.GET_ENCODER_ESTIMATES: lambda: p.encode_two_f32(a.pos, a.vel),
                p.Cmd.HEARTBEAT: lambda: p.encode_heartbeat(a.error, a.state),
                p.Cmd.GET_TORQUES: lambda: p.encode_two_f32(*a.torques()),
            }
            if self.answer_version:
                replies[p.Cmd.GET_VERSION] = lambda: p.encode_version(self.firmware)
            if cmd in replies:
                self._tx(a, cmd, replies[cmd]())
            return
        expected = p.DLC.get(cmd)
        if expected is not None and len(data) < expected:
            self.ignored_host_frames += 1
            return
        if cmd == p.Cmd.SET_AXIS_STATE:
            requested = p.decode_u32(data)
            if requested == p.AxisState.CLOSED_LOOP_CONTROL:
                if a.error == 0:
                    a.state = p.AxisState.CLOSED_LOOP_CONTROL
                    a.last_input_s = now
            elif requested == p.AxisState.IDLE:
                a.state = p.AxisState.IDLE
        elif cmd == p.Cmd.ESTOP:
            a.disarm(0x02000000)  # ESTOP_REQUESTED
        elif cmd == p.Cmd.CLEAR_ERRORS:
            a.error = 0
            a.disarm_reason = 0
        elif cmd == p.Cmd.SET_CONTROLLER_MODE:
            a.control_mode, a.input_mode = p.decode_two_u32(data)
        elif cmd == p.Cmd.SET_LIMITS:
            a.vel_limit, a.current_limit = p.decode_two_f32(data)
        elif cmd == p.Cmd.SET_INPUT_VEL:
            a.input_vel, _ = p.decode_set_input_vel(data)
            a.last_input_s = now
        elif cmd == p.Cmd.SET_INPUT_POS:
            a.input_pos, _, _ = p.decode_set_input_pos(data)
            a.last_input_s = now
        elif cmd == p.Cmd.SET_INPUT_TORQUE:
            a.input_torque = p.decode_f32(data)
            a.last_input_s = now
        elif cmd == p.Cmd.SET_VEL_GAINS:
            a.vel_gain, a.vel_integrator_gain = p.decode_two_f32(data)
        elif cmd == p.Cmd.SET_POS_GAIN:
            a.pos_gain = p.decode_f32(data)
        elif cmd == p.Cmd.SET_TRAJ_VEL_LIMIT:
            a.traj_vel_limit = p.decode_f32(data)
        elif cmd == p.Cmd.SET_TRAJ_ACCEL_LIMITS:
            a.traj_accel_limit, a.traj_decel_limit = p.decode_two_f32(data)
        elif cmd == p.Cmd.ADDRESS:
            new_id = data[0]
            if new_id != node_id and new_id not in self.axes:
                a.node_id = new_id
                self.axes[new_id] = self.axes.pop(node_id)
        elif cmd == p.Cmd.REBOOT:
            a.state, a.error, a.input_vel, a.vel = p.AxisState.IDLE, 0, 0.0, 0.0
        if a.stopped() and not was_stopped:
            a.stopped_at = now
