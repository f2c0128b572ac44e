"""Bucket-drum excavator logic: fill estimate and static weigh, stall back-off, dump sequence.

Two counter-rotating bucket drums (RASSOR style: Mueller et al., ASCE Earth & Space 2016)
on front and rear arms. The sim contract defines + as "digs" for *each* drum joint, so
the same commanded speed makes them counter-rotate and their reaction forces cancel.

Live fill estimate (while cutting): the torque spent cutting is the measured drum torque
minus the torque the drum needs to turn free (bearing and seal friction, identified while
it spins out of the ground). Cutting power over a specific cutting energy (J/kg) gives the
mass rate. The specific energy is a calibration constant (config/drivers_sim.yaml for the
embedded simulator), not a published regolith figure, and it changes with depth of cut
and soil: the estimate is a trend between weighs, not a tally. Capacity: drum volume
times lunar bulk density 1500 kg/m^3 (top 15 cm; Carrier, Olhoeft & Mendell, Lunar
Sourcebook 1991, ch. 9).

Static weigh (what the tally counts): like a wheel loader's on-board payload scale, which
weighs the bucket from the lift-cylinder pressure while the boom is held still, each drum
is weighed from its arm's holding torque while the arm is held still with the drum off
the ground. Moment balance about the arm pivot (arm angle theta from horizontal,
+ lowers the drum, so gravity pulls the drum towards + and the motor holds it with a
negative torque):

    -tau = g cos(theta) (m_arm L/2 + (m_drum + fill) L)
    fill = -tau / (g L cos(theta)) - m_arm/2 - m_drum

with the arm a uniform rod of length L (pivot to drum axis) and the drum a point mass at
its end (config/rover.yaml). A weigh is taken when, for ``weigh_window_s``, the arm is
at or above ``weigh_max_arm_rad`` (drum clear of the ground: with 0.20 m wheels, a 0.45 m
arm and a 0.16 m drum it touches flat ground at asin(0.04/0.45) = 0.089 rad; held in its
trench it reads 4-15 % off), arm and drum are still, and the torque spread stays within
``weigh_steady_nm``; the window's mean torque and angle then set that drum's fill
(clipped to [0, weigh_max_kg]). Weighs repeat every window while the conditions hold.

Why the window is strict: after the arm is stepped up to its stow the rover rocks on its
wheels for ~4 s in the embedded simulator (moon, 19 kg in a drum), and the base's pitch
acceleration adds to the arm torque; some 0.4 s stretches of it hold still to 0.14-0.4 N m
while reading 33-45 % heavy. A 0.6 s window with 0.1 N m spread admits none of those
(their spread is 0.2 N m or more) and weighs within 0.5 % of the carried mass once the
rover is still (test_control_excavator.py).

Known errors: rover pitch phi is not compensated (no IMU input): the arm's true angle to
the horizontal is theta + phi, a relative error of about phi tan(theta) + phi^2/2 in
the weighed moment: ~0.5 % at theta = 0 and ~4 % at the -0.4 rad stow for phi = 0.1 rad,
more on the fill alone, which is the moment less the arm and drum tare. Joint friction
(none in the simulator; a geared arm's static friction on hardware) adds straight to tau.

All values SI: rad, rad/s, N m, kg, s.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from mining_rover.control.limits import finite

LUNAR_BULK_DENSITY_KG_M3 = 1500.0
#: A weigh must resolve this share of a full drum: the torque spread it accepts
#: (weigh_steady_nm) over g x arm length is at most this x capacity. Psyche (0.144 m/s^2):
#: 0.1 N m / (0.144 x 0.45 m) = 1.5 kg of an 18 kg drum.
WEIGH_RESOLUTION_SHARE = 0.1

#: A weigh needs the arm within 60 deg of horizontal: the moment arm L cos(theta) is at
#: least half the arm, so an angle error costs at most twice what it does horizontal.
MIN_WEIGH_COS = 0.5
#: Fewest torque samples in a window for its spread to say anything about steadiness.
MIN_WEIGH_SAMPLES = 3


@dataclass(frozen=True)
class ExcavatorConfig:
    """Drum capacity (kg per drum), speed/torque ratings and the stall and weighing thresholds."""
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
    # Static weigh (module docstring). Geometry defaults: config/rover.yaml.
    gravity_mps2: float | None = None    # surface gravity, m/s^2; None or <= 0: no weigh
    arm_length_m: float = 0.45           # arm pivot to drum axis, m
    arm_mass_kg: float = 2.5             # one arm (uniform rod), kg
    drum_mass_kg: float = 5.5            # one empty drum, kg
    weigh_window_s: float = 0.6          # conditions held and torque steady this long, s
    weigh_max_arm_rad: float = 0.05      # arm at or above this (+ lowers), rad
    weigh_max_arm_speed_radps: float = 0.05
    weigh_max_drum_speed_radps: float = 0.3
    weigh_steady_nm: float = 0.1         # arm torque spread allowed over the window, N m
    weigh_max_kg: float | None = None    # heaviest weigh reported per drum, kg (None: capacity_kg)

    @property
    def weigh_resolution_kg(self) -> float:
        """Mass a torque of ``weigh_steady_nm`` at the drum stands for, kg (inf without gravity)."""
        if self.gravity_mps2 is None or self.gravity_mps2 <= 0.0:
            return math.inf
        return self.weigh_steady_nm / (self.gravity_mps2 * self.arm_length_m)

    @property
    def weigh_enabled(self) -> bool:
        """A weigh needs gravity, and gravity strong enough that the arm torque resolves
        WEIGH_RESOLUTION_SHARE of a full drum (on a rubble pile at 5e-5 m/s^2 a full drum
        pulls its arm with 4e-4 N m: the cutting-energy estimate is all there is)."""
        return self.weigh_resolution_kg <= WEIGH_RESOLUTION_SHARE * self.capacity_kg


class ArmState(NamedTuple):
    """One arm joint as measured; a plain (position, velocity, torque) tuple works too."""
    position_rad: float
    velocity_radps: float
    torque_nm: float


@dataclass(frozen=True)
class Weigh:
    """One weighing of a drum from the arm's holding torque: mass (kg), model time (s), arm angle (rad)."""
    mass_kg: float       # regolith in the drum (clipped to [0, weigh_max_kg])
    time_s: float        # on the model's clock (Excavator.clock_s)
    arm_rad: float       # mean arm angle over the window
    torque_nm: float     # mean arm torque over the window


