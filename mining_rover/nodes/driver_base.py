"""The lifecycle, parameter and e-stop wiring both driver nodes share (drive_node,
excavator_node), and the message helpers they both use.

A subclass passes its parameter list and its frozen config dataclass (a subclass of
``DriverConfig``) to ``DriverNode.__init__``, which declares the parameters (refusing
to start on a bad one) and registers the validating set-callback. ``on_configure``
re-reads every parameter into a fresh config (``_read_config``), so a change made while
the node is unconfigured (after cleanup) takes effect at the next configure; a
parameter marked ``runtime`` changes at once through ``_apply_runtime``. The subclass
calls ``_configure_safety(limits)`` in on_configure (backend, SafetyLayer, the e-stop
topic and services), keeps what else it creates in ``self._timers``/``_subs``/``_srvs``/``_pubs``,
and supplies ``_make_backend()`` and two hooks: ``_reset_motion()`` (limiters/models
back to rest, on activate and deactivate) and ``_on_estop_engaged()`` (drop the current
targets when an e-stop request arrives).

Time: the safety layer's watchdog, the backend's feedback stamps and the control loop's
dt all run on the node's clock, so under ``use_sim_time`` a command stream paced in sim
time never trips the watchdog, whatever the real-time factor.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import Node, TransitionCallbackReturn
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from mining_rover.control.limits import ThermalDerate
from mining_rover.drivers.safety import SafetyLayer
from mining_rover.ros import qos
from mining_rover.ros.params import (Param, ParameterError, config_from, declare_and_read,
                                     make_set_callback, read)


def rover_config() -> dict:
    """config/rover.yaml: the defaults of the geometry and rating parameters."""
    from mining_rover.paths import rover_config as load
    return load()


def driver_params() -> list:
    """The parameters both driver nodes declare (DriverConfig's fields but cmd_timeout_s,
    whose default differs per node)."""
    return [
        Param('autostart', True, 'configure and activate at start (no lifecycle manager needed)',
              read_only=True),
        Param('backend', 'sim', 'actuator backend', choices=('sim', 'odrive_can')),
        Param('control_rate_hz', 50.0, 'safety and control loop rate, Hz (node clock)', 5.0, 500.0),
        Param('diagnostics_rate_hz', 2.0, '/diagnostics rate, Hz', 0.1, 50.0),
        Param('thermal_derate_start_c', 100.0, 'motor temperature where derating starts, C', 0.0, 300.0),
        Param('thermal_stop_c', 130.0, 'motor temperature where the motor stops, C', 0.0, 300.0),
        Param('thermal_rated_c', 155.0, 'rated winding temperature (class F: 155 C), C', 0.0, 300.0),
        Param('can_interface', 'socketcan', 'python-can interface (odrive_can backend)',
              choices=('socketcan', 'virtual', 'slcan', 'pcan', 'kvaser', 'gs_usb')),
        Param('can_channel', 'can0', 'CAN channel (odrive_can backend)'),
        Param('can_bitrate', 0, 'CAN bit rate, bit/s (0 = as the interface is set up)', 0, 1000000),
        Param('heartbeat_timeout_s', 0.25, 'ODrive heartbeat age that faults an axis, s', 0.02, 5.0),
    ]


@dataclass(frozen=True)
class DriverConfig:
    """What both driver nodes read from their parameters (driver_params + cmd_timeout_s)."""
    autostart: bool
    backend: str
    control_rate_hz: float
    diagnostics_rate_hz: float
    thermal_derate_start_c: float
    thermal_stop_c: float
    thermal_rated_c: float
    can_interface: str
    can_channel: str
    can_bitrate: int
    heartbeat_timeout_s: float
    cmd_timeout_s: float

    def check(self):
        """Cross-parameter checks; ParameterError naming the parameter."""
        if not self.thermal_derate_start_c < self.thermal_stop_c < self.thermal_rated_c:
            raise ParameterError(
                "parameter 'thermal_stop_c' must lie between thermal_derate_start_c and "
                f'thermal_rated_c (got {self.thermal_derate_start_c} < {self.thermal_stop_c} < '
                f'{self.thermal_rated_c} false): the motor must stop before its rating')

    def ticks_per(self, rate_hz: float) -> int:
        """Control ticks per period of a slower ``rate_hz`` output (at least 1)."""
        return max(1, int(self.control_rate_hz / rate_hz))


def vel_gains(vel_gain: float, vel_integrator_gain: float) -> dict:
    """AxisConfig's Set_Vel_Gains arguments: none where the config leaves vel_gain 0."""
    return ({'vel_gain': vel_gain, 'vel_integrator_gain': vel_integrator_gain}
            if vel_gain > 0.0 else {})


def node_ids_check(count: int):
    """A parameter check accepting ``count`` unique CAN node ids in 0..63; it returns the problem or None."""
    def check(value):
        if len(value) != count or any(not isinstance(v, int) or not 0 <= v <= 63 for v in value):
            return f'needs {count} integers in 0..63, got {list(value)}'
        if len(set(value)) != count:
            return f'node ids must be unique, got {list(value)}'
        return None
    return check


