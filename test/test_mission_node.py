"""mission_node over real DDS against a scripted world in the test process.

``FakeWorld`` is the rest of the stack in miniature: a unicycle rover that integrates
/cmd_vel into /odom, a planner that answers /mission/goal with a straight /planner/route
and publishes one dig site and its plan, an excavator that fills while its drums cut and
empties on /excavator/dump, and motors that draw a constant power on /diagnostics.
The world keeps its own ground truth of every dump, so the executive's tally is checked
against what really left the drums, across a ``kill -9`` and a restart.
"""
from __future__ import annotations

import math
import pathlib
import signal

import numpy as np
import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry, Path  # noqa: E402
from std_msgs.msg import Bool, Float64  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from mining_rover.planning.mission_store import MissionStore  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.ros.conversions import matrix_to_odometry, matrix_to_pose  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SITE = (1.5, 0.0)
CAPACITY_KG = 2.0
FILL_RATE_KG_S = 2.0
DUMP_S = 1.5
POWER_W = 50.0

PARAMS = {
    'dig_zone_x': SITE[0], 'dig_zone_y': SITE[1], 'dig_zone_radius': 1.0,
    'berm_x': -1.5, 'berm_y': 0.0, 'berm_radius': 0.3, 'berm_standoff_m': 0.3,
    'mapping_timeout_s': 0.0, 'plan_wait_s': 0.0, 'max_linear_mps': 1.0, 'max_angular_radps': 2.0,
    'lookahead_m': 0.4, 'goal_tolerance_m': 0.2, 'drum_capacity_kg': CAPACITY_KG,
    'full_fraction': 0.9, 'min_haul_kg': 0.2, 'max_creep_mps': 0.3, 'control_rate_hz': 20.0,
    'status_rate_hz': 10.0, 'estop_clear_hold_s': 0.2, 'lower_timeout_s': 2.0,
    'dump_rear_after_turn': False,   # FakeWorld has one dump service for both drums
}


def _pose_msg(x, y, yaw):
    T = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    T[:2, :2] = [[c, -s], [s, c]]
    T[0, 3], T[1, 3] = x, y
    return T


def _status(name, values, level=DiagnosticStatus.OK, message='ok'):
    return DiagnosticStatus(level=level, name=name, hardware_id='fake', message=message,
                            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])


