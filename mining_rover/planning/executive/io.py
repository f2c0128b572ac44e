"""What the executive reads at each tick (``MissionInputs``) and what it commands
(``MissionOutputs``), as plain dataclasses: mission_node converts messages to these.

Units: m, s, rad, rad/s, kg (REP-103). Poses are (x, y, yaw) in the map frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mining_rover.planning.executive.costmap import Costmap


@dataclass(frozen=True)
class Pose2D:
    """Rover pose in the map frame: x, y (m), yaw (rad)."""
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class Route:
    """A route from the planner: its sequence number and (N, 2) map-frame points (m)."""
    seq: int                 # increases with every /planner/route received
    points: np.ndarray       # (N, 2) map frame


@dataclass(frozen=True)
class DigSite:
    """A candidate dig site in the map frame (m) and its planner score."""
    x: float
    y: float
    score: float = 0.0


@dataclass(frozen=True)
class ExcavationPlan:
    """The planner's cut for a site: depth (m), drum speed (rad/s), creep speed (m/s), expected kg."""
    site_x: float
    site_y: float
    depth_of_cut_m: float
    drum_speed_radps: float
    drive_speed_mps: float
    expected_mass_kg: float = 0.0
    expected_target_kg: float = 0.0
    feasible: bool = True              # False: no cut the rover can react (planner's reason)
    reason: str = ''
    fill_length_m: float = 0.0         # cut length that fills the drums (cut model; 0: unknown)


@dataclass(frozen=True)
class ExcavatorReport:
    """Latest excavator state: fill (kg), stall and dump flags, arm angle (rad), weigh count."""
    fill_kg: float
    stalled: bool = False
    dumping: bool = False
    arm_position_rad: float = math.nan
    weigh_count: int = -1       # weighs every drum has had (-1: the excavator does not weigh)


@dataclass(frozen=True)
class DumpResponse:
    """Answer to the dump request with sequence ``seq``: accepted or not, and why."""
    seq: int
    success: bool
    message: str = ''


@dataclass
class MissionInputs:
    """Everything the executive reads in one tick; None where nothing has arrived yet."""
    pose: Pose2D | None = None                 # odom frame: what the map and routes are in
    odom_from_map: Pose2D | None = None        # latest map -> odom (frames.py); None: map == odom
    costmap: Costmap | None = None             # executive.costmap.Costmap
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
    wheel_mps: float | None = None             # wheels' mean rim speed (joint states), m/s
    vo_fix: tuple | None = None                # (stamp s, x, y): newest visual odometry frame
                                               # that measured motion (its own fixed frame)
    yaw_rate_radps: float | None = None        # gyro yaw rate (IMU), rad/s


@dataclass(frozen=True)
class Goal:
    """A navigation goal with its sequence number: map-frame x, y (m) and yaw (rad)."""
    seq: int
    x: float
    y: float
    yaw: float


@dataclass
class MissionOutputs:
    """Everything the executive commands in one tick (speeds in m/s and rad/s, arm in rad)."""
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
    keepouts: tuple | None = None              # every (x, y, radius m) stuck spot: publish when set
    dig_zone: tuple | None = None              # (x, y, radius m) grown: publish when set
