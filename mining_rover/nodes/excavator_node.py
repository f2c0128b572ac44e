"""excavator_node: drum speed and arm position commands through the safety layer, fill
estimate and static weigh, stall back-off, the /excavator/dump sequence and /excavator/state.

Lifecycle node like drive_node (autostart by default). Both drums get the same speed
(+ digs for each drum joint in the sim contract, so they counter-rotate); both arms the
same position (+ lowers). Drum speed is watchdog-guarded (``cmd_timeout_s``): a mission
that stops talking stops the drums; the arms hold. On deactivate, e-stop, watchdog
expiry, motor fault and shutdown: drums to zero, arms hold (shutdown: disarm).

Each drum is weighed from its arm's holding torque while both are still and the drum is
raised (mining_rover.control.excavator). The weigh needs the site's gravity
(``gravity_mps2``, passed by launch/stack.launch.py and the mission runner from
mining_rover.site); left at 0 it is off and the fill is the cutting-energy estimate
alone. excavator/state reports ``weighed_fill_kg``, ``weigh_age_s`` (since the stalest
drum's last weigh; inf: not every drum weighed yet, nan: weigh off) and ``weigh_count``
(weighs every drum has had; -1: weigh off), which the executive waits on to count a cut.

Every arm position command is followed as a trapezoidal swing (a jerk-limited
MotionLimiter on the position: speed <= the arm speed, acceleration <= the arm
acceleration), whatever the backend: a step command to a stiff position servo swings the
arms at the servo's pace. In low gravity both limits come down to what keeps the wheels
loaded (control.limits.ArmSwingLimits: on Psyche 0.35 rad/s and 0.12 rad/s^2), and the
dump's raise time grows to the swing it needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from mining_rover.contract import load_contract
from mining_rover.control.excavator import LUNAR_BULK_DENSITY_KG_M3, Excavator, ExcavatorConfig
from mining_rover.control.limits import (ARM_WEIGHT_SHARE, ActuatorLimits, ArmSwingLimits, ControlTicker,
                                         MotionLimiter, clamp, finite, finite_mean)
from mining_rover.drivers.backend import CallbackBackend, JointConfig
from mining_rover.drivers.odrive_can import AxisConfig, OdriveCanBackend, bus_factory
from mining_rover.nodes.driver_base import (DriverConfig, DriverNode, directions_check, driver_params,
                                            feed_sim_motors, motor_diagnostics, node_ids_check, rover_config,
                                            vel_gains)
from mining_rover.paths import rover_mass_kg
from mining_rover.ros import qos
from mining_rover.ros.params import Param, ParameterError
from mining_rover.ros.runtime import node_main
from mining_rover.ros.status_codec import ExcavatorStatus


#: Densest lunar regolith, kg/m^3 (1.3-1.9 g/cm^3: Carrier, Olhoeft & Mendell, Lunar
#: Sourcebook 1991, ch. 9): the default top of a weigh is the drum volume full of it.
DENSEST_REGOLITH_KG_M3 = 1900.0


def _params(rover: dict) -> list:
    d, a = rover['drum'], rover['arm']
    capacity = float(d['capacity_m3']) * LUNAR_BULK_DENSITY_KG_M3
    return [
        *driver_params(),
        Param('cmd_timeout_s', 1.0, 'stop the drums when /excavator/drum_speed is older than this, s',
              0.05, 10.0),
        Param('max_drum_radps', float(d['max_velocity']), 'drum speed limit, rad/s (rover.yaml)', 0.1, 100.0),
        Param('drum_max_torque_nm', float(d['max_effort']),
              'drum torque rating, N m (rover.yaml)', 0.1, 1000.0),
        Param('arm_lower_rad', float(a['lower_limit']), 'arm position limit, raised end, rad', -3.2, 3.2),
        Param('arm_upper_rad', float(a['upper_limit']), 'arm position limit, lowered end, rad', -3.2, 3.2),
        Param('arm_max_radps', float(a['max_velocity']), 'arm speed limit, rad/s', 0.01, 20.0),
        Param('arm_max_radps2', 2.0, 'arm acceleration limit, rad/s^2 (the trapezoidal swing every '
              'arm position command follows; lower on a small body: arm_swing_weight_share)', 0.01, 100.0),
        Param('arm_swing_weight_share', ARM_WEIGHT_SHARE, "share of the rover's weight an arm swing may "
              'put on or take off the wheels (needs gravity_mps2); sets the arm speed and acceleration '
              'in low gravity', 0.01, 1.0),
        Param('rover_mass_kg', rover_mass_kg(rover), 'whole rover, empty, kg (rover.yaml)', 1.0, 10000.0),
        Param('drum_capacity_kg', capacity, 'regolith one drum holds, kg', 0.01, 1000.0),
        Param('free_torque_nm', 1.0, 'torque of a free-spinning drum (friction), N m', 0.0, 100.0),
        Param('specific_cutting_energy_j_per_kg', 500.0, 'cutting energy per kg excavated, J/kg', 1.0, 1e6),
        Param('stall_time_s', 0.5, 'slow + loaded this long = stalled, s', 0.05, 10.0),
        Param('backoff_raise_rad', 0.15, 'arm raise on a stall, rad', 0.0, 1.0),
        Param('backoff_speed_scale', 0.5, 'drum speed fraction during back-off', 0.0, 1.0),
        Param('backoff_time_s', 2.0, 'back-off duration, s', 0.1, 30.0),
        Param('dump_arm_rad', -0.6, 'arm position while dumping, rad', -3.2, 3.2),
        Param('dump_drum_radps', 4.0, 'reverse drum speed while dumping, rad/s', 0.1, 100.0),
        Param('dump_time_s', 4.0, 'reverse-spin time of the dump, s', 0.1, 60.0),
        Param('dump_raise_time_s', 1.5, 'time to raise the arms before reversing, s', 0.0, 30.0),
        # Off (0) unless the site says which body this is: a weigh with another body's
        # gravity reads wrong by their ratio (x6 between the Moon and an Earth arena).
        Param('gravity_mps2', 0.0, 'surface gravity for the static weigh, m/s^2 (from the site; '
              '0 = no weigh)', 0.0, 30.0),
        Param('holddown_n', 0.0, 'hold-down thrust pressing the rover onto the ground, N (from the site, '
              'control/holddown.py): the arm swing limits see gravity + thrust / rover mass', 0.0, 1000.0),
        Param('arm_length_m', float(a['length']), 'arm pivot to drum axis, m (rover.yaml)', 0.01, 5.0),
        Param('arm_mass_kg', float(a['mass']), 'one arm, kg (rover.yaml)', 0.0, 1000.0),
        Param('drum_mass_kg', float(d['mass']), 'one empty drum, kg (rover.yaml)', 0.0, 1000.0),
        Param('weigh_window_s', 0.6, 'arm and drum still, torque steady this long = one weigh, s',
              0.05, 30.0),
        Param('weigh_max_arm_rad', 0.05, 'weigh only with the arm at or above this (+ lowers: drum '
              'off the ground), rad', -3.2, 3.2),
        Param('weigh_max_arm_speed_radps', 0.05, 'arm counts as still below this, rad/s', 0.0, 10.0),
        Param('weigh_max_drum_speed_radps', 0.3, 'drum counts as still below this, rad/s', 0.0, 100.0),
        Param('weigh_steady_nm', 0.1, 'arm torque spread allowed over the weigh window, N m',
              0.0, 100.0),
        Param('weigh_max_kg', float(d['capacity_m3']) * DENSEST_REGOLITH_KG_M3,
              'heaviest weigh reported per drum, kg (drum volume x 1900 kg/m^3)', 0.01, 1e4),
        Param('drum_node_ids', [6, 7], 'ODrive node id per drum (front, rear)', check=node_ids_check(2)),
        Param('arm_node_ids', [4, 5], 'ODrive node id per arm (front, rear)', check=node_ids_check(2)),
        Param('drum_directions', [1, -1], 'motor direction per drum', check=directions_check(2)),
        Param('arm_directions', [1, -1], 'motor direction per arm', check=directions_check(2)),
        Param('drum_gear_ratio', 20.0, 'motor turns per drum turn', 0.01, 1000.0),
        Param('arm_gear_ratio', 100.0, 'motor turns per arm turn', 0.01, 10000.0),
        Param('motor_current_limit_a', 20.0, 'ODrive current limit, A', 0.1, 200.0),
        Param('drum_vel_gain', 0.0, 'ODrive vel_gain sent at start (Set_Vel_Gains), N m/(rev/s) at the '
              'motor; 0 = keep the gains saved in the controller', 0.0, 100.0),
        Param('drum_vel_integrator_gain', 0.0, 'ODrive vel_integrator_gain sent with drum_vel_gain, '
              'N m/rev at the motor', 0.0, 1000.0),
        Param('arm_trajectory', False, "arms swing on the ODrive's trapezoidal planner (TRAP_TRAJ) "
              'within arm_max_radps and arm_max_radps2 (Set_Traj_Vel_Limit, Set_Traj_Accel_Limits)'),
    ]


@dataclass(frozen=True)
class ExcavatorNodeConfig(DriverConfig):
    """excavator_node's parameters (see ``_params`` for units and meaning)."""
    max_drum_radps: float
    drum_max_torque_nm: float
    arm_lower_rad: float
    arm_upper_rad: float
    arm_max_radps: float
    arm_max_radps2: float
    arm_swing_weight_share: float
    rover_mass_kg: float
    drum_capacity_kg: float
    free_torque_nm: float
    specific_cutting_energy_j_per_kg: float
    stall_time_s: float
    backoff_raise_rad: float
    backoff_speed_scale: float
    backoff_time_s: float
    dump_arm_rad: float
    dump_drum_radps: float
    dump_time_s: float
    dump_raise_time_s: float
    gravity_mps2: float
    holddown_n: float
    arm_length_m: float
    arm_mass_kg: float
    drum_mass_kg: float
    weigh_window_s: float
    weigh_max_arm_rad: float
    weigh_max_arm_speed_radps: float
    weigh_max_drum_speed_radps: float
    weigh_steady_nm: float
    weigh_max_kg: float
    drum_node_ids: list
    arm_node_ids: list
    drum_directions: list
    arm_directions: list
    drum_gear_ratio: float
    arm_gear_ratio: float
    motor_current_limit_a: float
    drum_vel_gain: float
    drum_vel_integrator_gain: float
    arm_trajectory: bool

    def check(self):
        super().check()
        if not self.arm_lower_rad < self.arm_upper_rad:
            raise ParameterError(f"parameter 'arm_upper_rad' ({self.arm_upper_rad}) must exceed "
                                 f'arm_lower_rad ({self.arm_lower_rad})')
        if not self.arm_lower_rad <= self.dump_arm_rad <= self.arm_upper_rad:
            raise ParameterError(f"parameter 'dump_arm_rad' ({self.dump_arm_rad}) outside the arm limits")

    def arm_swing(self) -> ArmSwingLimits:
        """The arm speed and acceleration that keep the wheels down in this gravity."""
        return ArmSwingLimits.for_rover(self.gravity_mps2, self.holddown_n, self.rover_mass_kg,
                                        self.arm_mass_kg, self.drum_mass_kg, self.drum_capacity_kg,
                                        self.arm_length_m, self.arm_max_radps, self.arm_max_radps2,
                                        self.arm_swing_weight_share)

    def model_config(self, arm_swing: ArmSwingLimits) -> ExcavatorConfig:
        """The excavator model's config: every ExcavatorConfig field that is a parameter of
        this node, by the same name; the dump's raise time grown to the swing it needs."""
        values = {f.name: getattr(self, f.name) for f in fields(ExcavatorConfig) if hasattr(self, f.name)}
        values['dump_raise_time_s'] = arm_swing.dump_raise_time_s(
            self.arm_lower_rad, self.arm_upper_rad, self.dump_arm_rad, self.dump_raise_time_s)
        return ExcavatorConfig(capacity_kg=self.drum_capacity_kg, **values)


