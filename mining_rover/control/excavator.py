"""Bucket-drum excavator logic: cutting torque -> fill estimate, stall back-off, dump sequence.

Two counter-rotating bucket drums (RASSOR style: Mueller et al., ASCE Earth & Space 2016)
on front and rear arms. The sim contract defines + as "digs" for *each* drum joint, so
the same commanded speed makes them counter-rotate and their reaction forces cancel.

Fill estimate: the torque spent cutting is the measured drum torque minus the torque the
drum needs to turn free (bearing and seal friction, identified while it spins out of the
ground). Cutting power over a specific cutting energy (J/kg) gives the mass rate. The
default specific energy is a calibration constant for the embedded simulator (compare
with /sim/regolith excavated_kg), not a published regolith figure. Capacity: drum volume
times lunar bulk density 1500 kg/m^3 (top 15 cm; Carrier, Olhoeft & Mendell, Lunar
Sourcebook 1991, ch. 9).

All values SI: rad, rad/s, N m, kg, s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.control.limits import finite

LUNAR_BULK_DENSITY_KG_M3 = 1500.0


@dataclass(frozen=True)
class ExcavatorConfig:
    capacity_kg: float                   # per drum
    max_drum_radps: float
    drum_max_torque_nm: float
    free_torque_nm: float = 1.0          # friction torque of a free-spinning drum
    specific_cutting_energy_j_per_kg: float = 500.0
    stall_speed_frac: float = 0.2        # measured/commanded speed below this ...
    stall_torque_frac: float = 0.8       # ... with torque above this fraction of max ...
    stall_time_s: float = 0.5            # ... for this long = stalled
    backoff_raise_rad: float = 0.15      # raise the arm by this much (arm + lowers)
    backoff_speed_scale: float = 0.5     # and slow the drums to this fraction
    backoff_time_s: float = 2.0
    dump_arm_rad: float = -0.6           # arm position while dumping (raised)
    dump_drum_radps: float = 4.0         # reverse speed while dumping
    dump_time_s: float = 4.0
    dump_raise_time_s: float = 1.5       # time allowed to raise the arms first


@dataclass
class ExcavatorCommand:
    drum_radps: float
    arm_rad: float
    #: drums this command is for (None: all); the others stop their drum and hold their arm
    only: tuple | None = None

    def applies_to(self, drum: str) -> bool:
        return self.only is None or drum in self.only


class Excavator:
    """State: fill per drum, stall detector, back-off timer, dump sequence."""

    def __init__(self, cfg: ExcavatorConfig, drums: list):
        self.cfg = cfg
        self.drums = list(drums)
        self.fill_kg = {d: 0.0 for d in self.drums}
        self.cutting_torque_nm = 0.0
        self.stalled = False
        self._stall_s = 0.0
        self._backoff_left_s = 0.0
        self.dumping = False
        self._dump_t = 0.0
        self._dump_drums = tuple(self.drums)
        self.requested = ExcavatorCommand(0.0, 0.0)

    @property
    def total_fill_kg(self) -> float:
        return sum(self.fill_kg.values())

    def request(self, drum_radps: float | None = None, arm_rad: float | None = None):
        if drum_radps is not None and finite(drum_radps):
            self.requested.drum_radps = float(drum_radps)
        if arm_rad is not None and finite(arm_rad):
            self.requested.arm_rad = float(arm_rad)

    def start_dump(self, drums=None) -> bool:
        """Start the dump sequence for ``drums`` (default all). False if one is running."""
        if self.dumping:
            return False
        drums = tuple(self.drums if drums is None else drums)
        unknown = [d for d in drums if d not in self.drums]
        if unknown or not drums:
            raise ValueError(f'no such drum(s) {unknown or drums}: drums are {self.drums}')
        self.dumping, self._dump_t, self._dump_drums = True, 0.0, drums
        return True

    def reset(self):
        self._stall_s, self._backoff_left_s, self.stalled = 0.0, 0.0, False
        self.dumping = False

    def update(self, dt_s: float, drum_speed_radps: dict, drum_torque_nm: dict) -> ExcavatorCommand:
        """Advance the estimators by dt with measured drum speeds/torques; return what to
        command now (same drum speed for both drums, same arm position for both arms)."""
        c = self.cfg
        cut_total = 0.0
        for d in self.drums:
            w, tau = drum_speed_radps.get(d, math.nan), drum_torque_nm.get(d, math.nan)
            if not finite(w, tau):
                continue
            cut = max(0.0, abs(tau) - c.free_torque_nm)
            cut_total += cut
            if w * self.requested.drum_radps > 0 and not self.dumping and w > 0:
                rate = cut * abs(w) / c.specific_cutting_energy_j_per_kg
                self.fill_kg[d] = min(c.capacity_kg, self.fill_kg[d] + rate * dt_s)
        self.cutting_torque_nm = cut_total

        if self.dumping:
            return self._dump_step(dt_s)

        wanted = self.requested.drum_radps
        speeds = [abs(drum_speed_radps.get(d, math.nan)) for d in self.drums]
        torques = [abs(drum_torque_nm.get(d, math.nan)) for d in self.drums]
        slow = any(finite(s) and s < c.stall_speed_frac * abs(wanted) for s in speeds)
        loaded = any(finite(t) and t > c.stall_torque_frac * c.drum_max_torque_nm for t in torques)
        if abs(wanted) > 0.1 and slow and loaded:
            self._stall_s += dt_s
        else:
            self._stall_s = 0.0
        if self._stall_s >= c.stall_time_s and self._backoff_left_s <= 0.0:
            self.stalled = True
            self._backoff_left_s = c.backoff_time_s
            self._stall_s = 0.0
        if self._backoff_left_s > 0.0:
            self._backoff_left_s -= dt_s
            if self._backoff_left_s <= 0.0:
                self.stalled = False
            return ExcavatorCommand(wanted * c.backoff_speed_scale,
                                    self.requested.arm_rad - c.backoff_raise_rad)
        return ExcavatorCommand(wanted, self.requested.arm_rad)

    def _dump_step(self, dt_s: float) -> ExcavatorCommand:
        c = self.cfg
        self._dump_t += dt_s
        only = None if set(self._dump_drums) == set(self.drums) else self._dump_drums
        if self._dump_t < c.dump_raise_time_s:
            return ExcavatorCommand(0.0, c.dump_arm_rad, only)
        if self._dump_t < c.dump_raise_time_s + c.dump_time_s:
            for d in self._dump_drums:   # reversing empties the drums over the dump time
                self.fill_kg[d] = max(0.0, self.fill_kg[d] - dt_s * c.capacity_kg / c.dump_time_s)
            return ExcavatorCommand(-c.dump_drum_radps, c.dump_arm_rad, only)
        self.dumping = False
        for d in self._dump_drums:
            self.fill_kg[d] = 0.0
        # drums stay stopped after a dump; the other arm keeps its requested position
        self.requested = ExcavatorCommand(0.0, c.dump_arm_rad if only is None else self.requested.arm_rad)
        return ExcavatorCommand(0.0, c.dump_arm_rad, only)