@dataclass
class ExcavatorCommand:
    """Drum speed (rad/s) and arm angle (rad) for all drums, or for the drums in ``only``."""
    drum_radps: float
    arm_rad: float
    #: drums this command is for (None: all); the others stop their drum and hold their arm
    only: tuple | None = None

    def applies_to(self, drum: str) -> bool:
        return self.only is None or drum in self.only


class Excavator:
    """State: fill per drum, static weigh per drum, stall detector, back-off timer, dump
    sequence. ``clock_s`` is the sum of the ``dt_s`` given to ``update``."""

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
        self.clock_s = 0.0
        self.last_weigh = {d: None for d in self.drums}     # Weigh | None
        self.weigh_count = {d: 0 for d in self.drums}
        self._weigh_since = {d: None for d in self.drums}
        self._weigh_samples = {d: deque() for d in self.drums}   # (t, torque, arm angle)

    @property
    def total_fill_kg(self) -> float:
        return sum(self.fill_kg.values())

    @property
    def weigh_rounds(self) -> int:
        """Weighs every drum has had: when it changes, each drum was weighed since."""
        return min(self.weigh_count.values()) if self.drums else 0

    @property
    def weigh_age_s(self) -> float:
        """Seconds since the stalest drum's last weigh; inf before every drum has been
        weighed, NaN with the weigh disabled."""
        if not self.cfg.weigh_enabled:
            return math.nan
        times = [w.time_s for w in self.last_weigh.values() if w is not None]
        if len(times) < len(self.drums) or not times:
            return math.inf
        return self.clock_s - min(times)

    @property
    def weighed_fill_kg(self) -> float:
        """Sum of each drum's last weigh (NaN until every drum has been weighed)."""
        if any(w is None for w in self.last_weigh.values()):
            return math.nan
        return sum(w.mass_kg for w in self.last_weigh.values())

    def payload_kg(self, arm_torque_nm: float, arm_rad: float) -> float:
        """Regolith in a drum held still at arm angle ``arm_rad`` (from horizontal, + lowers)
        by torque ``arm_torque_nm`` (negative holds it up), from the moment balance in the
        module docstring; not clipped. Needs ``gravity_mps2`` > 0."""
        c = self.cfg
        moment_kg_m = -arm_torque_nm / (c.gravity_mps2 * math.cos(arm_rad))
        return moment_kg_m / c.arm_length_m - 0.5 * c.arm_mass_kg - c.drum_mass_kg

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
        for d in self.drums:
            self._restart_weigh(d)

    def update(self, dt_s: float, drum_speed_radps: dict, drum_torque_nm: dict,
               arm_state: dict | None = None) -> ExcavatorCommand:
        """Advance the estimators by dt with measured drum speeds/torques and, for the
        weigh, each drum's arm as ``{drum: ArmState or (position rad, velocity rad/s,
        torque N m)}`` (None or a missing drum: no weigh); return what to command now
        (same drum speed for both drums, same arm position for both arms)."""
        c = self.cfg
        self.clock_s += dt_s
        cut_total = 0.0
        for d in self.drums:
            w, tau = drum_speed_radps.get(d, math.nan), drum_torque_nm.get(d, math.nan)
            if not finite(w, tau):
                continue
            cut = max(0.0, abs(tau) - c.free_torque_nm)
            cut_total += cut
            if w * self.requested.drum_radps > 0 and not self.dumping and w > 0:
                rate = cut * abs(w) / c.specific_cutting_energy_j_per_kg
                if self.fill_kg[d] < c.capacity_kg:   # a weigh may have found more
                    self.fill_kg[d] = min(c.capacity_kg, self.fill_kg[d] + rate * dt_s)
        self.cutting_torque_nm = cut_total
        if c.weigh_enabled:
            for d in self.drums:
                self._weigh_step(d, drum_speed_radps.get(d, math.nan), (arm_state or {}).get(d))

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

    def _restart_weigh(self, d: str):
        self._weigh_since[d] = None
        self._weigh_samples[d].clear()

    def _weigh_step(self, d: str, drum_radps: float, arm) -> None:
        """One sample of drum d's weigh window; sets fill_kg[d] when the window is complete
        and steady."""
        c, now = self.cfg, self.clock_s
        try:
            arm_rad, arm_radps, torque_nm = (float(v) for v in arm)
        except (TypeError, ValueError):
            self._restart_weigh(d)
            return
        still = (finite(arm_rad, arm_radps, torque_nm, drum_radps)
                 and arm_rad <= c.weigh_max_arm_rad and math.cos(arm_rad) >= MIN_WEIGH_COS
                 and abs(arm_radps) <= c.weigh_max_arm_speed_radps
                 and abs(drum_radps) <= c.weigh_max_drum_speed_radps
                 and torque_nm < 0.0)   # holding the drum up; >= 0: resting on something
        if not still:
            self._restart_weigh(d)
            return
        if self._weigh_since[d] is None:
            self._weigh_since[d] = now
        samples = self._weigh_samples[d]
        samples.append((now, torque_nm, arm_rad))
        while samples[0][0] < now - c.weigh_window_s - 1e-9:
            samples.popleft()
        if now - self._weigh_since[d] < c.weigh_window_s - 1e-9 or len(samples) < MIN_WEIGH_SAMPLES:
            return
        torques = [s[1] for s in samples]
        if max(torques) - min(torques) > c.weigh_steady_nm:
            return   # still settling: the window slides on
        torque = sum(torques) / len(torques)
        angle = sum(s[2] for s in samples) / len(samples)
        top = c.capacity_kg if c.weigh_max_kg is None else c.weigh_max_kg
        mass = min(max(self.payload_kg(torque, angle), 0.0), top)
        self.fill_kg[d] = mass
        self.last_weigh[d] = Weigh(mass, now, angle, torque)
        self.weigh_count[d] += 1
        self._restart_weigh(d)

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
        if not c.weigh_enabled:   # with a weigh, the next one says what is left
            for d in self._dump_drums:
                self.fill_kg[d] = 0.0
        # drums stay stopped after a dump; the other arm keeps its requested position
        self.requested = ExcavatorCommand(0.0, c.dump_arm_rad if only is None else self.requested.arm_rad)
        return ExcavatorCommand(0.0, c.dump_arm_rad, only)