class FakeWorld:
    def __init__(self, ros):
        n = self.node = ros.node('fake_world')
        self.x, self.y, self.yaw = 0.0, 0.0, 0.0
        self.v = self.w = self.drum = 0.0
        self.arm = -0.4
        self.fill = 0.0
        self.dump_left = 0.0
        self.dumped = []           # ground truth: mass of each dump, kg
        self.frozen = False
        self.fault = ''
        self.goals = []
        self.status = None
        self.cmd = []
        self.odom_pub = n.create_publisher(Odometry, 'odom', qos.STATE)
        self.route_pub = n.create_publisher(Path, 'planner/route', qos.MAP)
        self.sites_pub = n.create_publisher(MarkerArray, 'planner/dig_sites', qos.MAP)
        self.plan_pub = n.create_publisher(DiagnosticStatus, 'planner/excavation_plan', qos.MAP)
        self.exc_pub = n.create_publisher(DiagnosticStatus, 'excavator/state', qos.STATE)
        self.diag_pub = n.create_publisher(DiagnosticArray, 'diagnostics', qos.STATE)
        self.estop_pub = n.create_publisher(Bool, 'estop', qos.LATCHED)
        n.create_subscription(Twist, 'cmd_vel', self._on_cmd, qos.COMMAND)
        n.create_subscription(Float64, 'excavator/drum_speed', self._on_drum, qos.COMMAND)
        n.create_subscription(Float64, 'excavator/arm_position', self._on_arm, qos.COMMAND)
        n.create_subscription(PoseStamped, 'mission/goal', self._on_goal, qos.COMMAND)
        n.create_subscription(DiagnosticStatus, 'mission/status', self._on_status, qos.STATE)
        n.create_service(Trigger, 'excavator/dump', self._on_dump)
        self.estop_pub.publish(Bool(data=False))
        marker = Marker(ns='dig_sites', id=0, action=Marker.ADD, text='1.0')
        marker.pose.position.x, marker.pose.position.y = SITE
        self.sites_pub.publish(MarkerArray(markers=[marker]))
        self.plan_pub.publish(_status('plan', {
            'site_x': SITE[0], 'site_y': SITE[1], 'depth_of_cut_m': 0.04, 'drum_speed_radps': 4.0,
            'drive_speed_mps': 0.2, 'expected_mass_kg': 2.0, 'expected_target_kg': 0.02}))
        self.dt = 0.05
        n.create_timer(self.dt, self._step)

    # the executive's outputs
    def _on_cmd(self, m):
        self.v, self.w = m.linear.x, m.angular.z
        self.cmd.append((m.linear.x, m.angular.z))

    def _on_drum(self, m):
        self.drum = m.data

    def _on_arm(self, m):
        self.arm_target = m.data

    def _on_status(self, m):
        self.status = {kv.key: kv.value for kv in m.values}

    def _on_goal(self, m):
        self.goals.append((m.pose.position.x, m.pose.position.y))
        pts = np.linspace([self.x, self.y], [m.pose.position.x, m.pose.position.y], 15)
        path = Path()
        path.header.frame_id = 'map'
        for px, py in pts:
            ps = PoseStamped()
            ps.header.frame_id = 'map'
            ps.pose = matrix_to_pose(_pose_msg(px, py, 0.0))
            path.poses.append(ps)
        self.route_pub.publish(path)

    def _on_dump(self, request, response):
        if self.dump_left > 0:
            response.success, response.message = False, 'already dumping'
        else:
            self.dumped.append(self.fill)
            self.dump_left = DUMP_S
            response.success, response.message = True, 'dumping'
        return response

    def _step(self):
        dt = self.dt
        if not self.frozen:
            self.x += self.v * math.cos(self.yaw) * dt
            self.y += self.v * math.sin(self.yaw) * dt
            self.yaw += self.w * dt
            target = getattr(self, 'arm_target', self.arm)
            self.arm += max(-2.0 * dt, min(2.0 * dt, target - self.arm))
            if self.drum > 0 and self.arm > 0.1 and self.v > 0.01 and self.dump_left <= 0:
                self.fill = min(CAPACITY_KG, self.fill + FILL_RATE_KG_S * dt)
            if self.dump_left > 0:
                self.dump_left -= dt
                self.fill = 0.0 if self.dump_left <= 0 else max(0.0, self.fill - dt * CAPACITY_KG / DUMP_S)
        self.odom_pub.publish(matrix_to_odometry(_pose_msg(self.x, self.y, self.yaw), 'odom', 'base_link',
                                                 self.node.get_clock().now().to_msg()))
        self.exc_pub.publish(_status('excavator', {
            'fill_kg': f'{self.fill:.4f}', 'stalled': 0, 'dumping': int(self.dump_left > 0),
            'arm_position_rad': f'{self.arm:.4f}', 'cutting_torque_nm': 0, 'drum_speed_radps': self.drum}))
        level = DiagnosticStatus.ERROR if self.fault else DiagnosticStatus.OK
        self.diag_pub.publish(DiagnosticArray(status=[
            _status(j, {'power_w': POWER_W}, level, self.fault or 'ok') for j in ('left', 'right')]))


def _start(launch_node, tmp_path, state_file, **extra):
    params = {**PARAMS, 'state_file': str(state_file), **extra}
    f = tmp_path / 'mission_params.yaml'
    lines = ['mission_node:', '  ros__parameters:']
    lines += [f'    {k}: {v!r}' if not isinstance(v, str) else f'    {k}: "{v}"' for k, v in params.items()]
    f.write_text('\n'.join(lines) + '\n')
    return launch_node('mission_node', '--ros-args', '--params-file', str(f))


def _fresh_status(ros, world, timeout_s=20.0):
    world.status = None
    assert ros.spin_until(lambda: world.status is not None, timeout_s), 'no /mission/status'
    return world.status


TALLY_KEYS = ('cycles', 'regolith_excavated_kg', 'regolith_delivered_kg', 'berm_volume_m3',
              'target_resource_kg', 'estop_events')


