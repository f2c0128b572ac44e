"""The one safety layer between every command source and every backend.

Order of checks for a command: active? -> e-stopped? -> faulted? -> finite? -> thermal
derate -> actuator clamp -> backend. Anything that trips (watchdog expiry, e-stop, a
backend fault, a thermal stop, deactivation) commands the safe state at once: wheels
and drums to zero speed, arms hold. Stopping bypasses the acceleration limiter on
purpose: the motor controller's current limit bounds the deceleration, and a rover
that keeps coasting because a ramp says so is the failure this layer exists to prevent.

Thread model: commands arrive from ROS callbacks, faults from a backend's receive
thread, ``tick`` from a timer; one lock serialises them.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from mining_rover.control.limits import ThermalDerate, finite


class Watchdog:
    """Expires ``timeout_s`` after the last ``feed``; a fresh watchdog starts expired, so
    nothing moves until a command arrives."""

    def __init__(self, timeout_s: float, clock=time.monotonic):
        if not (finite(timeout_s) and timeout_s > 0):
            raise ValueError(f'watchdog timeout_s must be > 0, got {timeout_s}')
        self.timeout_s = timeout_s
        self._clock = clock
        self._last = -math.inf

    def feed(self, now: float | None = None):
        self._last = self._clock() if now is None else now

    def expired(self, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        return now - self._last > self.timeout_s

    def reset(self):
        self._last = -math.inf

    @property
    def last_feed(self) -> float:
        return self._last


class EStopLatch:
    """Latched emergency stop: ``engage`` sets it (any number of times), only an
    explicit ``request_clear`` releases it, and not while a ``hold`` (e.g. a physical
    e-stop input that is still pressed) is asserted."""

    def __init__(self):
        self.engaged = False
        self.reason = ''
        self.events = 0
        self._holds = set()

    def engage(self, reason: str) -> bool:
        """Latch; True when this call changed the state."""
        changed = not self.engaged
        self.engaged = True
        if changed:
            self.reason = reason
            self.events += 1
        return changed

    def hold(self, source: str, asserted: bool):
        if asserted:
            self._holds.add(source)
            self.engage(f'{source} asserted')
        else:
            self._holds.discard(source)

    def request_clear(self) -> tuple:
        """(cleared, message)."""
        if self._holds:
            return False, f'e-stop held by {sorted(self._holds)}'
        was = self.engaged
        self.engaged, self.reason = False, ''
        return True, 'e-stop cleared' if was else 'e-stop was not engaged'


@dataclass(frozen=True)
class SafetyStatus:
    """Snapshot of the safety layer: armed, e-stop and why, per-joint faults, watchdog, thermal scaling."""
    active: bool
    estop: bool
    estop_reason: str
    faults: dict
    watchdog_expired: bool
    thermal_scale: dict
    ignored_commands: int
    clamped_commands: int

    @property
    def ok(self) -> bool:
        return self.active and not self.estop and not self.faults and not self.watchdog_expired


class SafetyLayer:
    """Wraps a Backend. ``limits``: {joint: ActuatorLimits}; ``thermal``: ThermalDerate
    template (copied per joint) or None; ``watchdog_timeout_s`` guards velocity joints."""

    def __init__(self, backend, limits: dict, watchdog_timeout_s: float,
                 thermal: ThermalDerate | None = None, clock=time.monotonic, on_event=None):
        missing = set(backend.joints) - set(limits)
        if missing:
            raise ValueError(f'no limits for joints {sorted(missing)}')
        self.backend = backend
        self.limits = limits
        self.clock = clock
        self.watchdog = Watchdog(watchdog_timeout_s, clock)
        self.estop = EStopLatch()
        self.thermal = {n: ThermalDerate(**{k: getattr(thermal, k) for k in
                                            ('derate_start_c', 'stop_c', 'rated_c', 'hysteresis_c')})
                        for n in backend.joints} if thermal else {}
        self.active = False
        self.ignored_commands = 0
        self._faults = {}
        self._stopped = True
        self._watchdog_tripped = False
        self._scale = {n: 1.0 for n in backend.joints}
        self._arm_targets = {}
        self._lock = threading.RLock()
        self._on_event = on_event or (lambda level, text: None)
        backend.add_fault_listener(self._backend_fault)

    # -- state changes ----------------------------------------------------------------
    def activate(self):
        with self._lock:
            self.active = True
            self.watchdog.reset()
            self._watchdog_tripped = True  # nothing moves before the first command
            self._safe_state()

    def deactivate(self, reason: str = 'deactivated'):
        with self._lock:
            self.active = False
            self._safe_state()
            self._on_event('info', f'safe state: {reason}')

    def set_estop(self, engaged: bool) -> tuple:
        """Engage (always succeeds) or request a clear; (ok, message)."""
        with self._lock:
            if engaged:
                if self.estop.engage('requested'):
                    self._on_event('warn', 'e-stop engaged')
                self._safe_state()
                return True, 'e-stop engaged'
            ok, msg = self.estop.request_clear()
            if ok:
                self.watchdog.reset()
                self._watchdog_tripped = True
                self._on_event('info', msg)
            return ok, msg

    def clear_faults(self) -> tuple:
        with self._lock:
            ok = self.backend.clear_errors()
            if ok:
                self._faults.clear()
                self.watchdog.reset()
                self._watchdog_tripped = True
            return ok, 'faults cleared' if ok else f'backend still faulted: {self.backend.faults()}'

    def _backend_fault(self, source: str, reason: str):
        with self._lock:
            if self._faults.get(source) != reason:
                self._faults[source] = reason
                self._on_event('error', f'fault on {source}: {reason}')
            self._safe_state()

    # -- commands ---------------------------------------------------------------------
    def _may_move(self) -> bool:
        return self.active and not self.estop.engaged and not self._faults

    def feed(self):
        """A fresh command arrived from the command source (feeds the watchdog)."""
        with self._lock:
            self.watchdog.feed()
            self._watchdog_tripped = False

    def command_velocities(self, radps: dict, feed: bool = True) -> bool:
        """Wheel/drum speeds (rad/s). False (and nothing sent) when not allowed.

        ``feed=False`` is for a control loop that re-sends a ramped command between
        source messages: it moves only while the source's watchdog is fed."""
        with self._lock:
            if not self._may_move() or (not feed and self.watchdog.expired()):
                self.ignored_commands += 1
                return False
            out = {}
            for name, value in radps.items():
                r = self.limits[name].clamp_velocity(value, self._scale.get(name, 1.0))
                out[name] = r.value
            if feed:
                self.watchdog.feed()
                self._watchdog_tripped = False
            self._stopped = False
            self._dispatch(out)
            return True

    def command_positions(self, rad: dict) -> bool:
        """Arm positions (rad); non-finite entries are dropped, others clamped."""
        with self._lock:
            if not self._may_move():
                self.ignored_commands += 1
                return False
            out = {}
            for name, value in rad.items():
                r = self.limits[name].clamp_position(value)
                if r is not None:
                    out[name] = r.value
            if out:
                self._arm_targets.update(out)
                self._dispatch(out)
            return bool(out)

    def _dispatch(self, values: dict):
        by_kind = {}
        for name, value in values.items():
            by_kind.setdefault(self.backend.joints[name].kind, {})[name] = value
        if 'wheel' in by_kind:
            self.backend.set_wheel_velocities(by_kind['wheel'])
        if 'drum' in by_kind:
            self.backend.set_drum_velocities(by_kind['drum'])
        if 'arm' in by_kind:
            self.backend.set_arm_positions(by_kind['arm'])

    # -- periodic ---------------------------------------------------------------------
    def tick(self) -> SafetyStatus:
        """Check the watchdog, the backend's faults and motor temperatures; command the
        safe state when any trips. Call at the control rate (>= 10 Hz)."""
        with self._lock:
            for source, reason in self.backend.faults().items():
                if self._faults.get(source) != reason:
                    self._backend_fault(source, reason)
            feedback = self.backend.feedback()
            for name, td in self.thermal.items():
                fb = feedback.get(name)
                was_stopped = td.stopped
                self._scale[name] = td.scale(fb.temperature_c if fb else math.nan)
                if td.stopped and not was_stopped:
                    self._on_event('error', f'{name}: thermal stop at {fb.temperature_c:.1f} C '
                                            f'(stop at {td.stop_c:.0f} C)')
            hot = [n for n, s in self._scale.items() if s <= 0.0]
            expired = self.watchdog.expired()
            if expired and not self._watchdog_tripped:
                self._watchdog_tripped = True
                self._on_event('warn',
                               f'command watchdog expired ({self.watchdog.timeout_s:.2f} s): stopping')
            if not self._may_move() or expired:
                self._safe_state()
            elif hot:
                joints = self.backend.joints
                self.backend.set_wheel_velocities({n: 0.0 for n in hot if joints[n].kind == 'wheel'})
                self.backend.set_drum_velocities({n: 0.0 for n in hot if joints[n].kind == 'drum'})
            return self.status()

    def _safe_state(self):
        self.backend.stop_all()
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    def thermal_scale(self, joint: str) -> float:
        return self._scale.get(joint, 1.0)

    def status(self) -> SafetyStatus:
        with self._lock:
            return SafetyStatus(
                active=self.active, estop=self.estop.engaged, estop_reason=self.estop.reason,
                faults=dict(self._faults), watchdog_expired=self.watchdog.expired(),
                thermal_scale=dict(self._scale), ignored_commands=self.ignored_commands,
                clamped_commands=sum(lim.clamp_count for lim in self.limits.values()))

    def shutdown(self):
        """Safe state, then disarm and close the backend. Never raises."""
        with self._lock:
            self.active = False
            try:
                self.backend.stop_all()
                self.backend.disarm_all()
            finally:
                self.backend.close()
