"""mission_node: the executive. Runs mining_rover.planning.executive on a timer.

Subscribes (docs/INTERFACES.md): the pose it drives by (``pose_topic``: odom, the frame
the map, the costmap and the routes are built in) and the map-frame pose
(``map_pose_topic``: localization/odometry, corrected by fiducial fixes; paired with the
odom pose of the same stamp it gives the map -> odom estimate, planning/executive/frames.py),
map/costmap, planner/route, planner/dig_sites, planner/excavation_plan, excavator/state,
diagnostics (power and faults), estop, wheel_slip, mission/pause, mission/site_override,
for stuck detection the joint states (wheel speeds), stereo/odometry (visual odometry) and
the IMU (sim contract topics), and the simulator's regolith telemetry (evaluation only: it
changes what /mission/status reports for hazard contacts and the berm, never a decision).
Publishes cmd_vel, excavator/drum_speed, excavator/arm_position, mission/goal,
mission/status, mission/keepout (stuck spots the planner keeps routes off) and
mission/dig_zone (the dig zone as grown when its sites ran out, its centre carried into
odom, where the planner scores sites, and sent again when a fix moves it); calls excavator/dump_front and
excavator/dump_rear (or excavator/dump; async).

Callbacks only convert and store; the timer (ROS time, so use_sim_time works) builds
the inputs, steps the state machine, persists what changed in the mission store
*before* acting on it (a dump is recorded as requested before the request leaves),
then publishes. ``kill -9`` and a restart resume the same state and tally.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import fields

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped, Twist, Vector3
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from mining_rover.contract import load_contract
from mining_rover.control.excavator import LUNAR_BULK_DENSITY_KG_M3
from mining_rover.paths import rover_config
from mining_rover.planning.energy import EnergyAccount, kg_per_hour, kg_per_wh, total_power_w
from mining_rover.planning.executive import frames
from mining_rover.planning.executive.frames import odom_from_map
from mining_rover.planning.executive import (Costmap, DigSite, DumpResponse, ExcavationPlan,
                                             ExcavatorReport, Mission, MissionConfig,
                                             MissionInputs, MissionRecord, Pose2D, Route)
from mining_rover.planning.mission_store import MissionStore
from mining_rover.ros import qos
from mining_rover.ros.conversions import occupancy_grid_to_numpy, odometry_to_matrix, yaw_from_matrix
from mining_rover.ros.geometry import yaw_to_quaternion
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.status_codec import (ExcavationPlanStatus, ExcavatorStatus, MissionStatus,
                                           StatusError)
from mining_rover.ros.runtime import node_main
from mining_rover.ros.stamps import stamp_to_seconds

#: Evaluation telemetry may come best effort or reliable: a best-effort reader takes both.
TELEMETRY = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
                       history=HistoryPolicy.KEEP_LAST)
RESOURCES = ('rare_earth', 'platinum_group', 'helium3')

#: odom poses kept to pair with map-frame poses of the same stamp (localization_node
#: republishes each odom stamp; 50 at drive_node's ~20 Hz is 2.5 s of lag allowed)
ODOM_PAIRING_DEPTH = 50

#: the dig zone is sent to the planner again when map -> odom moves its centre this far, m
#: (a tenth of the smallest dig zone radius of the worlds, 3 m)
ZONE_RESEND_M = 0.3

#: dump service per drum the executive names ('' = both drums at once)
DUMP_SERVICES = {'': 'excavator/dump', 'front': 'excavator/dump_front', 'rear': 'excavator/dump_rear'}


def _rover_defaults() -> dict:
    """MissionConfig defaults that come from config/rover.yaml (geometry, capacity)."""
    rover = rover_config()
    return {
        'wheel_radius_m': float(rover['wheel']['radius']),
        'arm_length_m': float(rover['arm']['length']),
        'drum_radius_m': float(rover['drum']['radius']),
        'arm_lower_rad': float(rover['arm']['lower_limit']),
        'arm_upper_rad': float(rover['arm']['upper_limit']),
        # two drums (front and rear), each capacity_m3 of loose regolith
        'drum_capacity_kg': 2.0 * float(rover['drum']['capacity_m3']) * LUNAR_BULK_DENSITY_KG_M3,
        'bulk_density_kg_m3': LUNAR_BULK_DENSITY_KG_M3,
    }


def mission_params() -> list:
    """Every parameter of mission_node (the names a launcher may set): one per
    MissionConfig field, described and ranged by the field (planning/executive/config.py),
    then the node's own."""
    rover = _rover_defaults()
    params = [Param(f.name, rover.get(f.name, f.default), f.metadata['description'],
                    *f.metadata['range']) for f in fields(MissionConfig)]
    return params + [
        Param('state_file', '/tmp/mining_rover_mission.sqlite',
              'SQLite file where the tally and the mission state persist', read_only=True,
              check=lambda v: None if v.strip() else 'must not be empty'),
        Param('target_resource', 'helium3', 'resource the mission reports', choices=RESOURCES),
        Param('control_rate_hz', 10.0, 'state machine rate, Hz (ROS time)', 1.0, 100.0),
        Param('status_rate_hz', 1.0, '/mission/status rate, Hz', 0.05, 50.0),
        Param('persist_period_s', 1.0, 'energy and time are saved at least this often, s', 0.05, 60.0),
        Param('pose_topic', 'odom', "the pose the rover drives by (nav_msgs/Odometry): 'odom' "
              "(drive_node), the frame mapping_node and planner_node build the costmap and "
              "routes in", read_only=True,
              check=lambda v: None if v.strip() else 'must not be empty'),
        Param('map_pose_topic', '', "the map-frame pose (nav_msgs/Odometry, same stamps as "
              "pose_topic): 'localization/odometry'; the berm and the dig zone (map frame) are "
              "carried into the driving frame by it; empty: map == odom", read_only=True),
        Param('odom_timeout_s', 1.0, 'older odometry counts as no pose (the rover stops), s', 0.05, 60.0),
        Param('diagnostics_timeout_s', 5.0, 'a motor silent this long leaves the energy sum, s',
              0.1, 600.0),
        Param('map_frame', 'map', "frame id of /mission/goal and /mission/keepout: the frame id "
              "mapping_node and planner_node give their odometry-built maps and routes"),
    ]