def test_every_executive_setting_is_a_parameter_described_and_ranged_by_its_field():
    from dataclasses import fields


    from mining_rover.nodes.mission_node import mission_params
    from mining_rover.planning.executive import MissionConfig
    params = {p.name: p for p in mission_params()}
    for f in fields(MissionConfig):
        p = params[f.name]
        assert p.description == f.metadata['description'] and p.description
        assert (p.min, p.max) == f.metadata['range']
    from mining_rover.paths import config_parameters
    yaml_keys = config_parameters('mission.yaml', 'mission_node')
    assert set(yaml_keys) <= set(params)


def test_kill_9_and_restart_resume_the_same_state_and_tally(ros, launch_node, tmp_path):
    state_file = tmp_path / 'mission.sqlite'
    world = FakeWorld(ros)
    proc = _start(launch_node, tmp_path, state_file)
    # one full cycle, then into the second one's haul (excavated, not yet delivered)
    ok = ros.spin_until(lambda: world.status is not None and world.status['cycles'] == '1'
                        and world.status['state'] == 'HAUL', 90.0)
    assert ok, (world.status, proc.stop())
    status = world.status
    assert float(status['energy_wh']) > 0.0
    assert len(world.dumped) == 1
    world.frozen = True                      # the rover stands still while the executive dies
    ros.spin_for(0.3)
    proc.stop(signal.SIGKILL)
    assert proc.proc.returncode == -signal.SIGKILL

    store = MissionStore(state_file)
    record, tally = store.load()
    store.close()
    assert record['state'] == 'HAUL' and record['cycle_id'] == 2
    assert tally.cycles == 1
    assert tally.regolith_delivered_kg == pytest.approx(world.dumped[0], abs=0.01)
    assert tally.regolith_excavated_kg > tally.regolith_delivered_kg   # cycle 2 dug, not dumped

    proc2 = _start(launch_node, tmp_path, state_file)
    after = _fresh_status(ros, world)
    assert after['state'] == 'HAUL', (after, proc2.stop())
    assert after['cycles'] == '1'
    for key in TALLY_KEYS:
        assert float(after[key]) == pytest.approx(float(getattr(tally, key)), abs=1e-3), key
    # never backwards after the restart (the status prints 3 decimals: half a digit of slack)
    assert float(after['energy_wh']) >= tally.energy_wh - 5e-4
    # energy since the last persist (persist_period_s, 1 s) may be lost to a kill -9; masses never
    assert float(after['energy_wh']) >= 0.9 * float(status['energy_wh']) - 0.01

    world.frozen = False
    assert ros.spin_until(lambda: world.status and world.status['cycles'] == '2', 90.0), world.status
    out = proc2.stop()
    assert 'resuming HAUL in cycle 2' in out
    store = MissionStore(state_file)
    record, tally = store.load()
    assert len(world.dumped) == 2                                  # one dump per cycle
    assert tally.cycles == 2
    assert tally.regolith_delivered_kg == pytest.approx(sum(world.dumped), abs=0.02)
    assert tally.regolith_excavated_kg >= tally.regolith_delivered_kg - 0.02
    for cycle in (1, 2):
        c = store.committed(cycle)
        assert c['delivered'] == pytest.approx(world.dumped[cycle - 1], abs=0.01)
    store.close()


def test_estop_zeroes_commands_and_is_counted(ros, launch_node, tmp_path):
    world = FakeWorld(ros)
    proc = _start(launch_node, tmp_path, tmp_path / 'm.sqlite')
    assert ros.spin_until(lambda: world.status and world.status['state'] == 'DRIVE_TO_SITE'
                          and abs(world.v) > 0, 60.0), (world.status, proc.stop())
    world.estop_pub.publish(Bool(data=True))
    assert ros.spin_until(lambda: world.status['state'] == 'ESTOP', 10.0)
    world.cmd.clear()
    ros.spin_for(0.5)
    assert world.cmd and all(c == (0.0, 0.0) for c in world.cmd)
    assert world.drum == 0.0
    world.estop_pub.publish(Bool(data=False))
    assert ros.spin_until(lambda: world.status['state'] == 'DRIVE_TO_SITE', 10.0), world.status
    assert world.status['estop_events'] == '1'
    world.fault = 'overcurrent'                     # a driver fault: safe stop
    assert ros.spin_until(lambda: world.status['state'] == 'FAULT', 10.0), world.status
    assert 'overcurrent' in world.status['fault_reason']
    world.fault = ''
    assert ros.spin_until(lambda: world.status['state'] != 'FAULT', 15.0), world.status
    proc.stop()


