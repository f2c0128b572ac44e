"""The actuator backend interface every driver implements (sim topics, ODrive CAN, ...).

A backend moves joints named as in the sim contract (config/sim_contract.yaml) and
reports what each motor does. It knows nothing of limits, watchdogs or e-stops: the one
``SafetyLayer`` (drivers/safety.py) sits above every backend and is the only caller.

Units: rad, rad/s at the joint (after any gearbox), A, deg C, V, N m (REP-103).
"""
from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

JOINT_KINDS = ('wheel', 'drum', 'arm')

NAN = math.nan


@dataclass
class MotorFeedback:
    """Latest known state of one motor; NaN where the backend has no reading."""

    joint: str
    velocity_radps: float = NAN
    position_rad: float = NAN
    current_a: float = NAN
    temperature_c: float = NAN
    bus_voltage_v: float = NAN
    bus_current_a: float = NAN
    torque_nm: float = NAN
    error_flags: int = 0
    errors: tuple = ()          # decoded names of error_flags
    state: str = 'unknown'      # unknown | idle | closed_loop | fault | lost
    stamp_s: float = NAN        # backend clock (time.monotonic) of the newest reading

    @property
    def power_w(self) -> float:
        """Electrical power drawn, W: bus V * bus I where both are known, else the
        mechanical power |torque * speed| (a lower bound)."""
        if math.isfinite(self.bus_voltage_v) and math.isfinite(self.bus_current_a):
            return self.bus_voltage_v * self.bus_current_a
        if math.isfinite(self.torque_nm) and math.isfinite(self.velocity_radps):
            return abs(self.torque_nm * self.velocity_radps)
        return NAN


@dataclass(frozen=True)
class JointConfig:
    """A joint a backend drives, by name and kind (wheel, drum or arm)."""
    name: str
    kind: str    # wheel | drum | arm


class Backend(ABC):
    """Velocity commands for wheels and drums, position commands for arms.

    Implementations must be thread-safe (commands come from ROS callbacks, faults from
    a receive thread) and must never raise from ``stop_all`` or ``close``.
    """

    def __init__(self, joints: list):
        for j in joints:
            if j.kind not in JOINT_KINDS:
                raise ValueError(f'joint {j.name}: kind must be one of {JOINT_KINDS}, got {j.kind!r}')
        self.joints = {j.name: j for j in joints}
        self._fault_listeners = []
        self._lock = threading.RLock()

    # -- commands ---------------------------------------------------------------------
    def set_wheel_velocities(self, radps: dict):
        self._command_kind('wheel', radps)

    def set_drum_velocities(self, radps: dict):
        self._command_kind('drum', radps)

    def set_arm_positions(self, rad: dict):
        self._command_kind('arm', rad)

    def _command_kind(self, kind: str, values: dict):
        for name, value in values.items():
            joint = self.joints.get(name)
            if joint is None or joint.kind != kind:
                raise KeyError(f'{name!r} is not a {kind} joint of this backend '
                               f'({sorted(n for n, j in self.joints.items() if j.kind == kind)})')
        self._send(values)

    @abstractmethod
    def _send(self, values: dict):
        """Send {joint: setpoint} (rad/s for wheel/drum, rad for arm)."""

    @abstractmethod
    def stop_all(self):
        """Wheels and drums to zero speed, arms hold where they are. Never raises."""

    def disarm_all(self):
        """Every motor to its unpowered idle state (shutdown). Default: stop_all."""
        self.stop_all()

    # -- feedback ---------------------------------------------------------------------
    @abstractmethod
    def feedback(self) -> dict:
        """{joint: MotorFeedback} (copies)."""

    def faults(self) -> dict:
        """{joint or 'bus': reason} for every active fault; empty when healthy."""
        return {}

    def clear_errors(self) -> bool:
        """Ask the hardware to clear its errors and re-arm; True when it did."""
        return True

    def stats(self) -> dict:
        """Counters worth a diagnostic (frames, garbage, ...)."""
        return {}

    def add_fault_listener(self, callback):
        """callback(source: str, reason: str) is called from any thread on a new fault."""
        self._fault_listeners.append(callback)

    def _notify_fault(self, source: str, reason: str):
        for cb in list(self._fault_listeners):
            try:
                cb(source, reason)
            except Exception:  # a listener must not break the receive thread
                pass

    # -- lifecycle --------------------------------------------------------------------
    def start(self):
        """Open connections and arm the motors (lifecycle activate)."""

    def close(self):
        """Release everything (lifecycle cleanup/shutdown). Never raises."""


