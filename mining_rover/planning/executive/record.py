"""What of a mission persists: a versioned, typed record (mission + current cycle).

Only what a restarted executive needs to continue the same cycle without counting
anything twice: state, cycle id, site, plan, the cycle's measured masses and the dump's
progress. Timers, routes and followers are rebuilt. ``to_dict`` gives strict JSON
(mission_store writes it in one transaction with the cycle commits); ``from_dict``
reads any version this code knows, migrating older ones.

Versions:
  0  (no ``version`` key) the untyped dict of planning/mission.py: missing keys took
     their fresh value; ``dug_sites`` points may lack their depth (one default cut).
  1  this module's dataclasses before stuck recovery and re-survey bookkeeping: the
     keys it lacks (stuck_events, resurveys, keepouts, dig_zone_radius_m, the tally's
     estimates, the cycle's recoveries) take their fresh value.
  2  this module's dataclasses.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from mining_rover.planning.executive.io import ExcavationPlan

RECORD_VERSION = 2


@dataclass
class CycleRecord:
    """One excavate-haul-dump cycle; a fresh one starts after each delivery."""
    fill_start_kg: float | None = None       # drum fill when the cut began
    excavated_kg: float | None = None        # committed as 'excavated' (None: not yet)
    cut_depth_m: float | None = None         # depth of the last cut (after stalls)
    stalls: int = 0
    berm_goal: tuple | None = None           # (x, y) dump point being driven to
    berm_first: tuple | None = None          # the first dump point tried this cycle
    berm_tries: int = 0                      # other points around the berm tried since
    fill_before_dump_kg: float | None = None
    dump_stage: str = 'front'                # drum being dumped: 'front', then 'rear'
    stage_fill_kg: float | None = None       # fill when this stage's dump began
    dump_accepted: bool = False              # this stage's dump was accepted (or seen)
    recoveries: int = 0                      # stuck recoveries on the way to the current goal
    dump_outside: bool = False               # a stage dumped with its drum believed off the berm
    dumped_outside_kg: float = 0.0           # what those stages emptied, kg


@dataclass
class MissionRecord:
    """The mission as persisted (see the module docstring)."""
    version: int = RECORD_VERSION
    state: str = 'MAPPING'
    resume_state: str | None = None          # what ESTOP / PAUSED / FAULT return to
    cycle_id: int = 1
    site: tuple | None = None                # (x, y) of this cycle's dig site
    plan: ExcavationPlan | None = None       # the plan for that site
    goal_seq: int = 0
    dump_seq: int = 0
    override_seq: int = 0
    pending_override: tuple | None = None    # (x, y) the operator asked for
    excluded_sites: list = field(default_factory=list)   # (x, y) given up
    dug_sites: list = field(default_factory=list)        # (x, y, depth cut to, m)
    resurvey_t: float | None = None          # when the last mapping began, s
    fault_count: int = 0
    fault_reason: str = ''
    estop_events: int = 0
    stuck_events: int = 0                    # stuck detections (each one a recovery)
    resurveys: int = 0                       # re-surveys after the dig sites ran out
    keepouts: list = field(default_factory=list)         # (x, y, radius m) stuck spots
    dig_zone_radius_m: float | None = None   # the dig zone grown so far (None: configured)
    zone_widened: bool = False               # the next survey maps a widened zone
    haul_spill_kg: float = 0.0               # weighed after the cut less before the dump, kg
    dumped_outside_kg: float = 0.0           # emptied with the drum believed off the berm, kg
    time_autonomous_s: float = 0.0
    cycle: CycleRecord = field(default_factory=CycleRecord)

    def new_cycle(self) -> None:
        """The cycle was delivered: the next one starts with a fresh site and plan."""
        self.cycle_id += 1
        self.cycle = CycleRecord()
        self.site, self.plan, self.fault_count, self.excluded_sites = None, None, 0, []

    def to_dict(self) -> dict:
        """A JSON-able dict (lists for pairs, the plan as a dict)."""
        d = asdict(self)
        for k in ('site', 'pending_override'):
            d[k] = None if d[k] is None else [float(v) for v in d[k]]
        d['excluded_sites'] = [[float(x), float(y)] for x, y in self.excluded_sites]
        d['dug_sites'] = [[float(x), float(y), float(z)] for x, y, z in self.dug_sites]
        d['keepouts'] = [[float(x), float(y), float(r)] for x, y, r in self.keepouts]
        for k in ('berm_goal', 'berm_first'):
            d['cycle'][k] = None if d['cycle'][k] is None else [float(v) for v in d['cycle'][k]]
        return d

    @classmethod
    def from_dict(cls, raw: dict, default_depth_m: float = 0.03) -> 'MissionRecord':
        """A record from ``to_dict`` output or an older version (migrated). ValueError for
        a newer version or a malformed record. ``default_depth_m``: the depth a v0 dug
        point without one stands for (MissionConfig.default_depth_m)."""
        if not isinstance(raw, dict):
            raise ValueError(f'mission record must be an object, got {type(raw).__name__}')
        version = raw.get('version', 0)
        if version == 0:
            raw = migrate_v0(raw, default_depth_m)
        elif version == 1:   # the keys it lacks take their fresh value
            raw = {**raw, 'version': RECORD_VERSION}
        elif version != RECORD_VERSION:
            raise ValueError(f'mission record version {version!r}: this executive reads '
                             f'0..{RECORD_VERSION}')
        try:
            return cls._parse(raw)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f'mission record malformed: {exc}') from exc

    @classmethod
    def _parse(cls, raw: dict) -> 'MissionRecord':
        names = {f.name for f in fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f'unknown keys {sorted(unknown)}')
        d = dict(raw)
        cyc = dict(d.pop('cycle', None) or {})
        cycle_names = {f.name for f in fields(CycleRecord)}
        if set(cyc) - cycle_names:
            raise ValueError(f'unknown cycle keys {sorted(set(cyc) - cycle_names)}')
        for k in ('berm_goal', 'berm_first'):
            if cyc.get(k) is not None:
                cyc[k] = _pair(cyc[k])
        plan = d.pop('plan', None)
        rec = cls(**d, cycle=CycleRecord(**cyc))
        if plan is not None:
            known = {f.name for f in fields(ExcavationPlan)}
            rec.plan = ExcavationPlan(**{k: v for k, v in plan.items() if k in known})
        rec.site = None if rec.site is None else _pair(rec.site)
        if rec.pending_override is not None:
            rec.pending_override = _pair(rec.pending_override)
        rec.excluded_sites = [_pair(p) for p in rec.excluded_sites]
        rec.dug_sites = [(float(p[0]), float(p[1]), float(p[2])) for p in rec.dug_sites]
        rec.keepouts = [(float(p[0]), float(p[1]), float(p[2])) for p in rec.keepouts]
        return rec


def _pair(p) -> tuple:
    x, y = (float(v) for v in p)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f'point {p} is not finite')
    return (x, y)


def migrate_v0(raw: dict, default_depth_m: float) -> dict:
    """A version-0 record (planning/mission.py's dict) as a version-1 dict: keys it lacked
    take their fresh value; dug points without a depth count as one default cut."""
    d = dict(raw)
    d['version'] = RECORD_VERSION
    d['dug_sites'] = [list(p) if len(p) > 2 else [p[0], p[1], default_depth_m]
                      for p in d.get('dug_sites') or []]
    d['cycle'] = dict(d.get('cycle') or {})
    if not d['cycle'].get('dump_stage'):
        d['cycle'].pop('dump_stage', None)
    return d
