"""Fault-injected missions: `mining-rover sim --faults PLAN.yaml`.

A fault plan is a YAML list of timed faults (config/faults/*.yaml, docs/readme/faults.md)::

    - {at_s: 30, kind: kill, node: mission_node}
    - {at_s: 40, kind: wheel_motor_error, during: HAUL, duration_s: 3}

This module parses and validates a plan (``load_plan``: one-line ``FaultPlanError`` naming
the file, the entry, the key and the value), injects each fault when the simulator's
clock reaches it (``FaultInjector.step``, called from the runner's loop with the
monitor's sim time and last /mission/status), and judges the outcome of each against
the simulator's truth, never the rover's own logs:

* **safe**: where a fault cuts the commands to some motors (a killed executive or driver,
  a partition, a bus-off, a motor error), those motors' true speeds (/joint_states from
  the simulator) must fall below ``STOPPED_RADPS`` within twice the drivers' command
  watchdog (config/drivers_sim.yaml ``cmd_timeout_s``), plus, for the wheels, the time
  the traversal limits take to brake the rover from top speed (its momentum turns the
  wheels until it stops); ``unsafe_s`` is how long they took.
* **recovered**: after the fault ends the executive reports a working state again (a
  killed node has been respawned by then); otherwise ``reason`` says how it ended.
* **nothing lost**: the executive's delivered tally and cycle count never go below what
  they were before the fault (``tally_lost_kg``), and the simulator's hazard-contact
  count does not rise while the fault is judged.

How each kind is injected (the rover cannot tell any of them from the real fault):

=================== =================================================================
kill                SIGKILL of the node's process; the runner respawns it, as launch's
                    ``respawn=True`` does (mission_node resumes from its state file)
camera_blackout     the simulator publishes no stereo images or camera infos
camera_frozen       the simulator republishes the last stereo pair with new stamps
wheel_motor_error   one wheel controller in error (IDLE, no torque) for duration_s
drum_stall          the drum(s) jammed (held in place; the motor pushes at its limit)
can_bus_off         no commands reach any controller; each reports the bus error
dds_partition       SIGSTOP of mission_node for duration_s, then SIGCONT: its commands
                    are lost on the wire exactly as in a partition between the
                    executive and the drivers (nothing queues up: the drivers' command
                    topics keep only the last value), and its inputs are missed
clock_jump          the simulator's clock jumps forward by jump_s
stuck               an unseen patch just ahead of the chassis that it cannot enter for
                    duration_s (sim/motor_faults.py): the wheels turn and slip, the
                    rover stays, no controller reports anything; backing off and going
                    round frees it (the executive's RECOVER, planning/executive/stuck.py)
=================== =================================================================

No rclpy here: the runner passes ``publish_sim_fault`` (a callable taking the JSON text
for sim_node's fault topic) and the ``Stack``.
"""
from __future__ import annotations

import json
import math
import signal
from dataclasses import dataclass, field
from pathlib import Path

import yaml

#: Below this true speed, rad/s, every wheel (or drum) counts as stopped: under a tenth
#: of the wheels' cruise speed (0.4 m/s on 0.16 m wheels, 2.5 rad/s) and a fortieth of
#: the drums' top speed. Lower thresholds measure the rover's bounce, not its motors: a
#: rover braked from 0.4 m/s in lunar gravity pitches and hops, and a wheel briefly off
#: the ground and back on turns at up to ~1 rad/s with its motor holding zero (seen in
#: the simulator's joint states after a driver was killed).
STOPPED_RADPS = 0.2
#: A ``during`` fault waits at most this long (sim s) after at_s for its state.
DURING_WAIT_S = 300.0
#: Default time after the end of a fault to see the mission working again, sim s.
RECOVER_S = 60.0
#: After recovery, the tally and hazards are still watched this long, sim s.
SETTLE_S = 10.0
#: Executive states that are not working (planning/mission.py).
NOT_WORKING = ('FAULT', 'ESTOP', 'PAUSED')
#: Nodes a plan may name: every node of the stack but the simulator (the world itself).
TARGET_NODES = ('description_node', 'drive_node', 'excavator_node', 'stereo_node', 'mapping_node',
                'planner_node', 'mission_node')

