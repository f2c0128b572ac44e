"""sim_node: the embedded MuJoCo simulator behind the sim contract (config/sim_contract.yaml).

Publishes /clock, stereo images + camera infos, IMU, joint states, ground-truth odometry,
regolith telemetry and motor diagnostics; takes one std_msgs/Float64 per joint command
topic and the hold-down thrust (std_msgs/Float64, N; off when no command came for the
contract's timeout, wall time); injected faults on sim/fault (std_msgs/String, JSON; the
simulator side of `mining-rover sim --faults`, see mining_rover/sim/motor_faults.py);
services reset (std_srvs/Trigger) and pause (std_srvs/SetBool). A steady wall timer
advances the simulation in chunks (10 ms of sim time each) paced by real_time_factor
(0 = as fast as possible) and publishes /clock every chunk; images are rendered only when
a camera frame is due.

Rovers: ``rovers`` lists the world's rovers by namespace. The default [''] is one rover
whose topics are the contract's names relative to this node's namespace and whose frames
carry ``frame_prefix``, as always. ['r1', 'r2'] puts two rovers in one world (side by
side from the world's start pose: mining_rover/sim/fleet.py fleet_specs), each rover's
topics under its namespace (``r1/stereo/left/image_raw``, ``r1/rover/<joint>/cmd``,
``r1/sim/fault``) and its frames prefixed ``frame_prefix + 'r1/'`` (``r1/base_link``);
/clock, reset and pause are the world's, one each.
"""
from __future__ import annotations

import json
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from nav_msgs.msg import Odometry
from std_msgs.msg import Float64, String
from std_srvs.srv import SetBool, Trigger

from mining_rover.contract import load_contract
from mining_rover.ros import qos
from mining_rover.ros.camera_info import make_camera_info
from mining_rover.ros.geometry import matrix_to_odometry
from mining_rover.ros.image import numpy_to_image
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.stamps import make_header, seconds_to_stamp
from mining_rover.ros.runtime import node_main
from mining_rover.sim.motor_faults import FAULT_TOPIC, SIM_FAULT_KINDS

CHUNK_S = 0.01          # sim time per chunk
# Wall clocks below are on purpose: this node makes sim time (/clock), and pacing it to
# real_time_factor is what wall time is for.
TICK_S = 0.01           # wall timer period
BUDGET_S = 0.05         # wall time one tick may spend stepping


def _params() -> list:
    c = load_contract()
    return [
        Param('world', 'moon_south_pole', 'world name (worlds/<name>.sdf) or path to an SDF file'),
        Param('seed', 0, 'random seed (sensor noise, radiation hits)', 0, 2 ** 31 - 1),
        Param('real_time_factor', 1.0, 'sim seconds per wall second; 0 = as fast as possible', 0.0, 1000.0),
        Param('physics_rate_hz', 500.0, 'physics steps per sim second', 100.0, 5000.0),
        Param('publish_rate_hz', float(c.joint_states_rate_hz),
              'joint states, ground truth and telemetry rate (sim time)', 1.0, 1000.0),
        Param('camera_rate_hz', float(c.camera_rate_hz), 'stereo frame rate (sim time); 0 = no images',
              0.0, 60.0),
        Param('camera_width', int(c.camera_width), 'image width, px', 16, 4096),
        Param('camera_height', int(c.camera_height), 'image height, px', 16, 4096),
        Param('radiation_rate', 0.0, 'radiation hits per megapixel per frame', 0.0, 1e5),
        # The ODrive's own axis watchdog (config/drivers_rover.yaml: 0.2 s) modelled in sim
        # time, with 0.1 s of margin for a loaded machine where the drivers' 50 Hz refresh
        # (sim time) can stall: what stops the motors when a driver process dies.
        Param('motor_watchdog_s', 0.3, 'a wheel/drum command older than this stops the motor '
              '(motor controller watchdog), sim s; 0 = off', 0.0, 10.0),
        Param('frame_prefix', '', "prepended to every frame id (e.g. 'r1/'), as robot_state_publisher's"),
        Param('rovers', [''], "the world's rovers by namespace: [''] one rover (topics relative to this "
              "node), ['r1', 'r2'] a fleet, each rover's topics under its namespace and its frames "
              "prefixed frame_prefix + 'r1/'", check=_rovers_problem),
    ]