def directions_check(count: int):
    """A parameter check accepting ``count`` motor directions of +1 or -1; it returns the problem or None."""
    def check(value):
        if len(value) != count or any(v not in (1, -1) for v in value):
            return f'needs {count} entries of +1 or -1, got {list(value)}'
        return None
    return check


def optional_tf(node):
    """A TF broadcaster where tf2_ros exists, else None (logged)."""
    try:
        from mining_rover.ros.tf import make_tf_broadcaster, tf_available
    except ImportError:
        return None
    if not tf_available():
        node.get_logger().info('tf2_ros not installed: odom -> base_link not broadcast')
        return None
    return make_tf_broadcaster(node, static=False)


def send_tf(broadcaster, T, parent, child, stamp):
    """Broadcast pose ``T`` (4x4) as the transform parent -> child at ``stamp``."""
    from mining_rover.ros.tf import make_transform_stamped
    broadcaster.send([make_transform_stamped(T, parent, child, stamp)])


def feed_sim_motors(backend, msg):
    """/sim/motors (one status per joint, keys current_a, temperature_c, torque_nm; a
    controller in error, ERROR level, becomes the backend's fault for that joint or the bus)."""
    bus_error = False
    for status in msg.status:
        values = {kv.key: kv.value for kv in status.values}

        def num(key):
            try:
                return float(values[key])
            except (KeyError, ValueError):
                return math.nan
        backend.update_motor(status.name, num('current_a'), num('temperature_c'), num('torque_nm'),
                             num('bus_voltage_v'))
        # a controller in error (ERROR level; key fault_source: the joint or 'bus')
        source = values.get('fault_source', status.name)
        if diagnostic_level(status.level) >= diagnostic_level(DiagnosticStatus.ERROR):
            backend.update_fault(source, status.message or 'error')
            bus_error = bus_error or source == 'bus'
        else:
            backend.update_fault(status.name, '')
    if not bus_error:
        backend.update_fault('bus', '')


def diagnostic_level(level) -> int:
    """DiagnosticStatus.level as an int (the message field is a byte in rclpy)."""
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def motor_diagnostics(node, backend, safety) -> DiagnosticArray:
    """One DiagnosticStatus per motor, keys as docs/INTERFACES.md lists."""
    array = DiagnosticArray()
    array.header.stamp = node.get_clock().now().to_msg()
    status = safety.status()
    for name, fb in backend.feedback().items():
        fault = status.faults.get(name) or status.faults.get('bus', '')
        scale = status.thermal_scale.get(name, 1.0)
        level = DiagnosticStatus.ERROR if fault or scale <= 0 else \
            DiagnosticStatus.WARN if fb.error_flags or scale < 1 or status.estop else DiagnosticStatus.OK
        message = fault or ('thermal stop' if scale <= 0 else f'thermal derate {scale:.2f}' if scale < 1
                            else 'e-stop' if status.estop else fb.state)
        array.status.append(DiagnosticStatus(
            level=level, name=name, hardware_id=node.get_name(), message=message,
            values=[KeyValue(key='velocity_radps', value=f'{fb.velocity_radps:.4f}'),
                    KeyValue(key='current_a', value=f'{fb.current_a:.3f}'),
                    KeyValue(key='temperature_c', value=f'{fb.temperature_c:.2f}'),
                    KeyValue(key='bus_voltage_v', value=f'{fb.bus_voltage_v:.2f}'),
                    KeyValue(key='power_w', value=f'{fb.power_w:.2f}'),
                    KeyValue(key='error_flags', value=str(fb.error_flags)),
                    KeyValue(key='errors', value=','.join(fb.errors)),
                    KeyValue(key='thermal_scale', value=f'{scale:.3f}')]))
    return array


def event_logger(node):
    """SafetyLayer's on_event callback logging through the node."""
    # One call site per severity: rclpy refuses a call site that changes severity.
    def log(level, text):
        logger = node.get_logger()
        if level == 'error':
            logger.error(text)
        elif level == 'warn':
            logger.warning(text)
        else:
            logger.info(text)
    return log


