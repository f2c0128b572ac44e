"""The executive's state machine: map, select a site, drive, excavate, haul, dump, repeat.

Pure Python (numpy only): no rclpy, no I/O, no clock. ``Mission.step(inputs, now_s)``
takes everything the rover knows at one control tick (a ``MissionInputs``) and returns
what to command (a ``MissionOutputs``); mission_node converts messages to inputs and
outputs to messages, and persists ``Mission.record`` with mission_store.

States and the transitions between them are the table ``TRANSITIONS``; ``Mission._go``
refuses any other. The normal cycle::

    MAPPING -> SELECT_SITE -> DRIVE_TO_SITE -> EXCAVATE (<-> BACK_OFF) -> HAUL -> DUMP
                   ^                                                           |
                   +-----------------------------------------------------------+

and, from any state, ESTOP (latched: all zero until the e-stop clears), PAUSED
(operator), FAULT (driver fault, no route, failed dump: safe stop, retry after a
doubling back-off), DONE (``max_cycles`` reached). ESTOP/PAUSED/FAULT return to the
state they interrupted, which starts that state afresh (a new route request, arms
lowered again) but keeps the cycle's data (fill before the dump, site, stalls).

What persists (``record``, a JSON-able dict) is only what a restarted executive needs
to continue the same cycle without counting anything twice: state, cycle id, site,
plan, and the cycle's measured masses. Timers, routes and followers are rebuilt.

Units: m, s, rad, rad/s, kg (REP-103). Poses are (x, y, yaw) in the map frame.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum

import numpy as np

from mining_rover.planning.mission_store import CycleCommit


class State(str, Enum):
    MAPPING = 'MAPPING'
    SELECT_SITE = 'SELECT_SITE'
    DRIVE_TO_SITE = 'DRIVE_TO_SITE'
    EXCAVATE = 'EXCAVATE'
    BACK_OFF = 'BACK_OFF'
    HAUL = 'HAUL'
    DUMP = 'DUMP'
    ESTOP = 'ESTOP'
    PAUSED = 'PAUSED'
    FAULT = 'FAULT'
    DONE = 'DONE'


S = State
#: States a fault, a pause or an e-stop may interrupt and later resume.
WORKING = frozenset({S.MAPPING, S.SELECT_SITE, S.DRIVE_TO_SITE, S.EXCAVATE, S.BACK_OFF,
                     S.HAUL, S.DUMP})
#: Every allowed transition. ESTOP may interrupt anything; PAUSED anything but ESTOP;
#: FAULT any working state. Each returns only to a state it may have interrupted.
TRANSITIONS: dict = {
    S.MAPPING: {S.SELECT_SITE},
    S.SELECT_SITE: {S.DRIVE_TO_SITE, S.MAPPING, S.DONE},
    S.DRIVE_TO_SITE: {S.EXCAVATE, S.SELECT_SITE},
    S.EXCAVATE: {S.BACK_OFF, S.HAUL, S.SELECT_SITE},
    S.BACK_OFF: {S.EXCAVATE, S.HAUL, S.SELECT_SITE},
    S.HAUL: {S.DUMP},
    S.DUMP: {S.SELECT_SITE, S.DONE},
    S.ESTOP: set(WORKING) | {S.PAUSED, S.FAULT, S.DONE},
    S.PAUSED: set(WORKING) | {S.FAULT, S.DONE},
    S.FAULT: set(WORKING),
    S.DONE: set(),
}
for _s in State:
    if _s is not S.ESTOP:
        TRANSITIONS[_s].add(S.ESTOP)
    if _s not in (S.ESTOP, S.PAUSED):
        TRANSITIONS[_s].add(S.PAUSED)
    if _s in WORKING:
        TRANSITIONS[_s].add(S.FAULT)
#: States whose time counts as autonomous operation.
AUTONOMOUS = WORKING | {S.FAULT}


# -- configuration ------------------------------------------------------------------------
@dataclass(frozen=True)
class MissionConfig:
    """Every tunable of the executive; mission_node fills it from its parameters."""
    dig_zone_x: float = 0.0
    dig_zone_y: float = 0.0
    dig_zone_radius: float = 3.0
    berm_x: float = -4.0
    berm_y: float = 0.0
    berm_radius: float = 1.0
    berm_standoff_m: float = 0.3            # dump point: rover centre this far outside the berm circle
    berm_facing_tolerance_rad: float = 0.2  # turn to face the berm centre within this before dumping
    dump_reach_m: float = 1.0               # drum discharge point ahead of (or behind) base_link
    dump_inside_fraction: float = 0.6       # dump once that point is this share of the berm radius in
    dump_approach_max_m: float = 1.2        # at most this far towards the berm after arriving
    dump_approach_mps: float = 0.1
    max_linear_mps: float = 0.4
    max_angular_radps: float = 0.6
    lookahead_m: float = 0.6
    goal_tolerance_m: float = 0.35
    route_match_m: float = 1.0              # a route counts when it ends this near the goal
    route_retry_s: float = 3.0              # re-publish the goal while no route came
    route_timeout_s: float = 15.0           # no route by then: FAULT
    drive_timeout_s: float = 240.0
    stuck_time_s: float = 10.0
    stuck_distance_m: float = 0.05
    footprint_length_m: float = 1.0
    footprint_width_m: float = 0.82
    hazard_lookahead_m: float = 0.4
    body_margin_m: float = 0.1              # the body's own next stretch, checked straight ahead
    route_clearance_m: float = 0.42         # half the body width; the planner keeps 0.55 m
    lethal_cost: int = 100
    mapping_turn_radps: float = 0.3
    mapping_known_fraction: float = 0.5
    mapping_timeout_s: float = 60.0
    site_wait_s: float = 10.0               # no dig site by then: the dig-zone centre
    site_exclusion_m: float = 0.6           # a site that yielded too little is skipped
    max_dig_depth_m: float = 0.12           # ground cut this deep is no site again; shallower
                                            # trenches are cut again, deeper by what was taken
    resurvey_interval_s: float = 60.0       # no usable site: a mapping turn, at most this often
    blocked_turn_s: float = 3.0             # hazard ahead: turn towards the route this long first
    blocked_timeout_s: float = 20.0         # hazard ahead this long: give the goal up
    plan_match_m: float = 1.0
    plan_wait_s: float = 5.0
    default_depth_m: float = 0.03
    default_drum_radps: float = 4.0
    default_creep_mps: float = 0.05
    max_creep_mps: float = 0.15
    heading_gain: float = 1.0               # rad/s per rad of heading error while cutting
    wheel_radius_m: float = 0.20
    arm_length_m: float = 0.45
    drum_radius_m: float = 0.16
    arm_lower_rad: float = -0.8             # raised limit
    arm_upper_rad: float = 0.6              # lowered limit
    arm_stow_rad: float = -0.4              # travel position
    arm_tolerance_rad: float = 0.05
    lower_timeout_s: float = 5.0
    drum_capacity_kg: float = 36.0          # both drums together
    full_fraction: float = 0.9
    min_haul_kg: float = 1.0
    excavate_time_limit_s: float = 60.0
    excavate_distance_limit_m: float = 2.0
    fill_length_margin: float = 1.5         # a cut ends this many planned fill lengths on
    cut_settle_s: float = 0.5               # a cut counts on a fresh weigh or, with no weigh,
                                            # once the fill is steady this long
    cut_settle_timeout_s: float = 6.0       # ... or this long after the drums were told to stop
                                            # (sim: the arms stow, the rover rocks ~4 s, a 0.6 s weigh)
    slip_timeout_s: float = 3.0
    backoff_distance_m: float = 0.25
    backoff_speed_mps: float = 0.1
    max_stalls: int = 3
    stall_depth_scale: float = 0.7          # each stall makes the next cut this much shallower
    dump_timeout_s: float = 30.0
    dump_rear_after_turn: bool = True       # dump the front drum facing the berm, then turn
                                            # and dump the rear one (False: both at once)
    dump_confirm_s: float = 3.0             # accepted but never seen dumping: judge by fill
    dump_retry_s: float = 2.0
    max_dump_attempts: int = 3
    service_timeout_s: float = 5.0
    fault_backoff_s: float = 2.0
    fault_backoff_max_s: float = 60.0
    estop_clear_hold_s: float = 1.0
    bulk_density_kg_m3: float = 1500.0      # loose lunar regolith (Carrier et al., Lunar Sourcebook 1991)
    max_cycles: int = 0                     # 0 = no limit
    max_tick_s: float = 1.0                 # longest tick counted as autonomous time

    def check(self) -> list:
        """Problems that make the configuration unusable, each naming the field."""
        p = []
        if not self.arm_lower_rad < self.arm_upper_rad:
            p.append(f'arm_upper_rad ({self.arm_upper_rad}) must exceed arm_lower_rad ({self.arm_lower_rad})')
        if not self.arm_lower_rad <= self.arm_stow_rad <= self.arm_upper_rad:
            p.append(f'arm_stow_rad ({self.arm_stow_rad}) outside the arm limits')
        if self.route_retry_s >= self.route_timeout_s:
            p.append(f'route_retry_s ({self.route_retry_s}) must be below route_timeout_s')
        if self.fault_backoff_s > self.fault_backoff_max_s:
            p.append('fault_backoff_s must not exceed fault_backoff_max_s')
        for name in ('default_depth_m', 'max_dig_depth_m'):
            try:
                arm_angle_for_depth(getattr(self, name), self.wheel_radius_m, self.arm_length_m,
                                    self.drum_radius_m)
            except ValueError as exc:
                p.append(f'{name}: {exc}')
        return p


def arm_angle_for_depth(depth_m: float, wheel_radius_m: float, arm_length_m: float,
                        drum_radius_m: float) -> float:
    """Arm angle (rad, + lowers) that puts the drum's bottom ``depth_m`` below the ground.

    Geometry (config/rover.yaml): the arm pivots on the axle plane, ``wheel_radius_m``
    above flat ground; the drum centre sits ``arm_length_m`` out along the arm, so the
    drum bottom's height is ``wheel_radius - arm_length * sin(angle) - drum_radius``.
    Setting that to ``-depth_m`` gives ``sin(angle) = (wheel_radius - drum_radius +
    depth) / arm_length``. ValueError when the arm cannot reach that depth.
    """
    s = (wheel_radius_m - drum_radius_m + depth_m) / arm_length_m
    if not -1.0 <= s <= 1.0:
        raise ValueError(f'depth {depth_m} m is out of reach of a {arm_length_m} m arm '
                         f'(sin = {s:.3f})')
    return math.asin(s)


# -- inputs and outputs ---------------------------------------------------------------------
@dataclass(frozen=True)
class Pose2D:
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class Costmap:
    """An occupancy grid: ``grid[row, col]`` int8 costs 0..100 / -1 unknown, row 0 at
    the lowest y; cell (r, c) has its lower-left corner at origin + R(yaw)(c, r)*res."""
    grid: np.ndarray
    resolution: float
    origin_x: float
    origin_y: float
    origin_yaw: float = 0.0

    def values_where(self, inside, bbox=None) -> np.ndarray:
        """Costs of the cells whose centre (map frame x, y arrays) satisfies inside(x, y).

        ``bbox`` (xmin, xmax, ymin, ymax), map frame, limits the cells examined."""
        h, w = self.grid.shape
        r0, r1, c0, c1 = 0, h, 0, w
        if bbox is not None and abs(self.origin_yaw) < 1e-9:
            res = self.resolution
            c0 = max(0, int(math.floor((bbox[0] - self.origin_x) / res)))
            c1 = min(w, int(math.ceil((bbox[1] - self.origin_x) / res)) + 1)
            r0 = max(0, int(math.floor((bbox[2] - self.origin_y) / res)))
            r1 = min(h, int(math.ceil((bbox[3] - self.origin_y) / res)) + 1)
            if r0 >= r1 or c0 >= c1:
                return np.zeros(0, dtype=self.grid.dtype)
        rows, cols = np.mgrid[r0:r1, c0:c1]
        c, s = math.cos(self.origin_yaw), math.sin(self.origin_yaw)
        lx, ly = (cols + 0.5) * self.resolution, (rows + 0.5) * self.resolution
        x = self.origin_x + c * lx - s * ly
        y = self.origin_y + s * lx + c * ly
        return self.grid[r0:r1, c0:c1][inside(x, y)]

    def known_fraction(self, cx: float, cy: float, radius: float) -> float:
        vals = self.values_where(lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2,
                                 (cx - radius, cx + radius, cy - radius, cy + radius))
        return float(np.count_nonzero(vals >= 0)) / vals.size if vals.size else 0.0

    def lethal_along(self, points, pose: Pose2D, length_m: float, radius_m: float, lethal: int,
                     body: tuple = (0.0, 0.0)) -> int:
        """Number of cells with cost >= lethal within radius_m of the route ``points``
        ((N, 2), map frame) over the length_m of it that follows the point nearest the
        pose: the ground the robot is about to drive on. Cells under the robot's body
        now (``body``: half length, half width, m) do not count: it stands on them, so
        they are no obstacle (costmap_2d's footprint clearing), and counting them would
        hold it where it is for good."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            return 0
        i = int(np.argmin(np.hypot(pts[:, 0] - pose.x, pts[:, 1] - pose.y)))
        step = 0.5 * self.resolution
        samples, left = [pts[i]], length_m
        for a, b in zip(pts[i:-1], pts[i + 1:]):
            seg = float(np.hypot(*(b - a)))
            if seg <= 0.0:
                continue
            f = np.arange(step, min(seg, left) + 1e-12, step) / seg
            samples.extend(a + np.outer(f, b - a))
            left -= seg
            if left <= 0.0:
                break
        s = np.asarray(samples)
        bbox = (s[:, 0].min() - radius_m, s[:, 0].max() + radius_m,
                s[:, 1].min() - radius_m, s[:, 1].max() + radius_m)

        c, sn = math.cos(pose.yaw), math.sin(pose.yaw)

        def inside(x, y):
            d2 = (x[..., None] - s[:, 0]) ** 2 + (y[..., None] - s[:, 1]) ** 2
            fx = c * (x - pose.x) + sn * (y - pose.y)
            fy = -sn * (x - pose.x) + c * (y - pose.y)
            under = (np.abs(fx) <= body[0]) & (np.abs(fy) <= body[1])
            return (d2.min(axis=-1) <= radius_m * radius_m) & ~under
        return int(np.count_nonzero(self.values_where(inside, bbox) >= lethal))

    def lethal_ahead(self, pose: Pose2D, length_m: float, half_width_m: float, lethal: int,
                     backwards: bool = False) -> int:
        """Number of cells with cost >= lethal in the rectangle swept ahead of the robot
        (robot frame x in [0, length], |y| <= half_width; behind it when backwards)."""
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        sign = -1.0 if backwards else 1.0

        def inside(x, y):
            dx, dy = x - pose.x, y - pose.y
            fx = sign * (c * dx + s * dy)
            fy = -s * dx + c * dy
            return (fx >= 0.0) & (fx <= length_m) & (np.abs(fy) <= half_width_m)
        reach = math.hypot(length_m, half_width_m)
        bbox = (pose.x - reach, pose.x + reach, pose.y - reach, pose.y + reach)
        return int(np.count_nonzero(self.values_where(inside, bbox) >= lethal))


@dataclass(frozen=True)
class Route:
    seq: int                 # increases with every /planner/route received
    points: np.ndarray       # (N, 2) map frame


@dataclass(frozen=True)
class DigSite:
    x: float
    y: float
    score: float = 0.0


@dataclass(frozen=True)
class ExcavationPlan:
    site_x: float
    site_y: float
    depth_of_cut_m: float
    drum_speed_radps: float
    drive_speed_mps: float
    expected_mass_kg: float = 0.0
    expected_target_kg: float = 0.0
    feasible: bool = True              # False: no cut the rover can react (planner's reason)
    reason: str = ''
    fill_length_m: float = 0.0         # cut length that fills the drums by the cut model (0: unknown)


@dataclass(frozen=True)
class ExcavatorReport:
    fill_kg: float
    stalled: bool = False
    dumping: bool = False
    arm_position_rad: float = math.nan
    weigh_count: int = -1       # weighs every drum has had (-1: the excavator does not weigh)


@dataclass(frozen=True)
class DumpResponse:
    seq: int
    success: bool
    message: str = ''


@dataclass
class MissionInputs:
    pose: Pose2D | None = None
    costmap: Costmap | None = None
    route: Route | None = None
    dig_sites: tuple = ()                      # DigSite, best first
    plan: ExcavationPlan | None = None
    excavator: ExcavatorReport | None = None
    estop: bool = False
    paused: bool = False
    slipping: bool = False
    driver_fault: str = ''                     # non-empty: which motor reports an error
    site_override: tuple | None = None         # (seq, x, y)
    dump_response: DumpResponse | None = None


@dataclass(frozen=True)
class Goal:
    seq: int
    x: float
    y: float
    yaw: float


@dataclass
class MissionOutputs:
    state: str = ''
    linear_mps: float = 0.0
    angular_radps: float = 0.0
    drum_radps: float | None = 0.0             # None: do not command (the dump runs them)
    arm_rad: float | None = None               # None: hold where they are
    goal: Goal | None = None                   # publish when set (this tick)
    dump_request: int | None = None            # call the dump service with this seq ...
    dump_drum: str = ''                        # ... for this drum ('front', 'rear'; '' both)
    commits: list = field(default_factory=list)  # CycleCommit, to persist with the record
    events: list = field(default_factory=list)   # (level, text) to log once
    persist: bool = False                      # the record changed: save it now


# -- a minimal path follower (used when the regulated pure pursuit is unavailable) ----------
class BasicPursuit:
    """Plain pure pursuit (Coulter 1992) on a polyline: v fixed, w = 2 v sin(alpha) / Ld."""

    def __init__(self, points, lookahead_m: float, speed_mps: float):
        self.points = np.asarray(points, dtype=float).reshape(-1, 2)
        self.lookahead_m = lookahead_m
        self.speed_mps = speed_mps

    def command(self, pose: Pose2D) -> tuple:
        p = np.array([pose.x, pose.y])
        d = np.linalg.norm(self.points - p, axis=1)
        i = int(np.argmin(d))
        ahead = np.nonzero(d[i:] >= self.lookahead_m)[0]
        target = self.points[i + ahead[0]] if ahead.size else self.points[-1]
        dx, dy = target - p
        alpha = _wrap(math.atan2(dy, dx) - pose.yaw)
        dist = max(math.hypot(dx, dy), 1e-6)
        if abs(alpha) > math.pi / 2:            # behind: turn in place first
            return 0.0, math.copysign(self.speed_mps / max(self.lookahead_m, 1e-3), alpha)
        v = self.speed_mps * min(1.0, dist / self.lookahead_m)
        return v, 2.0 * v * math.sin(alpha) / max(dist, self.lookahead_m * 0.5)


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _unreachable(result: str | None) -> bool:
    """A follow result that says the goal cannot be reached from here (no route, or a
    hazard in the way for blocked_timeout_s), as opposed to a fault."""
    return bool(result) and result.startswith(('no route', 'blocked'))


def _clip(v: float, limit: float) -> float:
    return max(-limit, min(limit, v))


MAX_DUG_POINTS = 500      # cut strokes remembered (as points) for site exclusion
BERM_GOAL_STEP_RAD = math.radians(30.0)   # between dump points tried around the berm


def fresh_record() -> dict:
    """The persisted part of a mission that has just started."""
    return {'state': S.MAPPING.value, 'resume_state': None, 'cycle_id': 1, 'site': None,
            'plan': None, 'goal_seq': 0, 'dump_seq': 0, 'override_seq': 0,
            'pending_override': None, 'excluded_sites': [], 'dug_sites': [], 'resurvey_t': None,
            'fault_count': 0,
            'fault_reason': '', 'estop_events': 0, 'time_autonomous_s': 0.0,
            'cycle': _fresh_cycle()}


def _fresh_cycle() -> dict:
    return {'fill_start_kg': None, 'excavated_kg': None, 'fill_before_dump_kg': None,
            'dump_accepted': False, 'stalls': 0, 'berm_goal': None,
            'dump_stage': 'front', 'stage_fill_kg': None}


# -- the machine ----------------------------------------------------------------------------
class Mission:
    """The executive. ``step(inputs, now_s)`` once per control tick, ``record`` to persist.

    ``follower_factory(points (N,2), cfg) -> obj with command(Pose2D) -> (v, w)`` builds
    the path follower for each route (BasicPursuit when None)."""

    def __init__(self, cfg: MissionConfig, record: dict | None = None, follower_factory=None):
        problems = cfg.check()
        if problems:
            raise ValueError('; '.join(problems))
        self.cfg = cfg
        self.record = fresh_record()
        if record:
            self.record.update(record)
            self.record['cycle'] = {**_fresh_cycle(), **(record.get('cycle') or {})}
        self.state = State(self.record['state'])
        self._follower_factory = follower_factory or (
            lambda pts, c: BasicPursuit(pts, c.lookahead_m, c.max_linear_mps))
        self._out = MissionOutputs()
        self._last_now = None
        self._phase = {}
        self._resumed = record is not None
        self._needs_enter = True

    # -- public ----------------------------------------------------------------------------
    @property
    def cycle_id(self) -> int:
        return int(self.record['cycle_id'])

    def step(self, inp: MissionInputs, now: float) -> MissionOutputs:
        out = self._out = MissionOutputs()
        if self._last_now is not None and self.state in AUTONOMOUS:
            self.record['time_autonomous_s'] += min(max(0.0, now - self._last_now), self.cfg.max_tick_s)
        self._last_now = now
        if self._needs_enter:
            self._needs_enter = False
            if self._resumed:
                self._event('info', f'resuming {self.state.value} in cycle {self.cycle_id}')
            self._enter(now, resume=self._resumed)
        self._take_override(inp)
        if not self._interrupt(inp, now):
            getattr(self, '_run_' + self.state.value.lower())(inp, now)
        out.state = self.state.value
        return out

    # -- transitions ---------------------------------------------------------------------
    def _go(self, new: State, now: float, reason: str, resume: bool = False):
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f'illegal transition {self.state.value} -> {new.value} ({reason})')
        self._event('info', f'{self.state.value} -> {new.value}: {reason}')
        self.state = new
        self.record['state'] = new.value
        self._out.persist = True
        self._enter(now, resume)

    def _enter(self, now: float, resume: bool = False):
        self._phase = {'t0': now, 'resume': resume}
        enter = getattr(self, '_enter_' + self.state.value.lower(), None)
        if enter is not None:
            enter(now)

    def _event(self, level: str, text: str):
        self._out.events.append((level, text))

    def _interrupt(self, inp: MissionInputs, now: float) -> bool:
        """E-stop, pause and driver faults pre-empt the running state; True if one did."""
        st = self.state
        if inp.estop and st is not S.ESTOP:
            self.record['estop_events'] += 1
            self._remember_resume()
            self._go(S.ESTOP, now, 'e-stop engaged')
            return True
        if st is S.ESTOP:
            return False
        if inp.paused and st is not S.PAUSED:
            self._remember_resume()
            self._go(S.PAUSED, now, 'operator pause')
            return True
        if inp.driver_fault and st in WORKING:
            self._fault(now, f'driver fault: {inp.driver_fault}')
            return True
        return False

    def _remember_resume(self):
        if self.state not in (S.ESTOP, S.PAUSED, S.FAULT):
            self.record['resume_state'] = self.state.value

    def _resume(self, now: float, why: str):
        target = State(self.record.get('resume_state') or S.SELECT_SITE.value)
        self._go(target, now, why, resume=True)

    def _fault(self, now: float, reason: str):
        self._remember_resume()
        self.record['fault_reason'] = reason
        self._go(S.FAULT, now, reason)

    def _take_override(self, inp: MissionInputs):
        ov = inp.site_override
        if ov is None or ov[0] <= self.record['override_seq']:
            return
        self.record['override_seq'] = int(ov[0])
        self.record['pending_override'] = [float(ov[1]), float(ov[2])]
        self._out.persist = True
        self._event('info', f'operator site override ({ov[1]:.2f}, {ov[2]:.2f})')

    # -- commands shared by states -----------------------------------------------------
    def _stop(self, arm=None, drum: float | None = 0.0):
        o = self._out
        o.linear_mps, o.angular_radps, o.drum_radps, o.arm_rad = 0.0, 0.0, drum, arm

    def _drive(self, v: float, w: float):
        self._out.linear_mps = _clip(v, self.cfg.max_linear_mps)
        self._out.angular_radps = _clip(w, self.cfg.max_angular_radps)

    def _request_route(self, now: float, x: float, y: float, pose: Pose2D | None):
        """Ask the planner for a route to (x, y): a new goal seq; following waits for it."""
        self.record['goal_seq'] += 1
        yaw = math.atan2(y - pose.y, x - pose.x) if pose else 0.0
        self._out.goal = Goal(self.record['goal_seq'], x, y, yaw)
        ph = self._phase
        ph.update(goal=(x, y, yaw), asked_t=now, asked_first_t=ph.get('asked_first_t', now),
                  route_after=ph.get('last_route_seq', -1), follower=None, route_end=None)

    def _follow(self, inp: MissionInputs, now: float) -> str | None:
        """Route following shared by DRIVE_TO_SITE and HAUL.

        Returns 'arrived', a fault reason, or None while under way."""
        c, ph = self.cfg, self._phase
        pose = inp.pose
        if inp.route is not None:
            ph['last_route_seq'] = max(ph.get('last_route_seq', -1), inp.route.seq)
        if pose is None:
            return None
        gx, gy, _ = ph['goal']
        if now - ph['t0'] > c.drive_timeout_s:
            return f'drive timeout ({c.drive_timeout_s:.0f} s) to ({gx:.2f}, {gy:.2f})'
        if math.hypot(gx - pose.x, gy - pose.y) <= c.goal_tolerance_m:
            return 'arrived'
        r = inp.route
        if r is not None and r.seq > ph['route_after'] and r.seq != ph.get('route_seq'):
            if len(r.points) == 0:
                return f'no route to ({gx:.2f}, {gy:.2f}): the planner sent an empty path'
            end = r.points[-1]
            if math.hypot(end[0] - gx, end[1] - gy) <= c.route_match_m:
                ph.update(route_seq=r.seq, follower=self._follower_factory(r.points, c), route_pts=r.points,
                          route_end=(float(end[0]), float(end[1])), moved_t=now,
                          moved_xy=(pose.x, pose.y))
                self._event('info', f'following route {r.seq} ({len(r.points)} points)')
        if ph.get('follower') is None:
            if now - ph['asked_first_t'] > c.route_timeout_s:
                return f'no route to ({gx:.2f}, {gy:.2f}) within {c.route_timeout_s:.0f} s'
            if now - ph['asked_t'] >= c.route_retry_s:
                ph['asked_t'] = now
                self.record['goal_seq'] += 1
                self._out.goal = Goal(self.record['goal_seq'], *ph['goal'])
            return None
        ex, ey = ph['route_end']
        if math.hypot(ex - pose.x, ey - pose.y) <= c.goal_tolerance_m:
            return 'arrived'
        v, w = ph['follower'].command(pose)
        if inp.costmap is not None and v != 0.0:
            # the planner keeps its disc-shaped robot off lethal ground along the route, so
            # the route ahead is checked with (a little less than) that disc, and only the
            # body's own next few centimetres straight ahead: a box swept straight on would
            # see hazards the curving route passes, and block on every fresh route.
            hits = inp.costmap.lethal_ahead(pose, c.footprint_length_m / 2 + c.body_margin_m,
                                            c.footprint_width_m / 2, c.lethal_cost, backwards=v < 0)
            if v > 0:
                hits += inp.costmap.lethal_along(ph['route_pts'], pose,
                                                 c.footprint_length_m / 2 + c.hazard_lookahead_m,
                                                 c.route_clearance_m, c.lethal_cost,
                                                 body=(c.footprint_length_m / 2, c.footprint_width_m / 2))
            if hits:
                return self._blocked(inp, now, hits, w)
            ph.pop('blocked_t0', None)
        mx, my = ph['moved_xy']
        if math.hypot(pose.x - mx, pose.y - my) >= c.stuck_distance_m:
            ph.update(moved_t=now, moved_xy=(pose.x, pose.y))
        elif now - ph['moved_t'] > c.stuck_time_s:
            self._event('warn', f'no progress for {c.stuck_time_s:.0f} s at ({pose.x:.2f}, '
                                f'{pose.y:.2f}): replanning')
            self._request_route(now, gx, gy, pose)
            ph['asked_first_t'] = now
            return None
        self._drive(v, w)
        return None

    def _excluded(self, xy) -> bool:
        """Given up here (unreachable, too little yield), or cut to max_dig_depth_m."""
        c, rec = self.cfg, self.record
        return (any(math.hypot(xy[0] - ex, xy[1] - ey) < c.site_exclusion_m
                    for ex, ey in rec['excluded_sites'])
                or self._dug_depth(xy, c.site_exclusion_m) >= c.max_dig_depth_m - 1e-9)

    def _unexclude(self, xy) -> None:
        c, rec = self.cfg, self.record
        rec['excluded_sites'] = [e for e in rec['excluded_sites']
                                 if math.hypot(xy[0] - e[0], xy[1] - e[1]) >= c.site_exclusion_m]

    def _dug_depth(self, xy, radius: float) -> float:
        """Deepest cut made within ``radius`` of xy, m (0: never dug). Records from before
        depths were kept hold bare points: those count as one default cut."""
        c, deepest = self.cfg, 0.0
        for d in self.record.get('dug_sites', []):
            if math.hypot(xy[0] - d[0], xy[1] - d[1]) < radius:
                deepest = max(deepest, d[2] if len(d) > 2 else c.default_depth_m)
        return deepest

    def _remember_stroke(self):
        """Points along the cut just made, every half exclusion radius, each with the depth
        the ground there has now been cut to: the next cut near them goes that much deeper
        (the wheels stand on the ground either side of a drum-wide trench, the planner's
        map may not show a few centimetres of it), and ground cut to max_dig_depth_m is no
        site again. Persisted with the record, kept for the mission."""
        c, ph, dug = self.cfg, self._phase, self.record.setdefault('dug_sites', [])
        a, b = ph.get('start_xy'), ph.get('last_xy')
        if a is None:
            return
        b = b or a
        cut = self.record['cycle'].get('cut_depth_m') or c.default_depth_m
        step = 0.5 * c.site_exclusion_m
        n = max(1, int(math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / step)))
        points = [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(n + 1)]
        dug.extend([[x, y, self._dug_depth((x, y), step) + cut] for x, y in points])   # depths before this stroke
        del dug[:-MAX_DUG_POINTS]

    def _blocked(self, inp: MissionInputs, now: float, hits: int, w: float) -> str | None:
        """Lethal cells in the footprint swept ahead: never drive on. The route may still be
        clear (the rover is not yet facing along it), so first turn in place towards it
        (turning sweeps no new ground ahead), then ask for a new route every
        route_retry_s; blocked for blocked_timeout_s, the goal is given up (returned)."""
        c, ph, pose = self.cfg, self._phase, inp.pose
        gx, gy, _ = ph['goal']
        t0 = ph.setdefault('blocked_t0', now)
        if now - t0 > c.blocked_timeout_s:
            ph.pop('blocked_t0', None)
            return (f'blocked by hazards ahead at ({pose.x:.2f}, {pose.y:.2f}) for '
                    f'{c.blocked_timeout_s:.0f} s on the way to ({gx:.2f}, {gy:.2f})')
        if now == t0:
            self._event('warn', f'{hits} lethal cells ahead at ({pose.x:.2f}, {pose.y:.2f}): '
                                'turning towards the route')
        if now - t0 >= c.blocked_turn_s and now - ph.get('blocked_replan_t', -math.inf) >= c.route_retry_s:
            self._event('warn', f'{hits} lethal cells still ahead at ({pose.x:.2f}, {pose.y:.2f}): '
                                'replanning')
            ph['blocked_replan_t'] = now
            self._request_route(now, gx, gy, pose)
            ph['asked_first_t'] = now
            return None
        self._drive(0.0, math.copysign(max(abs(w), c.mapping_turn_radps), w if w != 0.0 else 1.0))
        return None

    # -- MAPPING -----------------------------------------------------------------------
    def _enter_mapping(self, now: float):
        """At the start the rover turns until the dig zone is known; later (a re-survey:
        no usable site left on the map it has) a whole turn, whatever is already known,
        and the sites given up against the old map may be tried again."""
        rec = self.record
        self._phase.update(resurvey=rec.get('resurvey_t') is not None, turned=0.0, yaw=None)
        if self._phase['resurvey']:
            rec['excluded_sites'] = []
        rec['resurvey_t'] = now
        self._out.persist = True

    def _run_mapping(self, inp: MissionInputs, now: float):
        c, ph = self.cfg, self._phase
        self._stop(arm=c.arm_stow_rad)
        known = (inp.costmap.known_fraction(c.dig_zone_x, c.dig_zone_y, c.dig_zone_radius)
                 if inp.costmap is not None else 0.0)
        if inp.pose is not None:
            if ph['yaw'] is not None:
                ph['turned'] += abs(_wrap(inp.pose.yaw - ph['yaw']))
            ph['yaw'] = inp.pose.yaw
        if ph['turned'] >= 2.0 * math.pi:
            # a whole turn has shown all there is to see from here: a dig zone beyond the
            # map's range stays unknown however long the rover turns
            what = 're-survey done' if ph['resurvey'] else 'survey turn done'
            self._go(S.SELECT_SITE, now, f'{what}, {known:.0%} of the dig zone known')
        elif not ph['resurvey'] and known >= c.mapping_known_fraction:
            self._go(S.SELECT_SITE, now, f'{known:.0%} of the dig zone mapped')
        elif now - ph['t0'] > c.mapping_timeout_s:
            self._go(S.SELECT_SITE, now, f'mapping timeout, {known:.0%} of the dig zone known')
        else:
            self._drive(0.0, c.mapping_turn_radps)

    # -- SELECT_SITE -------------------------------------------------------------------
    def _run_select_site(self, inp: MissionInputs, now: float):
        c, rec = self.cfg, self.record
        self._stop(arm=c.arm_stow_rad)
        if c.max_cycles and rec['cycle_id'] > c.max_cycles:
            self._go(S.DONE, now, f'{c.max_cycles} cycles done')
            return
        site, why = None, ''
        if rec['pending_override'] is not None:
            site, why = tuple(rec['pending_override']), 'operator override'
            rec['pending_override'] = None
        else:
            for s in inp.dig_sites:
                if not self._excluded((s.x, s.y)):
                    site, why = (s.x, s.y), f'top-ranked dig site (score {s.score:.3g})'
                    break
            if site is None and now - self._phase['t0'] > c.site_wait_s:
                last = rec.get('resurvey_t')
                known = (inp.costmap.known_fraction(c.dig_zone_x, c.dig_zone_y, c.dig_zone_radius)
                         if inp.costmap is not None else 0.0)
                if known < c.mapping_known_fraction:
                    # the dig zone lies beyond what the rover has seen: no turn in place
                    # shows it, driving there does (a far zone is never given up for good)
                    self._unexclude((c.dig_zone_x, c.dig_zone_y))
                    site, why = (c.dig_zone_x, c.dig_zone_y), \
                        f'the dig zone is unmapped ({known:.0%} known): driving there'
                elif last is None or not 0.0 <= now - last < c.resurvey_interval_s:
                    self._go(S.MAPPING, now, 'no usable dig site: re-surveying')
                    return
                elif self._excluded((c.dig_zone_x, c.dig_zone_y)):
                    self._fault(now, 'no usable dig site, and the dig-zone centre was given up')
                    return
                else:
                    site, why = (c.dig_zone_x, c.dig_zone_y), 'no usable dig site: the dig-zone centre'
        if site is not None:
            rec['site'] = [float(site[0]), float(site[1])]
            rec['plan'] = None
            self._go(S.DRIVE_TO_SITE, now, f'site ({site[0]:.2f}, {site[1]:.2f}): {why}')

    # -- DRIVE_TO_SITE -----------------------------------------------------------------
    def _enter_drive_to_site(self, now: float):
        if self.record['site'] is not None:
            self._phase['pending_goal'] = tuple(self.record['site'])

    def _run_drive_to_site(self, inp: MissionInputs, now: float):
        c, ph = self.cfg, self._phase
        self._stop(arm=c.arm_stow_rad)
        if self.record['pending_override'] is not None or self.record['site'] is None:
            self._go(S.SELECT_SITE, now, 'operator override: new site')
            return
        self._remember_plan(inp)
        if 'pending_goal' in ph:
            if inp.pose is None:
                return
            self._request_route(now, *ph.pop('pending_goal'), inp.pose)
        result = self._follow(inp, now)
        if result == 'arrived':
            self._go(S.EXCAVATE, now, 'at the dig site')
        elif _unreachable(result):
            # This site cannot be reached from here: another one may be (when none is
            # left, SELECT_SITE re-surveys, then faults).
            if not self._excluded(self.record['site']):
                self.record['excluded_sites'].append(list(self.record['site']))
            self._go(S.SELECT_SITE, now, f'{result}: trying another site')
        elif result:
            self._fault(now, result)

    def _remember_plan(self, inp: MissionInputs):
        p, site = inp.plan, self.record['site']
        if p is None or site is None:
            return
        if math.hypot(p.site_x - site[0], p.site_y - site[1]) <= self.cfg.plan_match_m:
            d = asdict(p)
            if d != self.record['plan']:
                self.record['plan'] = d
                self._out.persist = True

    # -- EXCAVATE ----------------------------------------------------------------------
    def _enter_excavate(self, now: float):
        self._phase.update(cutting=False, slip_t=None, start_xy=None, yaw0=None)

    def _cut_parameters(self) -> tuple:
        """(arm angle rad, drum rad/s, creep m/s) from the plan or the defaults; the cut
        goes below the floor of any trench already cut at the site (``_remember_stroke``)."""
        c, p, site = self.cfg, self.record['plan'], self.record['site']
        depth = p['depth_of_cut_m'] if p else c.default_depth_m
        depth *= c.stall_depth_scale ** self.record['cycle']['stalls']
        self.record['cycle']['cut_depth_m'] = depth
        floor = self._dug_depth(site, 0.5 * c.site_exclusion_m) if site is not None else 0.0
        try:
            arm = arm_angle_for_depth(depth + floor, c.wheel_radius_m, c.arm_length_m, c.drum_radius_m)
        except ValueError:
            arm = c.arm_upper_rad
        arm = min(max(arm, c.arm_lower_rad), c.arm_upper_rad)
        drum = p['drum_speed_radps'] if p else c.default_drum_radps
        creep = min(p['drive_speed_mps'] if p else c.default_creep_mps, c.max_creep_mps)
        return arm, drum, creep

    def _run_excavate(self, inp: MissionInputs, now: float):
        c, ph, cyc = self.cfg, self._phase, self.record['cycle']
        self._remember_plan(inp)
        if self.record['plan'] is None and now - ph['t0'] < c.plan_wait_s:
            self._stop(arm=c.arm_stow_rad)
            return
        plan = self.record['plan']
        if plan is not None and not plan.get('feasible', True):
            # The planner found no cut the rover can react here (too little weight and
            # traction): lowering the drums would lift or push the rover. Hold, stowed,
            # until a plan (a new regolith estimate, another site) says otherwise.
            self._stop(arm=c.arm_stow_rad)
            if not ph.get('infeasible_told'):
                ph['infeasible_told'] = True
                self._event('warn', f'no cut fits at this site, holding: {plan.get("reason") or "planner"}')
            return
        if 'params' not in ph:
            ph['params'] = self._cut_parameters()
            if plan is None:
                self._event('warn', 'no excavation plan for this site: default cut')
            ph['lower_t'] = now
        arm, drum, creep = ph['params']
        self._stop(arm=arm, drum=drum)
        ex, pose = inp.excavator, inp.pose
        if ex is None or pose is None:
            return
        if cyc['fill_start_kg'] is None:
            cyc['fill_start_kg'] = ex.fill_kg
            self._out.persist = True
        if ph.get('ending'):
            self._settle(inp, now)
            return
        if ex.fill_kg >= c.full_fraction * c.drum_capacity_kg:
            self._stop_cut(now, ex, f'drums full ({ex.fill_kg:.2f} kg)')
            return
        if not ph['cutting']:
            lowered = (math.isfinite(ex.arm_position_rad)
                       and abs(ex.arm_position_rad - arm) <= c.arm_tolerance_rad)
            if lowered or now - ph['lower_t'] > c.lower_timeout_s:
                ph.update(cutting=True, cut_t=now, start_xy=(pose.x, pose.y), yaw0=pose.yaw)
            return
        if ex.stalled:   # only while cutting: a stall flag left from the last cut is old news
            self._go(S.BACK_OFF, now, f'drums stalled at fill {ex.fill_kg:.2f} kg')
            return
        ph['last_xy'] = (pose.x, pose.y)
        dist = math.hypot(pose.x - ph['start_xy'][0], pose.y - ph['start_xy'][1])
        if dist >= c.excavate_distance_limit_m:
            self._stop_cut(now, ex, f'cut length {dist:.2f} m reached')
            return
        fill_length = float(plan.get('fill_length_m', 0.0)) if plan else 0.0
        planned = c.fill_length_margin * fill_length if fill_length > 0.0 else math.inf
        if dist >= planned:
            # The fill estimate (cutting energy, where there is no weigh) can run behind,
            # and a cut that outpulls the wheels shoves the rover on (a rubble pile):
            # past the length that fills the drums, more cutting only spills.
            self._stop_cut(now, ex, f'planned fill length reached ({dist:.2f} m of {planned:.2f} m)')
            return
        if now - ph['cut_t'] >= c.excavate_time_limit_s:
            self._stop_cut(now, ex, f'cut time {c.excavate_time_limit_s:.0f} s reached')
            return
        if inp.slipping:
            ph['slip_t'] = ph['slip_t'] if ph['slip_t'] is not None else now
            if now - ph['slip_t'] > c.slip_timeout_s:
                self._go(S.BACK_OFF, now, f'wheels slipping for {c.slip_timeout_s:.0f} s')
            return  # drums keep cutting; the wheels wait for traction
        ph['slip_t'] = None
        self._drive(creep, c.heading_gain * _wrap(ph['yaw0'] - pose.yaw))

    def _stop_cut(self, now: float, ex: ExcavatorReport, reason: str):
        """A cut's end condition is met: stop the drums and the creep, raise the arms to
        their stow so that the drums leave the ground and can be weighed, and count the cut
        only once the fill has settled. Drums and wheels stop a command round-trip later
        than this decision, and what they collect meanwhile belongs to this cut (counted
        at once, it would show up as more delivered than excavated)."""
        self._stop(arm=self.cfg.arm_stow_rad, drum=0.0)
        self._phase.update(ending=reason, ending_t=now, steady_t=now, steady_fill=ex.fill_kg,
                           weigh_count=ex.weigh_count)

    def _settle(self, inp: MissionInputs, now: float):
        """Settled: a weigh of every drum newer than the end decision (the drums were
        still and raised for it) where the excavator weighs; else a fill estimate steady
        for cut_settle_s. At most cut_settle_timeout_s either way."""
        c, ph, ex = self.cfg, self._phase, inp.excavator
        self._stop(arm=c.arm_stow_rad, drum=0.0)
        if ex.fill_kg != ph['steady_fill']:
            ph.update(steady_t=now, steady_fill=ex.fill_kg)
        if ex.weigh_count >= 0:   # a restarted excavator counts from 0 again: any change is news
            settled = ex.weigh_count > 0 and ex.weigh_count != ph['weigh_count']
        else:
            settled = now - ph['steady_t'] >= c.cut_settle_s
        if settled or now - ph['ending_t'] >= c.cut_settle_timeout_s:
            self._end_cut(now, ex, ph['ending'])

    def _end_cut(self, now: float, ex: ExcavatorReport, reason: str):
        c, rec, cyc = self.cfg, self.record, self.record['cycle']
        self._remember_stroke()
        if ex.fill_kg >= c.min_haul_kg:
            mass = max(0.0, ex.fill_kg - (cyc['fill_start_kg'] or 0.0))
            cyc['excavated_kg'] = mass
            self._out.commits.append(CycleCommit(rec['cycle_id'], 'excavated', mass))
            self._go(S.HAUL, now, f'{reason}: hauling {ex.fill_kg:.2f} kg')
        else:
            if rec['site'] is not None:
                rec['excluded_sites'].append(list(rec['site']))
            self._go(S.SELECT_SITE, now, f'{reason}: only {ex.fill_kg:.2f} kg, trying another site')

    # -- BACK_OFF ----------------------------------------------------------------------
    def _enter_back_off(self, now: float):
        self._phase['start_xy'] = None

    def _run_back_off(self, inp: MissionInputs, now: float):
        c, ph, cyc = self.cfg, self._phase, self.record['cycle']
        self._stop(arm=c.arm_stow_rad)
        pose = inp.pose
        if pose is None:
            return
        if ph['start_xy'] is None:
            ph['start_xy'] = (pose.x, pose.y)
        moved = math.hypot(pose.x - ph['start_xy'][0], pose.y - ph['start_xy'][1])
        limit_s = 2.0 * c.backoff_distance_m / c.backoff_speed_mps + 2.0
        if moved < c.backoff_distance_m and now - ph['t0'] < limit_s:
            self._drive(-c.backoff_speed_mps, 0.0)
            return
        cyc['stalls'] += 1
        if cyc['stalls'] < c.max_stalls:
            self._go(S.EXCAVATE, now, f'backed off {moved:.2f} m (stall {cyc["stalls"]}): '
                                      'cutting shallower')
        else:
            ex = inp.excavator or ExcavatorReport(fill_kg=0.0)
            self._end_cut(now, ex, f'{cyc["stalls"]} stalls')

    # -- HAUL ----------------------------------------------------------------------------
    def _enter_haul(self, now: float):
        self._phase['pending_goal'] = True

    def _run_haul(self, inp: MissionInputs, now: float):
        c, ph, cyc = self.cfg, self._phase, self.record['cycle']
        self._stop(arm=c.arm_stow_rad)
        if ph.get('pending_goal'):
            if inp.pose is None:
                return
            if cyc['berm_goal'] is None:   # the dump point on the rover's side of the berm
                cyc['berm_goal'] = self._berm_point(math.atan2(inp.pose.y - c.berm_y, inp.pose.x - c.berm_x))
                self._out.persist = True
            ph['pending_goal'] = False
            self._request_route(now, *cyc['berm_goal'], inp.pose)
        result = self._follow(inp, now)
        if result == 'arrived':
            self._go(S.DUMP, now, 'at the berm')
        elif _unreachable(result) and self._next_berm_goal(now, result):
            return
        elif result:
            # the whole circle failed from here: after the fault's back-off the search
            # starts again from the side the rover is on then
            cyc.update(berm_tries=0, berm_first=None, berm_goal=None)
            self._fault(now, result)

    def _berm_point(self, bearing: float) -> list:
        """Dump point berm_standoff_m outside the berm circle, at ``bearing`` (rad) from its centre."""
        c = self.cfg
        r = c.berm_radius + c.berm_standoff_m
        return [c.berm_x + r * math.cos(bearing), c.berm_y + r * math.sin(bearing)]

    def _next_berm_goal(self, now: float, why: str) -> bool:
        """The dump point cannot be reached (the berm grows with every dump, and what was
        the standoff point becomes its slope): try another point on the berm's circle,
        alternately either side of the first, BERM_GOAL_STEP_RAD apart. False once the
        whole circle has been tried (the caller faults)."""
        c, cyc = self.cfg, self.record['cycle']
        tries = cyc.get('berm_tries', 0) + 1
        if tries > int(2 * math.pi / BERM_GOAL_STEP_RAD) or cyc['berm_goal'] is None:
            return False
        first = cyc.get('berm_first') or cyc['berm_goal']
        a0 = math.atan2(first[1] - c.berm_y, first[0] - c.berm_x)
        a = a0 + ((tries + 1) // 2) * BERM_GOAL_STEP_RAD * (1 if tries % 2 else -1)
        cyc.update(berm_tries=tries, berm_first=list(first), berm_goal=self._berm_point(a))
        self._out.persist = True
        self._event('warn', f'{why}: dumping from another side of the berm '
                            f'({cyc["berm_goal"][0]:.2f}, {cyc["berm_goal"][1]:.2f})')
        self._phase['pending_goal'] = True
        return True

    # -- DUMP ----------------------------------------------------------------------------
    def _enter_dump(self, now: float):
        self._phase.update(asked_t=None, attempts=0, accepted_t=None, seen_dumping=False,
                           retry_t=now)

    def _run_dump(self, inp: MissionInputs, now: float):
        c, ph, cyc, rec = self.cfg, self._phase, self.record['cycle'], self.record
        self._stop(arm=None, drum=None)
        ex = inp.excavator
        if ex is None:
            return
        if cyc['fill_before_dump_kg'] is None:
            cyc['fill_before_dump_kg'] = ex.fill_kg
            self._out.persist = True
        stage = self._dump_stage()
        if cyc.get('stage_fill_kg') is None:
            cyc['stage_fill_kg'] = ex.fill_kg
            self._out.persist = True
        before = cyc['stage_fill_kg']
        pose = inp.pose
        if not cyc['dump_accepted'] and not ph.get('faced') and pose is not None:
            # Face the berm with the drum that dumps: each drum reaches
            # footprint_length/2 + a drum out from its end and discharges over the berm.
            err = self._berm_heading_error(pose, stage)
            if abs(err) > c.berm_facing_tolerance_rad and now - self._phase['t0'] < c.dump_timeout_s:
                self._drive(0.0, math.copysign(max(c.mapping_turn_radps, min(c.max_angular_radps,
                                                                             abs(err))), err))
                return
            ph['faced'] = True
        if not cyc['dump_accepted'] and not ph.get('approached') and pose is not None:
            if self._approach_berm(pose, now, stage):
                return
        r = inp.dump_response
        if ph['asked_t'] is not None and r is not None and r.seq == rec['dump_seq']:
            ph['asked_t'] = None
            if r.success:
                ph['accepted_t'] = ph['accepted_t'] or now
                cyc['dump_accepted'] = True
                self._out.persist = True
            else:
                ph['attempts'] += 1
                ph['retry_t'] = now + c.dump_retry_s
                self._event('warn', f'dump refused: {r.message}')
        if ex.dumping:
            ph['seen_dumping'] = True
            ph['accepted_t'] = ph['accepted_t'] or now
            if not cyc['dump_accepted']:
                cyc['dump_accepted'] = True
                self._out.persist = True
            return
        dropped = ex.fill_kg < before - max(0.05, 0.05 * before)
        # After a restart (or an e-stop that aborted the dump) the drums count as emptied
        # only when nearly empty; otherwise dump again: fill_before stays, so the final
        # delivery covers everything that left the drums, once.
        emptied_before = ph['resume'] and dropped and ex.fill_kg < c.min_haul_kg
        if ph['seen_dumping'] or (cyc['dump_accepted'] and (emptied_before or (
                dropped and ph['accepted_t'] is not None
                and now - ph['accepted_t'] >= c.dump_confirm_s))):
            self._stage_done(now, ex)
            return
        if ph['accepted_t'] is not None:
            if now - ph['accepted_t'] > c.dump_timeout_s:
                self._fault(now, f'dump never finished in {c.dump_timeout_s:.0f} s')
            elif now - ph['accepted_t'] >= c.dump_confirm_s and not dropped:
                ph['accepted_t'] = None
                ph['retry_t'] = now
                ph['attempts'] += 1
                self._event('warn', 'dump accepted but the drums did not empty: asking again')
            return
        if ph['asked_t'] is not None:
            if now - ph['asked_t'] <= c.service_timeout_s:
                return
            ph['asked_t'] = None
            ph['attempts'] += 1
            ph['retry_t'] = now + c.dump_retry_s
            self._event('warn', f'no answer from /excavator/dump in {c.service_timeout_s:.0f} s')
        if ph['attempts'] >= c.max_dump_attempts:
            self._fault(now, f'dump failed {ph["attempts"]} times')
            return
        if now >= ph['retry_t']:
            rec['dump_seq'] += 1
            ph['asked_t'] = now
            self._out.dump_request = rec['dump_seq']
            self._out.dump_drum = stage
            self._out.persist = True

    def _approach_berm(self, pose: Pose2D, now: float, stage: str) -> bool:
        """Facing the berm, close in until the dumping drum's discharge point (dump_reach_m
        from base_link) is dump_inside_fraction of the berm radius from its centre. The
        route ends where the planner's inflation around the growing pile lets it (the
        dump goal is snapped out of the pile, up to a metre back), and dumping from there
        lands the regolith beside the berm. The pile itself is what this drive reaches for,
        so it ignores the costmap; it is slow, short (dump_approach_max_m, rear first for
        the rear drum) and ends on its own time. True while driving."""
        c, ph = self.cfg, self._phase
        sign = -1.0 if stage == 'rear' else 1.0
        dist = math.hypot(c.berm_x - pose.x, c.berm_y - pose.y)
        start = ph.setdefault('approach_xy', (pose.x, pose.y))
        t0 = ph.setdefault('approach_t', now)
        moved = math.hypot(pose.x - start[0], pose.y - start[1])
        limit_s = 2.0 * c.dump_approach_max_m / c.dump_approach_mps + 2.0
        if (dist - c.dump_reach_m <= c.dump_inside_fraction * c.berm_radius
                or moved >= c.dump_approach_max_m or now - t0 > limit_s):
            ph['approached'] = True
            if moved > 0.02:
                self._event('info', f'closed {moved:.2f} m on the berm: discharge point '
                                    f'{max(0.0, dist - c.dump_reach_m):.2f} m from its centre')
            return False
        err = self._berm_heading_error(pose, stage)
        self._drive(sign * c.dump_approach_mps, _clip(c.heading_gain * err, c.max_angular_radps))
        return True

    def _berm_heading_error(self, pose: Pose2D, stage: str) -> float:
        """Turn (rad) that points the dumping drum (the rear one for stage 'rear') at the
        berm centre."""
        c = self.cfg
        bearing = math.atan2(c.berm_y - pose.y, c.berm_x - pose.x)
        return _wrap(bearing + (math.pi if stage == 'rear' else 0.0) - pose.yaw)

    def _dump_stage(self) -> str:
        """'front', 'rear' (two-stage dump) or '' (both drums at once)."""
        if not self.cfg.dump_rear_after_turn:
            return ''
        return self.record['cycle'].get('dump_stage') or 'front'

    def _stage_done(self, now: float, ex: ExcavatorReport):
        """One drum has dumped. Both drums dig (counter-rotating, RASSOR-style, so that
        their reactions cancel), but only the one facing the berm is over it: after the
        front one, the rover turns its rear drum to the berm and dumps that, unless what
        is left is not worth the turn."""
        c, cyc = self.cfg, self.record['cycle']
        if self._dump_stage() == 'front' and ex.fill_kg >= c.min_haul_kg:
            cyc.update(dump_stage='rear', stage_fill_kg=None, dump_accepted=False)
            self._out.persist = True
            self._event('info', f'front drum dumped: turning the rear drum ({ex.fill_kg:.2f} kg left) to the berm')
            self._enter(now, resume=self._phase['resume'])   # a fresh DUMP phase: face, close in, dump
            return
        self._finish_dump(now, ex)

    def _finish_dump(self, now: float, ex: ExcavatorReport):
        c, rec, cyc = self.cfg, self.record, self.record['cycle']
        delivered = max(0.0, cyc['fill_before_dump_kg'] - ex.fill_kg)
        p = rec['plan']
        ratio = (p['expected_target_kg'] / p['expected_mass_kg']
                 if p and p.get('expected_mass_kg', 0.0) > 0.0 else 0.0)
        if cyc['excavated_kg'] is None:   # excavated before a restart that lost nothing else
            rec_mass = max(0.0, cyc['fill_before_dump_kg'] - (cyc['fill_start_kg'] or 0.0))
            self._out.commits.append(CycleCommit(rec['cycle_id'], 'excavated', rec_mass))
        self._out.commits.append(CycleCommit(
            rec['cycle_id'], 'delivered', delivered, target_kg=delivered * ratio,
            volume_m3=delivered / c.bulk_density_kg_m3))
        done_id = rec['cycle_id']
        rec['cycle_id'] += 1
        rec['cycle'] = _fresh_cycle()
        rec['site'], rec['plan'], rec['fault_count'], rec['excluded_sites'] = None, None, 0, []
        reason = f'cycle {done_id}: delivered {delivered:.2f} kg'
        if c.max_cycles and done_id >= c.max_cycles:
            self._go(S.DONE, now, reason)
        else:
            self._go(S.SELECT_SITE, now, reason)

    # -- ESTOP, PAUSED, FAULT, DONE ------------------------------------------------------
    def _run_estop(self, inp: MissionInputs, now: float):
        self._stop(arm=None, drum=0.0)
        if inp.estop:
            self._phase['clear_t'] = None
            return
        clear_t = self._phase.get('clear_t') or now
        self._phase['clear_t'] = clear_t
        if now - clear_t >= self.cfg.estop_clear_hold_s:
            self._resume(now, 'e-stop cleared')

    def _run_paused(self, inp: MissionInputs, now: float):
        self._stop(arm=None, drum=0.0)
        if not inp.paused:
            self._resume(now, 'operator resume')

    def _enter_fault(self, now: float):
        c, rec = self.cfg, self.record
        wait = min(c.fault_backoff_max_s, c.fault_backoff_s * 2 ** rec['fault_count'])
        rec['fault_count'] += 1
        self._phase['until'] = now + wait
        self._event('warn', f'fault #{rec["fault_count"]} ({rec["fault_reason"]}): safe stop, '
                            f'retry in {wait:.0f} s')

    def _run_fault(self, inp: MissionInputs, now: float):
        self._stop(arm=None, drum=0.0)
        if now < self._phase['until']:
            return
        if inp.driver_fault:
            self._enter_fault(now)
            return
        self._resume(now, f'retrying after: {self.record["fault_reason"]}')

    def _run_done(self, inp: MissionInputs, now: float):
        self._stop(arm=None, drum=0.0)

    # -- convenience ---------------------------------------------------------------------
    def counters(self) -> dict:
        """Counters the machine owns, for the store."""
        return {'estop_events': int(self.record['estop_events']),
                'time_autonomous_s': float(self.record['time_autonomous_s'])}


__all__ = ['State', 'TRANSITIONS', 'MissionConfig', 'Mission', 'MissionInputs', 'MissionOutputs',
           'Pose2D', 'Costmap', 'Route', 'DigSite', 'ExcavationPlan', 'ExcavatorReport',
           'DumpResponse', 'Goal', 'BasicPursuit', 'arm_angle_for_depth', 'fresh_record']
