"""What a mission run observed, as plain time series, and the summary figures from it.

No rclpy: the monitor node fills a ``Timeline`` with decoded values (sim time in
seconds, positions in the map frame, metres), and the report and the tests read it.
The mission's own figures come from the last /mission/status (the executive's tally);
the simulator's ground truth (/sim/regolith) is kept beside them as a cross-check,
never mixed in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

#: summary.json keys taken from the last /mission/status, with their types.
STATUS_FIGURES = {
    'cycles': int,
    'regolith_excavated_kg': float,
    'regolith_delivered_kg': float,
    'berm_volume_m3': float,
    'kg_per_hour': float,
    'kg_per_wh': float,
    'energy_wh': float,
    'target_resource_kg': float,
    'hazard_contacts': int,
    'estop_events': int,
    'stuck_events': int,
    'resurveys': int,
    'dumped_outside_kg': float,
    'haul_spill_kg': float,
}

#: /sim/regolith keys (sim contract) stored in summary.json as ``sim_<key>``: truth for
#: what was dug (excavated), delivered to the berm (berm_mass; dumped counts dumps
#: anywhere), spilled on the way, and still in the drums (carried).
SIM_FIGURES = ('excavated_kg', 'carried_kg', 'dumped_kg', 'spilled_kg', 'berm_mass_kg',
               'berm_volume_m3', 'rover_mass_kg', 'hazard_contacts', 'propellant_used_kg')

#: summary.json keys every run writes (None where a figure never arrived), mission figures included.
SUMMARY_KEYS = ('world', 'gravity_mps2', 'sim_time_s', 'wall_time_s', 'real_time_factor',
                *STATUS_FIGURES, 'target_resource', 'dump_pose_error_m')


def parse_number(text: str, kind=float):
    """A DiagnosticStatus value as a number; None when it is not one."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return int(round(v)) if kind is int else v


@dataclass
class Marker2D:
    """A map marker seen in the recording: namespace, map-frame x, y (m) and size (m)."""
    ns: str
    x: float
    y: float
    size_m: float   # crater diameter or rock height (INTERFACES.md /map/hazards)
    text: str = ''


@dataclass
class Timeline:
    """Everything the monitor keeps (time in sim seconds)."""
    status: list = field(default_factory=list)       # (t, {key: str}) from /mission/status
    regolith: list = field(default_factory=list)     # (t, {key: str}) from /sim/regolith
    truth_path: list = field(default_factory=list)   # (t, x, y, yaw) ground truth
    odom_path: list = field(default_factory=list)    # (t, x, y, yaw) drive_node odometry
    loc_path: list = field(default_factory=list)     # (t, x, y, yaw) localization_node, map frame
    dig_events: list = field(default_factory=list)   # (t, x, y) true pose entering EXCAVATE
    dump_events: list = field(default_factory=list)  # (t, x, y) true pose entering DUMP
    hazards: list = field(default_factory=list)      # Marker2D from the last /map/hazards
    dig_sites: list = field(default_factory=list)    # Marker2D from the last /planner/dig_sites
    last_commands: dict = field(default_factory=dict)  # actuator topic -> last Float64
    first_clock_wall: float | None = None            # wall time of the first /clock, s
    last_clock_wall: float | None = None
    first_sim_time: float | None = None
    sim_time: float = 0.0
    end: tuple | None = None    # (sim time, wall time of its clock) when the mission ended

    def mark_end(self):
        """The mission is over (duration, Ctrl-C, abort): later clock ticks, while the
        nodes stop, are recorded but count neither in sim_time_s nor in the RTF."""
        if self.end is None:
            self.end = (self.sim_time, self.last_clock_wall)

    def mission_sim_time(self) -> float:
        return self.end[0] if self.end else self.sim_time

    def on_clock(self, sim_t: float, wall_t: float):
        if self.first_clock_wall is None:
            self.first_clock_wall, self.first_sim_time = wall_t, sim_t
        self.last_clock_wall = wall_t
        self.sim_time = max(self.sim_time, sim_t)

    def on_status(self, t: float, values: dict):
        prev = self.status[-1][1].get('state') if self.status else None
        self.status.append((t, dict(values)))
        state = values.get('state')
        events = {'EXCAVATE': self.dig_events, 'DUMP': self.dump_events}.get(state)
        if events is not None and state != prev and self.truth_path:
            _, x, y, _ = self.truth_path[-1]
            events.append((t, x, y))

    def last_status(self) -> dict:
        return self.status[-1][1] if self.status else {}

    def last_regolith(self) -> dict:
        return self.regolith[-1][1] if self.regolith else {}

    def measured_rtf(self) -> float | None:
        """Sim seconds per wall second while the simulator clock ran."""
        sim_t, wall_t = self.end if self.end else (self.sim_time, self.last_clock_wall)
        if self.first_clock_wall is None or wall_t is None:
            return None
        wall = wall_t - self.first_clock_wall
        sim = sim_t - (self.first_sim_time or 0.0)
        return sim / wall if wall > 0 else None

    def series(self, key: str, source: str = 'status') -> tuple[list, list]:
        """(times, values) of one numeric key of /mission/status or /sim/regolith."""
        rows = self.status if source == 'status' else self.regolith
        ts, vs = [], []
        for t, values in rows:
            v = parse_number(values.get(key))
            if v is not None:
                ts.append(t)
                vs.append(v)
        return ts, vs