def test_an_infeasible_plan_holds_the_drums_stowed_and_says_why(ros, launch_node, tmp_path):
    """The planner's plan says feasible 0 (no cut the rover can react): at the site the
    executive keeps the drums stopped and stowed and logs the planner's reason."""
    world = FakeWorld(ros)
    reason = 'no cut fits: the smallest (0.5 mm at 0.005 m/s) needs 0.0113 N horizontal'
    world.plan_pub.publish(_status('plan', {
        'site_x': SITE[0], 'site_y': SITE[1], 'depth_of_cut_m': 0.0, 'drum_speed_radps': 0.0,
        'drive_speed_mps': 0.0, 'expected_mass_kg': 0.0, 'expected_target_kg': 0.0, 'feasible': 0},
        DiagnosticStatus.WARN, reason))
    proc = _start(launch_node, tmp_path, tmp_path / 'm.sqlite')
    assert ros.spin_until(lambda: world.status and world.status['state'] == 'EXCAVATE', 60.0), \
        (world.status, proc.stop())
    # a plan with a NaN in it is rejected (it would not even persist): the hold stands
    world.plan_pub.publish(_status('plan', {
        'site_x': SITE[0], 'site_y': SITE[1], 'depth_of_cut_m': 'nan', 'drum_speed_radps': 4.0,
        'drive_speed_mps': 0.2, 'feasible': 1}))
    ros.spin_for(3.0)
    assert world.status['state'] == 'EXCAVATE'
    assert world.drum == 0.0 and world.arm_target == pytest.approx(-0.4) and world.fill == 0.0
    out = proc.stop()
    assert 'no cut fits at this site, holding: ' + reason in out
    assert 'excavation plan rejected' in out and 'non-finite' in out


def test_bad_parameters_refuse_start_naming_the_parameter(launch_node, tmp_path):
    p = _start(launch_node, tmp_path, tmp_path / 'm.sqlite', arm_stow_rad=1.5)
    p.proc.wait(timeout=30)
    out = p.stop()
    assert p.proc.returncode == 2, out
    assert 'arm_stow_rad' in out


def test_corrupt_state_file_is_kept_and_the_mission_starts_fresh(ros, launch_node, tmp_path):
    state_file = tmp_path / 'm.sqlite'
    state_file.write_bytes(b'\x00garbage' * 64)
    world = FakeWorld(ros)
    world.frozen = True
    proc = _start(launch_node, tmp_path, state_file)
    status = _fresh_status(ros, world)
    assert status['cycles'] == '0'
    # evaluation telemetry changes what is reported, never what is done
    tele = world.node.create_publisher(DiagnosticStatus, 'sim/regolith', qos.STATE)
    assert ros.spin_until(lambda: (tele.publish(_status('regolith', {
        'hazard_contacts': 3, 'berm_volume_m3': 0.25, 'berm_mass_kg': 375.0})) or
        world.status['hazard_contacts'] == '3'), 15.0), world.status
    assert float(world.status['berm_volume_m3']) == pytest.approx(0.25)
    assert world.status['cycles'] == '0' and world.status['regolith_delivered_kg'] == '0.000'
    out = proc.stop()
    aside = [p for p in tmp_path.glob('m.sqlite.corrupt-*') if not p.name.endswith(('-wal', '-shm'))]
    assert len(aside) == 1 and aside[0].read_bytes() == b'\x00garbage' * 64
    assert 'corrupt' in out and str(aside[0]) in out


WHEELS = ('front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint')


