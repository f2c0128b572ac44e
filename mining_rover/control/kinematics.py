"""Skid-steer kinematics: body twist (v, omega) <-> left/right wheel speeds.

A four-wheel skid-steer rover turns by sliding its wheels sideways, so it turns less
than a differential drive with the same track width would: the instantaneous centres
of rotation of the two tracks lie outside the wheels (Mandow et al., "Experimental
kinematics for wheeled skid-steer mobile robots", IROS 2007). The usual first-order
model keeps the differential-drive equations with an *effective* track width
``track_width_m * slip_factor`` (slip_factor >= 1; 1 = no lateral skid). On loose
regolith the factor is identified from wheel odometry against IMU yaw rate; a value
of 1.0-1.5 is typical for rigid wheels on sand (Mandow 2007 measured 1.3-1.5).

Frames and units: REP-103 (x forward, z up, m/s, rad/s). Positive wheel speed drives
the rover forward on both sides (the sim contract's wheel joints follow this rule).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


from mining_rover.paths import config_parameters, rover_config


@dataclass(frozen=True)
class SkidSteer:
    """Skid-steer geometry: track width (m), wheel radius (m), effective slip factor."""

    track_width_m: float
    wheel_radius_m: float
    slip_factor: float = 1.0

    def __post_init__(self):
        for name in ('track_width_m', 'wheel_radius_m', 'slip_factor'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be a finite positive number, got {value!r}')
        if self.slip_factor < 1.0:
            raise ValueError(f'slip_factor must be >= 1 (1 = no lateral skid), got {self.slip_factor}')

    @property
    def effective_track_m(self) -> float:
        return self.track_width_m * self.slip_factor

    def twist_to_wheels(self, linear_mps: float, angular_radps: float) -> tuple:
        """(left, right) wheel angular speeds in rad/s for a body twist."""
        half = 0.5 * self.effective_track_m
        left = (linear_mps - angular_radps * half) / self.wheel_radius_m
        right = (linear_mps + angular_radps * half) / self.wheel_radius_m
        return left, right

    def wheels_to_twist(self, left_radps: float, right_radps: float) -> tuple:
        """(linear m/s, angular rad/s) of the body for left/right wheel speeds (rad/s)."""
        vl = left_radps * self.wheel_radius_m
        vr = right_radps * self.wheel_radius_m
        return 0.5 * (vl + vr), (vr - vl) / self.effective_track_m

    def scale_to_wheel_limit(self, left_radps: float, right_radps: float,
                             max_wheel_radps: float) -> tuple:
        """Scale both sides by one factor so neither exceeds the limit: keeps the
        curvature of the commanded path (clipping each side alone would not)."""
        peak = max(abs(left_radps), abs(right_radps))
        if peak <= max_wheel_radps or peak == 0.0:
            return left_radps, right_radps
        k = max_wheel_radps / peak
        return left_radps * k, right_radps * k


def skid_steer_from_rover(slip_factor: float = 1.0, path=None) -> SkidSteer:
    """SkidSteer from config/rover.yaml (wheel.track_width, wheel.radius)."""
    rover = rover_config(path)
    return SkidSteer(float(rover['wheel']['track_width']), float(rover['wheel']['radius']),
                     slip_factor)


def configured_slip_factor(drivers_yaml: str = 'drivers_sim.yaml') -> float:
    """drive_node's ``slip_factor`` from a drivers config file (the calibrated value)."""
    return float(config_parameters(drivers_yaml, 'drive_node')['slip_factor'])