def plan_from_status(st: ExcavationPlanStatus, message: str) -> ExcavationPlan:
    """The executive's plan from the planner's status (``message``: why, when infeasible).
    ValueError for a non-finite figure (the record is stored as strict JSON); an unknown
    fill length (not finite) is 0."""
    numbers = (st.site_x, st.site_y, st.depth_of_cut_m, st.drum_speed_radps, st.drive_speed_mps,
               st.expected_mass_kg, st.expected_target_kg)
    if not all(map(math.isfinite, numbers)):
        raise ValueError(f'non-finite value in {list(numbers)}')
    fill_length = st.fill_length_m if math.isfinite(st.fill_length_m) else 0.0
    return ExcavationPlan(*numbers, st.feasible, '' if st.feasible else message, fill_length)


class MissionNode(Node):
    """Runs the mission executive: reads the stack's topics into MissionInputs, publishes its outputs."""
    def __init__(self, **kwargs):
        super().__init__('mission_node', **kwargs)
        p = self.p = declare_and_read(self, mission_params())
        cfg = MissionConfig(**{f.name: p[f.name] for f in fields(MissionConfig)})
        problems = cfg.check()
        if problems:
            raise ParameterError(f"parameter '{problems[0].split()[0]}': {'; '.join(problems)}")
        try:
            self.store = MissionStore(p['state_file'], log=self._log)
        except (OSError, sqlite3.Error) as exc:
            raise ParameterError(f"parameter 'state_file' = {p['state_file']!r}: cannot open: {exc}") from exc
        raw, tally = self.store.load()
        try:
            record = MissionRecord.from_dict(raw, cfg.default_depth_m) if raw is not None else None
        except ValueError as exc:
            raise ParameterError(f"parameter 'state_file' = {p['state_file']!r}: {exc}") from exc
        self.machine = Mission(cfg, record=record)
        self.energy = EnergyAccount(initial_wh=tally.energy_wh,
                                    max_gap_s=max(2.0, 3.0 / p['control_rate_hz']))
        self.tally = tally
        self.hazard_contacts = tally.hazard_contacts
        self.inputs = MissionInputs()
        self._pose_t = None
        self._odom_by_stamp = {}    # header stamp (ns) -> Pose2D, the last few odom poses
        self._route_seq = 0
        self._override_seq = self.machine.record.override_seq
        self._estop_topic = False
        self._motor_power = {}      # key -> (power W, receive time s)
        self._motor_fault = {}      # key -> message
        self._motor_estop = {}      # key -> True when the driver reports e-stop
        self._sim = {}              # latest /sim/regolith values (evaluation only)
        self._dump_answer = None
        self._last_save = -math.inf
        self._stopped = False
        self.get_logger().info(
            f'state file {p["state_file"]}: resuming {self.machine.state.value}, cycle '
            f'{self.machine.cycle_id}, {tally.cycles} cycles, {tally.regolith_delivered_kg:.2f} kg '
            'delivered' if record else f'state file {p["state_file"]}: new mission')

        contract = load_contract()
        self._wheels = frozenset(j.name for j in contract.joints_of('wheel'))
        self._cmd_pub = self.create_publisher(Twist, 'cmd_vel', qos.COMMAND)
        self._drum_pub = self.create_publisher(Float64, 'excavator/drum_speed', qos.COMMAND)
        self._arm_pub = self.create_publisher(Float64, 'excavator/arm_position', qos.COMMAND)
        self._goal_pub = self.create_publisher(PoseStamped, 'mission/goal', qos.COMMAND)
        self._status_pub = self.create_publisher(DiagnosticStatus, 'mission/status', qos.STATE)
        self._keepout_pub = self.create_publisher(MarkerArray, 'mission/keepout', qos.MAP)
        self._zone_pub = self.create_publisher(Marker, 'mission/dig_zone', qos.MAP)
        self._dump = {drum: self.create_client(Trigger, DUMP_SERVICES[drum]) for drum in DUMP_SERVICES}
        # A driver latches a motor or bus fault until asked to clear it: the FAULT
        # state's retry asks (the driver refuses while its controllers still report it).
        self._clear_faults = [self.create_client(Trigger, f'{n}/clear_faults')
                              for n in ('drive_node', 'excavator_node')]
        self._next_clear_t = -math.inf
        sub = self.create_subscription
        self._subs = [
            sub(Odometry, p['pose_topic'], self._on_odom, qos.STATE),
            *([sub(Odometry, p['map_pose_topic'], self._on_map_pose, qos.STATE)]
              if p['map_pose_topic'].strip() else []),
            sub(OccupancyGrid, 'map/costmap', self._on_costmap, qos.MAP),
            sub(Path, 'planner/route', self._on_route, qos.MAP),
            sub(MarkerArray, 'planner/dig_sites', self._on_dig_sites, qos.MAP),
            sub(DiagnosticStatus, 'planner/excavation_plan', self._on_plan, qos.MAP),
            sub(DiagnosticStatus, 'excavator/state', self._on_excavator, qos.STATE),
            sub(DiagnosticArray, 'diagnostics', self._on_diagnostics, qos.STATE),
            sub(Bool, 'estop', self._on_estop, qos.LATCHED),
            sub(DiagnosticStatus, 'wheel_slip', self._on_slip, qos.STATE),
            sub(DiagnosticStatus, contract.regolith_topic, self._on_sim_regolith, TELEMETRY),
            sub(Bool, 'mission/pause', self._on_pause, qos.COMMAND),
            sub(PoseStamped, 'mission/site_override', self._on_override, qos.COMMAND),
            sub(JointState, contract.joint_states_topic, self._on_joint_states, qos.STATE),
            sub(Odometry, 'stereo/odometry', self._on_visual_odometry, qos.STATE),
            sub(Imu, contract.imu_topic, self._on_imu, qos.SENSOR),
        ]
        rec = self.machine.record     # a resumed mission's stuck spots and grown zone
        self._publish_keepouts(tuple(rec.keepouts))
        self._zone = (cfg.dig_zone_x, cfg.dig_zone_y,           # map frame
                      rec.dig_zone_radius_m or cfg.dig_zone_radius)
        self._zone_sent = None                                  # as last sent, odom frame
        self._send_dig_zone()
        self._timer = self.create_timer(1.0 / p['control_rate_hz'], self._tick)
        self._status_timer = self.create_timer(1.0 / p['status_rate_hz'], self._publish_status)

    # -- helpers ---------------------------------------------------------------------------
    def _log(self, level: str, text: str):
        # one call site per severity: rclpy refuses a call site that changes severity
        if level == 'error':
            self.get_logger().error(text)
        elif level == 'warn':
            self.get_logger().warning(text)
        else:
            self.get_logger().info(text)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    @staticmethod
    def _values(msg: DiagnosticStatus) -> dict:
        return {kv.key: kv.value for kv in msg.values}

    # -- inputs: convert and store ---------------------------------------------------------
    def _on_odom(self, msg: Odometry):
        try:
            T = odometry_to_matrix(msg)
        except ValueError as exc:
            self.get_logger().warning(f'odometry rejected: {exc}', throttle_duration_sec=5.0)
            return
        self.inputs.pose = Pose2D(float(T[0, 3]), float(T[1, 3]), yaw_from_matrix(T))
        self._pose_t = self._now()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self._odom_by_stamp[stamp] = self.inputs.pose
        if len(self._odom_by_stamp) > ODOM_PAIRING_DEPTH:
            del self._odom_by_stamp[min(self._odom_by_stamp)]

    def _on_map_pose(self, msg: Odometry):
        """The map-frame pose of a stamp whose odom pose is known: the map -> odom estimate."""
        odom = self._odom_by_stamp.get(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
        if odom is None:
            return   # no odom pose of that instant (yet): the next one pairs
        try:
            T = odometry_to_matrix(msg)
        except ValueError as exc:
            self.get_logger().warning(f'map pose rejected: {exc}', throttle_duration_sec=5.0)
            return
        self.inputs.odom_from_map = odom_from_map(
            odom, Pose2D(float(T[0, 3]), float(T[1, 3]), yaw_from_matrix(T)))

    def _on_costmap(self, msg: OccupancyGrid):
        try:
            grid, res, (ox, oy), yaw = occupancy_grid_to_numpy(msg)
        except ValueError as exc:
            self.get_logger().warning(f'costmap rejected: {exc}', throttle_duration_sec=5.0)
            return
        self.inputs.costmap = Costmap(grid, res, ox, oy, yaw)

    def _on_route(self, msg: Path):
        self._route_seq += 1
        pts = np.array([[ps.pose.position.x, ps.pose.position.y] for ps in msg.poses],
                       dtype=float).reshape(-1, 2)
        self.inputs.route = Route(self._route_seq, pts)

    def _on_dig_sites(self, msg: MarkerArray):
        sites = []
        for m in msg.markers:
            if m.action != Marker.ADD or (m.ns and m.ns != 'dig_sites'):
                continue
            try:
                score = float(m.text)
            except ValueError:
                score = math.nan
            sites.append((m.id, DigSite(m.pose.position.x, m.pose.position.y, score)))
        self.inputs.dig_sites = tuple(s for _rank, s in sorted(sites, key=lambda r: r[0]))

    def _on_plan(self, msg: DiagnosticStatus):
        try:
            self.inputs.plan = plan_from_status(ExcavationPlanStatus.decode(msg.values), msg.message)
        except (StatusError, ValueError) as exc:
            self.get_logger().warning(f'excavation plan rejected (key/value {exc})',
                                      throttle_duration_sec=5.0)

    def _on_excavator(self, msg: DiagnosticStatus):
        try:
            st = ExcavatorStatus.decode(msg.values)
        except StatusError as exc:
            self.get_logger().warning(f'excavator state rejected (key/value {exc})',
                                      throttle_duration_sec=5.0)
            return
        self.inputs.excavator = ExcavatorReport(st.fill_kg, st.stalled, st.dumping,
                                                st.arm_position_rad, st.weigh_count)

    def _on_diagnostics(self, msg: DiagnosticArray):
        now = self._now()
        for s in msg.status:
            key = f'{s.hardware_id}/{s.name}'
            v = self._values(s)
            try:
                self._motor_power[key] = (float(v['power_w']), now)
            except (KeyError, ValueError):
                pass
            if _level(s.level) >= _level(DiagnosticStatus.ERROR):
                self._motor_fault[key] = s.message or 'error'
            else:
                self._motor_fault.pop(key, None)
            self._motor_estop[key] = s.message == 'e-stop'

    def _on_estop(self, msg: Bool):
        self._estop_topic = bool(msg.data)

    def _on_slip(self, msg: DiagnosticStatus):
        self.inputs.slipping = self._values(msg).get('slipping') == '1'

    def _on_sim_regolith(self, msg: DiagnosticStatus):
        for k, v in self._values(msg).items():
            try:
                self._sim[k] = float(v)
            except ValueError:
                pass

    def _on_joint_states(self, msg: JointState):
        speeds = [v for n, v in zip(msg.name, msg.velocity) if n in self._wheels and math.isfinite(v)]
        if speeds:   # the wheels' mean rim speed (the contract's + is forward on every wheel)
            self.inputs.wheel_mps = float(np.mean(speeds)) * self.machine.cfg.wheel_radius_m

    def _on_visual_odometry(self, msg: Odometry):
        if msg.pose.covariance[0] < 0.0:
            return   # this frame measured no motion (stereo_node): not evidence of standing
        p = msg.pose.pose.position
        if math.isfinite(p.x) and math.isfinite(p.y):
            self.inputs.vo_fix = (stamp_to_seconds(msg.header.stamp), float(p.x), float(p.y))

    def _on_imu(self, msg: Imu):
        if math.isfinite(msg.angular_velocity.z):
            self.inputs.yaw_rate_radps = float(msg.angular_velocity.z)

    def _on_pause(self, msg: Bool):
        if bool(msg.data) != self.inputs.paused:
            self.get_logger().info(f'operator {"pause" if msg.data else "resume"}')
        self.inputs.paused = bool(msg.data)

    def _on_override(self, msg: PoseStamped):
        if msg.header.frame_id and msg.header.frame_id != self.p['map_frame']:
            self.get_logger().warning(f'site override in frame {msg.header.frame_id!r} ignored: '
                                      f'expected {self.p["map_frame"]!r}')
            return
        self._override_seq += 1
        self.inputs.site_override = (self._override_seq, msg.pose.position.x, msg.pose.position.y)

    def _on_dump_done(self, seq: int, future):
        try:
            r = future.result()
            self._dump_answer = DumpResponse(seq, bool(r.success), r.message)
        except Exception as exc:  # a failed call is a refused dump, the machine retries
            self._dump_answer = DumpResponse(seq, False, f'call failed: {exc}')

    # -- the tick -------------------------------------------------------------------------
    def _tick(self):
        now = self._now()
        if now <= 0.0 or self._stopped:
            return   # sim time not started yet
        inp = self.inputs
        p = self.p
        if self._pose_t is not None and now - self._pose_t > p['odom_timeout_s']:
            inp.pose = None
        fresh = {k: pw for k, (pw, t) in self._motor_power.items() if now - t <= p['diagnostics_timeout_s']}
        self.energy.add(now, total_power_w(fresh))
        inp.driver_fault = '; '.join(f'{k}: {m}' for k, m in sorted(self._motor_fault.items()))
        inp.estop = self._estop_topic or any(self._motor_estop.values())
        inp.dump_response = self._dump_answer
        if 'hazard_contacts' in self._sim:
            self.hazard_contacts = max(self.hazard_contacts, int(self._sim['hazard_contacts']))

        out = self.machine.step(inp, now)
        for level, text in out.events:
            self._log(level, text)
        if out.persist or out.commits or now - self._last_save >= p['persist_period_s']:
            self._save(out.commits, now)

        self._cmd_pub.publish(Twist(linear=_vec(out.linear_mps), angular=_vec(0.0, z=out.angular_radps)))
        if out.drum_radps is not None:
            self._drum_pub.publish(Float64(data=float(out.drum_radps)))
        if out.arm_rad is not None:
            self._arm_pub.publish(Float64(data=float(out.arm_rad)))
        if out.goal is not None:
            g = PoseStamped()
            g.header.frame_id = p['map_frame']
            g.header.stamp = self.get_clock().now().to_msg()
            g.pose.position.x, g.pose.position.y = float(out.goal.x), float(out.goal.y)
            g.pose.orientation = yaw_to_quaternion(out.goal.yaw)
            self._goal_pub.publish(g)
        if out.dump_request is not None:
            self._call_dump(out.dump_request, out.dump_drum)
        if out.keepouts is not None:
            self._publish_keepouts(out.keepouts)
        if out.dig_zone is not None:
            self._zone = tuple(out.dig_zone)
        self._send_dig_zone()
        if self.machine.state.value == 'FAULT' and inp.driver_fault and now >= self._next_clear_t:
            self._next_clear_t = now + p['fault_backoff_s']
            for client in self._clear_faults:
                if client.service_is_ready():
                    client.call_async(Trigger.Request())

    def _publish_keepouts(self, spots):
        """Every stuck spot as a cylinder (pose = centre, scale.x = diameter), after a
        DELETEALL, latched: the planner keeps its routes off them."""
        arr = MarkerArray(markers=[Marker(ns='keepout', action=Marker.DELETEALL)])
        for i, (x, y, r) in enumerate(spots):
            arr.markers.append(self._cylinder('keepout', i, x, y, r))
        self._keepout_pub.publish(arr)

    def _send_dig_zone(self):
        """The dig zone as grown, its centre in odom (pose = centre, scale.x = diameter),
        latched; again whenever the map -> odom estimate moves it by ZONE_RESEND_M or it
        grows. The planner scores dig sites in the frame of its costmap, odom."""
        T = self.inputs.odom_from_map or frames.IDENTITY
        x, y, r = self._zone
        zone = (*frames.apply(T, x, y), r)
        last = self._zone_sent
        if last is not None and zone[2] == last[2] and math.hypot(zone[0] - last[0],
                                                                  zone[1] - last[1]) < ZONE_RESEND_M:
            return
        self._zone_sent = zone
        self._zone_pub.publish(self._cylinder('dig_zone', 0, *zone))

    def _cylinder(self, ns: str, i: int, x: float, y: float, radius: float) -> Marker:
        m = Marker(ns=ns, id=i, type=Marker.CYLINDER, action=Marker.ADD)
        m.header.frame_id = self.p['map_frame']
        m.header.stamp = self.get_clock().now().to_msg()
        m.pose.position.x, m.pose.position.y = float(x), float(y)
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = 2.0 * float(radius)
        m.scale.z = 0.05
        m.color.r, m.color.a = 1.0, 0.6
        return m

    def _call_dump(self, seq: int, drum: str = ''):
        client = self._dump[drum]
        if not client.service_is_ready():
            self._dump_answer = DumpResponse(seq, False, f'{DUMP_SERVICES[drum]} service not available')
            return
        future = client.call_async(Trigger.Request())
        future.add_done_callback(lambda f: self._on_dump_done(seq, f))

    def _save(self, commits, now: float):
        counters = {**self.machine.counters(), 'energy_wh': self.energy.energy_wh,
                    'hazard_contacts': int(self.hazard_contacts)}
        self.tally = self.store.save(self.machine.record.to_dict(), counters, commits)
        self._last_save = now

    def _publish_status(self):
        t, m = self.tally, self.machine
        delivered = t.regolith_delivered_kg
        energy = self.energy.energy_wh
        time_s = float(m.record.time_autonomous_s)
        status = MissionStatus(
            state=m.state.value, cycles=t.cycles, regolith_excavated_kg=t.regolith_excavated_kg,
            regolith_delivered_kg=delivered,
            berm_volume_m3=float(self._sim.get('berm_volume_m3', t.berm_volume_m3)),
            kg_per_hour=kg_per_hour(delivered, time_s), kg_per_wh=kg_per_wh(delivered, energy),
            energy_wh=energy, target_resource_kg=t.target_resource_kg,
            hazard_contacts=int(self.hazard_contacts), estop_events=int(m.record.estop_events),
            time_autonomous_s=time_s, cycle_id=m.cycle_id, target_resource=self.p['target_resource'],
            fault_reason=m.record.fault_reason if m.state.value == 'FAULT' else '',
            stuck_events=int(m.record.stuck_events), resurveys=int(m.record.resurveys),
            dumped_outside_kg=float(m.record.dumped_outside_kg),
            haul_spill_kg=float(m.record.haul_spill_kg))
        level = {'FAULT': DiagnosticStatus.ERROR, 'ESTOP': DiagnosticStatus.WARN,
                 'PAUSED': DiagnosticStatus.WARN}.get(m.state.value, DiagnosticStatus.OK)
        self._status_pub.publish(DiagnosticStatus(
            level=level, name='mission', hardware_id='mission_node', message=m.state.value,
            values=status.encode()))

    def shutdown(self):
        """Stop the rover and save (Ctrl-C); a kill -9 skips this and loses nothing counted."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._cmd_pub.publish(Twist())
            self._drum_pub.publish(Float64(data=0.0))
            self._save([], self._now())
        finally:
            self.store.close()


def _vec(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> Vector3:
    return Vector3(x=float(x), y=float(y), z=float(z))


def _level(level) -> int:
    """DiagnosticStatus.level as an int (the message field is a byte in rclpy)."""
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def main(args=None):
    """Run the mission node until shut down."""
    node_main(MissionNode, args)


if __name__ == '__main__':
    main()