class CallbackBackend(Backend):
    """A backend whose output is a callable ``publish(joint, value)`` and whose input is
    pushed in with ``update_*``: the sim backend. The node layer passes a publish
    function that writes the contract's Float64 command topic of that joint, and feeds
    /joint_states and /sim/motors in; so this module needs no ROS.
    """

    def __init__(self, joints: list, publish, clock=None):
        super().__init__(joints)
        import time
        self._publish = publish
        self._clock = clock or time.monotonic
        self._feedback = {n: MotorFeedback(n) for n in self.joints}
        self._setpoints = {n: 0.0 for n in self.joints}
        self._arm_hold = {}
        self._faults = {}          # joint or 'bus' -> what the controller reports

    def _send(self, values: dict):
        with self._lock:
            for name, value in values.items():
                self._setpoints[name] = float(value)
                self._publish(name, float(value))

    def stop_all(self):
        with self._lock:
            for name, j in self.joints.items():
                if j.kind == 'arm':
                    pos = self._feedback[name].position_rad
                    value = pos if math.isfinite(pos) else self._setpoints[name]
                else:
                    value = 0.0
                self._setpoints[name] = value
                try:
                    self._publish(name, value)
                except Exception:
                    pass

    def setpoints(self) -> dict:
        with self._lock:
            return dict(self._setpoints)

    def update_joint(self, name: str, position_rad: float, velocity_radps: float, effort_nm: float):
        with self._lock:
            fb = self._feedback.get(name)
            if fb is None:
                return
            fb.position_rad, fb.velocity_radps, fb.torque_nm = position_rad, velocity_radps, effort_nm
            fb.stamp_s = self._clock()
            if fb.state == 'unknown':
                fb.state = 'closed_loop'

    def update_motor(self, name: str, current_a: float = NAN, temperature_c: float = NAN,
                     torque_nm: float = NAN, bus_voltage_v: float = NAN):
        with self._lock:
            fb = self._feedback.get(name)
            if fb is None:
                return
            fb.current_a, fb.temperature_c = current_a, temperature_c
            if math.isfinite(torque_nm):
                fb.torque_nm = torque_nm
            if math.isfinite(bus_voltage_v):
                fb.bus_voltage_v = bus_voltage_v
            fb.stamp_s = self._clock()

    def feedback(self) -> dict:
        with self._lock:
            return {n: replace(f) for n, f in self._feedback.items()}

    def update_fault(self, source: str, reason: str):
        """What the controller of ``source`` (a joint, or 'bus' for all of them) reports:
        '' when healthy. A new fault goes to the fault listeners (the safety layer stops
        everything); a cleared one stays latched there until ``clear_errors``."""
        with self._lock:
            if source != 'bus' and source not in self.joints:
                return
            old = self._faults.get(source, '')
            if reason:
                self._faults[source] = reason
            else:
                self._faults.pop(source, None)
            if source in self._feedback:
                self._feedback[source].state = 'fault' if reason else 'closed_loop'
        if reason and reason != old:
            self._notify_fault(source, reason)

    def faults(self) -> dict:
        with self._lock:
            return dict(self._faults)

    def clear_errors(self) -> bool:
        """True when no controller reports a fault any more (the simulated controllers
        clear by themselves once the fault is gone)."""
        with self._lock:
            return not self._faults