class ExcavatorNode(DriverNode):
    """Lifecycle node that commands the drums and arms, detects stalls and weighs the drums."""
    armed_message = 'active: drums and arms armed'

    def __init__(self, **kwargs):
        super().__init__('excavator_node', _params(rover_config()), ExcavatorNodeConfig, **kwargs)
        self.contract = load_contract()
        self.drums = [j.name for j in self.contract.joints_of('drum')]
        self.arms = [j.name for j in self.contract.joints_of('arm')]
        # each drum's arm and end of the rover: front_drum_joint -> front_arm_joint, 'front'
        self.end_of = {d: d.split('_drum')[0] for d in self.drums}
        self.arm_of = {d: next((a for a in self.arms if a.startswith(self.end_of[d] + '_')), None)
                       for d in self.drums}
        self.model = None
        self._last_cmd = None
        self._state_pub = self.create_publisher(DiagnosticStatus, 'excavator/state', qos.STATE)
        self._diag_pub = self.create_publisher(DiagnosticArray, 'diagnostics', qos.STATE)
        if self.cfg.autostart:
            self._autostart()

    # -- lifecycle --------------------------------------------------------------------
    def on_configure(self, state) -> TransitionCallbackReturn:
        if not self._read_config():
            return TransitionCallbackReturn.FAILURE
        c = self.cfg
        self.arm_swing = c.arm_swing()
        self.model = Excavator(c.model_config(self.arm_swing), self.drums)
        self._arm_slew = {a: MotionLimiter(max(abs(c.arm_lower_rad), abs(c.arm_upper_rad)),
                                           self.arm_swing.max_radps, self.arm_swing.max_radps2)
                          for a in self.arms}
        self._arm_slew_live = False
        self._arm_commanded = False
        self.ticker = ControlTicker(c.control_rate_hz)
        limits = {n: ActuatorLimits(n, c.max_drum_radps) for n in self.drums}
        limits.update({n: ActuatorLimits(n, c.arm_max_radps, c.arm_lower_rad, c.arm_upper_rad)
                       for n in self.arms})
        if not self._configure_safety(limits):
            return TransitionCallbackReturn.FAILURE
        self._subs.append(self.create_subscription(Float64, 'excavator/drum_speed',
                                                   self._on_drum, qos.COMMAND))
        self._subs.append(self.create_subscription(Float64, 'excavator/arm_position',
                                                   self._on_arm, qos.COMMAND))
        self._srvs.append(self.create_service(Trigger, 'excavator/dump', self._on_dump))
        for d in self.drums:   # one drum at a time: the one facing the berm (excavator/dump_front, ...)
            self._srvs.append(self.create_service(
                Trigger, f'excavator/dump_{self.end_of[d]}',
                lambda request, response, d=d: self._on_dump(request, response, (d,))))
        self._timers.append(self.create_timer(1.0 / c.control_rate_hz, self._tick))
        self._publish_estop()
        cfg = self.model.cfg
        if cfg.weigh_enabled:
            weigh = f'g {c.gravity_mps2:g} m/s^2'
        elif c.gravity_mps2 <= 0:
            weigh = 'off (gravity_mps2 0)'
        else:
            weigh = (f'off (g {c.gravity_mps2:g} m/s^2 resolves only {cfg.weigh_resolution_kg:.3g} kg: '
                     'fill from cutting energy)')
        self.get_logger().info(f'configured: backend {c.backend}, drums {self.drums}, arms {self.arms}, '
                               f'weigh {weigh}, arm swing <= {self.arm_swing.max_radps:.3g} rad/s and '
                               f'{self.arm_swing.max_radps2:.3g} rad/s^2 (g = {c.gravity_mps2:g} m/s^2, '
                               f'hold-down {c.holddown_n:g} N), dump raise {cfg.dump_raise_time_s:.3g} s')
        return TransitionCallbackReturn.SUCCESS

    def _reset_motion(self):
        self.model.reset()

    def _on_estop_engaged(self):
        self.model.reset()
        self.model.request(drum_radps=0.0)

    def _make_backend(self):
        c = self.cfg
        joints = [JointConfig(n, 'drum') for n in self.drums] + [JointConfig(n, 'arm') for n in self.arms]
        if c.backend == 'sim':
            pubs = {j.name: self.create_publisher(Float64, self.contract.joint(j.name).topic, qos.COMMAND)
                    for j in joints}
            self._pubs.extend(pubs.values())
            backend = CallbackBackend(joints, lambda joint, value: pubs[joint].publish(Float64(data=value)),
                                      clock=self.now_s)
            self._subs.append(self.create_subscription(JointState, self.contract.joint_states_topic,
                                                       self._on_joint_states, qos.STATE))
            self._subs.append(self.create_subscription(DiagnosticArray, self.contract.motors_topic,
                                                       lambda m: feed_sim_motors(backend, m), qos.STATE))
            return backend
        gains = vel_gains(c.drum_vel_gain, c.drum_vel_integrator_gain)
        traj = ({'traj_vel_limit_radps': c.arm_max_radps, 'traj_accel_limit_radps2': c.arm_max_radps2,
                 'traj_decel_limit_radps2': c.arm_max_radps2} if c.arm_trajectory else {})
        axes = [AxisConfig(n, 'drum', i, c.drum_gear_ratio, d, c.max_drum_radps, c.motor_current_limit_a,
                           **gains)
                for n, i, d in zip(self.drums, c.drum_node_ids, c.drum_directions)]
        axes += [AxisConfig(n, 'arm', i, c.arm_gear_ratio, d, c.arm_max_radps,
                            c.motor_current_limit_a, **traj)
                 for n, i, d in zip(self.arms, c.arm_node_ids, c.arm_directions)]
        # Heartbeat and bus timeouts: the backend's monotonic clock (real hardware).
        return OdriveCanBackend(axes, bus_factory(c.can_interface, c.can_channel, c.can_bitrate),
                                heartbeat_timeout_s=c.heartbeat_timeout_s)

    # -- inputs -----------------------------------------------------------------------
    def _accepting(self) -> bool:
        return self.safety is not None and self.safety.status().active and not self.safety.estop.engaged

    def _on_drum(self, msg: Float64):
        if not finite(msg.data):
            self.get_logger().warning(f'rejected non-finite drum speed {msg.data}', throttle_duration_sec=2.0)
            return
        if not self._accepting():
            self.safety and self.safety.command_velocities({})
            return
        self.model.request(drum_radps=max(-self.cfg.max_drum_radps, min(self.cfg.max_drum_radps, msg.data)))
        self.safety.feed()

    def _on_arm(self, msg: Float64):
        if not finite(msg.data):
            self.get_logger().warning(f'rejected non-finite arm position {msg.data}',
                                      throttle_duration_sec=2.0)
            return
        if not self._accepting():
            self.safety and self.safety.command_positions({})
            return
        self.model.request(arm_rad=msg.data)
        self._arm_commanded = True

    def _on_joint_states(self, msg: JointState):
        for i, name in enumerate(msg.name):
            if name in self.backend.joints:
                self.backend.update_joint(name, msg.position[i] if i < len(msg.position) else math.nan,
                                          msg.velocity[i] if i < len(msg.velocity) else math.nan,
                                          msg.effort[i] if i < len(msg.effort) else math.nan)

    def _on_dump(self, request, response, drums=None):
        if not self._accepting() or self.safety.status().faults:
            response.success, response.message = False, 'not active, e-stopped or faulted'
            return response
        started = self.model.start_dump(drums)
        if started:
            self.safety.feed()
            self._arm_commanded = True
        response.success = started
        which = ', '.join(drums) if drums else 'all drums'
        response.message = (f'dump started ({which}): arms to {self.cfg.dump_arm_rad} rad, drums reverse '
                            f'{self.cfg.dump_time_s} s') if started else 'dump already running'
        return response

    # -- control loop -----------------------------------------------------------------
    def _tick(self):
        dt = self.ticker.step(self.now_s())
        if self.model.dumping:
            self.safety.feed()   # the dump sequence is its own command source
        status = self.safety.tick()
        fb = self.backend.feedback()
        arm_state = {d: (fb[a].position_rad, fb[a].velocity_radps, fb[a].torque_nm)
                     for d, a in self.arm_of.items() if a is not None}
        cmd = self.model.update(dt, {d: fb[d].velocity_radps for d in self.drums},
                                {d: fb[d].torque_nm for d in self.drums}, arm_state)
        self._last_cmd = cmd
        if status.active and not status.estop and not status.faults:
            if not status.watchdog_expired:
                self.safety.command_velocities({d: cmd.drum_radps if cmd.applies_to(d) else 0.0
                                                for d in self.drums}, feed=False)
            elif self.model.requested.drum_radps != 0.0:
                self.model.request(drum_radps=0.0)   # a stale request must not restart the drums
            if self._arm_commanded or self.model.stalled or self.model.dumping:
                held = self.model.requested.arm_rad   # an arm whose drum is not dumping stays put
                arms = {a: cmd.arm_rad for a in self.arms}
                arms.update({self.arm_of[d]: held for d in self.drums
                             if not cmd.applies_to(d) and self.arm_of[d] in arms})
                self.safety.command_positions(self._swing(arms, fb, dt))
        else:
            self._arm_slew_live = False
            if self.model.dumping:
                self.model.reset()
        if self.ticker.due(10.0):
            self._publish_state(fb)
        if self.ticker.due(self.cfg.diagnostics_rate_hz):
            self._diag_pub.publish(motor_diagnostics(self, self.backend, self.safety))
        self._publish_estop()

    def _swing(self, targets: dict, fb: dict, dt: float) -> dict:
        """The next point of each arm's trapezoidal swing towards its target; a swing
        (re)starts from the measured arm angle, or the target where none is measured."""
        if not self._arm_slew_live:
            for a, target in targets.items():
                measured = fb[a].position_rad if a in fb else math.nan
                self._arm_slew[a].reset(measured if finite(measured) else target)
            self._arm_slew_live = True
        lo, hi = self.cfg.arm_lower_rad, self.cfg.arm_upper_rad
        return {a: self._arm_slew[a].step(clamp(target, lo, hi), dt) for a, target in targets.items()}

    def _publish_state(self, fb):
        m = self.model
        state = ExcavatorStatus(
            fill_kg=m.total_fill_kg, cutting_torque_nm=m.cutting_torque_nm, stalled=m.stalled,
            dumping=m.dumping,
            arm_position_rad=finite_mean(fb[a].position_rad for a in self.arms),
            drum_speed_radps=finite_mean(fb[d].velocity_radps for d in self.drums),
            weighed_fill_kg=m.weighed_fill_kg, weigh_age_s=m.weigh_age_s,
            weigh_count=m.weigh_rounds if m.cfg.weigh_enabled else -1)
        # per-drum fill beside the codec's keys (decoders ignore keys they do not know)
        per_drum = [KeyValue(key=f'fill_kg.{d}', value=f'{m.fill_kg[d]:.3f}') for d in self.drums]
        level = DiagnosticStatus.WARN if m.stalled else DiagnosticStatus.OK
        self._state_pub.publish(DiagnosticStatus(
            level=level, name='excavator', hardware_id='excavator',
            message='dumping' if m.dumping else 'stalled: backing off' if m.stalled else 'ok',
            values=state.encode() + per_drum))


def main(args=None):
    """Run the excavator node until shut down."""
    node_main(ExcavatorNode, args)


if __name__ == '__main__':
    main()
