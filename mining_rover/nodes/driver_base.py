"""The lifecycle and e-stop wiring both driver nodes share (drive_node, excavator_node).

A subclass calls ``_configure_safety(limits)`` in on_configure (backend, SafetyLayer, the
e-stop topic and services), keeps what else it creates in ``self._timers``/``_subs``/
``_srvs``, and supplies ``_make_backend()``, ``self.cfg`` (backend, cmd_timeout_s and the
thermal_* parameters) and two hooks:
``_reset_motion()`` (limiters/models back to rest, on activate and deactivate) and
``_on_estop_engaged()`` (drop the current targets when an e-stop request arrives).
"""
from __future__ import annotations

from rclpy.lifecycle import Node, TransitionCallbackReturn
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from mining_rover.control.limits import ThermalDerate
from mining_rover.drivers.safety import SafetyLayer
from mining_rover.ros import qos


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
    #: logged when activation succeeds
    armed_message = 'active'

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self.backend = None
        self.safety = None
        self._estop_state = None
        self._estop_pub = self.create_publisher(Bool, 'estop', qos.LATCHED)
        self._subs, self._timers, self._srvs = [], [], []
        self._shut = False

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
                                  on_event=event_logger(self))
        self._subs.append(self.create_subscription(Bool, 'estop/cmd', self._on_estop_cmd, qos.COMMAND))
        self._srvs.append(self.create_service(SetBool, '~/set_estop', self._on_set_estop))
        self._srvs.append(self.create_service(Trigger, '~/clear_faults', self._on_clear_faults))
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
        response.success, response.message = self.safety.clear_faults()
        return response

    def _publish_estop(self):
        engaged = bool(self.safety and self.safety.estop.engaged)
        if engaged != self._estop_state:
            self._estop_state = engaged
            self._estop_pub.publish(Bool(data=engaged))