class DriverNode(Node):
    """Lifecycle base of the motor nodes: parameters, backend + safety layer, e-stop and diagnostics."""
    #: logged when activation succeeds
    armed_message = 'active'

    def __init__(self, name: str, params: list, config_cls, **kwargs):
        super().__init__(name, **kwargs)
        self._params = params
        self._config_cls = config_cls
        self.cfg = self._make_config(declare_and_read(self, params, reconfigurable=True))
        self._configured = False
        self.add_on_set_parameters_callback(make_set_callback(
            params, self._apply_runtime, unconfigured=lambda: not self._configured))
        self.backend = None
        self.safety = None
        self._estop_state = None
        self._estop_pub = self.create_publisher(Bool, 'estop', qos.LATCHED)
        self._subs, self._timers, self._srvs, self._pubs = [], [], [], []
        self._shut = False

    # -- configuration ----------------------------------------------------------------
    def _make_config(self, values: dict):
        """The config dataclass from validated parameter values (+ ``_derived``), checked."""
        cfg = config_from(self._config_cls, values, **self._derived(values))
        cfg.check()
        return cfg

    def _derived(self, values: dict) -> dict:
        """Config fields computed from the parameters (none here)."""
        return {}

    def _read_config(self) -> bool:
        """Re-read every parameter into ``self.cfg`` (on_configure); False (logged) when
        a value set while unconfigured is refused by the cross-parameter checks."""
        try:
            self.cfg = self._make_config(read(self, self._params))
        except ParameterError as exc:
            self.get_logger().error(f'configure refused: {exc}')
            return False
        return True

    def _apply_runtime(self, changes: dict):
        """A validated change of ``runtime`` parameters: the new config, applied live."""
        cfg = dataclasses.replace(self.cfg, **changes)
        cfg.check()
        self.cfg = cfg
        self.get_logger().info('parameters changed: ' + ', '.join(f'{k}={v}' for k, v in changes.items()))

    def now_s(self) -> float:
        """The node's clock (sim time under use_sim_time), s."""
        return self.get_clock().now().nanoseconds * 1e-9

    # -- hooks ------------------------------------------------------------------------
    def _reset_motion(self):
        raise NotImplementedError

    def _on_estop_engaged(self):
        raise NotImplementedError

    def _make_backend(self):
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------
    def _configure_safety(self, limits: dict) -> bool:
        """Build the backend and the safety layer over it with ``limits`` (ActuatorLimits
        per joint), and the e-stop command topic and services. False (logged) when the
        backend cannot be built."""
        c = self.cfg
        try:
            self.backend = self._make_backend()
        except (ValueError, OSError) as exc:
            self.get_logger().error(f'cannot build backend {c.backend!r}: {exc}')
            return False
        self.safety = SafetyLayer(self.backend, limits, c.cmd_timeout_s,
                                  thermal=ThermalDerate(c.thermal_derate_start_c, c.thermal_stop_c,
                                                        c.thermal_rated_c),
                                  clock=self.now_s, on_event=event_logger(self))
        self._subs.append(self.create_subscription(Bool, 'estop/cmd', self._on_estop_cmd, qos.COMMAND))
        self._srvs.append(self.create_service(SetBool, '~/set_estop', self._on_set_estop))
        self._srvs.append(self.create_service(Trigger, '~/clear_faults', self._on_clear_faults))
        self._configured = True
        return True

    def _autostart(self):
        """Configure and activate without a lifecycle manager (parameter ``autostart``)."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().error('autostart: configure failed')
        elif self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().error('autostart: activate failed')

    def on_activate(self, state) -> TransitionCallbackReturn:
        problems = self.backend.start() or []
        if problems:
            self.get_logger().error(f'activation refused, motors not ready: {"; ".join(problems)}')
            self.safety.deactivate('activation failed')
            return TransitionCallbackReturn.FAILURE
        self.safety.activate()
        self._reset_motion()
        self.get_logger().info(self.armed_message)
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self.safety.deactivate('lifecycle deactivate')
        self._reset_motion()
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self._release()
        for p in self._pubs:
            self.destroy_publisher(p)
        self._pubs = []
        self.backend = self.safety = None
        self._configured = False
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self.shutdown()
        return TransitionCallbackReturn.SUCCESS

    def shutdown(self):
        """Command every actuator to its safe state and release the backend
        (run_node calls it on Ctrl-C; idempotent)."""
        if self._shut:
            return
        self._shut = True
        if self.safety is not None:
            self.safety.shutdown()
        self._release()

    def _release(self):
        for t in self._timers:
            self.destroy_timer(t)
        for s in self._subs:
            self.destroy_subscription(s)
        for s in self._srvs:
            self.destroy_service(s)
        # Publishers stay until cleanup or destruction: what the safety layer just
        # published through them (the zero on shutdown) must still reach its readers.
        self._timers, self._subs, self._srvs = [], [], []
        if self.backend is not None:
            self.backend.close()

    # -- e-stop -----------------------------------------------------------------------
    def _on_estop_cmd(self, msg: Bool):
        """estop/cmd only latches; clearing needs the explicit ~/set_estop request."""
        if msg.data and self.safety is not None:
            self.safety.set_estop(True)
            self._on_estop_engaged()
            self._publish_estop()

    def _on_set_estop(self, request, response):
        if self.safety is None:
            response.success, response.message = False, 'not configured'
            return response
        response.success, response.message = self.safety.set_estop(request.data)
        self._on_estop_engaged()
        self._publish_estop()
        return response

    def _on_clear_faults(self, request, response):
        if self.safety is None:
            response.success, response.message = False, 'not configured'
            return response
        response.success, response.message = self.safety.clear_faults()
        return response

    def _publish_estop(self):
        engaged = bool(self.safety and self.safety.estop.engaged)
        if engaged != self._estop_state:
            self._estop_state = engaged
            self._estop_pub.publish(Bool(data=engaged))