def test_wheels_turning_while_the_camera_sees_the_rover_still_is_recovered_from(ros, launch_node, tmp_path):
    """Joint states say the wheels turn, stereo/odometry and the IMU say the rover is
    still: the executive goes to RECOVER, counts it, publishes the spot on
    mission/keepout for the planner, backs off and asks for a new route."""
    from sensor_msgs.msg import Imu, JointState
    world = FakeWorld(ros)
    n = world.node
    js_pub = n.create_publisher(JointState, '/joint_states', qos.STATE)
    vo_pub = n.create_publisher(Odometry, 'stereo/odometry', qos.STATE)
    imu_pub = n.create_publisher(Imu, '/imu/data', qos.SENSOR)
    keepouts = []
    n.create_subscription(MarkerArray, 'mission/keepout', lambda m: keepouts.append(m), qos.MAP)
    stuck = {'on': False}

    def sense():
        now = n.get_clock().now().to_msg()
        js = JointState(name=list(WHEELS), velocity=[world.v / 0.2] * 4)   # rover.yaml wheel radius
        js.header.stamp = now
        js_pub.publish(js)
        vo = matrix_to_odometry(_pose_msg(world.x, world.y, world.yaw), 'vo_odom', 'base_link', now)
        vo_pub.publish(vo)
        imu = Imu()
        imu.header.stamp = now
        imu.angular_velocity.z = 0.0 if stuck['on'] else world.w
        imu_pub.publish(imu)

    n.create_timer(0.1, sense)
    proc = _start(launch_node, tmp_path, tmp_path / 'm.sqlite', stuck_window_s=2.0,
                  recover_stop_s=0.3)
    assert ros.spin_until(lambda: world.status and world.status['state'] == 'DRIVE_TO_SITE'
                          and world.v > 0.05, 60.0), (world.status, proc.stop())
    stuck['on'] = world.frozen = True            # pinned: the wheels turn, it does not move
    assert ros.spin_until(lambda: world.status['state'] == 'RECOVER', 15.0), (world.status, proc.stop())
    assert world.status['stuck_events'] == '1'
    assert ros.spin_until(lambda: any(m.markers[1:] for m in keepouts), 5.0), proc.stop()
    spot = keepouts[-1].markers[-1]
    assert spot.ns == 'keepout' and spot.scale.x == pytest.approx(2 * 0.3)
    stuck['on'] = world.frozen = False
    goals = len(world.goals)
    assert ros.spin_until(lambda: world.status['state'] == 'DRIVE_TO_SITE'
                          and len(world.goals) > goals, 20.0), (world.status, proc.stop())
    assert any(v < 0 for v, _ in world.cmd)      # it backed off
    out = proc.stop()
    assert 'kept out of routes' in out


class DriftedWorld(FakeWorld):
    """FakeWorld whose localization puts the map frame ``SHIFT_Y`` below odom: each odom
    pose is republished on localization/odometry with the same stamp, moved into map."""
    SHIFT_Y = 0.6

    def __init__(self, ros):
        super().__init__(ros)
        self.loc_pub = self.node.create_publisher(Odometry, 'localization/odometry', qos.STATE)

    def _step(self):
        super()._step()
        stamp = self.node.get_clock().now().to_msg()
        self.odom_pub.publish(matrix_to_odometry(_pose_msg(self.x, self.y, self.yaw), 'odom', 'base_link',
                                                 stamp))
        self.loc_pub.publish(matrix_to_odometry(_pose_msg(self.x, self.y - self.SHIFT_Y, self.yaw), 'map',
                                                'base_link', stamp))


def test_the_berm_goal_is_asked_for_in_odom_through_the_paired_map_pose(ros, launch_node, tmp_path):
    """The costmap and routes stand in odom; the berm in map. With localization 0.6 m off
    odom, the dump point is asked for 0.6 m over from its map-frame coordinates, beside
    the berm where odom has it (planning/executive/frames.py)."""
    world = DriftedWorld(ros)
    proc = _start(launch_node, tmp_path, tmp_path / 'mission.sqlite',
                  map_pose_topic='localization/odometry')
    ok = ros.spin_until(lambda: world.status is not None and world.status['cycles'] == '1', 90.0)
    assert ok, (world.status, proc.stop())
    proc.stop()
    berm_odom = (PARAMS['berm_x'], PARAMS['berm_y'] + DriftedWorld.SHIFT_Y)
    reach = PARAMS['berm_radius'] + PARAMS['berm_standoff_m']
    berm_goals = [g for g in world.goals if g[0] < 0.0]
    assert berm_goals
    for gx, gy in berm_goals:
        assert math.hypot(gx - berm_odom[0], gy - berm_odom[1]) == pytest.approx(reach, abs=0.02)
        assert abs(math.hypot(gx - PARAMS['berm_x'], gy - PARAMS['berm_y']) - reach) > 0.05
