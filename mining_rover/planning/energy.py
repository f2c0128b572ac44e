"""The rover's energy account: electrical energy from per-motor power, and productivity.

Pure Python. The executive feeds the summed electrical power of every motor (the
``power_w`` key of each status in /diagnostics, docs/INTERFACES.md) with the time it
was valid; the account integrates it with the trapezoid rule. Units: W, s, Wh, kg.
"""
from __future__ import annotations

import math

SECONDS_PER_HOUR = 3600.0


class EnergyAccount:
    """Integrates electrical power over time (trapezoid rule), in watt-hours.

    ``add(t_s, power_w)`` takes samples in time order; a sample that goes back in time
    (a clock reset, e.g. a restarted simulation) restarts the integration from that
    sample without adding anything. A gap longer than ``max_gap_s`` (a node that was
    not running) adds nothing either: the power in the gap is unknown, not zero.
    ``energy_wh`` starts at ``initial_wh`` so that a restarted executive continues its
    persisted total.
    """

    def __init__(self, initial_wh: float = 0.0, max_gap_s: float = 5.0):
        if not math.isfinite(initial_wh) or initial_wh < 0.0:
            raise ValueError(f'initial energy must be finite and >= 0 Wh, got {initial_wh}')
        self.energy_wh = float(initial_wh)
        self.max_gap_s = float(max_gap_s)
        self._last = None  # (t_s, power_w)

    def add(self, t_s: float, power_w: float) -> float:
        """Add one sample of total electrical power (W) at time t_s (s); returns Wh so far.

        Non-finite samples are skipped (a motor whose power is unknown)."""
        if not (math.isfinite(t_s) and math.isfinite(power_w)):
            return self.energy_wh
        if self._last is not None:
            t0, p0 = self._last
            dt = t_s - t0
            if 0.0 < dt <= self.max_gap_s:
                self.energy_wh += 0.5 * (p0 + power_w) * dt / SECONDS_PER_HOUR
        self._last = (t_s, power_w)
        return self.energy_wh


def total_power_w(per_motor_w: dict) -> float:
    """Sum of the latest power of every motor, W (non-finite entries ignored)."""
    return float(sum(p for p in per_motor_w.values() if math.isfinite(p)))


def kg_per_hour(mass_kg: float, time_s: float) -> float:
    """Mass rate in kg/h; 0 before any time has passed."""
    return mass_kg * SECONDS_PER_HOUR / time_s if time_s > 0.0 else 0.0


def kg_per_wh(mass_kg: float, energy_wh: float) -> float:
    """Mass per unit electrical energy, kg/Wh; 0 before any energy was used."""
    return mass_kg / energy_wh if energy_wh > 0.0 else 0.0
