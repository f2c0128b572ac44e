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
    ]


class SimNode(Node):
    """Runs the embedded MuJoCo simulator behind the sim contract's topics (see the module docstring)."""
    def __init__(self, **kwargs):
        super().__init__('sim_node', **kwargs)
        p = declare_and_read(self, _params())
        self.p = p
        from mining_rover.sim.simulator import Simulator
        try:
            self.sim = Simulator(world=p['world'], seed=p['seed'], camera_width=p['camera_width'],
                                 camera_height=p['camera_height'], radiation_rate=p['radiation_rate'],
                                 timestep=1.0 / p['physics_rate_hz'],
                                 motor_watchdog_s=p['motor_watchdog_s'])
        except (ValueError, FileNotFoundError) as exc:
            raise ParameterError(f"parameter 'world': {exc}") from exc
        c = self.c = load_contract().with_frame_prefix(p['frame_prefix'])
        self.steps_per_chunk = max(1, int(round(CHUNK_S / self.sim.dt)))
        self.pub_clock = self.create_publisher(ClockMsg, c.clock, qos.CLOCK)
        self.pub_img = {s: self.create_publisher(Image, getattr(c, s).image,
                                                 qos.SENSOR) for s in ('left', 'right')}
        self.pub_info = {s: self.create_publisher(CameraInfo, getattr(c, s).info, qos.SENSOR)
                         for s in ('left', 'right')}
        self.pub_imu = self.create_publisher(Imu, c.imu_topic, qos.SENSOR)
        self.pub_js = self.create_publisher(JointState, c.joint_states_topic, qos.STATE)
        self.pub_gt = self.create_publisher(Odometry, c.ground_truth_topic, qos.STATE)
        self.pub_reg = self.create_publisher(DiagnosticStatus, c.regolith_topic, qos.STATE)
        self.pub_mot = self.create_publisher(DiagnosticArray, c.motors_topic, qos.STATE)
        self._subs = [self.create_subscription(Float64, j.topic, self._on_cmd(j.name), qos.COMMAND)
                      for j in c.joints]
        self._subs.append(self.create_subscription(Float64, c.holddown_topic, self._on_holddown, qos.COMMAND))
        self._holddown_t = None   # sim time of the last accepted hold-down command, s
        self._camera_fault = ''   # '' | 'camera_blackout' | 'camera_frozen'
        self._frozen = None       # the last (left, right) frames, which a frozen camera repeats
        self._subs.append(self.create_subscription(String, FAULT_TOPIC, self._on_fault, qos.COMMAND))
        self.create_service(Trigger, c.reset_service, self._on_reset)
        self.create_service(SetBool, c.pause_service, self._on_pause)
        k = self.sim.camera_intrinsics()
        self._info = {
            'left': make_camera_info(k['width'], k['height'], k['fx'], k['fy'], k['cx'],
                                     k['cy'], c.left.frame),
            'right': make_camera_info(k['width'], k['height'], k['fx'], k['fy'], k['cx'],
                                      k['cy'], c.right.frame,
                                      baseline_m=k['baseline_m']),
        }
        self.paused = False
        self._next = {'imu': 0.0, 'state': 0.0, 'camera': 0.0, 'telemetry': 0.0}
        self._wall0, self._sim0 = time.monotonic(), self.sim.time
        self._timer = self.create_timer(TICK_S, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"world {self.sim.world.name} ({self.sim.world.sdf_path}), "
            f"g {self.sim.world.gravity_mps2:g} m/s^2, "
            f"rtf {p['real_time_factor']:g}, physics {p['physics_rate_hz']:g} Hz, "
            f"stereo {p['camera_width']}x{p['camera_height']} at {p['camera_rate_hz']:g} Hz")

    # -- commands and services ----------------------------------------------------------
    def _on_cmd(self, joint):
        def cb(msg):
            try:
                self.sim.set_command(joint, msg.data)
            except (ValueError, KeyError) as exc:
                self.get_logger().warning(f'rejected command for {joint}: {exc}', throttle_duration_sec=2.0)
        return cb

    def _on_holddown(self, msg):
        try:
            self.sim.set_holddown(msg.data)
            self._holddown_t = self.sim.time
        except ValueError as exc:
            self.get_logger().warning(f'rejected hold-down command: {exc}', throttle_duration_sec=2.0)

    def _holddown_watchdog(self):
        """No hold-down command for holddown_timeout_s of sim time: thrust off. The
        commanding drive_node runs on the same sim time (use_sim_time), so a healthy
        publisher never trips it at any real-time factor."""
        if self._holddown_t is not None and self.sim.time - self._holddown_t > self.c.holddown_timeout_s:
            self.sim.set_holddown(0.0)
            self._holddown_t = None
            self.get_logger().warning(f'no hold-down command for {self.c.holddown_timeout_s:g} s: thrust off')

    def _on_fault(self, msg):
        """One injected fault on or off: {"kind", "on", "joint" (motor_error, jam),
        "jump_s" (clock_jump)}."""
        try:
            f = json.loads(msg.data)
            kind, on = f['kind'], bool(f.get('on', True))
            if kind not in SIM_FAULT_KINDS:
                raise ValueError(f'kind {kind!r} is not one of {SIM_FAULT_KINDS}')
            if kind in ('camera_blackout', 'camera_frozen'):
                self._camera_fault = kind if on else ''
            elif kind == 'motor_error':
                self.sim.motor_faults.set_motor_error(f['joint'], on)
            elif kind == 'jam':
                self.sim.motor_faults.set_jam(f['joint'], on)
            elif kind == 'bus_off':
                self.sim.motor_faults.set_bus_off(on)
            elif kind == 'stuck':
                self.sim.motor_faults.set_stuck(on)
            elif kind == 'clock_jump':
                self.sim.jump_clock(float(f['jump_s']))
                self._sim0 += float(f['jump_s'])
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().error(f'{FAULT_TOPIC}: fault {msg.data!r} refused: {exc}')
            return
        self.get_logger().warning(f'injected fault at {self.sim.time:.2f} s: {msg.data}')

    def _on_reset(self, request, response):
        self.sim.reset()
        self._holddown_t = None
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
            self._holddown_watchdog()
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
        c = self.c
        if self._due('imu', c.imu_rate_hz):
            m = self.sim.imu()
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
            self.pub_imu.publish(msg)
        if self._due('state', self.p['publish_rate_hz']):
            js = self.sim.joint_state()
            msg = JointState(header=make_header('', stamp))
            msg.name = list(js)
            msg.position = [v[0] for v in js.values()]
            msg.velocity = [v[1] for v in js.values()]
            msg.effort = [v[2] for v in js.values()]
            self.pub_js.publish(msg)
            self.pub_gt.publish(matrix_to_odometry(self.sim.ground_truth_pose(),
                                                   c.frames['map'], c.frames['base'],
                                                   stamp, twist=self.sim.ground_truth_twist()))
        if self._due('telemetry', min(10.0, self.p['publish_rate_hz'])):
            tel = self.sim.regolith_telemetry()
            st = DiagnosticStatus(level=DiagnosticStatus.OK, name='sim/regolith', hardware_id='sim',
                                  message=f'{tel["berm_mass_kg"]:.1f} kg in berm')
            st.values = [KeyValue(key=k, value=repr(float(tel[k]))) for k in c.regolith_keys]
            self.pub_reg.publish(st)
            arr = DiagnosticArray(header=make_header('', stamp))
            for name, m in self.sim.motor_state().items():
                fault = self.sim.motor_faults.status(name)
                s = DiagnosticStatus(level=DiagnosticStatus.ERROR if fault else DiagnosticStatus.OK,
                                     name=name, hardware_id='sim', message=fault or 'ok')
                s.values = [KeyValue(key=k, value=repr(float(m[k])))
                            for k in ('current_a', 'temperature_c', 'torque_nm')]
                if fault:
                    s.values.append(KeyValue(key='fault_source',
                                             value='bus' if self.sim.motor_faults.bus_off else name))
                arr.status.append(s)
            self.pub_mot.publish(arr)
        if self._due('camera', self.p['camera_rate_hz']) and self._camera_fault != 'camera_blackout':
            if self._camera_fault == 'camera_frozen' and self._frozen is not None:
                left, right = self._frozen   # the last frame again, newly stamped
            else:
                left, right = self._frozen = self.sim.render_stereo()
            for side, img in (('left', left), ('right', right)):
                frame = getattr(c, side).frame
                self.pub_img[side].publish(numpy_to_image(img, 'rgb8', frame, stamp))
                info = self._info[side]
                info.header.stamp = stamp
                self.pub_info[side].publish(info)

    def shutdown(self):
        self.sim.close()


def main(args=None):
    """Run the simulator node until shut down."""
    node_main(SimNode, args)


if __name__ == '__main__':
    main()
