"""The executive's machine: dispatch to phases, interrupts, transitions, persistence.

Pure Python (numpy only): no rclpy, no I/O, no clock. ``Mission.step(inputs, now_s)``
takes everything the rover knows at one control tick (a ``MissionInputs``) and returns
what to command (a ``MissionOutputs``); mission_node converts messages to inputs and
outputs to messages, and persists ``Mission.record`` (a ``MissionRecord``) with
mission_store. The normal cycle::

    MAPPING -> SELECT_SITE -> DRIVE_TO_SITE -> EXCAVATE (<-> BACK_OFF) -> HAUL -> DUMP
                   ^                                                           |
                   +-----------------------------------------------------------+

Each state is one phase (phases/): ``enter`` builds its data, ``step`` returns the
transition it wants (or None). Before a phase steps, the machine walks ``INTERRUPTS``
in order: the first one raised whose ``preempts`` holds the current state sends the
rover to its holding phase (ESTOP latched until clear, PAUSED by the operator, FAULT
after a driver fault, RECOVER when the wheels turn and the rover stays still: stuck.py);
a holding phase returns to the state it interrupted, which starts afresh (a new route
request, arms lowered again) with the cycle's data kept.
DONE ends the mission (``max_cycles``).

The allowed transitions (``TRANSITIONS``) are what the phases declare (``exits``), what
the interrupts may do, and the holding phases' returns; anything else raises.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

from mining_rover.planning.executive.config import MissionConfig
from mining_rover.planning.executive.io import MissionInputs, MissionOutputs
from mining_rover.planning.executive.phase import Context, Phase, State, Transition
from mining_rover.planning.executive.phases import PHASES
from mining_rover.planning.executive.record import MissionRecord
from mining_rover.planning.executive.route import RouteFollower

#: State -> the phase that runs it, checked here, when the module loads.
DISPATCH: dict = {p.state: p() for p in PHASES}
if len(DISPATCH) != len(PHASES) or set(DISPATCH) != set(State):
    raise ImportError('executive phases out of step with State: missing '
                      f'{sorted(s.value for s in set(State) - set(DISPATCH))}, '
                      f'{len(PHASES) - len(DISPATCH)} registered twice')

#: States a fault, a pause or an e-stop may interrupt and later resume.
WORKING = frozenset(s for s, p in DISPATCH.items() if p.autonomous and not p.holding)
ALL = frozenset(State)


@dataclass(frozen=True)
class Interrupt:
    """A condition that pre-empts the running phase: ``raised(inputs, ctx)`` gives the
    reason ('' while not raised); it moves any state in ``preempts`` to ``target``."""
    target: State
    raised: Callable[[MissionInputs, Context], str]
    preempts: frozenset
    counter: str = ''       # a MissionRecord counter bumped each time it fires


#: States the stuck monitor watches: the rover drives or cuts in them.
STUCK_WATCHED = frozenset({State.DRIVE_TO_SITE, State.HAUL, State.EXCAVATE})

#: Walked in order each tick; the first that fires wins.
INTERRUPTS = (
    Interrupt(State.ESTOP, lambda i, ctx: 'e-stop engaged' if i.estop else '',
              ALL - {State.ESTOP}, counter='estop_events'),
    Interrupt(State.PAUSED, lambda i, ctx: 'operator pause' if i.paused else '',
              ALL - {State.ESTOP, State.PAUSED}),
    Interrupt(State.FAULT, lambda i, ctx: f'driver fault: {i.driver_fault}' if i.driver_fault else '',
              WORKING | {State.RECOVER}),
    Interrupt(State.RECOVER, lambda i, ctx: ctx.stuck_reason, STUCK_WATCHED,
              counter='stuck_events'),
)


def _transitions() -> dict:
    table = {s: set(p.exits) for s, p in DISPATCH.items()}
    for irq in INTERRUPTS:
        for s in irq.preempts:
            table[s].add(irq.target)
        if DISPATCH[irq.target].holding:   # its return: any state it may have held
            table[irq.target] |= {s for s in irq.preempts if not DISPATCH[s].holding}
    return {s: frozenset(t) for s, t in table.items()}


#: Every allowed transition, derived from the phases and the interrupts.
TRANSITIONS = _transitions()


class Mission:
    """The executive. ``step(inputs, now_s)`` once per control tick; ``record`` to
    persist (``record.to_dict()``). A ``record`` given (a restart) is resumed."""

    def __init__(self, cfg: MissionConfig, record: MissionRecord | None = None):
        problems = cfg.check()
        if problems:
            raise ValueError('; '.join(problems))
        self.cfg = cfg
        self.record = copy.deepcopy(record) if record is not None else MissionRecord()
        self.state = State(self.record.state)
        self.ctx = Context(cfg, self.record)
        self.ctx.route = RouteFollower(self.ctx)
        self.data = None              # the running phase's Data
        self._last_now = None
        self._resumed = record is not None
        self._needs_enter = True

    @property
    def cycle_id(self) -> int:
        return int(self.record.cycle_id)

    @property
    def phase(self) -> Phase:
        return DISPATCH[self.state]

    def step(self, inp: MissionInputs, now: float) -> MissionOutputs:
        out = self.ctx.out = MissionOutputs()
        if self._last_now is not None and self.phase.autonomous:
            dt = min(max(0.0, now - self._last_now), self.cfg.max_tick_s)
            self.record.time_autonomous_s += dt
        self._last_now = now
        if self._needs_enter:
            self._needs_enter = False
            if self._resumed:
                self.ctx.event('info', f'resuming {self.state.value} in cycle {self.cycle_id}')
            self._enter(now, resume=self._resumed)
        if inp.odom_from_map is not None:
            self.ctx.frame = inp.odom_from_map
        self._take_override(inp)
        self._watch_stuck(inp, now)
        t = self._interrupt(inp)
        if t is None:
            t = self.phase.step(self.ctx, self.data, inp, now)
        if t is not None:
            self._apply(t, now)
        out.state = self.state.value
        return out

    def counters(self) -> dict:
        """Counters the machine owns, for the store."""
        return {'estop_events': int(self.record.estop_events),
                'time_autonomous_s': float(self.record.time_autonomous_s)}

    def _watch_stuck(self, inp: MissionInputs, now: float) -> None:
        """Feed the stuck monitor while the rover drives or cuts; its verdict is what
        the RECOVER interrupt reads (``ctx.stuck_reason``)."""
        ctx = self.ctx
        ctx.stuck_reason = ''
        if self.state not in STUCK_WATCHED:
            return
        verdict = ctx.stuck.update(now, inp.wheel_mps, inp.vo_fix, inp.yaw_rate_radps)
        if verdict.stuck:
            ctx.stuck_reason = verdict.reason()

    # -- transitions ---------------------------------------------------------------------
    def _interrupt(self, inp: MissionInputs) -> Transition | None:
        for irq in INTERRUPTS:
            if self.state in irq.preempts:
                why = irq.raised(inp, self.ctx)
                if why:
                    if irq.counter:
                        setattr(self.record, irq.counter, getattr(self.record, irq.counter) + 1)
                    return Transition(irq.target, why, fault=irq.target is State.FAULT)
        return None

    def _apply(self, t: Transition, now: float) -> None:
        rec = self.record
        target, resume = t.target, t.resume
        if resume:
            target = State(rec.resume_state or State.SELECT_SITE.value)
        elif DISPATCH[target].holding and not self.phase.holding:
            rec.resume_state = self.state.value
        if t.fault:
            rec.fault_reason = t.reason
        if target not in TRANSITIONS[self.state]:
            raise RuntimeError(f'illegal transition {self.state.value} -> {target.value} '
                               f'({t.reason})')
        self.ctx.event('info', f'{self.state.value} -> {target.value}: {t.reason}')
        self.ctx.stuck.reset()     # a new phase judges its own motion
        self.state = target
        rec.state = target.value
        self.ctx.persist()
        self._enter(now, resume)

    def _enter(self, now: float, resume: bool = False) -> None:
        self.data = self.phase.enter(self.ctx, now, resume)

    def _take_override(self, inp: MissionInputs) -> None:
        ov = inp.site_override
        if ov is None or ov[0] <= self.record.override_seq:
            return
        self.record.override_seq = int(ov[0])
        self.record.pending_override = (float(ov[1]), float(ov[2]))
        self.ctx.persist()
        self.ctx.event('info', f'operator site override ({ov[1]:.2f}, {ov[2]:.2f})')