def _rovers_problem(names) -> str | None:
    from mining_rover.sim.fleet import check_rovers
    try:
        check_rovers(list(names))
    except ValueError as exc:
        return str(exc)
    return None


def _under(namespace: str, name: str) -> str:
    """Relative topic ``name`` under a rover's ``namespace`` ('' leaves it as it is)."""
    return f'{namespace}/{name}' if namespace else name


class RoverIO:
    """One rover's side of the sim contract: its contract (frames prefixed), publishers,
    subscriptions, camera infos and its hold-down and camera-fault state."""

    def __init__(self, node, namespace: str, view, contract):
        self.ns, self.sim, self.c = namespace, view, contract
        c = contract
        sides = ('left', 'right')
        self.pub_img = {s: node.create_publisher(Image, _under(namespace, getattr(c, s).image), qos.SENSOR)
                        for s in sides}
        self.pub_info = {s: node.create_publisher(CameraInfo, _under(namespace, getattr(c, s).info),
                                                  qos.SENSOR) for s in sides}
        self.pub_imu = node.create_publisher(Imu, _under(namespace, c.imu_topic), qos.SENSOR)
        self.pub_js = node.create_publisher(JointState, _under(namespace, c.joint_states_topic), qos.STATE)
        self.pub_gt = node.create_publisher(Odometry, _under(namespace, c.ground_truth_topic), qos.STATE)
        self.pub_reg = node.create_publisher(DiagnosticStatus, _under(namespace, c.regolith_topic), qos.STATE)
        self.pub_mot = node.create_publisher(DiagnosticArray, _under(namespace, c.motors_topic), qos.STATE)
        self.subs = [node.create_subscription(Float64, _under(namespace, j.topic), node._on_cmd(self, j.name),
                                              qos.COMMAND) for j in c.joints]
        self.subs.append(node.create_subscription(Float64, _under(namespace, c.holddown_topic),
                                                  lambda msg: node._on_holddown(self, msg), qos.COMMAND))
        self.fault_topic = _under(namespace, FAULT_TOPIC)
        self.subs.append(node.create_subscription(String, self.fault_topic,
                                                  lambda msg: node._on_fault(self, msg), qos.COMMAND))
        self.holddown_t = None   # sim time of the last accepted hold-down command, s
        self.camera_fault = ''   # '' | 'camera_blackout' | 'camera_frozen'
        self.frozen = None       # the last (left, right) frames, which a frozen camera repeats
        k = view.camera_intrinsics()
        self.info = {
            'left': make_camera_info(k['width'], k['height'], k['fx'], k['fy'], k['cx'],
                                     k['cy'], c.left.frame),
            'right': make_camera_info(k['width'], k['height'], k['fx'], k['fy'], k['cx'],
                                      k['cy'], c.right.frame,
                                      baseline_m=k['baseline_m']),
        }

    def who(self) -> str:
        """How log lines name this rover: '' alone, 'r1: ' in a fleet."""
        return f'{self.ns}: ' if self.ns else ''