def cycle_table(timeline: Timeline) -> list[dict]:
    """One row per completed cycle: when it ended, its duration, kg delivered, Wh used.

    A cycle ends where /mission/status 'cycles' increases; its figures are differences
    of the executive's running totals between consecutive ends.
    """
    rows = []
    last = {'t': None, 'cycles': 0, 'delivered': 0.0, 'energy': 0.0, 'target': 0.0}
    for t, values in timeline.status:
        cycles = parse_number(values.get('cycles'), int)
        if cycles is None:
            continue
        delivered = parse_number(values.get('regolith_delivered_kg')) or 0.0
        energy = parse_number(values.get('energy_wh')) or 0.0
        target = parse_number(values.get('target_resource_kg')) or 0.0
        if last['t'] is None:
            last.update(t=t if cycles == 0 else timeline.status[0][0])
        if cycles > last['cycles']:
            rows.append({
                'cycle': cycles,
                'end_s': round(t, 1),
                'duration_s': round(t - last['t'], 1),
                'delivered_kg': round(delivered - last['delivered'], 3),
                'energy_wh': round(energy - last['energy'], 3),
                'target_resource_kg': float(f"{target - last['target']:.6g}"),  # helium-3: µg
            })
            last.update(t=t, cycles=cycles, delivered=delivered, energy=energy, target=target)
    return rows


def dump_pose_errors(timeline: Timeline) -> list[float]:
    """Per dump, |believed - true| position (m) at the end of the DUMP state (the rover
    stood at the berm and discharged there): the believed pose is localization_node's
    map-frame pose where it ran, else drive_node's odometry; each sample nearest in time
    to the dump's end within the dump, both paths sampled every 0.5 s of sim time."""
    belief = timeline.loc_path or timeline.odom_path
    if not belief or not timeline.truth_path:
        return []
    spans, t0, prev = [], None, None
    for t, values in timeline.status:
        state = values.get('state')
        if state == 'DUMP' and prev != 'DUMP':
            t0 = t
        elif state != 'DUMP' and prev == 'DUMP' and t0 is not None:
            spans.append((t0, t))
        prev = state

    def nearest(path, t_end, t_start):
        rows = [r for r in path if t_start <= r[0] <= t_end]
        return min(rows, key=lambda r: t_end - r[0]) if rows else None
    errors = []
    for a, b in spans:
        truth, mine = nearest(timeline.truth_path, b, a), nearest(belief, b, a)
        if truth is not None and mine is not None:
            errors.append(math.hypot(truth[1] - mine[1], truth[2] - mine[2]))
    return errors


def lunabotics_scores(summary: dict) -> dict:
    """Indicative Lunabotics-style scores (not the official rules, which change yearly).

    Points as the NASA Lunabotics construction/mining rubrics weigh them: regolith
    moved into the berm counts per kilogram, berm volume per litre, full autonomy
    earns a bonus, and every hazard contact or e-stop costs points.
    """
    delivered = summary.get('regolith_delivered_kg') or 0.0
    berm_l = 1000.0 * (summary.get('berm_volume_m3') or 0.0)
    contacts = summary.get('hazard_contacts') or 0
    estops = summary.get('estop_events') or 0
    energy = summary.get('energy_wh') or 0.0
    scores = {
        'regolith_points (1 per kg delivered)': round(delivered, 1),
        'berm_points (1 per litre of berm)': round(berm_l, 1),
        'autonomy_bonus (full autonomy)': 250.0 if delivered > 0 else 0.0,
        'hazard_penalty (-50 per contact)': -50.0 * contacts + 0.0,  # no '-0'
        'estop_penalty (-25 per e-stop)': -25.0 * estops + 0.0,
        'energy_points (10 per kg/Wh)': round(10.0 * (delivered / energy if energy > 0 else 0.0), 1),
    }
    scores['total'] = round(sum(scores.values()), 1)
    return scores


