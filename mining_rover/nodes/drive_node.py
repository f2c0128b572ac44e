"""drive_node: /cmd_vel -> wheel commands through the safety layer; /odom, slip, diagnostics.

Lifecycle node (configure: backend and safety layer; activate: arm the motors; deactivate:
safe state; cleanup: release the backend). With ``autostart`` (default) it configures
and activates itself, so it runs without a lifecycle manager.

Backends: ``sim`` writes the sim contract's per-wheel Float64 command topics and reads
/joint_states and /sim/motors; ``odrive_can`` drives ODrives over CAN and publishes the
wheel joint states itself. Safety: commands are limited (speed, acceleration, jerk),
guarded by a watchdog (``cmd_timeout_s``), a latched e-stop (``~/set_estop``, /estop/cmd)
and the backend's faults; on deactivate, e-stop, watchdog expiry, fault and shutdown
every wheel is commanded to zero. /estop/cmd only latches (true); clearing needs the
explicit ``~/set_estop`` false request. Where the site needs it (``holddown_n`` > 0, a
rubble pile: control/holddown.py) the node also commands the hold-down thrust on the sim
contract's holddown topic while active and not e-stopped, and zero otherwise.

Odometry (/odom, odom -> base_link): wheels + IMU (control/odometry.py) at the control
rate, corrected over each camera interval by the stereo visual odometry on
``visual_odometry_topic`` (stereo_node; control/visual_fusion.py) when
``use_visual_odometry`` is set: the wheels cannot see the rover slide, the camera can.
Without visual frames (none published, tracking lost) it is wheels + IMU alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64

from mining_rover.contract import load_contract
from mining_rover.control.holddown import tipped
from mining_rover.control.kinematics import SkidSteer
from mining_rover.control.limits import (ActuatorLimits, ControlTicker, MotionLimiter, TwistLimiter,
                                         finite, finite_mean)
from mining_rover.control.odometry import (SlipDetector, TurnPivot, WheelImuOdometry, drum_loads_kg,
                                           stowed_drum_x_m)
from mining_rover.control.visual_fusion import VisualOdometryFusion, planar_increment
from mining_rover.drivers.backend import CallbackBackend, JointConfig
from mining_rover.drivers.odrive_can import AxisConfig, OdriveCanBackend, bus_factory
from mining_rover.nodes.driver_base import (DriverConfig, DriverNode, directions_check, driver_params,
                                            feed_sim_motors, motor_diagnostics, node_ids_check,
                                            optional_tf, rover_config, send_tf, vel_gains)
from mining_rover.ros import qos
from mining_rover.ros.conversions import matrix_to_odometry
from mining_rover.ros.geometry import imu_roll_pitch, odometry_to_matrix
from mining_rover.ros.params import Param, ParameterError
from mining_rover.ros.runtime import node_main
from mining_rover.ros.stamps import stamp_to_seconds

#: The executive's travel arm position (config/mission.yaml ``arm_stow_rad``; the stack
#: gives the drivers the same key): only the default when no file sets it.
ARM_STOW_RAD = -0.4


def _params(rover: dict) -> list:
    w, arm = rover['wheel'], rover['arm']
    return [
        *driver_params(),
        Param('cmd_timeout_s', 0.5, 'stop the wheels when /cmd_vel is older than this (node clock), s',
              0.05, 5.0),
        Param('max_linear_mps', 1.0, 'forward/backward speed limit, m/s (changes at run time)', 0.01, 5.0,
              runtime=True),
        Param('max_angular_radps', 1.5, 'yaw rate limit, rad/s (changes at run time)', 0.01, 10.0,
              runtime=True),
        Param('max_linear_accel', 0.5, 'linear acceleration limit, m/s^2 (lowered to the traction '
              'bound mu g by the site on small bodies: mining_rover/site.py)', 1e-5, 20.0),
        Param('max_angular_accel', 2.0, 'yaw acceleration limit, rad/s^2 (lowered by the site on small '
              'bodies)', 1e-5, 50.0),
        Param('max_linear_jerk', 0.0, 'linear jerk limit, m/s^3 (0 = none)', 0.0, 500.0),
        Param('max_angular_jerk', 0.0, 'yaw jerk limit, rad/s^3 (0 = none)', 0.0, 500.0),
        Param('max_wheel_radps', float(w['max_velocity']),
              'wheel speed limit, rad/s (rover.yaml)', 0.1, 100.0),
        Param('track_width_m', float(w['track_width']),
              'left-right wheel distance, m (rover.yaml)', 0.1, 5.0),
        Param('wheel_radius_m', float(w['radius']), 'wheel radius, m (rover.yaml)', 0.01, 2.0),
        Param('slip_factor', 1.0, 'effective track width / track width (skid-steer ICR), >= 1', 1.0, 5.0),
        Param('imu_weight', 0.98, 'weight of the gyro yaw rate against the wheels in odometry', 0.0, 1.0),
        Param('turn_pivot_gain', TurnPivot.gain, 'turning in place, the pivot lies this many times the '
              "drum loads' centre-of-mass offset from the centre (0: always the centre; "
              'control/odometry.py TurnPivot)', 0.0, 10.0),
        Param('turn_pivot_max_m', TurnPivot.max_m, 'farthest the pivot moves from the centre, m', 0.0, 2.0),
        Param('rover_mass_kg', TurnPivot.rover_mass_kg,
              'rover mass without regolith, kg (rover.yaml)', 1.0, 1e4),
        Param('arm_pivot_x_m', float(arm['pivot_x']), 'arm pivot ahead/behind base_link, m (rover.yaml)',
              0.0, 10.0),
        Param('arm_length_m', float(arm['length']), 'arm pivot to drum axis, m (rover.yaml)', 0.01, 5.0),
        Param('arm_stow_rad', ARM_STOW_RAD, 'arm position while driving, rad (+ lowers; the same key as '
              "config/mission.yaml's): with the arm geometry it places the drum loads for the turning pivot",
              -3.2, 3.2),
        Param('use_visual_odometry', True, 'correct the wheel/IMU odometry with the stereo visual '
              'odometry on visual_odometry_topic (control/visual_fusion.py); false: wheels and IMU only'),
        Param('visual_odometry_topic', 'stereo/odometry', 'nav_msgs/Odometry of the stereo visual odometry'),
        Param('vo_translation_weight', 1.0, 'share of the visual translation in each camera interval '
              '(1: vision only, 0: wheels only)', 0.0, 1.0),
        Param('vo_yaw_weight', 0.5, 'share of the visual heading change in each camera interval '
              '(the rest is the gyro-fused wheel heading)', 0.0, 1.0),
        Param('vo_max_gap_s', 2.0, 'camera intervals longer than this take the wheel increment, s',
              0.05, 60.0),
        Param('vo_max_yaw_disagreement_rad', 0.1, 'a visual heading change this far from the gyro-fused '
              "wheel one in a camera interval is the camera's error: the wheels bridge it, rad", 1e-3, 3.14),
        Param('vo_max_translation_disagreement_m', 0.25, 'a visual translation this far from the wheel '
              "one in a camera interval is the camera's error: the wheels bridge it, m", 1e-3, 100.0),
        Param('holddown_n', 0.0, 'hold-down thrust commanded on the sim contract holddown topic while '
              'the drive is active and not e-stopped, N (from the site, control/holddown.py; 0 = none)',
              0.0, 1000.0),
        Param('holddown_max_tilt_rad', 1.57, 'hold-down thrust off while the IMU tilt exceeds this (a tipped '
              'rover would be pushed off the ground), rad', 0.1, 3.14),
        Param('slip_threshold', 0.3, 'slip ratio above which /wheel_slip reports slipping', 0.01, 1.0),
        Param('odom_frame', 'odom', 'odometry frame (REP-105)'),
        Param('initial_x_m', 0.0, 'odometry starts here: x of the landing/start pose in the site frame, m',
              -1e6, 1e6),
        Param('initial_y_m', 0.0, 'odometry starts here: y of the landing/start pose in the site frame, m',
              -1e6, 1e6),
        Param('initial_yaw_rad', 0.0, 'odometry starts here: heading of the start pose, rad',
              -math.pi, math.pi),
        Param('base_frame', 'base_link', 'robot body frame (REP-105)'),
        Param('publish_tf', True, 'broadcast odom -> base_link where tf2_ros exists'),
        Param('wheel_node_ids', [0, 1, 2, 3], 'ODrive node id per wheel, in sim-contract wheel order',
              check=node_ids_check(4)),
        Param('wheel_directions', [1, -1, 1, -1], 'motor direction per wheel (+1/-1), contract order',
              check=directions_check(4)),
        Param('wheel_gear_ratio', 1.0, 'motor turns per wheel turn', 0.01, 1000.0),
        Param('wheel_current_limit_a', 20.0, 'ODrive current limit per wheel motor, A', 0.1, 200.0),
        Param('wheel_vel_gain', 0.0, 'ODrive vel_gain sent at start (Set_Vel_Gains), N m/(rev/s) at the '
              'motor; 0 = keep the gains saved in the controller', 0.0, 100.0),
        Param('wheel_vel_integrator_gain', 0.0, 'ODrive vel_integrator_gain sent with wheel_vel_gain, '
              'N m/rev at the motor', 0.0, 1000.0),
    ]


@dataclass(frozen=True)
class DriveConfig(DriverConfig):
    """drive_node's parameters (see ``_params`` for units and meaning) and ``drum_x_m``,
    the stowed drum's distance from base_link derived from the arm geometry."""
    max_linear_mps: float
    max_angular_radps: float
    max_linear_accel: float
    max_angular_accel: float
    max_linear_jerk: float
    max_angular_jerk: float
    max_wheel_radps: float
    track_width_m: float
    wheel_radius_m: float
    slip_factor: float
    imu_weight: float
    turn_pivot_gain: float
    turn_pivot_max_m: float
    rover_mass_kg: float
    arm_pivot_x_m: float
    arm_length_m: float
    arm_stow_rad: float
    use_visual_odometry: bool
    visual_odometry_topic: str
    vo_translation_weight: float
    vo_yaw_weight: float
    vo_max_gap_s: float
    vo_max_yaw_disagreement_rad: float
    vo_max_translation_disagreement_m: float
    holddown_n: float
    holddown_max_tilt_rad: float
    slip_threshold: float
    odom_frame: str
    initial_x_m: float
    initial_y_m: float
    initial_yaw_rad: float
    base_frame: str
    publish_tf: bool
    wheel_node_ids: list
    wheel_directions: list
    wheel_gear_ratio: float
    wheel_current_limit_a: float
    wheel_vel_gain: float
    wheel_vel_integrator_gain: float
    drum_x_m: float

    def check(self):
        super().check()
        if self.max_linear_mps / self.wheel_radius_m > 10 * self.max_wheel_radps:
            raise ParameterError("parameter 'max_linear_mps' is far beyond what max_wheel_radps allows")