#: kind -> {key: default} (None: required). Every kind also takes at_s (required),
#: during (an executive state to wait for) and recover_s.
KINDS = {
    'kill': {'node': None},
    'camera_blackout': {'duration_s': 10.0},
    'camera_frozen': {'duration_s': 10.0},
    'wheel_motor_error': {'duration_s': 3.0, 'joint': 'front_left_wheel_joint'},
    'drum_stall': {'duration_s': 3.0, 'joint': 'all'},
    'can_bus_off': {'duration_s': 2.0},
    'dds_partition': {'duration_s': 5.0},
    'clock_jump': {'jump_s': 5.0},
    'stuck': {'duration_s': 120.0},
}
COMMON_KEYS = {'at_s': None, 'during': None, 'recover_s': RECOVER_S}

#: Which motor kinds must stop (their commands are lost or their controller is down).
#: kill: by node, below.
PROMISE = {
    'wheel_motor_error': ('wheel',),
    'can_bus_off': ('wheel', 'drum'),
    'dds_partition': ('wheel', 'drum'),
}
KILL_PROMISE = {'mission_node': ('wheel', 'drum'), 'drive_node': ('wheel',), 'excavator_node': ('drum',)}


class FaultPlanError(ValueError):
    """A fault plan that cannot run; the message is one line naming file, entry and key."""


@dataclass
class Fault:
    """One fault of a fault plan: kind, when (sim s or during a state), target and recovery time (s)."""
    index: int
    kind: str
    at_s: float
    during: str | None = None
    recover_s: float = RECOVER_S
    duration_s: float = 0.0
    node: str = ''
    joint: str = ''
    jump_s: float = 0.0

    def label(self) -> str:
        what = {'kill': self.node, 'wheel_motor_error': self.joint, 'drum_stall': self.joint,
                'clock_jump': f'+{self.jump_s:g} s'}.get(self.kind)
        return f'{self.kind}({what})' if what else self.kind


