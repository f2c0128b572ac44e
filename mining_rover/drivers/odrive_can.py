"""ODrive motor controllers over CAN (CANSimple, python-can): the ``odrive_can`` backend.

One worker thread owns the bus: it receives and decodes frames, re-sends every axis's
setpoint each ``command_period_s`` (which also feeds the ODrive's own axis watchdog, so
that the motors disarm by themselves when this host or the bus dies), polls current,
temperature, bus voltage, torque (Get_Torques: the joint effort the drum weigh uses) and
errors with remote frames, and supervises heartbeats.

At start every axis is asked for its version (Get_Version, 0x00) and one whose firmware
is not the 0.6.x line (odrive_protocol.FIRMWARE_LINE), or that heartbeats but never
answers (0.5.x has no Get_Version), is not armed: ``start()`` names it and its firmware.
Then each axis gets Clear_Errors, its control and input mode, Set_Limits, the velocity
gains (Set_Vel_Gains) and trajectory limits (Set_Traj_Vel_Limit, Set_Traj_Accel_Limits)
where its AxisConfig sets them (else the controller keeps its own), a setpoint, and
CLOSED_LOOP_CONTROL.

Faults and what they do (each reported once through the fault listeners; the safety
layer above latches them until ``clear_errors``):

* heartbeat older than ``heartbeat_timeout_s``         -> axis 'lost', fault
* axis_error != 0 in a heartbeat (decoded to names)    -> fault
* axis left CLOSED_LOOP_CONTROL while armed           -> fault
* bus-off error frame, or send/recv raising (bus gone) -> fault on 'bus'; the worker
  keeps running and tries to reopen the bus every ``reopen_period_s``

On any fault every axis gets a zero setpoint at once (arms hold their measured
position) and a faulted axis is put in IDLE. Garbage (unknown node ids, wrong data
length, unexpected commands, extended ids, error frames, NaN payloads) is counted and
ignored; it never faults the drive.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace

import can

from mining_rover.drivers import odrive_protocol as p
from mining_rover.drivers.backend import Backend, JointConfig, MotorFeedback

TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class AxisConfig:
    """One ODrive axis driving one joint. ``gear_ratio`` = motor turns per joint turn;
    ``direction`` = +1/-1 maps joint-positive to motor-positive (mirrored mounting)."""

    joint: str
    kind: str
    node_id: int
    gear_ratio: float = 1.0
    direction: int = 1
    velocity_limit_radps: float = 10.0   # joint side, sent to the controller as Set_Limits
    current_limit_a: float = 20.0
    #: Set_Vel_Gains in the controller's own (motor-side) units, N m / (rev/s) and
    #: N m / rev, as odrivetool shows them; None keeps what the controller has saved.
    vel_gain: float | None = None
    vel_integrator_gain: float | None = None
    #: Trapezoidal-trajectory limits, joint side, rad/s and rad/s^2 (Set_Traj_Vel_Limit,
    #: Set_Traj_Accel_Limits). Set on an arm, it moves in TRAP_TRAJ input mode within them
    #: (else POS_FILTER); None sends nothing.
    traj_vel_limit_radps: float | None = None
    traj_accel_limit_radps2: float | None = None
    traj_decel_limit_radps2: float | None = None

    def __post_init__(self):
        if not 0 <= self.node_id <= p.MAX_NODE_ID:
            raise ValueError(f'{self.joint}: node_id must be 0..{p.MAX_NODE_ID}, got {self.node_id}')
        if self.direction not in (1, -1):
            raise ValueError(f'{self.joint}: direction must be +1 or -1, got {self.direction}')
        if not (math.isfinite(self.gear_ratio) and self.gear_ratio > 0):
            raise ValueError(f'{self.joint}: gear_ratio must be > 0, got {self.gear_ratio}')
        if (self.vel_gain is None) != (self.vel_integrator_gain is None):
            raise ValueError(f'{self.joint}: set both vel_gain and vel_integrator_gain, or neither')
        traj = (self.traj_vel_limit_radps, self.traj_accel_limit_radps2, self.traj_decel_limit_radps2)
        if any(v is None for v in traj) and not all(v is None for v in traj):
            raise ValueError(f'{self.joint}: set all three trajectory limits, or none')
        for name in ('vel_gain', 'vel_integrator_gain', 'traj_vel_limit_radps',
                     'traj_accel_limit_radps2', 'traj_decel_limit_radps2'):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f'{self.joint}: {name} must be a finite number >= 0, got {v}')

    @property
    def trajectory(self) -> bool:
        """Whether this axis moves on the controller's trapezoidal trajectory planner."""
        return self.traj_vel_limit_radps is not None
    def to_motor(self, joint_value: float) -> float:
        """rad (or rad/s) at the joint -> rev (or rev/s) at the motor."""
        return joint_value / TWO_PI * self.gear_ratio * self.direction

    def to_joint(self, motor_value: float) -> float:
        return motor_value * TWO_PI / self.gear_ratio * self.direction

    def torque_to_joint(self, motor_torque_nm: float) -> float:
        """Motor torque, N m -> joint torque through the gearbox (losses not modelled)."""
        return motor_torque_nm * self.gear_ratio * self.direction