class DriveNode(DriverNode):
    """Lifecycle node that turns /cmd_vel into limited wheel speeds and publishes wheel+IMU odometry."""
    armed_message = 'active: wheels armed, waiting for /cmd_vel'

    def __init__(self, **kwargs):
        super().__init__('drive_node', _params(rover_config()), DriveConfig, **kwargs)
        self.contract = load_contract()
        self.wheels = [j.name for j in self.contract.joints_of('wheel')]
        self.left = [n for n in self.wheels if 'left' in n]
        self.right = [n for n in self.wheels if 'right' in n]
        self._target = (0.0, 0.0)
        self._commanded_wheels = (0.0, 0.0)   # left, right wheel speeds last commanded, rad/s
        self._imu_yaw_rate = None
        self._imu_tilt = (None, None)   # (roll, pitch) rad; None: the IMU gives no attitude
        self._drum_kg = (0.0, 0.0)      # (front, rear) regolith in the drums (excavator/state)
        self._last_js_stamp = None
        self.rejected_commands = 0
        self._odom_pub = self.create_publisher(Odometry, 'odom', qos.STATE)
        self._holddown_pub = self.create_publisher(Float64, self.contract.holddown_topic, qos.COMMAND)
        self._holddown_on = None   # last commanded state, for the log
        self._slip_pub = self.create_publisher(DiagnosticStatus, 'wheel_slip', qos.STATE)
        self._diag_pub = self.create_publisher(DiagnosticArray, 'diagnostics', qos.STATE)
        self._js_pub = None
        self._tf = None
        if self.cfg.autostart:
            self._autostart()

    def _derived(self, values: dict) -> dict:
        return {'drum_x_m': stowed_drum_x_m(values['arm_pivot_x_m'], values['arm_length_m'],
                                            values['arm_stow_rad'])}

    # -- lifecycle --------------------------------------------------------------------
    def on_configure(self, state) -> TransitionCallbackReturn:
        if not self._read_config():
            return TransitionCallbackReturn.FAILURE
        c = self.cfg
        if not self._configure_safety({n: ActuatorLimits(n, c.max_wheel_radps) for n in self.wheels}):
            return TransitionCallbackReturn.FAILURE
        self.kinematics = SkidSteer(c.track_width_m, c.wheel_radius_m, c.slip_factor)
        self.limiter = TwistLimiter(MotionLimiter(c.max_linear_mps, c.max_linear_accel, c.max_linear_jerk),
                                    MotionLimiter(c.max_angular_radps, c.max_angular_accel,
                                                  c.max_angular_jerk))
        self.ticker = ControlTicker(c.control_rate_hz)
        self.odometry = WheelImuOdometry(self.kinematics, c.imu_weight)
        self.pivot = TurnPivot(c.rover_mass_kg, c.drum_x_m, c.turn_pivot_gain, c.turn_pivot_max_m)
        # Without global localisation the odom frame is the site frame: it starts at the
        # surveyed start pose, so the zones the executive and planner use line up with it.
        self.odometry.reset(c.initial_x_m, c.initial_y_m, c.initial_yaw_rad)
        self.fusion = VisualOdometryFusion(c.vo_translation_weight, c.vo_yaw_weight, c.vo_max_gap_s,
                                           max_yaw_disagreement_rad=c.vo_max_yaw_disagreement_rad,
                                           max_translation_disagreement_m=c.vo_max_translation_disagreement_m)
        self._last_vo = None            # (stamp s, 4x4 pose) of the previous visual frame
        self._last_js_stamp = None
        if c.use_visual_odometry:
            self._subs.append(self.create_subscription(Odometry, c.visual_odometry_topic,
                                                       self._on_visual_odometry, qos.STATE))
        self.slip = SlipDetector(self.kinematics, threshold=c.slip_threshold)
        self._subs.append(self.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, qos.COMMAND))
        self._subs.append(self.create_subscription(Imu, self.contract.imu_topic, self._on_imu, qos.SENSOR))
        self._subs.append(self.create_subscription(DiagnosticStatus, 'excavator/state', self._on_excavator,
                                                   qos.STATE))
        # A timer on the node clock: under use_sim_time it ticks in sim time.
        self._timers.append(self.create_timer(1.0 / c.control_rate_hz, self._tick))
        self._tf = optional_tf(self) if c.publish_tf else None
        self._publish_estop()
        self.get_logger().info(f'configured: backend {c.backend}, {len(self.wheels)} wheels, '
                               f'cmd timeout {c.cmd_timeout_s} s')
        return TransitionCallbackReturn.SUCCESS

    def _apply_runtime(self, changes: dict):
        """Speed limits change at once: the command clamp and the limiter's maxima."""
        super()._apply_runtime(changes)
        if self.safety is not None:
            self.limiter.linear.max_value = self.cfg.max_linear_mps
            self.limiter.angular.max_value = self.cfg.max_angular_radps

    def _reset_motion(self):
        self.limiter.reset()

    def _on_estop_engaged(self):
        self._target = (0.0, 0.0)
        self.limiter.reset()

    # -- backend ----------------------------------------------------------------------
    def _make_backend(self):
        c = self.cfg
        if c.backend == 'sim':
            pubs = {n: self.create_publisher(Float64, self.contract.joint(n).topic, qos.COMMAND)
                    for n in self.wheels}
            self._pubs.extend(pubs.values())
            backend = CallbackBackend([JointConfig(n, 'wheel') for n in self.wheels],
                                      lambda joint, value: pubs[joint].publish(Float64(data=value)),
                                      clock=self.now_s)
            self._subs.append(self.create_subscription(JointState, self.contract.joint_states_topic,
                                                       self._on_joint_states, qos.STATE))
            self._subs.append(self.create_subscription(DiagnosticArray, self.contract.motors_topic,
                                                       lambda m: feed_sim_motors(backend, m),
                                                       qos.STATE))
            return backend
        gains = vel_gains(c.wheel_vel_gain, c.wheel_vel_integrator_gain)
        axes = [AxisConfig(n, 'wheel', node_id, c.wheel_gear_ratio, direction, c.max_wheel_radps,
                           c.wheel_current_limit_a, **gains)
                for n, node_id, direction in zip(self.wheels, c.wheel_node_ids, c.wheel_directions)]
        if self._js_pub is None:
            self._js_pub = self.create_publisher(JointState, self.contract.joint_states_topic, qos.STATE)
        # The backend's heartbeat and bus timeouts stay on its own monotonic clock: they
        # watch real hardware on a real bus, where sim time means nothing.
        return OdriveCanBackend(axes, bus_factory(c.can_interface, c.can_channel, c.can_bitrate),
                                heartbeat_timeout_s=c.heartbeat_timeout_s)

    # -- inputs -----------------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist):
        v, w = msg.linear.x, msg.angular.z
        if not finite(v, w, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y):
            self.rejected_commands += 1
            self.get_logger().warning(f'rejected non-finite /cmd_vel (v={v}, w={w})',
                                      throttle_duration_sec=2.0)
            return
        if self.safety is None or not self.safety.status().active or self.safety.estop.engaged:
            self.safety and self.safety.command_velocities({})  # counts the ignored command
            return
        self._target = (max(-self.cfg.max_linear_mps, min(self.cfg.max_linear_mps, v)),
                        max(-self.cfg.max_angular_radps, min(self.cfg.max_angular_radps, w)))
        self.safety.feed()

    def _on_imu(self, msg: Imu):
        self._imu_yaw_rate = msg.angular_velocity.z
        self._imu_tilt = imu_roll_pitch(msg)

    def _on_excavator(self, msg: DiagnosticStatus):
        """Per-drum fill (keys fill_kg.<drum joint>): where the load sits moves the point
        the rover turns about. Missing or bad values count as empty drums."""
        front, rear, rejected = drum_loads_kg({kv.key: kv.value for kv in msg.values})
        if rejected:
            self.get_logger().warning(f'excavator/state {rejected} is no mass: drum counted empty',
                                      throttle_duration_sec=5.0)
        self._drum_kg = (front, rear)

    def _on_joint_states(self, msg: JointState):
        for i, name in enumerate(msg.name):
            if name in self.backend.joints:
                pos = msg.position[i] if i < len(msg.position) else math.nan
                vel = msg.velocity[i] if i < len(msg.velocity) else math.nan
                eff = msg.effort[i] if i < len(msg.effort) else math.nan
                self.backend.update_joint(name, pos, vel, eff)
        stamp = stamp_to_seconds(msg.header.stamp)
        if self._last_js_stamp is not None and stamp > self._last_js_stamp:
            self._integrate(stamp - self._last_js_stamp, stamp)
        self._last_js_stamp = stamp

    def _on_visual_odometry(self, msg: Odometry):
        """One stereo frame's pose in the visual odometry's own frame; the increment since
        the previous frame corrects the odometry over that interval. pose.covariance[0]
        < 0 marks a frame that measured no motion (tracking lost): that interval is
        bridged by the wheels."""
        child = msg.child_frame_id or self.cfg.base_frame
        if child != self.cfg.base_frame:
            self.get_logger().error(f'{self.cfg.visual_odometry_topic}: child_frame_id {child!r} is not '
                                    f'{self.cfg.base_frame!r}: ignored', throttle_duration_sec=10.0)
            return
        t1 = stamp_to_seconds(msg.header.stamp)
        T = odometry_to_matrix(msg)
        if not (finite(t1) and finite(*T.ravel())):
            self.get_logger().error(f'{self.cfg.visual_odometry_topic}: non-finite pose or stamp: ignored',
                                    throttle_duration_sec=10.0)
            return
        measured = math.isfinite(msg.pose.covariance[0]) and msg.pose.covariance[0] >= 0.0
        prev, self._last_vo = self._last_vo, (t1, T)
        if prev is None:
            used = self.fusion.add_visual(t1, t1, None)
        else:
            used = self.fusion.add_visual(prev[0], t1, planar_increment(prev[1], T) if measured else None)
        if used.startswith(('ignored', 'rejected')):
            self.get_logger().warning(f'visual odometry frame at {t1:.2f} s {used} '
                                      f'({self.fusion.rejected_intervals} rejected so far)',
                                      throttle_duration_sec=10.0)
        elif self.fusion.visual_intervals == 1 and used == 'visual':
            self.get_logger().info(f'visual odometry in use ({self.cfg.visual_odometry_topic})')

    # -- control loop -----------------------------------------------------------------
    def _tick(self):
        dt = self.ticker.step(self.now_s())
        status = self.safety.tick()
        if status.active and not status.estop and not status.faults and not status.watchdog_expired:
            v, w = self.limiter.step(*self._target, dt)
            left, right = self.kinematics.twist_to_wheels(v, w)
            left, right = self.kinematics.scale_to_wheel_limit(left, right, self.cfg.max_wheel_radps)
            cmd = {n: left for n in self.left}
            cmd.update({n: right for n in self.right})
            self.safety.command_velocities(cmd, feed=False)
            self._commanded_wheels = (left, right)
        else:
            self._target = (0.0, 0.0)
            self._commanded_wheels = (0.0, 0.0)
            self.limiter.reset()
        self._command_holddown(status.active and not status.estop and not self._tipped())
        if self.cfg.backend != 'sim':
            self._integrate(dt, self.now_s())
            self._publish_joint_states()
        self._publish_odom()
        if self.ticker.due(10.0):
            self._publish_slip(dt * self.cfg.ticks_per(10.0))
        if self.ticker.due(self.cfg.diagnostics_rate_hz):
            self._diag_pub.publish(motor_diagnostics(self, self.backend, self.safety))
        self._publish_estop()

    def _tipped(self) -> bool:
        return tipped(*self._imu_tilt, self.cfg.holddown_max_tilt_rad)

    def _command_holddown(self, on: bool):
        """Hold-down thrust while the drive is active and not e-stopped (the wheels may
        move or the drums cut at any moment), zero otherwise; republished every tick, as
        the simulator drops a thrust command that goes stale."""
        if self.cfg.holddown_n <= 0.0:
            return
        self._holddown_pub.publish(Float64(data=self.cfg.holddown_n if on else 0.0))
        if on != self._holddown_on:
            self._holddown_on = on
            self.get_logger().info(f'hold-down thrust {self.cfg.holddown_n:g} N on' if on
                                   else 'hold-down thrust off' + (' (tipped over)' if self._tipped() else ''))

    def shutdown(self):
        """Thrust off, then every wheel to zero (DriverNode.shutdown)."""
        if not self._shut:
            self._command_holddown(False)
        super().shutdown()

    def _side_speeds(self):
        fb = self.backend.feedback()
        left = [fb[n].velocity_radps for n in self.left]
        right = [fb[n].velocity_radps for n in self.right]
        return left, right

    def _integrate(self, dt: float, stamp_s: float):
        left, right = (finite_mean(side) for side in self._side_speeds())
        if finite(left, right):
            self.odometry.update(dt, left, right, self._imu_yaw_rate,
                                 self._imu_tilt[1], commanded_radps=self._commanded_wheels,
                                 roll_rad=self._imu_tilt[0], pivot_x_m=self.pivot.pivot_x_m(*self._drum_kg))
            s = self.odometry.state
            self.fusion.add_wheel(stamp_s, (s.x_m, s.y_m, s.yaw_rad))

    def _publish_odom(self):
        s = self.odometry.state
        x, y, yaw = self.fusion.fused((s.x_m, s.y_m, s.yaw_rad))
        s = replace(s, x_m=x, y_m=y, yaw_rad=yaw)
        stamp = self.get_clock().now().to_msg()
        msg = matrix_to_odometry(s.matrix(), self.cfg.odom_frame, self.cfg.base_frame, stamp,
                                 twist=(s.linear_mps, 0.0, 0.0, 0.0, 0.0, s.angular_radps),
                                 pose_covariance=s.pose_covariance_6x6(),
                                 twist_covariance=self.odometry.twist_covariance_6x6())
        self._odom_pub.publish(msg)
        if self._tf is not None:
            send_tf(self._tf, s.matrix(), self.cfg.odom_frame, self.cfg.base_frame, stamp)

    def _publish_slip(self, dt: float):
        left, right = self._side_speeds()
        report = self.slip.update(dt, left, right, self._imu_yaw_rate)
        self._slip_pub.publish(DiagnosticStatus(
            level=DiagnosticStatus.WARN if report.slipping else DiagnosticStatus.OK,
            name='wheel_slip', hardware_id='drive',
            message=f'slip {report.slip_ratio:.2f} ({report.source})',
            values=[KeyValue(key='slip_ratio', value=f'{report.slip_ratio:.4f}'),
                    KeyValue(key='slipping', value='1' if report.slipping else '0'),
                    KeyValue(key='source', value=report.source)]))

    def _publish_joint_states(self):
        fb = self.backend.feedback()
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(self.wheels)
        msg.position = [fb[n].position_rad for n in self.wheels]
        msg.velocity = [fb[n].velocity_radps for n in self.wheels]
        msg.effort = [fb[n].torque_nm for n in self.wheels]
        self._js_pub.publish(msg)


def main(args=None):
    """Run the drive node until shut down."""
    node_main(DriveNode, args)


if __name__ == '__main__':
    main()