def _number(where: str, key: str, value, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FaultPlanError(f'{where}.{key}: {value!r} is not a number')
    if value < low or (high is not None and value > high):
        rng = f'{low:g} .. {high:g}' if high is not None else f'>= {low:g}'
        raise FaultPlanError(f'{where}.{key}: {value!r} is outside {rng}')
    return float(value)


def parse_plan(raw, duration_s: float, source: str = 'fault plan', joints: dict | None = None,
               states: tuple | None = None) -> list[Fault]:
    """Validate a loaded plan (a list of mappings) against a mission of ``duration_s``.

    ``joints``: {joint: kind} of the sim contract (for wheel/drum names); ``states``:
    the executive's state names (for ``during``). Raises FaultPlanError."""
    if raw is None:
        raise FaultPlanError(f'{source}: the plan is empty; expected a list of faults')
    if not isinstance(raw, list):
        raise FaultPlanError(f'{source}: expected a list of faults, got a {type(raw).__name__}')
    faults = []
    for i, entry in enumerate(raw):
        where = f'{source}: faults[{i}]'
        if not isinstance(entry, dict):
            raise FaultPlanError(f'{where}: expected a mapping like {{at_s: 30, kind: kill, node: '
                                 f'mission_node}}, got {entry!r}')
        kind = entry.get('kind')
        if kind not in KINDS:
            raise FaultPlanError(f'{where}.kind: {kind!r} is not a fault kind; kinds: {", ".join(KINDS)}')
        allowed = {**COMMON_KEYS, **KINDS[kind]}
        unknown = sorted(set(entry) - set(allowed) - {'kind'})
        if unknown:
            raise FaultPlanError(f'{where}: unknown key {unknown[0]!r} for kind {kind}; keys: '
                                 f'{", ".join(["kind", *allowed])}')
        missing = [k for k, d in allowed.items() if d is None and k != 'during' and k not in entry]
        if missing:
            raise FaultPlanError(f'{where}: kind {kind} needs {missing[0]!r}')
        f = Fault(i, kind, _number(where, 'at_s', entry['at_s'], 0.0))
        if f.at_s >= duration_s:
            raise FaultPlanError(f'{where}.at_s: {f.at_s:g} s is outside the mission (0 .. {duration_s:g} s)')
        f.recover_s = _number(where, 'recover_s', entry.get('recover_s', RECOVER_S), 1.0)
        during = entry.get('during')
        if during is not None and (not isinstance(during, str) or (states and during not in states)):
            raise FaultPlanError(f'{where}.during: {during!r} is not an executive state'
                                 + (f'; states: {", ".join(states)}' if states else ''))
        f.during = during
        if 'duration_s' in allowed:
            f.duration_s = _number(where, 'duration_s', entry.get('duration_s', allowed['duration_s']), 0.1)
            if f.during is None and f.at_s + f.duration_s > duration_s:
                raise FaultPlanError(f'{where}.duration_s: the fault would end at '
                                     f'{f.at_s + f.duration_s:g} s, '
                                     f'after the mission ({duration_s:g} s)')
        if kind == 'clock_jump':
            f.jump_s = _number(where, 'jump_s', entry.get('jump_s', allowed['jump_s']), 0.001, 3600.0)
        if kind == 'kill':
            node = entry['node']
            if node not in TARGET_NODES:
                why = ' (the simulator is the world, not a rover node)' if node == 'sim_node' else ''
                raise FaultPlanError(f'{where}.node: {node!r} is not a node the plan may kill{why}; '
                                     f'nodes: {", ".join(TARGET_NODES)}')
            f.node = node
        if kind in ('wheel_motor_error', 'drum_stall'):
            want = 'wheel' if kind == 'wheel_motor_error' else 'drum'
            joint = entry.get('joint', allowed['joint'])
            ok = [j for j, k in (joints or {}).items() if k == want]
            if not (joint == 'all' and want == 'drum') and joints is not None and joint not in ok:
                raise FaultPlanError(f'{where}.joint: {joint!r} is not a {want} joint; joints: '
                                     f'{", ".join(ok + (["all"] if want == "drum" else []))}')
            f.joint = joint
        faults.append(f)
    return faults


def load_plan(path, duration_s: float, joints: dict | None = None,
              states: tuple | None = None) -> list[Fault]:
    """Read and validate a plan file; FaultPlanError (one line) when it cannot run."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FaultPlanError(f'{path}: cannot read the fault plan: {exc.strerror or exc}') from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        at = f' (line {mark.line + 1})' if mark is not None else ''
        raise FaultPlanError(f'{path}: not YAML{at}: {getattr(exc, "problem", None) or exc}') from None
    return parse_plan(raw, duration_s, str(path), joints, states)


def plan_context():
    """(joints {name: kind}, executive states) for validation, from the contract and the
    mission machine; (None, None) where they cannot be read."""
    try:
        from mining_rover.contract import load_contract
        joints = {j.name: j.kind for j in load_contract().joints}
    except (ImportError, ValueError):
        joints = None
    try:
        from mining_rover.planning.mission import State
        states = tuple(s.value for s in State)
    except ImportError:
        states = None
    return joints, states


# -- injection and judging -----------------------------------------------------------------
@dataclass
class FaultEvent:
    """One fault as it ran: injection, what it did, and its judged outcome."""
    fault: Fault
    state: str = 'pending'        # pending | active | ended | settling | judged | skipped
    t: float | None = None        # sim time injected
    t_end: float | None = None    # sim time the fault ended (kill: injected)
    detail: str = ''
    promise: tuple = ()           # motor kinds that must stop
    stopped_at: dict = field(default_factory=dict)   # kind -> sim time truly stopped
    before: dict = field(default_factory=dict)       # delivered_kg, cycles, hazards at injection
    lowest: dict = field(default_factory=dict)       # lowest delivered/cycles seen after
    hazards_after: int | None = None
    recovered: bool = False
    recovered_at: float | None = None
    reason: str = ''
    respawns_before: int = 0


class FaultInjector:
    """Runs a plan during a mission. ``stack``: runner.stack.Stack; ``publish_sim_fault``:
    callable(json text) for sim_node's fault topic; ``watchdog_s``: {'wheel': s, 'drum': s},
    the drivers' command watchdogs (the promise is twice these)."""

    def __init__(self, faults: list, stack, publish_sim_fault, watchdog_s: dict, log=print,
                 in_graph=None, braking_s: dict | None = None):
        self.events = [FaultEvent(f) for f in faults]
        self.stack = stack
        self.publish = publish_sim_fault
        self.watchdog_s = dict(watchdog_s)
        #: {'wheel': s}: time the traversal limits take to brake the rover from its top
        #: speed (max_linear_mps / max_linear_accel). Zero wheel commands do not stop wheels
        #: that the rover's momentum still turns: in low gravity traction, not the motors,
        #: bounds the deceleration, so the wheels are at rest that much after the command.
        self.braking_s = dict(braking_s or {})
        self.log = log
        self._stopped_procs = set()
        self._joint_kind = {}
        self.hazard_contacts = None   # latest true count (/sim/regolith)
        self._status_t = None
        #: callable(node name) -> whether the node is in the ROS graph (a respawned node is
        #: back only once it is); None: its process running is enough
        self.in_graph = in_graph

    # -- inputs ---------------------------------------------------------------------------
    def on_joint_states(self, t: float, names, velocities):
        """The simulator's true joint speeds (rad/s) at sim time ``t``."""
        watching = [e for e in self.events if e.state in ('active', 'ended') and e.promise
                    and len(e.stopped_at) < len(e.promise)]
        if not watching:
            return
        speed = {}
        for name, v in zip(names, velocities):
            kind = 'wheel' if 'wheel' in name else 'drum' if 'drum' in name else None
            if kind:
                speed[kind] = max(speed.get(kind, 0.0), abs(v))
        for e in watching:
            for kind in e.promise:
                if kind not in e.stopped_at and speed.get(kind, math.inf) < STOPPED_RADPS and t >= e.t:
                    e.stopped_at[kind] = t

    def on_hazards(self, count: int):
        self.hazard_contacts = count

    # -- the loop -------------------------------------------------------------------------
    def step(self, t: float, status: dict, status_t: float | None = None):
        """Inject, end and judge faults at sim time ``t`` with the last /mission/status
        (received at sim time ``status_t``)."""
        self._status_t = status_t
        for e in self.events:
            f = e.fault
            # one fault at a time: a fault falls due only once the one before it has
            # recovered or been judged, so each outcome is that fault's own
            busy = any(o.state in ('active', 'ended') for o in self.events if o is not e)
            if e.state == 'pending' and t >= f.at_s and not busy:
                if f.during is None or status.get('state') == f.during:
                    self._inject(e, t, status)
                elif t > f.at_s + DURING_WAIT_S:
                    e.state, e.reason = 'skipped', f'state {f.during} not reached within {DURING_WAIT_S:g} s'
            if e.state == 'active' and t >= e.t + f.duration_s:
                self._end(e, t)
            if e.state in ('active', 'ended', 'settling'):
                self._watch(e, t, status)

    def _sim(self, **fault):
        self.publish(json.dumps(fault))

    def _inject(self, e: FaultEvent, t: float, status: dict):
        f = e.fault
        e.t, e.state = t, 'active'
        e.before = {'delivered_kg': _num(status.get('regolith_delivered_kg')),
                    'cycles': _num(status.get('cycles')), 'hazards': self.hazard_contacts,
                    'state': status.get('state', '')}
        e.promise = PROMISE.get(f.kind, KILL_PROMISE.get(f.node, ()) if f.kind == 'kill' else ())
        if f.kind == 'kill':
            proc = self.stack.procs.get(f.node)
            e.respawns_before = len(self.stack.respawns.get(f.node, []))
            ok = self.stack.send_signal(f.node, signal.SIGKILL)
            e.detail = (f'kill -9 {f.node} (pid {proc.pid if proc else "-"})' if ok
                        else f'{f.node} not running')
        elif f.kind in ('camera_blackout', 'camera_frozen'):
            self._sim(kind=f.kind, on=True)
            e.detail = f'{f.duration_s:g} s'
        elif f.kind == 'wheel_motor_error':
            self._sim(kind='motor_error', joint=f.joint, on=True)
            e.detail = f'{f.joint} controller in error for {f.duration_s:g} s'
        elif f.kind == 'drum_stall':
            for j in self._drums(f.joint):
                self._sim(kind='jam', joint=j, on=True)
            e.detail = f'{f.joint} jammed for {f.duration_s:g} s'
        elif f.kind == 'can_bus_off':
            self._sim(kind='bus_off', on=True)
            e.detail = f'bus off for {f.duration_s:g} s'
        elif f.kind == 'dds_partition':
            ok = self.stack.send_signal('mission_node', signal.SIGSTOP)
            if ok:
                self._stopped_procs.add('mission_node')
            e.detail = (f'mission_node stopped (SIGSTOP) for {f.duration_s:g} s' if ok
                        else 'mission_node not running')
        elif f.kind == 'clock_jump':
            self._sim(kind='clock_jump', jump_s=f.jump_s)
            e.detail = f'sim clock +{f.jump_s:g} s'
        elif f.kind == 'stuck':
            self._sim(kind='stuck', on=True)
            e.detail = f'a patch the rover cannot cross just ahead of it for {f.duration_s:g} s'
        if e.before['state']:
            e.detail += f' in {e.before["state"]}'
        self.log(f'fault {f.index}: {f.label()} at {t:.1f} s: {e.detail}')

    def _end(self, e: FaultEvent, t: float):
        f = e.fault
        if f.kind in ('camera_blackout', 'camera_frozen'):
            self._sim(kind=f.kind, on=False)
        elif f.kind == 'wheel_motor_error':
            self._sim(kind='motor_error', joint=f.joint, on=False)
        elif f.kind == 'drum_stall':
            for j in self._drums(f.joint):
                self._sim(kind='jam', joint=j, on=False)
        elif f.kind == 'can_bus_off':
            self._sim(kind='bus_off', on=False)
        elif f.kind == 'dds_partition':
            self._resume('mission_node')
        elif f.kind == 'stuck':
            self._sim(kind='stuck', on=False)
        e.t_end, e.state = t, 'ended'

    def _drums(self, joint: str) -> list:
        if joint != 'all':
            return [joint]
        from mining_rover.contract import load_contract
        return [j.name for j in load_contract().joints_of('drum')]

    def _resume(self, name: str):
        if name in self._stopped_procs:
            self._stopped_procs.discard(name)
            self.stack.send_signal(name, signal.SIGCONT)

    def _watch(self, e: FaultEvent, t: float, status: dict):
        for key in ('delivered_kg', 'cycles'):
            v = _num(status.get('regolith_delivered_kg' if key == 'delivered_kg' else key))
            if v is not None and t > e.t:
                e.lowest[key] = v if key not in e.lowest else min(e.lowest[key], v)
        e.hazards_after = self.hazard_contacts
        if e.state == 'settling' and t > e.recovered_at + SETTLE_S:
            e.state = 'judged'
        if e.state != 'ended':
            return
        node_back = True
        if e.fault.kind == 'kill':
            p = self.stack.procs.get(e.fault.node)
            node_back = (p is not None and p.alive()
                         and len(self.stack.respawns.get(e.fault.node, [])) > e.respawns_before
                         and (self.in_graph is None or self.in_graph(e.fault.node)))
        working = status.get('state') and status.get('state') not in NOT_WORKING
        # a status newer than the end of the fault, from a working executive
        fresh = self._status_t is not None and self._status_t > e.t_end
        if node_back and working and fresh and (len(e.stopped_at) >= len(e.promise)):
            e.recovered, e.recovered_at, e.state = True, t, 'settling'
        elif t > e.t_end + e.fault.recover_s:
            e.state = 'judged'
            st = status.get('state', '?')
            why = status.get('fault_reason') or ''
            e.reason = (f'{e.fault.node} not back' if not node_back else
                        f'executive in {st}' + (f': {why}' if why else '') if not working else
                        'motors never stopped' if len(e.stopped_at) < len(e.promise) else 'no status')

    def close(self, t: float, status: dict, status_t: float | None = None):
        """The mission is over: resume any stopped process, end what is active, judge the rest."""
        self._status_t = status_t
        for name in list(self._stopped_procs):
            self._resume(name)
        for e in self.events:
            if e.state == 'active':
                self._end(e, t)
            if e.state in ('ended', 'settling'):
                self._watch(e, t, status)
            if e.state == 'settling':
                e.state = 'judged'
            if e.state == 'ended':
                e.state = 'judged'
                e.reason = e.reason or (f'mission ended {t - e.t_end:.1f} s after the fault, '
                                        'before it recovered')
            if e.state == 'pending':
                e.state, e.reason = 'skipped', 'mission ended before it was due'

    # -- results --------------------------------------------------------------------------
    def promise_s(self, kind: str) -> float:
        """Sim seconds within which a ``kind`` motor must be at rest after its commands are
        lost: twice its driver's command watchdog, plus the braking time (wheels)."""
        return 2.0 * self.watchdog_s[kind] + self.braking_s.get(kind, 0.0)

    def results(self) -> tuple[list, dict]:
        """(fault_events for summary.json, metrics)."""
        rows = []
        for e in self.events:
            f = e.fault
            unsafe, promise_ok = None, True
            if e.t is not None and e.promise:
                per = {k: (e.stopped_at[k] - e.t if k in e.stopped_at else math.inf) for k in e.promise}
                unsafe = max(per.values())
                promise_ok = all(v <= self.promise_s(k) for k, v in per.items())
            lost = 0.0
            if e.before.get('delivered_kg') is not None and 'delivered_kg' in e.lowest:
                lost = max(0.0, e.before['delivered_kg'] - e.lowest['delivered_kg'])
            cycles_lost = 0
            if e.before.get('cycles') is not None and 'cycles' in e.lowest:
                cycles_lost = int(max(0, e.before['cycles'] - e.lowest['cycles']))
            hazards = 0
            if e.before.get('hazards') is not None and e.hazards_after is not None:
                hazards = max(0, e.hazards_after - e.before['hazards'])
            injected = e.t is not None
            survived = (injected and promise_ok and e.recovered and lost == 0.0 and cycles_lost == 0
                        and hazards == 0)
            rows.append({
                't': None if e.t is None else round(e.t, 3), 'kind': f.kind,
                'target': f.node or f.joint or '',
                'detail': e.detail or e.reason, 'recovered': e.recovered,
                'unsafe_s': None if unsafe is None else (round(unsafe, 3) if math.isfinite(unsafe) else None),
                'stopped': None if not e.promise else len(e.stopped_at) == len(e.promise),
                'promise_s': None if not e.promise else max(self.promise_s(k) for k in e.promise),
                'recovery_s': (None if e.recovered_at is None or e.t_end is None
                               else round(e.recovered_at - e.t_end, 3)),
                'tally_before_kg': e.before.get('delivered_kg'),
                'tally_lost_kg': round(lost, 3), 'cycles_lost': cycles_lost, 'hazard_contacts': hazards,
                'survived': survived, 'reason': '' if survived else (e.reason or _why(promise_ok, lost,
                                                                                   cycles_lost, hazards)),
                'plan_index': f.index, 'at_s': f.at_s, 'during': f.during,
            })
        unsafe = [r['unsafe_s'] for r in rows if r['unsafe_s'] is not None]
        never = any(r['stopped'] is False for r in rows)
        metrics = {
            'faults_total': len(rows),
            'faults_survived': sum(r['survived'] for r in rows),
            'tally_lost_kg': round(sum(r['tally_lost_kg'] for r in rows), 3),
            'max_unsafe_s': None if never else (max(unsafe) if unsafe else 0.0),
            'hazard_contacts': sum(r['hazard_contacts'] for r in rows),
        }
        return rows, metrics


def _why(promise_ok, lost, cycles_lost, hazards) -> str:
    if not promise_ok:
        return 'motors not stopped within the promise'
    if lost or cycles_lost:
        return f'tally lost: {lost:.2f} kg, {cycles_lost} cycles'
    if hazards:
        return f'{hazards} hazard contacts'
    return ''


def _num(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def braking_times(specs) -> dict:
    """{'wheel': s}: the rover's top speed over its deceleration limit, from the mission's
    node table (site values included), falling back to config/ when a node is absent."""
    from mining_rover.paths import config_parameters
    by_name = {s.name: s for s in specs}

    def value(node, name, file, default):
        spec = by_name.get(node)
        if spec is not None and name in spec.overrides:
            return float(spec.overrides[name])
        return float(config_parameters(file, node).get(name, default))
    v = value('mission_node', 'max_linear_mps', 'mission.yaml', 0.4)
    a = value('drive_node', 'max_linear_accel', 'drivers_sim.yaml', 0.5)
    return {'wheel': v / a if a > 0 else 0.0}


def watchdog_timeouts(param_overrides: dict | None = None) -> dict:
    """{'wheel': s, 'drum': s}: the drivers' cmd_timeout_s (config/drivers_sim.yaml, then
    any --param override), which the safety promise doubles."""
    from mining_rover.paths import config_parameters
    out = {}
    for kind, node in (('wheel', 'drive_node'), ('drum', 'excavator_node')):
        v = config_parameters('drivers_sim.yaml', node).get('cmd_timeout_s', 0.5)
        out[kind] = float((param_overrides or {}).get(node, {}).get('cmd_timeout_s', v))
    return out


def attach_injector(options, stack, monitor, progress):
    """The plan's injector for a mission (mission_runner), wired to its monitor: a
    publisher on the simulator's fault topic, and taps on the simulator's joint states and
    regolith telemetry (truth)."""
    from rclpy.serialization import deserialize_message
    from std_msgs.msg import String

    from mining_rover.ros import qos
    from mining_rover.sim.motor_faults import FAULT_TOPIC

    pub = monitor.create_publisher(String, FAULT_TOPIC, qos.COMMAND)
    injector = FaultInjector(options.faults, stack, lambda text: pub.publish(String(data=text)),
                             watchdog_timeouts(options.param_overrides),
                             braking_s=braking_times(stack.specs),
                             log=lambda text: progress.message(f'mining-rover sim: {text}'),
                             in_graph=lambda name: name in monitor.get_node_names())
    c = monitor.contract

    def on_joint_states(t, cls, data):
        msg = deserialize_message(data, cls)
        injector.on_joint_states(t, msg.name, msg.velocity)

    def on_regolith(t, cls, data):
        for kv in deserialize_message(data, cls).values:
            if kv.key == 'hazard_contacts':
                try:
                    injector.on_hazards(int(float(kv.value)))
                except ValueError:
                    pass

    monitor.taps['/' + c.joint_states_topic] = on_joint_states
    monitor.taps['/' + c.regolith_topic] = on_regolith
    return injector
