"""What every phase shares: the states, the transition a step returns, the context it
acts through, and the Phase base class.

A phase is a class with ``state`` (the State it runs), ``exits`` (the states its step
may go to), a dataclass ``Data`` for its own per-entry data, ``enter(ctx, now, resume)
-> Data`` and ``step(ctx, data, inputs, now) -> Transition | None``. The machine
(machine.py) keeps one ``Data`` per entry, walks the interrupts, applies transitions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from mining_rover.planning.executive import frames
from mining_rover.planning.executive.config import MissionConfig
from mining_rover.planning.executive.io import MissionInputs, MissionOutputs
from mining_rover.planning.executive.record import MissionRecord
from mining_rover.planning.executive.stuck import StuckMonitor
from mining_rover.planning.mission_store import CycleCommit


class State(str, Enum):
    """The executive's states; the string value is what the status topic reports."""
    MAPPING = 'MAPPING'
    SELECT_SITE = 'SELECT_SITE'
    DRIVE_TO_SITE = 'DRIVE_TO_SITE'
    EXCAVATE = 'EXCAVATE'
    BACK_OFF = 'BACK_OFF'
    HAUL = 'HAUL'
    DUMP = 'DUMP'
    RECOVER = 'RECOVER'
    ESTOP = 'ESTOP'
    PAUSED = 'PAUSED'
    FAULT = 'FAULT'
    DONE = 'DONE'


@dataclass(frozen=True)
class Transition:
    """What a step asks for: go to ``target``; ``fault``: a safe stop (FAULT) that
    remembers the state to retry; ``resume``: back to the state an interrupt held."""
    target: State | None
    reason: str
    fault: bool = False
    resume: bool = False


def go(target: State, reason: str) -> Transition:
    """Transition to ``target`` for ``reason``."""
    return Transition(target, reason)


def fault(reason: str) -> Transition:
    """Transition to FAULT for ``reason``."""
    return Transition(State.FAULT, reason, fault=True)


def resume(reason: str) -> Transition:
    """Transition back to the state an interrupt left, for ``reason``."""
    return Transition(None, reason, resume=True)


class Context:
    """What a phase acts through: the settings, the persisted record, this tick's
    outputs, the one route follower every driving phase shares, the stuck monitor
    (its verdict this tick in ``stuck_reason``, '' while not stuck) and the latest
    map -> odom estimate (``frame``; frames.py: the rover drives in odom, the berm and
    the dig zone are surveyed in map)."""

    def __init__(self, cfg: MissionConfig, record: MissionRecord, route=None):
        self.cfg = cfg
        self.record = record
        self.out = MissionOutputs()
        self.route = route
        self.stuck = StuckMonitor(cfg.stuck_window_s, cfg.stuck_min_travel_m,
                                  cfg.stuck_progress_share)
        self.stuck_reason = ''
        self.frame = frames.IDENTITY

    def to_local(self, x: float, y: float) -> tuple:
        """A map-frame point (m) in the odom frame the rover drives in."""
        return frames.apply(self.frame, x, y)

    def to_map(self, x: float, y: float) -> tuple:
        """An odom-frame point (m) in the map frame."""
        return frames.apply(frames.inverse(self.frame), x, y)

    def map_pose(self, pose):
        """The odom-frame ``pose`` in the map frame (None stays None)."""
        return None if pose is None else frames.apply_pose(frames.inverse(self.frame), pose)

    @property
    def cycle(self):
        return self.record.cycle

    def stop(self, arm: float | None = None, drum: float | None = 0.0) -> None:
        """Wheels still; the drums at ``drum`` (None: not commanded), arms to ``arm``
        (None: held where they are)."""
        o = self.out
        o.linear_mps, o.angular_radps, o.drum_radps, o.arm_rad = 0.0, 0.0, drum, arm

    def drive(self, v: float, w: float) -> None:
        self.out.linear_mps = clip(v, self.cfg.max_linear_mps)
        self.out.angular_radps = clip(w, self.cfg.max_angular_radps)

    def event(self, level: str, text: str) -> None:
        self.out.events.append((level, text))

    def persist(self) -> None:
        """The record changed in a way a restart must see: save it this tick."""
        self.out.persist = True

    def commit(self, kind: str, mass_kg: float, **kw) -> None:
        self.out.commits.append(CycleCommit(self.record.cycle_id, kind, mass_kg, **kw))


class Phase:
    """Base of every phase (see the module docstring)."""
    state: ClassVar[State]
    exits: ClassVar[frozenset] = frozenset()
    #: time in this phase counts as autonomous operation
    autonomous: ClassVar[bool] = True
    #: an interrupt's holding phase (ESTOP, PAUSED, FAULT): never a resume target
    holding: ClassVar[bool] = False

    @dataclass
    class Data:
        t0: float
        resume: bool = False

    def enter(self, ctx: Context, now: float, resume: bool):
        return self.Data(t0=now, resume=resume)

    def step(self, ctx: Context, d, inp: MissionInputs, now: float) -> Transition | None:
        raise NotImplementedError


def wrap(a: float) -> float:
    """Angle ``a`` (rad) wrapped to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def clip(v: float, limit: float) -> float:
    """``v`` limited to [-limit, limit]."""
    return max(-limit, min(limit, v))
