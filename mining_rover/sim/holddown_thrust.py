"""The simulated hold-down thrusters (control/holddown.py, config/rover.yaml holddown): a
mixin of sim.simulator.Simulator, which owns ``holddown`` (the HoldDown), ``data`` and the
active rover's ``_holddown_cmd``, ``_tel`` and ``_chassis_id`` (sim/rover.py): each rover
of the world has its own thrusters and propellant."""
from __future__ import annotations

import math

import numpy as np


class HoldDownMixin:
    """Hold-down thrust command, its force on the chassis and its propellant use."""

    @property
    def max_holddown_n(self) -> float:
        return self.holddown.max_thrust_n

    def set_holddown(self, thrust_n: float):
        """Net hold-down force, N (config/rover.yaml holddown): pushes the chassis down
        (vertically within the thrusters' cant, see _holddown) and burns propellant until
        the loaded propellant is spent. ValueError for a non-finite or out-of-range value
        (the last command holds)."""
        try:
            v = float(thrust_n)
        except (TypeError, ValueError):
            raise ValueError(f'hold-down: command {thrust_n!r} is not a number') from None
        if not math.isfinite(v) or v < 0.0 or v > self.max_holddown_n + 1e-9:
            raise ValueError(f'hold-down: command {v} N outside [0, {self.max_holddown_n:g}] N; '
                             f'holding {self._holddown_cmd:g} N')
        self._holddown_cmd = v

    def _holddown(self, dt):
        """Apply the hold-down thrust (after step() cleared xfrc_applied) and book its
        propellant; with the tank empty the thrust is 0."""
        left = self.holddown.propellant_kg - self._tel['propellant_used_kg']
        thrust = self._holddown_cmd if left > 0.0 else 0.0
        self._tel['holddown_n'] = thrust
        if thrust <= 0.0:
            return
        self._tel['propellant_used_kg'] += min(left, self.holddown.propellant_rate_kgps(thrust) * dt)
        # Four thrusters canted out from the chassis z axis (rover.yaml holddown), placed
        # symmetrically about the chassis' centre of mass (where xfrc_applied acts) and
        # throttled differentially, keep the net force on the local vertical while the
        # chassis tilts less than the cant; tilted further, the best they do is the cone's
        # edge nearest the vertical.
        d, b = self.data, self._chassis_id
        up = d.xmat[b].reshape(3, 3)[:, 2]
        tilt = math.acos(max(-1.0, min(1.0, float(up[2]))))
        a = self.holddown.cant_rad
        if tilt <= a:
            f = np.array([0.0, 0.0, -thrust])
        else:
            # the body axis turned by the cant towards the vertical (in their plane)
            side = np.array([0.0, 0.0, 1.0]) - up[2] * up
            side /= np.linalg.norm(side) or 1.0
            f = -thrust * (math.cos(a) * up + math.sin(a) * side)
        d.xfrc_applied[b, :3] += f
