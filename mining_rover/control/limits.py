"""Command limits: finite-value checks, velocity/acceleration/jerk limiting, per-actuator
clamps with a report, and thermal derating.

Everything here is pure arithmetic on floats (SI units, REP-103) so that the safety
layer in ``mining_rover.drivers.safety`` and the tests can use it without ROS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


def finite(*values) -> bool:
    """True when every value is a finite real number (rejects NaN, +-inf, non-numbers)."""
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to [low, high] (low wins if the bounds cross)."""
    return low if value < low else high if value > high else value


def finite_mean(values) -> float:
    """Mean of the finite values (a wheel or drum whose feedback is missing is left
    out); NaN when none is finite."""
    good = [float(v) for v in values if finite(v)]
    return sum(good) / len(good) if good else math.nan


class ControlTicker:
    """The time step of a periodic control loop from the clock it runs on.

    ``step(now_s)`` returns the time since the previous tick, s: the nominal period on the
    first tick, and again where the clock went backwards (a simulator reset under sim
    time), so a limiter never gets a negative step. It also counts ticks, so slower
    outputs go out every ``every(rate_hz)``-th tick.
    """

    def __init__(self, rate_hz: float):
        if not (finite(rate_hz) and rate_hz > 0):
            raise ValueError(f'control rate must be > 0 Hz, got {rate_hz}')
        self.rate_hz = float(rate_hz)
        self.count = 0
        self._last = None

    def step(self, now_s: float) -> float:
        nominal = 1.0 / self.rate_hz
        dt = nominal if self._last is None or not now_s > self._last else now_s - self._last
        self._last = now_s
        self.count += 1
        return dt

    def due(self, rate_hz: float) -> bool:
        """True on the ticks where an output at ``rate_hz`` (<= the loop rate) goes out."""
        return self.count % max(1, int(self.rate_hz / rate_hz)) == 0


@dataclass
class MotionLimiter:
    """Limits one command channel's value, its rate of change and the rate of that.

    ``step(target, dt)`` moves the output toward the target no faster than
    ``max_accel`` (units/s) and changes that rate no faster than ``max_jerk``
    (units/s^2; 0 = no jerk limit), never exceeding ``max_value`` in magnitude. With a
    jerk limit the rate is chosen so that braking at the jerk limit still stops on the
    target (the discrete form of the sqrt(2 * jerk * error) approach profile).
    """

    max_value: float
    max_accel: float
    max_jerk: float = 0.0
    value: float = 0.0
    rate: float = 0.0

    def __post_init__(self):
        if not (finite(self.max_value, self.max_accel, self.max_jerk) and self.max_value > 0
                and self.max_accel > 0 and self.max_jerk >= 0):
            raise ValueError('MotionLimiter needs max_value > 0, max_accel > 0, max_jerk >= 0, '
                             f'got {self.max_value}, {self.max_accel}, {self.max_jerk}')

    def reset(self, value: float = 0.0):
        self.value, self.rate = float(value), 0.0

    def step(self, target: float, dt: float) -> float:
        if dt <= 0 or not finite(dt):
            return self.value
        if not finite(target):
            target = 0.0
        target = clamp(target, -self.max_value, self.max_value)
        error = target - self.value
        wanted = clamp(error / dt, -self.max_accel, self.max_accel)
        if self.max_jerk > 0:
            wanted = self._jerk_limited_rate(error, wanted, dt)
        new_value = clamp(self.value + wanted * dt, -self.max_value, self.max_value)
        self.rate = (new_value - self.value) / dt
        self.value = new_value
        return self.value

    def _stop_distance(self, rate: float, dt: float) -> float:
        """Distance covered from now if the rate, starting at ``rate`` this step, then
        falls by max_jerk * dt every step until zero (discrete braking profile)."""
        jd = self.max_jerk * dt
        r = abs(rate)
        n = math.floor(r / jd)
        return dt * ((n + 1) * r - jd * n * (n + 1) / 2.0)

    def _jerk_limited_rate(self, error: float, wanted: float, dt: float) -> float:
        jd = self.max_jerk * dt
        lo = max(self.rate - jd, -self.max_accel)
        hi = min(self.rate + jd, self.max_accel)
        wanted = clamp(wanted, lo, hi)
        sign = 1.0 if error > 0 else -1.0 if error < 0 else 0.0

        def feasible(rate):  # moving toward the target and able to stop on it
            return sign * rate <= 0 or self._stop_distance(rate, dt) <= abs(error) + 1e-12

        if feasible(wanted):
            return wanted
        brake = lo if sign > 0 else hi
        if not feasible(brake):
            return brake
        a, b = brake, wanted   # feasible .. infeasible: bisect for the fastest approach
        for _ in range(40):
            mid = 0.5 * (a + b)
            a, b = (mid, b) if feasible(mid) else (a, mid)
        return a


@dataclass
class TwistLimiter:
    """A MotionLimiter for the linear (m/s) and one for the angular (rad/s) command."""

    linear: MotionLimiter
    angular: MotionLimiter

    def step(self, linear_mps: float, angular_radps: float, dt: float) -> tuple:
        return self.linear.step(linear_mps, dt), self.angular.step(angular_radps, dt)

    def reset(self):
        self.linear.reset()
        self.angular.reset()


