"""mission_node: the executive. Runs mining_rover.planning.mission on a timer.

Subscribes (docs/INTERFACES.md): odom, map/costmap, planner/route, planner/dig_sites,
planner/excavation_plan, excavator/state, diagnostics (power and faults), estop,
wheel_slip, mission/pause, mission/site_override, and the simulator's regolith
telemetry (evaluation only: it changes what /mission/status reports for hazard
contacts and the berm, never a decision). Publishes cmd_vel, excavator/drum_speed,
excavator/arm_position, mission/goal, mission/status; calls excavator/dump_front and
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
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist, Vector3
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, Float64
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from mining_rover.contract import load_contract
from mining_rover.control.excavator import LUNAR_BULK_DENSITY_KG_M3
from mining_rover.paths import rover_config
from mining_rover.planning.energy import EnergyAccount, kg_per_hour, kg_per_wh, total_power_w
from mining_rover.planning.mission import (BasicPursuit, Costmap, DigSite, DumpResponse,
                                           ExcavationPlan, ExcavatorReport, Mission,
                                           MissionConfig, MissionInputs, Pose2D, Route)
from mining_rover.planning.mission_store import MissionStore
from mining_rover.ros import qos
from mining_rover.ros.conversions import (matrix_to_pose, occupancy_grid_to_numpy,
                                          odometry_to_matrix, yaw_from_matrix)
from mining_rover.ros.params import Param, ParameterError, declare_and_read

#: Evaluation telemetry may come best effort or reliable: a best-effort reader takes both.
TELEMETRY = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
                       history=HistoryPolicy.KEEP_LAST)
RESOURCES = ('rare_earth', 'platinum_group', 'helium3')

#: (description, min, max) of every MissionConfig field, in the order of config/mission.yaml.
_CONFIG_DOC = {
    'dig_zone_x': ('dig zone centre x, map frame, m (from the world)', -1e4, 1e4),
    'dig_zone_y': ('dig zone centre y, map frame, m', -1e4, 1e4),
    'dig_zone_radius': ('dig zone radius, m', 0.1, 1e3),
    'berm_x': ('berm (dump) zone centre x, map frame, m', -1e4, 1e4),
    'berm_y': ('berm zone centre y, map frame, m', -1e4, 1e4),
    'berm_radius': ('berm zone radius, m', 0.0, 1e3),
    'berm_standoff_m': ('dump point distance outside the berm circle, m', 0.0, 10.0),
    'berm_facing_tolerance_rad': ('turn to face the berm centre within this before dumping, rad', 0.01, 3.2),
    'dump_reach_m': ('drum discharge point ahead of (or behind) base_link, m', 0.0, 5.0),
    'dump_inside_fraction': ('facing the berm, close in until the discharge point is this share of the berm '
                             'radius from its centre', 0.0, 1.0),
    'dump_approach_max_m': ('closing in on the berm: at most this far, m', 0.0, 5.0),
    'dump_approach_mps': ('closing in on the berm: at this speed, m/s', 0.01, 1.0),
    'max_linear_mps': ('forward speed limit, m/s (lowered by the site on small bodies: mining_rover/site.py)',
                       1e-4, 2.0),
    'max_angular_radps': ('turn rate limit, rad/s (lowered by the site on small bodies)', 1e-4, 5.0),
    'lookahead_m': ('path-following lookahead distance, m', 0.05, 10.0),
    'goal_tolerance_m': ('arrival distance to a goal, m', 0.02, 5.0),
    'route_match_m': ('a route counts for a goal when it ends this near it, m', 0.05, 20.0),
    'route_retry_s': ('re-publish the goal after this long without a route, s', 0.1, 600.0),
    'route_timeout_s': ('no route after this long is a fault, s', 0.5, 3600.0),
    'drive_timeout_s': ('a drive longer than this is a fault, s', 1.0, 36000.0),
    'stuck_time_s': ('no progress for this long triggers a replan, s', 0.5, 600.0),
    'stuck_distance_m': ('progress smaller than this counts as none, m', 0.001, 5.0),
    'footprint_length_m': ('robot footprint length for the hazard check, m', 0.1, 10.0),
    'footprint_width_m': ('robot footprint width for the hazard check, m', 0.1, 10.0),
    'hazard_lookahead_m': ('the route is checked for hazards this far beyond the footprint, m', 0.0, 10.0),
    'body_margin_m': ('the footprint swept straight ahead this far is checked for hazards, m', 0.0, 2.0),
    'route_clearance_m': ('hazards closer than this to the route ahead block it; keep it below the '
                          "planner's robot_radius so a fresh route is clear, m", 0.0, 5.0),
    'lethal_cost': ('costmap cost at and above which a cell is a hazard (Nav2: 100)', 1, 100),
    'mapping_turn_radps': ('turn rate while mapping in place, rad/s', 0.0, 2.0),
    'mapping_known_fraction': ('known share of dig-zone cells that ends mapping', 0.0, 1.0),
    'mapping_timeout_s': ('mapping ends after this long regardless, s', 0.0, 3600.0),
    'site_wait_s': ('wait this long for dig sites before a re-survey, then the zone centre, s', 0.0, 3600.0),
    'site_exclusion_m': ('a site whose cut yielded too little is skipped within this, m', 0.0, 10.0),
    'max_dig_depth_m': ('ground cut this deep is no site again; shallower trenches are cut again, '
                        'deeper by what was taken, m', 0.0, 0.5),
    'resurvey_interval_s': ('no usable dig site: a whole mapping turn (and the sites given up are tried '
                            'again), at most this often, s', 0.0, 36000.0),
    'blocked_turn_s': ('hazard in the swept footprint: turn towards the route this long before '
                       'replanning, s', 0.0, 60.0),
    'blocked_timeout_s': ('hazard in the swept footprint this long: the goal is given up, s', 1.0, 600.0),
    'plan_match_m': ('an excavation plan applies to a site this near it, m', 0.01, 20.0),
    'plan_wait_s': ('wait this long at a site for its plan before the default cut, s', 0.0, 600.0),
    'default_depth_m': ('depth of cut without a plan, m', 0.0, 0.3),
    'default_drum_radps': ('drum speed without a plan, rad/s', 0.1, 100.0),
    'default_creep_mps': ('creep speed while cutting without a plan, m/s', 0.0, 1.0),
    'max_creep_mps': ('creep speed limit while cutting, m/s', 0.0, 1.0),
    'heading_gain': ('heading hold gain while cutting, (rad/s)/rad', 0.0, 20.0),
    'wheel_radius_m': ('wheel radius = arm pivot height, m (rover.yaml)', 0.01, 2.0),
    'arm_length_m': ('arm pivot to drum centre, m (rover.yaml)', 0.01, 5.0),
    'drum_radius_m': ('drum radius, m (rover.yaml)', 0.01, 2.0),
    'arm_lower_rad': ('arm limit, raised end, rad (rover.yaml)', -3.2, 3.2),
    'arm_upper_rad': ('arm limit, lowered end, rad (rover.yaml)', -3.2, 3.2),
    'arm_stow_rad': ('arm position for driving and hauling, rad (+ lowers)', -3.2, 3.2),
    'arm_tolerance_rad': ('arm counts as lowered within this of its target, rad', 0.001, 1.0),
    'lower_timeout_s': ('start cutting after this long even if the arm is not there, s', 0.0, 120.0),
    'drum_capacity_kg': ('regolith both drums hold together, kg (rover.yaml volume x density)',
                         0.01, 1e4),
    'full_fraction': ('fill share of capacity that ends a cut', 0.05, 1.0),
    'min_haul_kg': ('a cut ending with less than this tries another site, kg', 0.0, 1e4),
    'excavate_time_limit_s': ('longest cut, s', 1.0, 3600.0),
    'excavate_distance_limit_m': ('longest cut, m', 0.05, 100.0),
    'fill_length_margin': ("a cut ends this many times the plan's fill length on (the length that fills "
                           'the drums by the cut model)', 1.0, 100.0),
    'cut_settle_s': ('a cut is counted on a fresh weigh of the drums, or, where the excavator does not '
                     'weigh, once the reported fill has been steady this long, s', 0.0, 10.0),
    'cut_settle_timeout_s': ('... or this long after the drums were told to stop and the arms to stow, s',
                             0.1, 60.0),
    'slip_timeout_s': ('wheel slip lasting this long while cutting backs off, s', 0.1, 600.0),
    'backoff_distance_m': ('reverse distance after a stall, m', 0.0, 5.0),
    'backoff_speed_mps': ('reverse speed after a stall, m/s', 0.01, 1.0),
    'max_stalls': ('stalls per cycle before the cut ends', 1, 100),
    'stall_depth_scale': ('depth factor applied after each stall', 0.05, 1.0),
    'dump_timeout_s': ('an accepted dump that does not end in this long is a fault, s', 1.0, 600.0),
    'dump_rear_after_turn': ('dump the front drum facing the berm, then turn the rear one to it and dump '
                             'that (excavator/dump_front, excavator/dump_rear); false: both at once '
                             '(excavator/dump)',),
    'dump_confirm_s': ('accepted but never seen dumping: judge by fill after this, s', 0.1, 120.0),
    'dump_retry_s': ('wait before asking again for a refused dump, s', 0.0, 120.0),
    'max_dump_attempts': ('dump attempts before a fault', 1, 100),
    'service_timeout_s': ('wait for the dump service answer, s', 0.1, 120.0),
    'fault_backoff_s': ('first retry delay after a fault (doubles each time), s', 0.1, 3600.0),
    'fault_backoff_max_s': ('longest retry delay after a fault, s', 0.1, 36000.0),
    'estop_clear_hold_s': ('the e-stop must stay clear this long before resuming, s', 0.0, 60.0),
    'bulk_density_kg_m3': ('loose regolith bulk density for berm volume, kg/m^3', 100.0, 5000.0),
    'max_cycles': ('cycles after which the mission is DONE (0 = no limit)', 0, 1000000),
    'max_tick_s': ('longest tick counted as autonomous time, s', 0.01, 60.0),
}


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
    """Every parameter of mission_node (the names a launcher may set)."""
    defaults = {f.name: getattr(MissionConfig, f.name) for f in fields(MissionConfig)}
    defaults.update(_rover_defaults())
    if set(_CONFIG_DOC) != set(defaults):
        raise RuntimeError(f'mission_node parameter docs out of date: '
                           f'{sorted(set(_CONFIG_DOC) ^ set(defaults))}')
    params = [Param(name, defaults[name], *_CONFIG_DOC[name]) for name in _CONFIG_DOC]
    return params + [
        Param('state_file', '/tmp/mining_rover_mission.sqlite',
              'SQLite file where the tally and the mission state persist', read_only=True,
              check=lambda v: None if v.strip() else 'must not be empty'),
        Param('target_resource', 'helium3', 'resource the mission reports', choices=RESOURCES),
        Param('control_rate_hz', 10.0, 'state machine rate, Hz (ROS time)', 1.0, 100.0),
        Param('status_rate_hz', 1.0, '/mission/status rate, Hz', 0.05, 50.0),
        Param('persist_period_s', 1.0, 'energy and time are saved at least this often, s', 0.05, 60.0),
        Param('odom_timeout_s', 1.0, 'older odometry counts as no pose (the rover stops), s', 0.05, 60.0),
        Param('diagnostics_timeout_s', 5.0, 'a motor silent this long leaves the energy sum, s',
              0.1, 600.0),
        Param('map_frame', 'map', 'frame of /mission/goal'),
    ]


def _finite_or_zero(text: str) -> float:
    """A plan value that may be missing or not finite (the record is stored as strict JSON): 0."""
    v = float(text)
    return v if math.isfinite(v) else 0.0


class MissionNode(Node):
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
        record, tally = self.store.load()
        self.machine = Mission(cfg, record=record, follower_factory=self._follower_factory())
        self.energy = EnergyAccount(initial_wh=tally.energy_wh,
                                    max_gap_s=max(2.0, 3.0 / p['control_rate_hz']))
        self.tally = tally
        self.hazard_contacts = tally.hazard_contacts
        self.inputs = MissionInputs()
        self._pose_t = None
        self._route_seq = 0
        self._override_seq = int(self.machine.record.get('override_seq', 0))
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
        self._cmd_pub = self.create_publisher(Twist, 'cmd_vel', qos.COMMAND)
        self._drum_pub = self.create_publisher(Float64, 'excavator/drum_speed', qos.COMMAND)
        self._arm_pub = self.create_publisher(Float64, 'excavator/arm_position', qos.COMMAND)
        self._goal_pub = self.create_publisher(PoseStamped, 'mission/goal', qos.COMMAND)
        self._status_pub = self.create_publisher(DiagnosticStatus, 'mission/status', qos.STATE)
        self._dump = {drum: self.create_client(Trigger, DUMP_SERVICES[drum]) for drum in DUMP_SERVICES}
        # A driver latches a motor or bus fault until asked to clear it: the FAULT
        # state's retry asks (the driver refuses while its controllers still report it).
        self._clear_faults = [self.create_client(Trigger, f'{n}/clear_faults')
                              for n in ('drive_node', 'excavator_node')]
        self._next_clear_t = -math.inf
        sub = self.create_subscription
        self._subs = [
            sub(Odometry, 'odom', self._on_odom, qos.STATE),
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
        ]
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

    def _follower_factory(self):
        """The regulated pure pursuit of mining_rover.control.pure_pursuit when present
        (a class built from the path (N, 2), asked with the pose (x, y, yaw) for (v, w)),
        else the state machine's BasicPursuit."""
        basic = (lambda pts, c: BasicPursuit(pts, c.lookahead_m, c.max_linear_mps))
        try:
            from mining_rover.control import pure_pursuit
        except ImportError:
            self.get_logger().info('control.pure_pursuit not available: basic pure pursuit')
            return basic
        cls = getattr(pure_pursuit, 'RegulatedPurePursuit', None) or getattr(pure_pursuit, 'PurePursuit', None)
        if cls is None:
            self.get_logger().warning('control.pure_pursuit has no RegulatedPurePursuit: basic pure pursuit')
            return basic
        logger = self.get_logger()

        def make(pts, cfg):
            try:
                follower_cfg = None
                config_cls = getattr(pure_pursuit, 'PursuitConfig', None)
                if config_cls is not None:
                    # The executive's limits bound the follower; it must not stop short of
                    # the executive's own arrival tolerance, nor crawl below what the
                    # stuck detector counts as progress.
                    follower_cfg = config_cls(
                        max_linear_mps=cfg.max_linear_mps, max_angular_radps=cfg.max_angular_radps,
                        goal_tolerance_m=0.5 * cfg.goal_tolerance_m,
                        min_approach_mps=max(0.1, 4.0 * cfg.stuck_distance_m / cfg.stuck_time_s))
                follower = (cls(np.asarray(pts, dtype=float), follower_cfg) if follower_cfg
                            else cls(np.asarray(pts, dtype=float)))
                return _RegulatedAdapter(follower, pts)
            except (TypeError, ValueError) as exc:
                logger.warning(f'{cls.__name__} rejected the route ({exc}): basic pure pursuit',
                               throttle_duration_sec=30.0)
                return basic(pts, cfg)
        return make

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
        v = self._values(msg)
        try:
            numbers = [float(v[k]) for k in ('site_x', 'site_y', 'depth_of_cut_m', 'drum_speed_radps',
                                             'drive_speed_mps')]
            numbers += [float(v.get(k, 0.0)) for k in ('expected_mass_kg', 'expected_target_kg')]
            if not all(map(math.isfinite, numbers)):
                raise ValueError(f'non-finite value in {numbers}')
            feasible = v.get('feasible', '1') != '0'
            self.inputs.plan = ExcavationPlan(*numbers, feasible, '' if feasible else msg.message,
                                              _finite_or_zero(v.get('fill_length_m', '0')))
        except (KeyError, ValueError) as exc:
            self.get_logger().warning(f'excavation plan rejected (key/value {exc})',
                                      throttle_duration_sec=5.0)

    def _on_excavator(self, msg: DiagnosticStatus):
        v = self._values(msg)
        try:
            self.inputs.excavator = ExcavatorReport(
                float(v['fill_kg']), v.get('stalled') == '1', v.get('dumping') == '1',
                float(v.get('arm_position_rad', 'nan')), int(v.get('weigh_count', '-1')))
        except (KeyError, ValueError) as exc:
            self.get_logger().warning(f'excavator state rejected (key/value {exc})',
                                      throttle_duration_sec=5.0)

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
            T = np.eye(4)
            c, s = math.cos(out.goal.yaw), math.sin(out.goal.yaw)
            T[:2, :2] = [[c, -s], [s, c]]
            T[0, 3], T[1, 3] = out.goal.x, out.goal.y
            g.pose = matrix_to_pose(T)
            self._goal_pub.publish(g)
        if out.dump_request is not None:
            self._call_dump(out.dump_request, out.dump_drum)
        if self.machine.state.value == 'FAULT' and inp.driver_fault and now >= self._next_clear_t:
            self._next_clear_t = now + p['fault_backoff_s']
            for client in self._clear_faults:
                if client.service_is_ready():
                    client.call_async(Trigger.Request())

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
        self.tally = self.store.save(self.machine.record, counters, commits)
        self._last_save = now

    def _publish_status(self):
        t, m = self.tally, self.machine
        delivered = t.regolith_delivered_kg
        energy = self.energy.energy_wh
        time_s = float(m.record['time_autonomous_s'])
        berm = self._sim.get('berm_volume_m3', t.berm_volume_m3)
        values = {
            'state': m.state.value,
            'cycles': str(t.cycles),
            'regolith_excavated_kg': f'{t.regolith_excavated_kg:.3f}',
            'regolith_delivered_kg': f'{delivered:.3f}',
            'berm_volume_m3': f'{berm:.5f}',
            'kg_per_hour': f'{kg_per_hour(delivered, time_s):.3f}',
            'kg_per_wh': f'{kg_per_wh(delivered, energy):.4f}',
            'energy_wh': f'{energy:.3f}',
            'target_resource_kg': f'{t.target_resource_kg:.5f}',
            'hazard_contacts': str(int(self.hazard_contacts)),
            'estop_events': str(int(m.record['estop_events'])),
            'time_autonomous_s': f'{time_s:.1f}',
            'cycle_id': str(m.cycle_id),
            'target_resource': self.p['target_resource'],
            'fault_reason': m.record.get('fault_reason', '') if m.state.value == 'FAULT' else '',
        }
        level = {'FAULT': DiagnosticStatus.ERROR, 'ESTOP': DiagnosticStatus.WARN,
                 'PAUSED': DiagnosticStatus.WARN}.get(m.state.value, DiagnosticStatus.OK)
        self._status_pub.publish(DiagnosticStatus(
            level=level, name='mission', hardware_id='mission_node', message=m.state.value,
            values=[KeyValue(key=k, value=v) for k, v in values.items()]))

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


class _RegulatedAdapter:
    """Gives control.pure_pursuit's follower the interface the state machine calls."""

    def __init__(self, follower, points):
        self.follower = follower
        self.points = np.asarray(points, dtype=float)
        self.method = next(getattr(follower, m) for m in ('compute', 'command', 'step', '__call__')
                           if callable(getattr(follower, m, None)))

    def command(self, pose) -> tuple:
        out = self.method((pose.x, pose.y, pose.yaw))
        return float(out[0]), float(out[1])


def _vec(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> Vector3:
    return Vector3(x=float(x), y=float(y), z=float(z))


def _level(level) -> int:
    """DiagnosticStatus.level as an int (the message field is a byte in rclpy)."""
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def main(args=None):
    from mining_rover.ros.runtime import main_wrapper
    return main_wrapper(MissionNode)(args)