class _Axis:
    def __init__(self, cfg: AxisConfig):
        self.cfg = cfg
        self.fb = MotorFeedback(cfg.joint)
        self.setpoint = 0.0
        self.position_mode = cfg.kind == 'arm'
        self.last_heartbeat_s = -math.inf
        self.heartbeat = None
        self.armed = False        # we expect CLOSED_LOOP_CONTROL
        self.grace_until_s = 0.0  # the state check waits until then after (re)arming
        self.armed_at_s = -math.inf
        self.fault = ''
        self.fet_temperature_c = math.nan
        self.version = None       # odrive_protocol.Version once Get_Version answered
        self.firmware_problem = ''  # why this axis is never armed (another firmware line)
        self.torque_target_nm = math.nan   # joint side, from Get_Torques


class OdriveCanBackend(Backend):
    """Backend that drives ODrive axes over CANSimple: arms them, streams commands, watches heartbeats."""
    def __init__(self, axes: list, bus_factory, heartbeat_timeout_s: float = 0.25,
                 command_period_s: float = 0.02, poll_period_s: float = 0.1,
                 startup_timeout_s: float = 1.5, reopen_period_s: float = 0.5,
                 version_timeout_s: float = 0.5, clock=time.monotonic):
        super().__init__([JointConfig(a.joint, a.kind) for a in axes])
        ids = [a.node_id for a in axes]
        if len(set(ids)) != len(ids):
            raise ValueError(f'node ids must be unique, got {ids}')
        self._axes = {a.joint: _Axis(a) for a in axes}
        self._by_node = {a.node_id: self._axes[a.joint] for a in axes}
        self._bus_factory = bus_factory
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.command_period_s = command_period_s
        self.poll_period_s = poll_period_s
        self.startup_timeout_s = startup_timeout_s
        self.reopen_period_s = reopen_period_s
        self.version_timeout_s = version_timeout_s
        self._clock = clock
        self._bus = None
        self._bus_fault = ''
        self._tx_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._poll_index = 0
        self.counters = {k: 0 for k in (
            'rx_frames', 'tx_frames', 'tx_errors', 'error_frames', 'unknown_node', 'bad_dlc',
            'unexpected_cmd', 'extended_id', 'remote_frames', 'bad_payload', 'bus_reopened')}

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> list:
        """Open the bus, configure and arm every axis, wait for CLOSED_LOOP_CONTROL.

        Returns a list of problems (empty when every axis came up)."""
        self._stop.clear()
        self._open_bus()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name='odrive_can', daemon=True)
            self._thread.start()
        self._check_versions()
        self._arm_all()
        deadline = self._clock() + self.startup_timeout_s
        while self._clock() < deadline and not self._all_closed_loop():
            time.sleep(0.01)
        problems = [f'{a.cfg.joint} (node {a.cfg.node_id}): '
                    + (a.fault or f'state {a.heartbeat.state_name if a.heartbeat else "no heartbeat"}')
                    for a in self._axes.values() if not self._closed_loop(a)]
        if self._bus_fault:
            problems.append(f'bus: {self._bus_fault}')
        return problems

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._thread = None
        with self._tx_lock:
            bus, self._bus = self._bus, None
        if bus is not None:
            try:
                bus.shutdown()
            except Exception:
                pass

    # -- commands ---------------------------------------------------------------------
    def _send(self, values: dict):
        with self._lock:
            if self._bus_fault:
                return
            for name, value in values.items():
                axis = self._axes[name]
                if axis.fault:
                    continue
                axis.setpoint = float(value)
                self._send_setpoint(axis)

    def stop_all(self):
        with self._lock:
            for axis in self._axes.values():
                if axis.position_mode:
                    pos = axis.fb.position_rad
                    axis.setpoint = pos if math.isfinite(pos) else axis.setpoint
                else:
                    axis.setpoint = 0.0
                self._send_setpoint(axis)

    def disarm_all(self):
        with self._lock:
            for axis in self._axes.values():
                axis.armed = False
                self._tx(axis.cfg.node_id, p.Cmd.SET_AXIS_STATE, p.encode_set_axis_state(p.AxisState.IDLE))

    def clear_errors(self) -> bool:
        """Clear_Errors + re-arm every axis; the faults are dropped now and come back if
        the axes are not in CLOSED_LOOP_CONTROL within ``startup_timeout_s``."""
        with self._lock:
            if self._bus is None:
                self._open_bus()
            if self._bus is None:
                return False
            self._bus_fault = ''
            for axis in self._axes.values():
                axis.fault = axis.firmware_problem   # clearing errors does not change firmware
                axis.setpoint = axis.fb.position_rad if axis.position_mode and \
                    math.isfinite(axis.fb.position_rad) else 0.0
            self._arm_all()
            return True

    # -- feedback ---------------------------------------------------------------------
    def feedback(self) -> dict:
        with self._lock:
            return {n: replace(a.fb) for n, a in self._axes.items()}

    def faults(self) -> dict:
        with self._lock:
            out = {n: a.fault for n, a in self._axes.items() if a.fault}
            if self._bus_fault:
                out['bus'] = self._bus_fault
            return out

    def stats(self) -> dict:
        with self._lock:
            return dict(self.counters)

    def versions(self) -> dict:
        """{joint: firmware version string} of the axes that answered Get_Version."""
        with self._lock:
            return {n: a.version.firmware for n, a in self._axes.items() if a.version is not None}

    def torques(self) -> dict:
        """{joint: (torque target, torque estimate)}, joint side, N m (Get_Torques)."""
        with self._lock:
            return {n: (a.torque_target_nm, a.fb.torque_nm) for n, a in self._axes.items()}

    def axis_states(self) -> dict:
        with self._lock:
            return {n: (a.heartbeat.state_name if a.heartbeat else 'NONE') for n, a in self._axes.items()}

    # -- internals --------------------------------------------------------------------
    def _closed_loop(self, a: _Axis) -> bool:
        return (a.heartbeat is not None and a.heartbeat.axis_state == p.AxisState.CLOSED_LOOP_CONTROL
                and not a.fault)

    def _all_closed_loop(self) -> bool:
        with self._lock:
            return all(self._closed_loop(a) for a in self._axes.values())

    def _open_bus(self):
        if self._bus is not None:
            return
        try:
            self._bus = self._bus_factory()
        except Exception as exc:  # driver missing, interface down: keep trying
            self._set_bus_fault(f'cannot open CAN bus: {exc}')

    def _check_versions(self):
        """Ask every axis for Get_Version (RTR, repeated every 0.1 s) until all answered
        or ``version_timeout_s``; an axis on another firmware line, or one that sends
        heartbeats but no version, gets a fault and is not armed. One that is silent
        altogether is left to the heartbeat check (start() names it)."""
        deadline = self._clock() + self.version_timeout_s
        next_ask = self._clock()
        while self._clock() < deadline and not self._bus_fault:
            with self._lock:
                missing = [a for a in self._axes.values() if a.version is None]
            if not missing:
                break
            if self._clock() >= next_ask:
                next_ask = self._clock() + 0.1
                for a in missing:
                    self._tx(a.cfg.node_id, p.Cmd.GET_VERSION, remote=True)
            time.sleep(0.005)
        with self._lock:
            for axis in self._axes.values():
                if axis.version is not None:
                    problem = p.firmware_problem(axis.version)
                elif axis.heartbeat is not None:
                    problem = ('no answer to Get_Version (0x00) although it sends heartbeats: firmware '
                               f"older than {'.'.join(map(str, p.FIRMWARE_LINE))} (0.5.x has no "
                               f'Get_Version); flash 0.6.x')
                else:
                    problem = None
                if problem:
                    axis.firmware_problem = axis.fault = problem
                    axis.fb.state = 'fault'

    def _arm_all(self):
        now = self._clock()
        for axis in self._axes.values():
            c = axis.cfg
            if axis.firmware_problem:
                continue   # never arm a controller whose protocol we do not speak
            axis.armed = True
            axis.armed_at_s = now
            axis.grace_until_s = now + self.startup_timeout_s
            arm_input = p.InputMode.TRAP_TRAJ if c.trajectory else p.InputMode.POS_FILTER
            mode = (p.encode_set_controller_mode(p.ControlMode.POSITION_CONTROL, arm_input)
                    if axis.position_mode else
                    p.encode_set_controller_mode(p.ControlMode.VELOCITY_CONTROL, p.InputMode.PASSTHROUGH))
            self._tx(c.node_id, p.Cmd.CLEAR_ERRORS, p.encode_clear_errors())
            self._tx(c.node_id, p.Cmd.SET_CONTROLLER_MODE, mode)
            self._tx(c.node_id, p.Cmd.SET_LIMITS, p.encode_set_limits(
                abs(c.to_motor(c.velocity_limit_radps)), c.current_limit_a))
            if c.vel_gain is not None:
                self._tx(c.node_id, p.Cmd.SET_VEL_GAINS,
                         p.encode_set_vel_gains(c.vel_gain, c.vel_integrator_gain))
            if c.trajectory:
                self._tx(c.node_id, p.Cmd.SET_TRAJ_VEL_LIMIT,
                         p.encode_set_traj_vel_limit(abs(c.to_motor(c.traj_vel_limit_radps))))
                self._tx(c.node_id, p.Cmd.SET_TRAJ_ACCEL_LIMITS, p.encode_set_traj_accel_limits(
                    abs(c.to_motor(c.traj_accel_limit_radps2)), abs(c.to_motor(c.traj_decel_limit_radps2))))
            self._send_setpoint(axis)  # an input before closed loop avoids MISSING_INPUT
            self._tx(c.node_id, p.Cmd.SET_AXIS_STATE,
                     p.encode_set_axis_state(p.AxisState.CLOSED_LOOP_CONTROL))

    def _send_setpoint(self, axis: _Axis):
        c = axis.cfg
        if axis.position_mode:
            self._tx(c.node_id, p.Cmd.SET_INPUT_POS, p.encode_set_input_pos(c.to_motor(axis.setpoint)))
        else:
            self._tx(c.node_id, p.Cmd.SET_INPUT_VEL, p.encode_set_input_vel(c.to_motor(axis.setpoint)))

    def _tx(self, node_id: int, cmd: int, data: bytes = b'', remote: bool = False) -> bool:
        msg = can.Message(arbitration_id=p.arbitration_id(node_id, cmd), data=data,
                          is_extended_id=False, is_remote_frame=remote, dlc=8 if remote else len(data))
        with self._tx_lock:
            bus = self._bus
            if bus is None:
                return False
            try:
                bus.send(msg, timeout=0.01)
                self.counters['tx_frames'] += 1
                return True
            except (can.CanError, OSError, ValueError) as exc:
                self.counters['tx_errors'] += 1
                err = exc
        self._set_bus_fault(f'send failed: {err}')
        return False

    def _set_bus_fault(self, reason: str):
        with self._lock:
            new = not self._bus_fault
            self._bus_fault = self._bus_fault or reason
            if new:
                # Try once to stop everything (a bus-off controller may already be back
                # through its restart timer); if the frames do not get out, the ODrive
                # axis watchdogs disarm the motors when the refresh stops.
                for axis in self._axes.values():
                    if not axis.position_mode:
                        axis.setpoint = 0.0
                    if self._bus is not None and 'send failed' not in reason:
                        self._send_setpoint(axis)
        if new:
            self._notify_fault('bus', reason)

    def _axis_fault(self, axis: _Axis, reason: str, state: str = 'fault'):
        with self._lock:
            if axis.fault:
                return
            axis.fault = reason
            axis.fb.state = state
            axis.armed = False
            self._tx(axis.cfg.node_id, p.Cmd.SET_AXIS_STATE, p.encode_set_axis_state(p.AxisState.IDLE))
            self.stop_all()
        self._notify_fault(axis.cfg.joint, reason)

    def _run(self):
        now = self._clock()
        next_tx, next_poll, next_reopen = now, now, now
        while not self._stop.is_set():
            bus = self._bus
            if bus is None:
                now = self._clock()
                if now >= next_reopen:
                    next_reopen = now + self.reopen_period_s
                    with self._lock:
                        self._open_bus()
                        if self._bus is not None:
                            self.counters['bus_reopened'] += 1
                self._stop.wait(0.01)
                continue
            try:
                # Drain everything queued before supervising: a heartbeat waiting in the
                # queue is not a lost heartbeat.
                msg = bus.recv(timeout=0.005)
                drained = 0
                while msg is not None:
                    self._handle(msg)
                    drained += 1
                    msg = bus.recv(timeout=0.0) if drained < 1000 else None
            except (can.CanError, OSError, ValueError) as exc:
                self._set_bus_fault(f'receive failed: {exc}')
                with self._tx_lock:
                    if self._bus is bus:
                        self._bus = None
                try:
                    bus.shutdown()
                except Exception:
                    pass
                next_reopen = self._clock() + self.reopen_period_s
                continue
            now = self._clock()
            if now >= next_tx:
                next_tx = max(next_tx + self.command_period_s, now)
                with self._lock:
                    if not self._bus_fault:
                        for axis in self._axes.values():
                            if axis.armed:
                                self._send_setpoint(axis)
            if now >= next_poll:
                next_poll = max(next_poll + self.poll_period_s / max(1, len(self._axes)), now)
                self._poll_next()
            self._supervise(now)

    def _poll_next(self):
        axes = list(self._axes.values())
        if not axes or self._bus_fault:
            return
        axis = axes[self._poll_index % len(axes)]
        self._poll_index += 1
        for cmd in (p.Cmd.GET_IQ, p.Cmd.GET_TORQUES, p.Cmd.GET_TEMPERATURE, p.Cmd.GET_BUS_VOLTAGE_CURRENT,
                    p.Cmd.GET_ERROR):
            self._tx(axis.cfg.node_id, cmd, remote=True)

    def _supervise(self, now: float):
        for axis in list(self._axes.values()):
            if axis.fault or not axis.armed:
                continue
            # A heartbeat must arrive within the timeout of arming, then keep coming.
            if now - max(axis.last_heartbeat_s, axis.armed_at_s) > self.heartbeat_timeout_s:
                age = now - axis.last_heartbeat_s
                self._axis_fault(axis, 'heartbeat lost' + (f' ({age:.3f} s)' if math.isfinite(age) else
                                                           ' (none received)'), state='lost')
            elif now < axis.grace_until_s:
                continue
            elif axis.heartbeat is not None and \
                    axis.heartbeat.axis_state != p.AxisState.CLOSED_LOOP_CONTROL:
                self._axis_fault(axis, f'axis left closed loop: {axis.heartbeat.state_name}'
                                 + (f' ({", ".join(axis.heartbeat.errors)})'
                                    if axis.heartbeat.axis_error else ''))

    def _handle(self, msg: can.Message):
        c = self.counters
        c['rx_frames'] += 1
        if msg.is_error_frame:
            c['error_frames'] += 1
            if msg.arbitration_id & p.CAN_ERR_BUSOFF:
                self._set_bus_fault('bus-off (error frame)')
            return
        if msg.is_extended_id:
            c['extended_id'] += 1
            return
        if msg.is_remote_frame:
            c['remote_frames'] += 1
            return
        node_id, cmd = p.split_id(msg.arbitration_id)
        axis = self._by_node.get(node_id)
        if axis is None:
            c['unknown_node'] += 1
            return
        if cmd not in p.AXIS_TO_HOST:
            c['unexpected_cmd'] += 1
            return
        if msg.dlc != p.DLC[cmd] or len(msg.data) != p.DLC[cmd]:
            c['bad_dlc'] += 1
            return
        data = bytes(msg.data)
        now = self._clock()
        with self._lock:
            fb = axis.fb
            if cmd == p.Cmd.HEARTBEAT:
                hb = p.decode_heartbeat(data)
                axis.heartbeat = hb
                axis.last_heartbeat_s = now
                fb.error_flags = hb.axis_error
                fb.errors = hb.errors
                if not axis.fault:
                    fb.state = 'closed_loop' if hb.axis_state == p.AxisState.CLOSED_LOOP_CONTROL else 'idle'
                if hb.axis_state == p.AxisState.CLOSED_LOOP_CONTROL:
                    axis.grace_until_s = 0.0  # armed: from now on leaving closed loop is a fault
                if hb.axis_error and not axis.fault and axis.armed:
                    reason = 'axis error: ' + ', '.join(hb.errors)
                else:
                    reason = ''
            elif cmd == p.Cmd.GET_ERROR:
                active, _disarm = p.decode_two_u32(data)
                fb.error_flags = active | fb.error_flags
                fb.errors = p.decode_errors(fb.error_flags)
                reason = ('axis error: ' + ', '.join(p.decode_errors(active))) \
                    if active and not axis.fault and axis.armed else ''
            elif cmd == p.Cmd.GET_VERSION:
                axis.version = p.decode_version(data)
                reason = ''
            elif cmd == p.Cmd.ADDRESS:
                reason = ''   # an axis announcing its id and serial: nothing to act on
            else:
                a, b = p.decode_two_f32(data)
                if not (math.isfinite(a) and math.isfinite(b)):
                    c['bad_payload'] += 1
                    return
                cfg = axis.cfg
                if cmd == p.Cmd.GET_ENCODER_ESTIMATES:
                    fb.position_rad, fb.velocity_radps = cfg.to_joint(a), cfg.to_joint(b)
                elif cmd == p.Cmd.GET_IQ:
                    fb.current_a = b * cfg.direction
                elif cmd == p.Cmd.GET_TEMPERATURE:
                    axis.fet_temperature_c, fb.temperature_c = a, b
                elif cmd == p.Cmd.GET_BUS_VOLTAGE_CURRENT:
                    fb.bus_voltage_v, fb.bus_current_a = a, b
                elif cmd == p.Cmd.GET_TORQUES:
                    axis.torque_target_nm, fb.torque_nm = cfg.torque_to_joint(a), cfg.torque_to_joint(b)
                fb.stamp_s = now
                reason = ''
        if reason:
            self._axis_fault(axis, reason)


def virtual_bus_factory(channel: str):
    """python-can 'virtual' bus (tests and benchmarks; no kernel vcan needed)."""
    return lambda: can.Bus(interface='virtual', channel=channel, receive_own_messages=False)


def bus_factory(interface: str, channel: str, bitrate: int = 0):
    """A factory for ``can.Bus`` (socketcan on the rover, virtual in tests)."""
    if interface == 'virtual':
        return virtual_bus_factory(channel)
    from mining_rover.drivers.backend import open_can_bus   # its errors name the fix
    return lambda: open_can_bus(interface, channel, bitrate)