@dataclass(frozen=True)
class ClampResult:
    """A limited command value, whether it was changed, and why."""
    value: float
    clamped: bool
    reason: str = ''   # '' when the value passed unchanged


@dataclass
class ActuatorLimits:
    """Limits of one actuator: |velocity| <= max_velocity; lower <= position <= upper.

    ``clamp_*`` return the limited value and why it was limited; ``clamp_count`` counts
    how often, so diagnostics can report a command stream that keeps hitting a limit.
    Non-finite commands are replaced by 0 (velocity) or rejected (position: keep last).
    """

    name: str
    max_velocity: float
    lower: float = -math.inf
    upper: float = math.inf
    clamp_count: int = field(default=0, compare=False)
    last_reason: str = field(default='', compare=False)

    def clamp_velocity(self, velocity: float, scale: float = 1.0) -> ClampResult:
        limit = self.max_velocity * clamp(scale, 0.0, 1.0)
        if not finite(velocity):
            return self._report(0.0, f'{self.name}: non-finite velocity {velocity!r} -> 0')
        if abs(velocity) > limit:
            return self._report(math.copysign(limit, velocity),
                                f'{self.name}: velocity {velocity:.3g} beyond limit {limit:.3g}')
        return ClampResult(float(velocity), False)

    def clamp_position(self, position: float) -> ClampResult | None:
        """None for a non-finite position (the caller keeps its last command)."""
        if not finite(position):
            self._report(0.0, f'{self.name}: non-finite position {position!r} rejected')
            return None
        if position < self.lower or position > self.upper:
            return self._report(clamp(position, self.lower, self.upper),
                                f'{self.name}: position {position:.3g} outside '
                                f'[{self.lower:.3g}, {self.upper:.3g}]')
        return ClampResult(float(position), False)

    def _report(self, value, reason) -> ClampResult:
        self.clamp_count += 1
        self.last_reason = reason
        return ClampResult(value, True, reason)


@dataclass
class ThermalDerate:
    """Linear derating of a motor's current/velocity limit with winding temperature.

    In vacuum a motor sheds heat only by conduction into the chassis and radiation, so
    it keeps heating long after the load goes away; we therefore stop it *before* its
    rated winding limit rather than at it. Scale = 1 below ``derate_start_c``, falling
    linearly to 0 at ``stop_c`` (< ``rated_c``); after a stop the motor stays stopped
    until it cools below ``stop_c - hysteresis_c``. Defaults: class-F insulation is
    rated 155 C (IEC 60034-1); we stop at 130 C and begin derating at 100 C.
    """

    derate_start_c: float = 100.0
    stop_c: float = 130.0
    rated_c: float = 155.0
    hysteresis_c: float = 10.0
    stopped: bool = False

    def __post_init__(self):
        if not (self.derate_start_c < self.stop_c < self.rated_c and self.hysteresis_c >= 0):
            raise ValueError('ThermalDerate needs derate_start_c < stop_c < rated_c, got '
                             f'{self.derate_start_c}, {self.stop_c}, {self.rated_c}')

    def scale(self, temperature_c: float) -> float:
        """Fraction (0..1) of the rated limit allowed at this temperature."""
        if not finite(temperature_c):
            return 1.0 if not self.stopped else 0.0  # no reading: keep the last decision
        if self.stopped:
            if temperature_c < self.stop_c - self.hysteresis_c:
                self.stopped = False
            else:
                return 0.0
        if temperature_c >= self.stop_c:
            self.stopped = True
            return 0.0
        if temperature_c <= self.derate_start_c:
            return 1.0
        return (self.stop_c - temperature_c) / (self.stop_c - self.derate_start_c)


#: Froude number Fr = v^2 / (g L) up to which a wheeled vehicle moves quasi-statically
#: (weight, not inertia, holds it on the ground: bumps do not launch it, braking does not
#: skid it). Motion is dynamically similar across gravities at equal Fr, the scaling
#: used to test planetary rovers in reduced gravity. 0.25 leaves the lunar speed limit of
#: config/mission.yaml (0.4 m/s, Fr 0.16 at L = 0.6 m) alone and slows the rover on the
#: small bodies, where 0.4 m/s would be Fr 1.9 (Psyche).
MAX_FROUDE = 0.25
#: Wheel-regolith friction for the traction bound a <= mu g: lunar regolith's friction
#: angle is 30-50 deg (Heiken, Vaniman & French, "Lunar Sourcebook", 1991, sec. 9.1.7):
#: tan(30 deg) = 0.58, rounded down.
TRACTION_MU = 0.5