def summarise(timeline: Timeline, *, world: str, gravity_mps2: float | None, wall_time_s: float,
              target_resource: str, extra: dict | None = None) -> dict:
    """summary.json: SUMMARY_KEYS (mission figures from the last /mission/status,
    None where none arrived) plus ``sim_*`` ground truth and run facts."""
    status = timeline.last_status()
    end_t = timeline.mission_sim_time()
    sim_elapsed = end_t - timeline.first_sim_time if timeline.first_sim_time is not None else 0.0
    summary = {
        'world': world,
        'gravity_mps2': gravity_mps2,
        'sim_time_s': round(end_t, 3),
        'wall_time_s': round(wall_time_s, 3),
        'real_time_factor': _round(timeline.measured_rtf(), 4),
    }
    for key, kind in STATUS_FIGURES.items():
        summary[key] = parse_number(status.get(key), kind) if status else None
    summary['target_resource'] = status.get('target_resource') or target_resource
    # extras: what the mission was doing at the end and the simulator's ground truth
    summary['mission_state'] = status.get('state')
    summary['fault_reason'] = status.get('fault_reason') or ''
    summary['time_autonomous_s'] = parse_number(status.get('time_autonomous_s'))
    summary['status_messages'] = len(timeline.status)
    summary['sim_elapsed_s'] = round(sim_elapsed, 3)
    summary['sim_time_at_stop_s'] = round(timeline.sim_time, 3)
    regolith = timeline.last_regolith()
    for key in SIM_FIGURES:
        summary[f'sim_{key}'] = parse_number(regolith.get(key),
                                             int if key == 'hazard_contacts' else float)
    dumped, berm = summary['sim_dumped_kg'], summary['sim_berm_mass_kg']
    summary['sim_dumped_outside_kg'] = (round(dumped - berm, 4) if dumped is not None and berm is not None
                                        else None)
    dug, spilled = summary['sim_excavated_kg'], summary['sim_spilled_kg']
    summary['sim_spilled_fraction'] = (round(spilled / dug, 4) if dug and spilled is not None
                                       else None)
    summary.update(truth_figures(summary))
    summary['cycle_table'] = cycle_table(timeline)
    dump_errors = dump_pose_errors(timeline)
    summary['dump_pose_error_m'] = round(max(dump_errors), 4) if dump_errors else None
    summary['dump_pose_source'] = 'localization' if timeline.loc_path else 'odometry'
    summary['lunabotics_scores'] = lunabotics_scores(summary)
    if extra:
        summary.update(extra)
    return summary


def truth_figures(summary: dict) -> dict:
    """The mission judged by the simulator's truth (issue #18): ``kg_per_hour_truth``
    (what reached the berm zone per hour of sim time), ``tally_truth_ratio`` (the
    executive's delivered tally over what reached the berm zone: 1.0 when the rover
    counts what it delivers), ``spilled_kg`` (truth: cut but never held, or dumped with
    the arms low), ``sim_taken_kg`` (truth: what the drums took in, dumped or still
    carried) and ``excavated_truth_ratio`` (the excavated tally over it). None where
    undefined (no truth, no time, nothing on the berm)."""
    truth = summary.get('sim_berm_mass_kg')
    sim_s = summary.get('sim_time_s')
    tally = summary.get('regolith_delivered_kg')
    dumped, carried = summary.get('sim_dumped_kg'), summary.get('sim_carried_kg')
    taken = dumped + carried if dumped is not None and carried is not None else None
    dug = summary.get('regolith_excavated_kg')
    return {
        'kg_per_hour_truth': (round(truth / sim_s * 3600.0, 3)
                              if truth is not None and sim_s else None),
        'tally_truth_ratio': round(tally / truth, 4) if tally is not None and truth else None,
        'spilled_kg': summary.get('sim_spilled_kg'),
        # what the drums took in by truth: dumped or still carried (a cut's overflow,
        # which the drums never held, is not): the truth for the excavated tally
        'sim_taken_kg': None if taken is None else round(taken, 4),
        'excavated_truth_ratio': round(dug / taken, 4) if dug is not None and taken else None,
    }


def _round(v, n):
    return None if v is None else round(v, n)