def simulator_backend(simulator, joints: list):
    """A CallbackBackend wired straight to an in-process ``Simulator`` (benchmarks and
    domain tests): commands go to ``simulator.set_command``; call ``pull_feedback``
    after stepping to copy ``joint_state()`` and ``motor_state()`` in."""
    backend = CallbackBackend(joints, simulator.set_command, clock=lambda: simulator.time)

    def pull_feedback():
        for name, (pos, vel, eff) in simulator.joint_state().items():
            backend.update_joint(name, pos, vel, eff)
        try:
            motors = simulator.motor_state()
        except AttributeError:
            motors = {}
        for name, m in motors.items():
            backend.update_motor(name, m.get('current_a', NAN), m.get('temperature_c', NAN),
                                 m.get('torque_nm', NAN))

    backend.pull_feedback = pull_feedback
    return backend



#: ODrive's factory CAN bit rate, bit/s (ODrive documentation, "CAN Protocol":
#: ``can.config.baud_rate`` defaults to 250000): what to suggest when none is configured.
ODRIVE_DEFAULT_BITRATE = 250_000

# errno values of Linux (asm-generic/errno.h) that python-can's socketcan passes on.
_EAFNOSUPPORT, _ENODEV, _ENETDOWN, _EPERM, _EACCES = 97, 19, 100, 1, 13


class BusOpenError(OSError):
    """A CAN bus could not be opened; the message names the interface, the channel and
    the likely fix."""


def can_open_error(interface: str, channel: str, bitrate: int, exc: BaseException) -> str:
    """One line for a CAN bus that failed to open: which interface and channel, the
    error, and the command that most likely fixes it."""
    rate = bitrate or ODRIVE_DEFAULT_BITRATE
    up = f'sudo ip link set {channel} up type can bitrate {rate}'
    errno = getattr(exc, 'errno', None)
    if interface == 'socketcan':
        if errno == _EAFNOSUPPORT:
            fix = (f'this kernel has no SocketCAN loaded: sudo modprobe can_raw (and sudo modprobe gs_usb '
                   f'for a USB adapter such as candleLight/CANable), then {up}')
        elif errno == _ENODEV:
            fix = (f'no network interface {channel!r} (ip link show): plug in the adapter or sudo modprobe '
                   f'gs_usb for a USB one (sudo ip link add dev {channel} type vcan for a virtual bus), '
                   f'then {up}')
        elif errno == _ENETDOWN:
            fix = f'the interface is down: {up}'
        elif errno in (_EPERM, _EACCES):
            fix = f'no permission to use {channel!r}: bring it up as root ({up})'
        else:
            fix = f'check the adapter and its kernel module (sudo modprobe can_raw gs_usb), then {up}'
    elif interface == 'gs_usb':
        fix = ('the python-can gs_usb interface needs pyusb (pip install pyusb) and access to the USB '
               'device (a udev rule or root); or use the kernel driver: sudo modprobe gs_usb, '
               f'can_interface socketcan and {up}')
    elif interface == 'slcan':
        fix = (f'check that the serial device {channel!r} exists and is readable (dialout group) and that '
               'pyserial is installed (pip install pyserial)')
    elif interface in ('pcan', 'kvaser'):
        fix = f'install the vendor driver and library for {interface} and check the adapter is connected'
    else:
        fix = 'check the adapter and the python-can interface name'
    return f'{interface} channel {channel!r}: {exc}: {fix}'


def open_can_bus(interface: str, channel: str, bitrate: int = 0, opener=None):
    """Open a python-can bus; BusOpenError (can_open_error's text) when it cannot be.

    ``opener``: ``can.Bus`` unless given (tests pass one that fails)."""
    if opener is None:
        import can
        opener = can.Bus
    kwargs = {'interface': interface, 'channel': channel}
    if bitrate:
        kwargs['bitrate'] = bitrate
    try:
        return opener(**kwargs)
    except Exception as exc:
        raise BusOpenError(can_open_error(interface, channel, bitrate, exc)) from exc