@dataclass(frozen=True)
class TraversalLimits:
    """Speed and acceleration a rover can use in gravity g without leaving the ground
    or skidding (m/s, rad/s, m/s^2, rad/s^2): v <= sqrt(Fr g L), a <= mu g, and for
    turns the same bounds at the wheels (track / 2 from the centre)."""
    max_linear_mps: float
    max_angular_radps: float
    max_linear_accel: float
    max_angular_accel: float

    @classmethod
    def for_gravity(cls, gravity_mps2: float, wheelbase_m: float, track_width_m: float,
                    max_froude: float = MAX_FROUDE, mu: float = TRACTION_MU) -> 'TraversalLimits':
        if not (finite(gravity_mps2, wheelbase_m, track_width_m) and gravity_mps2 > 0.0
                and wheelbase_m > 0.0 and track_width_m > 0.0):
            raise ValueError(f'gravity {gravity_mps2} m/s^2, wheelbase {wheelbase_m} m and track '
                             f'{track_width_m} m must be finite and > 0')
        v = math.sqrt(max_froude * gravity_mps2 * wheelbase_m)
        a = mu * gravity_mps2
        half = track_width_m / 2.0
        return cls(v, v / half, a, a / half)


#: Share of the rover's weight an arm swing may put on, or take off, its wheels. The
#: swung drums' reaction at the pivots peaks at m L (alpha + omega^2) (tangential plus
#: centripetal, rigid-body dynamics); kept under half the weight, the wheels stay loaded.
#: Without this limit, on Psyche (g = 0.144) the arms raising two full drums at ~2 rad/s
#: at the end of a cut threw the 100 kg rover 2.3 m into the air.
ARM_WEIGHT_SHARE = 0.5


@dataclass(frozen=True)
class ArmSwingLimits:
    """Arm speed (rad/s) and acceleration (rad/s^2) that keep the rover's wheels on the
    ground in gravity g while the arms swing their drums."""
    max_radps: float
    max_radps2: float

    @classmethod
    def for_gravity(cls, gravity_mps2: float, rover_mass_kg: float, swung_mass_kg: float,
                    arm_length_m: float, rated_radps: float, rated_radps2: float,
                    weight_share: float = ARM_WEIGHT_SHARE) -> 'ArmSwingLimits':
        """``swung_mass_kg``: everything the arms swing together (arms, drums, a full load),
        taken at the drum axis ``arm_length_m`` out (conservative). The share of the weight
        is split evenly between the centripetal and the tangential term. ``gravity_mps2`` 0
        (body unknown): the rated limits."""
        if not (finite(gravity_mps2, rover_mass_kg, swung_mass_kg, arm_length_m, rated_radps,
                       rated_radps2, weight_share) and gravity_mps2 >= 0.0 and rover_mass_kg > 0.0
                and swung_mass_kg > 0.0 and arm_length_m > 0.0 and rated_radps > 0.0
                and rated_radps2 > 0.0 and 0.0 < weight_share <= 1.0):
            raise ValueError(f'arm swing limits need gravity >= 0, masses, arm length and rated limits > 0 '
                             f'and a weight share in (0, 1], got g {gravity_mps2}, rover {rover_mass_kg} kg, '
                             f'swung {swung_mass_kg} kg, arm {arm_length_m} m, rated {rated_radps} rad/s, '
                             f'{rated_radps2} rad/s^2, share {weight_share}')
        if gravity_mps2 == 0.0:
            return cls(rated_radps, rated_radps2)
        k = weight_share * rover_mass_kg * gravity_mps2 / (2.0 * swung_mass_kg * arm_length_m)
        return cls(min(rated_radps, math.sqrt(k)), min(rated_radps2, k))

    @classmethod
    def for_rover(cls, gravity_mps2: float, holddown_n: float, rover_mass_kg: float,
                  arm_mass_kg: float, drum_mass_kg: float, drum_capacity_kg: float,
                  arm_length_m: float, rated_radps: float, rated_radps2: float,
                  weight_share: float = ARM_WEIGHT_SHARE) -> 'ArmSwingLimits':
        """``for_gravity`` for a rover whose two arms swing together, each with its drum
        full, in gravity ``gravity_mps2`` (0: body unknown, rated limits) plus the
        hold-down thrust ``holddown_n``, which loads the wheels like weight
        (control/holddown.py)."""
        from mining_rover.control.holddown import effective_gravity
        swung = 2.0 * (arm_mass_kg + drum_mass_kg + drum_capacity_kg)
        load_g = effective_gravity(gravity_mps2, holddown_n, rover_mass_kg) if gravity_mps2 > 0 else 0.0
        return cls.for_gravity(load_g, rover_mass_kg, swung, arm_length_m, rated_radps, rated_radps2,
                               weight_share)

    def dump_raise_time_s(self, lower_rad: float, upper_rad: float, dump_rad: float,
                          minimum_s: float) -> float:
        """Time the dump allows its arms to reach ``dump_rad`` from anywhere in
        [lower_rad, upper_rad]: the longer swing's time, at least ``minimum_s``."""
        reach = max(abs(dump_rad - lower_rad), abs(upper_rad - dump_rad))
        return max(minimum_s, self.swing_time_s(reach))

    def swing_time_s(self, angle_rad: float) -> float:
        """Time a trapezoidal swing through ``angle_rad`` takes from rest to rest."""
        a = abs(angle_rad)
        w, al = self.max_radps, self.max_radps2
        if a <= w * w / al:                        # triangular: never reaches max speed
            return 2.0 * math.sqrt(a / al)
        return a / w + w / al