class SimNode(Node):
    """Runs the embedded MuJoCo simulator behind the sim contract's topics (see the module docstring)."""
    def __init__(self, **kwargs):
        super().__init__('sim_node', **kwargs)
        p = declare_and_read(self, _params())
        self.p = p
        from mining_rover.sim.simulator import Simulator
        namespaces = list(p['rovers'])
        try:
            self.sim = Simulator(world=p['world'], seed=p['seed'], camera_width=p['camera_width'],
                                 camera_height=p['camera_height'], radiation_rate=p['radiation_rate'],
                                 timestep=1.0 / p['physics_rate_hz'],
                                 motor_watchdog_s=p['motor_watchdog_s'], rovers=namespaces)
        except (ValueError, FileNotFoundError) as exc:
            raise ParameterError(f"parameter 'world': {exc}") from exc
        contract = load_contract()
        self.c = contract.with_frame_prefix(p['frame_prefix'])
        self.rovers = [RoverIO(self, ns, self.sim.rover_view(ns),
                               contract.with_frame_prefix(p['frame_prefix'] + (f'{ns}/' if ns else '')))
                       for ns in namespaces]
        self.steps_per_chunk = max(1, int(round(CHUNK_S / self.sim.dt)))
        self.pub_clock = self.create_publisher(ClockMsg, self.c.clock, qos.CLOCK)
        self.create_service(Trigger, self.c.reset_service, self._on_reset)
        self.create_service(SetBool, self.c.pause_service, self._on_pause)
        self.paused = False
        self._next = {'imu': 0.0, 'state': 0.0, 'camera': 0.0, 'telemetry': 0.0}
        self._wall0, self._sim0 = time.monotonic(), self.sim.time
        self._timer = self.create_timer(TICK_S, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"world {self.sim.world.name} ({self.sim.world.sdf_path}), "
            f"g {self.sim.world.gravity_mps2:g} m/s^2, "
            f"rtf {p['real_time_factor']:g}, physics {p['physics_rate_hz']:g} Hz, "
            f"stereo {p['camera_width']}x{p['camera_height']} at {p['camera_rate_hz']:g} Hz"
            + (f", rovers {', '.join(namespaces)}" if namespaces != [''] else ''))

    # -- commands and services ----------------------------------------------------------
    def _on_cmd(self, rover: RoverIO, joint):
        def cb(msg):
            try:
                rover.sim.set_command(joint, msg.data)
            except (ValueError, KeyError) as exc:
                self.get_logger().warning(f'{rover.who()}rejected command for {joint}: {exc}',
                                          throttle_duration_sec=2.0)
        return cb

    def _on_holddown(self, rover: RoverIO, msg):
        try:
            rover.sim.set_holddown(msg.data)
            rover.holddown_t = self.sim.time
        except ValueError as exc:
            self.get_logger().warning(f'{rover.who()}rejected hold-down command: {exc}',
                                      throttle_duration_sec=2.0)

    def _holddown_watchdog(self, rover: RoverIO):
        """No hold-down command for holddown_timeout_s of sim time: thrust off. The
        commanding drive_node runs on the same sim time (use_sim_time), so a healthy
        publisher never trips it at any real-time factor."""
        if rover.holddown_t is not None and self.sim.time - rover.holddown_t > self.c.holddown_timeout_s:
            rover.sim.set_holddown(0.0)
            rover.holddown_t = None
            self.get_logger().warning(
                f'{rover.who()}no hold-down command for {self.c.holddown_timeout_s:g} s: thrust off')

    def _on_fault(self, rover: RoverIO, msg):
        """One injected fault on or off for this rover: {"kind", "on", "joint"
        (motor_error, jam), "jump_s" (clock_jump, the whole world's clock)}."""
        faults = rover.sim.motor_faults
        try:
            f = json.loads(msg.data)
            kind, on = f['kind'], bool(f.get('on', True))
            if kind not in SIM_FAULT_KINDS:
                raise ValueError(f'kind {kind!r} is not one of {SIM_FAULT_KINDS}')
            if kind in ('camera_blackout', 'camera_frozen'):
                rover.camera_fault = kind if on else ''
            elif kind == 'motor_error':
                faults.set_motor_error(f['joint'], on)
            elif kind == 'jam':
                faults.set_jam(f['joint'], on)
            elif kind == 'bus_off':
                faults.set_bus_off(on)
            elif kind == 'stuck':
                faults.set_stuck(on)
            elif kind == 'clock_jump':
                self.sim.jump_clock(float(f['jump_s']))
                self._sim0 += float(f['jump_s'])
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().error(f'{rover.fault_topic}: fault {msg.data!r} refused: {exc}')
            return
        self.get_logger().warning(f'{rover.who()}injected fault at {self.sim.time:.2f} s: {msg.data}')

    def _on_reset(self, request, response):
        self.sim.reset()
        for rover in self.rovers:
            rover.holddown_t = None
        self._next = dict.fromkeys(self._next, 0.0)
        self._wall0, self._sim0 = time.monotonic(), self.sim.time
        response.success, response.message = True, f'reset {self.sim.world.name}'
        return response

    def _on_pause(self, request, response):
        self.paused = bool(request.data)
        self._wall0, self._sim0 = time.monotonic(), self.sim.time
        response.success, response.message = True, 'paused' if self.paused else 'running'
        return response

    # -- stepping -------------------------------------------------------------------------
    def _tick(self):
        if self.paused:
            return
        rtf = self.p['real_time_factor']
        start = time.monotonic()
        while time.monotonic() - start < BUDGET_S:
            if rtf > 0:
                target = self._sim0 + rtf * (time.monotonic() - self._wall0)
                if self.sim.time + CHUNK_S > target + 1e-9:
                    break
            self.sim.step(self.steps_per_chunk)
            for rover in self.rovers:
                self._holddown_watchdog(rover)
            self._publish()
        if rtf > 0 and self._sim0 + rtf * (time.monotonic() - self._wall0) - self.sim.time > 1.0:
            # cannot keep up: drop the backlog rather than run in bursts
            self._wall0, self._sim0 = time.monotonic(), self.sim.time

    def _due(self, key, rate):
        if rate <= 0:
            return False
        t = self.sim.time
        if t + 1e-9 >= self._next[key]:
            self._next[key] = max(self._next[key] + 1.0 / rate, t)
            return True
        return False

    def _publish(self):
        t = self.sim.time
        stamp = seconds_to_stamp(t)
        self.pub_clock.publish(ClockMsg(clock=stamp))
        due = {'imu': self._due('imu', self.c.imu_rate_hz),
               'state': self._due('state', self.p['publish_rate_hz']),
               'telemetry': self._due('telemetry', min(10.0, self.p['publish_rate_hz'])),
               'camera': self._due('camera', self.p['camera_rate_hz'])}
        for rover in self.rovers:
            self._publish_rover(rover, stamp, due)

    def _publish_rover(self, rover: RoverIO, stamp, due: dict):
        c, sim = rover.c, rover.sim
        if due['imu']:
            m = sim.imu()
            msg = Imu(header=make_header(c.frames['imu'], stamp))
            q = m['orientation_xyzw']
            msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = (float(v) for v in q)
            av, la = m['angular_velocity'], m['linear_acceleration']
            msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in av)
            acc = msg.linear_acceleration
            acc.x, acc.y, acc.z = (float(v) for v in la)
            cov = msg.orientation_covariance
            cov[0] = cov[4] = cov[8] = 1e-4
            msg.angular_velocity_covariance[0::4] = [4e-8] * 3
            msg.linear_acceleration_covariance[0::4] = [4e-6] * 3
            rover.pub_imu.publish(msg)
        if due['state']:
            js = sim.joint_state()
            msg = JointState(header=make_header('', stamp))
            msg.name = list(js)
            msg.position = [v[0] for v in js.values()]
            msg.velocity = [v[1] for v in js.values()]
            msg.effort = [v[2] for v in js.values()]
            rover.pub_js.publish(msg)
            rover.pub_gt.publish(matrix_to_odometry(sim.ground_truth_pose(),
                                                    c.frames['map'], c.frames['base'],
                                                    stamp, twist=sim.ground_truth_twist()))
        if due['telemetry']:
            tel = sim.regolith_telemetry()
            st = DiagnosticStatus(level=DiagnosticStatus.OK, name='sim/regolith', hardware_id='sim',
                                  message=f'{tel["berm_mass_kg"]:.1f} kg in berm')
            st.values = [KeyValue(key=k, value=repr(float(tel[k]))) for k in c.regolith_keys]
            rover.pub_reg.publish(st)
            arr = DiagnosticArray(header=make_header('', stamp))
            for name, m in sim.motor_state().items():
                fault = sim.motor_faults.status(name)
                s = DiagnosticStatus(level=DiagnosticStatus.ERROR if fault else DiagnosticStatus.OK,
                                     name=name, hardware_id='sim', message=fault or 'ok')
                s.values = [KeyValue(key=k, value=repr(float(m[k])))
                            for k in ('current_a', 'temperature_c', 'torque_nm')]
                if fault:
                    s.values.append(KeyValue(key='fault_source',
                                             value='bus' if sim.motor_faults.bus_off else name))
                arr.status.append(s)
            rover.pub_mot.publish(arr)
        if due['camera'] and rover.camera_fault != 'camera_blackout':
            if rover.camera_fault == 'camera_frozen' and rover.frozen is not None:
                left, right = rover.frozen   # the last frame again, newly stamped
            else:
                left, right = rover.frozen = sim.render_stereo()
            for side, img in (('left', left), ('right', right)):
                frame = getattr(c, side).frame
                rover.pub_img[side].publish(numpy_to_image(img, 'rgb8', frame, stamp))
                info = rover.info[side]
                info.header.stamp = stamp
                rover.pub_info[side].publish(info)

    def shutdown(self):
        self.sim.close()


def main(args=None):
    """Run the simulator node until shut down."""
    node_main(SimNode, args)


if __name__ == '__main__':
    main()
