"""Hold-down thrust: pressing the rover onto the ground where gravity alone is too weak.

On a rubble-pile asteroid (g ~ 5e-5 m/s^2) the 80 kg rover weighs 4 mN: its wheels
react 2 mN and the smallest drum cut (0.5 mm) needs ~11 mN, so nothing can be dug or
driven. Thrusters firing away from the ground add a force F along the rover's -z that
loads the wheels like weight does: traction, lift-off margin, the Froude speed limit and
the arm swing limits all see the effective gravity g + F / m, while the regolith's own
weight (the cut's gamma = rho g term) and a drum weigh still see g. The price is
propellant, F / (cos(cant) Isp g0) kg/s, which the mission reports.

``thrust_for_site`` picks the smallest number of thrusters (0 where gravity suffices)
with which ``plan_cut`` fills the drums within its fill time, else all of them: fewer
thrusters, less propellant. On the rubble pile sizing for all four (13.9 N, as if the
counter-rotating drums cancelled only half of each other's pull) burnt twice the
propellant of two (6.9 N) and put less on the berm (38 against 51 kg in 800 s).
Pure arithmetic (no ROS); config/rover.yaml ``holddown`` holds the hardware.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from mining_rover.control.limits import finite

#: Standard gravity, m/s^2, converting specific impulse (s) to exhaust velocity
#: (BIPM SI Brochure, 9th ed., 2019: g_n = 9.80665 m/s^2).
STANDARD_GRAVITY_MPS2 = 9.80665


@dataclass(frozen=True)
class HoldDown:
    """The rover's hold-down thrusters (config/rover.yaml ``holddown``)."""
    thrusters: int = 4
    thrust_n: float = 4.0          # per thruster, N
    isp_s: float = 220.0           # specific impulse, s
    propellant_kg: float = 10.0    # loaded propellant, kg
    cant_rad: float = math.radians(30.0)   # each thruster's tilt from the chassis z axis, rad

    def __post_init__(self):
        if not (isinstance(self.thrusters, int) and self.thrusters >= 0
                and finite(self.thrust_n, self.isp_s, self.propellant_kg, self.cant_rad)
                and self.thrust_n >= 0.0 and self.isp_s > 0.0 and self.propellant_kg >= 0.0
                and 0.0 <= self.cant_rad < math.pi / 2):
            raise ValueError('hold-down needs thrusters >= 0 (int), thrust_n >= 0, isp_s > 0, '
                             f'propellant_kg >= 0 and a cant in [0, 90) deg, got {self.thrusters}, '
                             f'{self.thrust_n}, {self.isp_s}, {self.propellant_kg}, {self.cant_rad}')

    @classmethod
    def from_rover(cls, rover: dict) -> 'HoldDown':
        """From a parsed config/rover.yaml; a rover without a ``holddown`` section has none."""
        h = rover.get('holddown') or {}
        if not h:
            return cls(thrusters=0)
        return cls(int(h['thrusters']), float(h['thrust_n']), float(h['isp_s']), float(h['propellant_kg']),
                   math.radians(float(h.get('cant_deg', 30.0))))

    @property
    def max_thrust_n(self) -> float:
        """The largest net hold-down force, N: every thruster's thrust along the chassis z."""
        return self.thrusters * self.thrust_n * math.cos(self.cant_rad)

    def propellant_rate_kgps(self, thrust_n: float) -> float:
        """Propellant flow for this net hold-down force, kg/s: F / (cos(cant) Isp g0)."""
        return max(0.0, thrust_n) / (math.cos(self.cant_rad) * self.isp_s * STANDARD_GRAVITY_MPS2)

    def endurance_s(self, thrust_n: float) -> float:
        """How long the loaded propellant lasts at this thrust, s (inf at zero thrust)."""
        rate = self.propellant_rate_kgps(thrust_n)
        return math.inf if rate <= 0.0 else self.propellant_kg / rate


def tilt_rad(roll_rad: float, pitch_rad: float) -> float:
    """Angle between the rover's z axis and the vertical, rad, from the IMU attitude:
    cos(tilt) = cos(roll) cos(pitch) for a roll-pitch-yaw attitude (REP-103)."""
    return math.acos(max(-1.0, min(1.0, math.cos(roll_rad) * math.cos(pitch_rad))))


def tipped(roll_rad: float | None, pitch_rad: float | None, max_tilt_rad: float) -> bool:
    """True when the attitude is known and tilted beyond ``max_tilt_rad``: thrust along
    the rover's -z would then push it off the ground, not onto it."""
    if roll_rad is None or pitch_rad is None or not finite(roll_rad, pitch_rad):
        return False
    return tilt_rad(roll_rad, pitch_rad) > max_tilt_rad


def effective_gravity(gravity_mps2: float, thrust_n: float, rover_mass_kg: float) -> float:
    """The gravity that would load the wheels as weight plus hold-down thrust does, m/s^2."""
    if not (finite(gravity_mps2, thrust_n, rover_mass_kg) and gravity_mps2 >= 0.0
            and thrust_n >= 0.0 and rover_mass_kg > 0.0):
        raise ValueError(f'effective gravity needs g >= 0, thrust >= 0 and mass > 0, got '
                         f'{gravity_mps2}, {thrust_n}, {rover_mass_kg}')
    return gravity_mps2 + thrust_n / rover_mass_kg


def thrust_for_site(holddown: HoldDown, gravity_mps2: float, plan) -> float:
    """Total hold-down thrust a site needs, N: 0 where gravity alone gives a cut that fills
    the drums in time, else the fewest thrusters that do, else all of them (0 if the
    rover has none).

    ``plan(thrust_n)`` returns a regolith.CutPlan for that hold-down, judged by
    ``fills_in_time``.
    """
    if not (finite(gravity_mps2) and gravity_mps2 > 0.0):
        raise ValueError(f'gravity must be finite and > 0 m/s^2, got {gravity_mps2}')
    for n in range(holddown.thrusters + 1):
        thrust = n * holddown.thrust_n * math.cos(holddown.cant_rad)
        if fills_in_time(plan(thrust)):
            return thrust
    return holddown.max_thrust_n


def fills_in_time(cut_plan, min_fill_time_s: float = 60.0) -> bool:
    """A feasible cut whose drums fill within ``min_fill_time_s`` (plan_cut's target)."""
    return cut_plan.fill_time_s <= min_fill_time_s * (1.0 + 1e-9)
