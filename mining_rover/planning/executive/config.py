"""The executive's settings: one frozen dataclass, each field documented once.

Every field is made with ``setting(default, description, min, max)``; mission_node
derives its parameter table (names, defaults, descriptions, ranges) from these fields,
so a setting is described here and nowhere else. Units are in the names or the
descriptions (m, s, rad, kg; REP-103).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields


def setting(default, description: str, min_value=None, max_value=None):
    """A MissionConfig field with its description and allowed range (None: no range)."""
    return field(default=default, metadata={'description': description,
                                            'range': (min_value, max_value)})


@dataclass(frozen=True)
class MissionConfig:
    """Every tunable of the executive; mission_node fills it from its parameters."""
    dig_zone_x: float = setting(0.0,
        'dig zone centre x, map frame, m (from the world)', -10000.0, 10000.0)
    dig_zone_y: float = setting(0.0, 'dig zone centre y, map frame, m', -10000.0, 10000.0)
    dig_zone_radius: float = setting(3.0, 'dig zone radius, m', 0.1, 1000.0)
    berm_x: float = setting(-4.0, 'berm (dump) zone centre x, map frame, m', -10000.0, 10000.0)
    berm_y: float = setting(0.0, 'berm zone centre y, map frame, m', -10000.0, 10000.0)
    berm_radius: float = setting(1.0, 'berm zone radius, m', 0.0, 1000.0)
    berm_standoff_m: float = setting(0.3,
        'dump point distance outside the berm circle, m', 0.0, 10.0)
    berm_goal_shift_m: float = setting(0.25,
        'hauling: a fix that moves the dump point (map frame) this far from the goal being '
        'driven to (odom) asks for a new route, m', 0.01, 10.0)
    berm_facing_tolerance_rad: float = setting(0.2,
        'turn to face the berm centre within this before dumping, rad', 0.01, 3.2)
    dump_reach_m: float = setting(0.82,
        'drum discharge point ahead of (or behind) base_link while it dumps, m (the drum '
        'axis: arm pivot 0.45 + arm 0.45 x cos(dump arm angle 0.6 rad), config/rover.yaml)',
        0.0, 5.0)
    dump_inside_fraction: float = setting(0.6,
        'facing the berm, close in until the discharge point is this share of '
        'the berm radius from its centre', 0.0, 1.0)
    dump_approach_max_m: float = setting(1.2,
        'closing in on the berm: at most this far, m', 0.0, 5.0)
    dump_approach_mps: float = setting(0.1,
        'closing in on the berm: at this speed, m/s', 0.01, 1.0)
    max_linear_mps: float = setting(0.4,
        'forward speed limit, m/s (lowered by the site on small bodies: '
        'mining_rover/site.py)', 0.0001, 2.0)
    max_angular_radps: float = setting(0.6,
        'turn rate limit, rad/s (lowered by the site on small bodies)', 0.0001, 5.0)
    lookahead_m: float = setting(0.6,
        'unused: the regulated pure pursuit scales its lookahead with speed '
        '(control/pure_pursuit.py); kept so that parameter files setting it load, m', 0.05, 10.0)
    goal_tolerance_m: float = setting(0.35, 'arrival distance to a goal, m', 0.02, 5.0)
    route_match_m: float = setting(1.0,
        'a route counts for a goal when it ends this near it, m', 0.05, 20.0)
    route_retry_s: float = setting(3.0,
        're-publish the goal after this long without a route, s', 0.1, 600.0)
    route_timeout_s: float = setting(15.0, 'no route after this long is a fault, s', 0.5, 3600.0)
    drive_timeout_s: float = setting(240.0,
        'a drive longer than this plus drive_time_per_m_s per metre to the goal is a fault, s',
        1.0, 36000.0)
    drive_time_per_m_s: float = setting(10.0,
        'drive time allowed per metre of straight line to the goal, on top of drive_timeout_s '
        '(10 s/m: an average of 0.1 m/s, twice the look-and-creep speed), s/m', 0.0, 3600.0)
    stuck_time_s: float = setting(10.0,
        'no progress for this long triggers a replan, s', 0.5, 600.0)
    stuck_distance_m: float = setting(0.05,
        'progress smaller than this counts as none, m', 0.001, 5.0)
    footprint_length_m: float = setting(1.0,
        'robot footprint length for the hazard check, m', 0.1, 10.0)
    footprint_width_m: float = setting(0.82,
        'robot footprint width for the hazard check, m', 0.1, 10.0)
    hazard_lookahead_m: float = setting(0.4,
        'unused: forwards the footprint swept along the route is checked (swept_ahead_m); '
        'kept so that parameter files setting it load, m', 0.0, 10.0)
    body_margin_m: float = setting(0.1,
        'reversing, the footprint swept straight back this far is checked for hazards, m',
        0.0, 2.0)
    route_clearance_m: float = setting(0.42,
        'unused: forwards the footprint swept along the route is checked (swept_ahead_m); '
        'kept so that parameter files setting it load, m', 0.0, 5.0)
    known_lookahead_m: float = setting(4.0,
        'the route ahead is checked this far for ground the map has seen (costmap not '
        'unknown); 4 m: stereo fuses to 5 m (mapping.yaml max_range_m) from a camera '
        '0.3 m ahead of base_link, m', 0.5, 20.0)
    perception_latency_s: float = setting(2.5,
        'from ground coming into view to the rover stopping for a hazard there: a stereo '
        'frame (0.5 s at 2 Hz), a costmap (1 s at 1 Hz), a replan and a control tick; the '
        'speed is limited so that the rover covers no more than the seen ground beyond '
        'its front and stop_margin_m in this time (Nav2: unknown space is not free), s',
        0.1, 30.0)
    stop_margin_m: float = setting(0.3,
        'kept between the front of the footprint and the first unseen cell of the route, m',
        0.0, 5.0)
    look_speed_mps: float = setting(0.05,
        'the route ahead unseen: after look_wait_s of standing and looking, creep at this '
        'speed (shadows and stereo holes may stay unseen; the stuck monitor and the '
        'hazard checks still hold), m/s', 0.0, 1.0)
    look_wait_s: float = setting(3.0,
        'the route ahead unseen: stand still this long for the map to see it, s', 0.0, 120.0)
    swept_ahead_m: float = setting(0.5,
        'driving forwards, the footprint swept along the next this much of the route must '
        'cover no lethal cell it does not stand on now (Costmap.lethal_swept); at the 0.4 m/s '
        'limit that is 1.25 s of driving, m', 0.05, 5.0)
    lethal_cost: int = setting(100,
        'costmap cost at and above which a cell is a hazard (Nav2: 100)', 1, 100)
    mapping_turn_radps: float = setting(0.3, 'turn rate while mapping in place, rad/s', 0.0, 2.0)
    mapping_known_fraction: float = setting(0.5,
        'known share of dig-zone cells that ends mapping', 0.0, 1.0)
    mapping_timeout_s: float = setting(60.0,
        'mapping ends after this long regardless, s', 0.0, 3600.0)
    site_wait_s: float = setting(10.0,
        'wait this long for dig sites before a re-survey, then the zone centre, s', 0.0, 3600.0)
    far_zone_m: float = setting(10.0,
        'no dig site and the dig zone centre farther than this: drive there at once, without '
        'waiting site_wait_s (no site can appear on a map that does not reach it; the stereo '
        'map fuses to 5 m), m', 0.0, 10000.0)
    site_exclusion_m: float = setting(0.6,
        'a site whose cut yielded too little is skipped within this, m', 0.0, 10.0)
    max_dig_depth_m: float = setting(0.12,
        'ground cut this deep is no site again; shallower trenches are cut '
        'again, deeper by what was taken, m', 0.0, 0.5)
    resurvey_interval_s: float = setting(60.0,
        'no usable dig site: a whole mapping turn (and the sites given up are '
        'tried again), at most this often, s', 0.0, 36000.0)
    blocked_turn_s: float = setting(3.0,
        'hazard in the swept footprint: turn towards the route this long before'
        ' replanning, s', 0.0, 60.0)
    blocked_timeout_s: float = setting(20.0,
        'hazard in the swept footprint this long: the goal is given up, s', 1.0, 600.0)
    plan_match_m: float = setting(1.0,
        'an excavation plan applies to a site this near it, m', 0.01, 20.0)
    plan_wait_s: float = setting(5.0,
        'wait this long at a site for its plan before the default cut, s', 0.0, 600.0)
    default_depth_m: float = setting(0.03, 'depth of cut without a plan, m', 0.0, 0.3)
    default_drum_radps: float = setting(4.0, 'drum speed without a plan, rad/s', 0.1, 100.0)
    default_creep_mps: float = setting(0.05,
        'creep speed while cutting without a plan, m/s', 0.0, 1.0)
    max_creep_mps: float = setting(0.15, 'creep speed limit while cutting, m/s', 0.0, 1.0)
    heading_gain: float = setting(1.0, 'heading hold gain while cutting, (rad/s)/rad', 0.0, 20.0)
    wheel_radius_m: float = setting(0.20,
        'wheel radius = arm pivot height, m (rover.yaml)', 0.01, 2.0)
    arm_length_m: float = setting(0.45, 'arm pivot to drum centre, m (rover.yaml)', 0.01, 5.0)
    drum_radius_m: float = setting(0.16, 'drum radius, m (rover.yaml)', 0.01, 2.0)
    arm_lower_rad: float = setting(-0.8, 'arm limit, raised end, rad (rover.yaml)', -3.2, 3.2)
    arm_upper_rad: float = setting(0.6, 'arm limit, lowered end, rad (rover.yaml)', -3.2, 3.2)
    arm_stow_rad: float = setting(-0.4,
        'arm position for driving and hauling, rad (+ lowers)', -3.2, 3.2)
    arm_tolerance_rad: float = setting(0.05,
        'arm counts as lowered within this of its target, rad', 0.001, 1.0)
    lower_timeout_s: float = setting(5.0,
        'start cutting after this long even if the arm is not there, s', 0.0, 120.0)
    drum_capacity_kg: float = setting(36.0,
        'regolith both drums hold together, kg (rover.yaml volume x density)', 0.01, 10000.0)
    full_fraction: float = setting(0.9, 'fill share of capacity that ends a cut', 0.05, 1.0)
    min_haul_kg: float = setting(1.0,
        'a cut ending with less than this tries another site, kg', 0.0, 10000.0)
    excavate_time_limit_s: float = setting(60.0, 'longest cut, s', 1.0, 3600.0)
    excavate_distance_limit_m: float = setting(2.0, 'longest cut, m', 0.05, 100.0)
    fill_length_margin: float = setting(1.5,
        "a cut ends this many times the plan's fill length on (the length that "
        'fills the drums by the cut model)', 1.0, 100.0)
    cut_settle_s: float = setting(0.5,
        'a cut is counted on a fresh weigh of the drums, or, where the '
        'excavator does not weigh, once the reported fill has been steady this '
        'long, s', 0.0, 10.0)
    # sim: the arms stow, the rover rocks ~4 s, then two 0.6 s weigh rounds
    cut_settle_timeout_s: float = setting(8.0,
        '... or this long after the drums were told to stop and the arms to stow, s', 0.1, 60.0)
    slip_timeout_s: float = setting(3.0,
        'wheel slip lasting this long while cutting backs off, s', 0.1, 600.0)
    backoff_distance_m: float = setting(0.25, 'reverse distance after a stall, m', 0.0, 5.0)
    backoff_speed_mps: float = setting(0.1, 'reverse speed after a stall, m/s', 0.01, 1.0)
    max_stalls: int = setting(3, 'stalls per cycle before the cut ends', 1, 100)
    stall_depth_scale: float = setting(0.7, 'depth factor applied after each stall', 0.05, 1.0)
    stuck_window_s: float = setting(6.0,
        'stuck detection: wheel travel and visual odometry are compared over this '
        'window, s (planning/executive/stuck.py)', 1.0, 120.0)
    stuck_min_travel_m: float = setting(0.25,
        'stuck detection: the wheels must roll at least this far in the window, m', 0.01, 10.0)
    stuck_progress_share: float = setting(0.1,
        'stuck detection: stuck when visual odometry saw less than this share of the '
        "progress the wheels' travel makes along the arc the gyro turned (0.1: 90 % slip "
        'or more; a lunar mission hauling 35 kg loads slipped up to ~80 % for a moment)',
        0.0, 1.0)
    recover_stop_s: float = setting(1.0,
        'stuck: stand still this long (drums off, arms stowed) before backing off, s',
        0.0, 60.0)
    recover_backoff_m: float = setting(0.5,
        'stuck: reverse this far along the way the rover came, m', 0.0, 5.0)
    recover_speed_mps: float = setting(0.1, 'stuck: reverse at this speed, m/s', 0.01, 1.0)
    trail_spacing_m: float = setting(0.1,
        'driving a route: the way it came is remembered every this far (stuck: it backs '
        'off along it), m', 0.01, 2.0)
    recover_keepout_m: float = setting(0.3,
        'stuck: the spot is marked lethal for the planner within this radius of the '
        'point ahead of the rover where it stuck, m', 0.05, 5.0)
    max_recoveries: int = setting(2,
        'stuck recoveries on the way to one goal before it is given up (another site, '
        'another side of the berm)', 1, 100)
    max_keepouts: int = setting(50, 'stuck spots remembered for the planner', 1, 10000)
    dig_zone_growth: float = setting(1.5,
        'dig sites exhausted: the dig zone radius grows by this factor, then a re-survey',
        1.0, 10.0)
    dig_zone_max_radius_m: float = setting(12.0,
        'the dig zone never grows beyond this radius (nor below its own), m', 0.1, 1000.0)
    max_resurveys: int = setting(8,
        're-surveys after the dig zone ran out of sites at its widest before the '
        'mission ends (DONE: dig zone exhausted)', 1, 1000)
    weigh_after_dump_s: float = setting(8.0,
        'after the last dump stage, wait this long at most for a fresh weigh of the '
        'drums (what is left in them is not delivered), s', 0.0, 120.0)
    dump_timeout_s: float = setting(30.0,
        'an accepted dump that does not end in this long is a fault, s', 1.0, 600.0)
    dump_rear_after_turn: bool = setting(True,
        'dump the front drum facing the berm, then turn the rear one to it and '
        'dump that (excavator/dump_front, excavator/dump_rear); false: both at '
        'once (excavator/dump)')
    dump_confirm_s: float = setting(3.0,
        'accepted but never seen dumping: judge by fill after this, s', 0.1, 120.0)
    dump_retry_s: float = setting(2.0,
        'wait before asking again for a refused dump, s', 0.0, 120.0)
    max_dump_attempts: int = setting(3, 'dump attempts before a fault', 1, 100)
    service_timeout_s: float = setting(5.0, 'wait for the dump service answer, s', 0.1, 120.0)
    fault_backoff_s: float = setting(2.0,
        'first retry delay after a fault (doubles each time), s', 0.1, 3600.0)
    fault_backoff_max_s: float = setting(60.0,
        'longest retry delay after a fault, s', 0.1, 36000.0)
    estop_clear_hold_s: float = setting(1.0,
        'the e-stop must stay clear this long before resuming, s', 0.0, 60.0)
    # loose lunar regolith (Carrier et al., Lunar Sourcebook 1991)
    bulk_density_kg_m3: float = setting(1500.0,
        'loose regolith bulk density for berm volume, kg/m^3', 100.0, 5000.0)
    max_cycles: int = setting(0,
        'cycles after which the mission is DONE (0 = no limit)', 0, 1000000)
    max_tick_s: float = setting(1.0, 'longest tick counted as autonomous time, s', 0.01, 60.0)

    def check(self) -> list:
        """Problems that make the configuration unusable, each naming the field."""
        p = []
        for f in fields(self):
            lo, hi = f.metadata['range']
            v = getattr(self, f.name)
            if lo is not None and not lo <= v <= hi:
                p.append(f'{f.name} ({v}) outside [{lo}, {hi}]')
        if not self.arm_lower_rad < self.arm_upper_rad:
            p.append(f'arm_upper_rad ({self.arm_upper_rad}) must exceed arm_lower_rad '
                     f'({self.arm_lower_rad})')
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
