"""Wheel odometry fused with the IMU yaw rate, with covariance and slip detection.

Skid-steer wheel odometry is good for distance and poor for heading (the wheels slide
sideways in every turn, more so on loose regolith), while a MEMS gyro is good for
heading over minutes and useless for distance. The filter therefore takes distance
from the wheels and yaw rate from a complementary blend that leans on the gyro
(``imu_weight``, 0.98 by default), with the gyro bias re-estimated whenever the rover
is parked: wheels commanded to zero *and* measured still (zero-velocity update). Wheels
that are merely measured still are no proof: a bogged rover or one pushed round by its
own digging drums stands on stalled wheels while it yaws, and learning that yaw as
gyro bias turns a real rotation into a lasting heading error (found in the mission: 18
deg over one cut).

Slip: on regolith a spinning wheel is the first sign of a bogged rover. ``SlipDetector``
reports the longitudinal slip ratio s = (v_wheel - v_true) / v_wheel (Iagnemma &
Dubowsky, "Mobile Robots in Rough Terrain", Springer 2004, ch. 3) when a measured ground
speed exists (visual odometry, the simulator), otherwise two proxies it can always
compute: the yaw-rate deficit 1 - omega_imu / omega_wheels in turns and the spread of
the wheel speeds on one side (front and rear wheels of a rigid side turn together
unless one of them slips).

Frames: pose of base_link in odom (REP-105), x forward, yaw about +z, SI units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from transforms3d.euler import euler2mat

from mining_rover.control.kinematics import SkidSteer
from mining_rover.control.limits import finite


#: Variance of an IMU's gravity-referenced roll/pitch, rad^2: (1 deg)^2, the static
#: accuracy class of consumer AHRS units (e.g. Bosch BNO055 datasheet: +-1 deg).
ATTITUDE_VAR_RAD2 = math.radians(1.0) ** 2


@dataclass
class OdometryState:
    """Odometry pose in the odom frame: x, y (m), yaw (rad), plus the IMU tilt."""
    x_m: float = 0.0
    y_m: float = 0.0
    yaw_rad: float = 0.0
    #: Tilt from the IMU's gravity-referenced attitude (observable from the accelerometer,
    #: unlike yaw); without one it stays 0 (planar odometry). There is no z: the distance
    #: rolled times sin(pitch), with the pitch of a bouncing rover and the distance of
    #: spinning wheels, drifted 0.25 m in a 15-minute mission on ground level to 2 cm
    #: (measured), far worse than holding base_link at z = 0 on a level work site.
    roll_rad: float = 0.0
    pitch_rad: float = 0.0
    attitude_known: bool = False
    linear_mps: float = 0.0
    angular_radps: float = 0.0
    distance_m: float = 0.0
    #: Pose covariance of (x, y, yaw), 3x3.
    covariance: np.ndarray = field(default_factory=lambda: np.diag([1e-6, 1e-6, 1e-6]))

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform odom -> base_link: R = Rz(yaw) Ry(pitch) Rx(roll).
        The tilt matters to whoever projects sensor data with this pose: at 3 m a 5 deg
        pitch the pose does not know of puts the ground 0.26 m too high or too low."""
        T = np.eye(4)
        T[:3, :3] = euler2mat(self.roll_rad, self.pitch_rad, self.yaw_rad, 'sxyz')
        T[0, 3], T[1, 3] = self.x_m, self.y_m
        return T

    def pose_covariance_6x6(self) -> np.ndarray:
        """ROS-ordered (x, y, z, roll, pitch, yaw) covariance; unobserved axes get a large
        variance (REP-105 practice for planar odometry)."""
        tilt = ATTITUDE_VAR_RAD2 if self.attitude_known else 1e3
        cov = np.diag([0.0, 0.0, 1e3, tilt, tilt, 0.0])
        idx = [0, 1, 5]
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                cov[a, b] = self.covariance[i, j]
        return cov


@dataclass
class OdometryNoise:
    """Process noise, per unit of motion. Defaults sized for rigid wheels on regolith:
    2 % of distance driven (1 sigma) along track, 1 % across, and a gyro angle random
    walk of 0.01 rad/sqrt(s) (consumer MEMS, e.g. BMI088 datasheet: 0.014 deg/s/sqrt(Hz))."""

    along_track_frac: float = 0.02
    cross_track_frac: float = 0.01
    gyro_arw_rad_per_sqrt_s: float = 0.01
    wheel_yaw_frac: float = 0.2  # skid-steer wheel yaw is poor: 20 % of the turn angle


@dataclass(frozen=True)
class TurnPivot:
    """Where a loaded skid-steer rover pivots when it turns in place.

    Lateral friction must balance while the rover turns: the more heavily loaded axle
    slides less, so the pivot moves from the centre towards it (Mandow et al., "Experimental
    kinematics for wheeled skid-steer mobile robots", IROS 2007, measured the same shift
    of the instantaneous centre of rotation with load). A full rear drum (18 kg on an 80 kg
    rover) moved base_link 0.5 m in a 180 deg turn in place that wheel and gyro odometry
    saw as no translation at all. Model: the pivot lies on the rover's x axis at
    ``gain`` x the centre-of-mass offset of the drum loads, at most ``max_m`` from the
    centre; gain 2.4 and max 0.26 m fit the embedded simulator's turns with 0-18 kg in one
    drum (0.07 m at 3 kg, 0.22 m at 9 kg, 0.26 m at 18 kg)."""

    rover_mass_kg: float = 80.0     # rover.yaml: Lunabotics 80 kg class
    drum_x_m: float = 0.86          # drum centre ahead/behind base_link, stowed arm, m
    gain: float = 2.4
    max_m: float = 0.26

    def pivot_x_m(self, front_kg: float, rear_kg: float) -> float:
        """Pivot x in base_link, m (+ towards the front drum); 0 for bad input."""
        if not (finite(front_kg, rear_kg) and front_kg >= 0.0 and rear_kg >= 0.0):
            return 0.0
        x_cg = (front_kg - rear_kg) * self.drum_x_m / (self.rover_mass_kg + front_kg + rear_kg)
        return max(-self.max_m, min(self.max_m, self.gain * x_cg))


def stowed_drum_x_m(arm_pivot_x_m: float, arm_length_m: float, arm_stow_rad: float) -> float:
    """Drum centre ahead of (and, mirrored, behind) base_link with the arm stowed, m: the
    arm pivot's x plus the arm's horizontal reach at the stow angle (+ lowers)."""
    return arm_pivot_x_m + arm_length_m * math.cos(arm_stow_rad)


def drum_loads_kg(fills: dict) -> tuple:
    """(front kg, rear kg, rejected) from the excavator's per-drum fills
    ``{'fill_kg.front_drum_joint': '3.2', ...}`` (other keys ignored). A value that is no
    mass (not a number, non-finite, negative) counts as an empty drum and its key is
    listed in ``rejected``."""
    front = rear = 0.0
    rejected = []
    for key, text in fills.items():
        if not key.startswith('fill_kg.'):
            continue
        try:
            kg = float(text)
        except (TypeError, ValueError):
            kg = math.nan
        if not (finite(kg) and kg >= 0.0):
            rejected.append(key)
        elif 'front' in key:
            front += kg
        elif 'rear' in key:
            rear += kg
    return front, rear, rejected


class WheelImuOdometry:
    """Integrates wheel speeds (rad/s) and the IMU yaw rate (rad/s) into a planar pose."""

    def __init__(self, kinematics: SkidSteer, imu_weight: float = 0.98,
                 noise: OdometryNoise | None = None, stationary_radps: float = 0.02,
                 bias_time_constant_s: float = 5.0, settle_s: float = 1.0,
                 max_bias_radps: float = 0.05):
        if not 0.0 <= imu_weight <= 1.0:
            raise ValueError(f'imu_weight must be within [0, 1], got {imu_weight}')
        self.kinematics = kinematics
        self.imu_weight = imu_weight
        self.noise = noise or OdometryNoise()
        self.stationary_radps = stationary_radps
        self.bias_time_constant_s = bias_time_constant_s
        #: A rover whose wheels have just stopped still rocks and turns on its suspension
        #: and soil for a moment: only after settle_s of standstill, and only while the
        #: gyro reads below max_bias_radps (MEMS biases are ~0.01 rad/s: BMI088 datasheet
        #: +-1 deg/s), is what the gyro reads its bias. Before, the settling turn is real
        #: and integrated: a rover dithering left and right in front of a hazard for two
        #: minutes lost 40 deg of heading when every stop counted as "not turning" and
        #: fed the settling rate to the bias.
        self.settle_s = settle_s
        self.max_bias_radps = max_bias_radps
        self._still_s = 0.0
        self.gyro_bias_radps = 0.0
        self.state = OdometryState()

    def reset(self, x_m=0.0, y_m=0.0, yaw_rad=0.0):
        self.state = OdometryState(x_m=x_m, y_m=y_m, yaw_rad=yaw_rad)

    def update(self, dt_s: float, left_radps: float, right_radps: float,
               imu_yaw_rate_radps: float | None = None, pitch_rad: float | None = None,
               commanded_radps: tuple | None = None, roll_rad: float | None = None,
               pivot_x_m: float = 0.0) -> OdometryState:
        """Advance by dt with the mean left/right wheel speeds (and gyro z rate if any).

        ``pitch_rad``/``roll_rad``: the IMU's attitude (None: unknown, the pose stays
        planar). The distance rolled is projected onto the horizontal plane, and the pose
        carries the tilt (pitch > 0 is nose down, REP-103). ``pivot_x_m``: the point
        on the x axis the rover turns about (``TurnPivot``): turning at w, base_link then
        moves sideways at -w * pivot_x_m.
        ``commanded_radps`` (left, right): what the wheels were told; when given, the
        rover counts as parked only if that is zero too. Non-finite inputs are ignored
        for this step (the pose holds).
        """
        s = self.state
        if not (finite(dt_s, left_radps, right_radps) and dt_s > 0):
            return s
        v, w_wheels = self.kinematics.wheels_to_twist(left_radps, right_radps)
        stationary = abs(left_radps) < self.stationary_radps and abs(right_radps) < self.stationary_radps
        if commanded_radps is not None:
            stationary = stationary and all(finite(c) and abs(c) < self.stationary_radps
                                            for c in commanded_radps)
        gyro = imu_yaw_rate_radps if imu_yaw_rate_radps is not None and finite(imu_yaw_rate_radps) else None
        self._still_s = self._still_s + dt_s if stationary else 0.0
        settled = (stationary and self._still_s >= self.settle_s
                   and (gyro is None or abs(gyro) < self.max_bias_radps))
        if gyro is not None and settled:
            k = min(1.0, dt_s / self.bias_time_constant_s)
            self.gyro_bias_radps += k * (gyro - self.gyro_bias_radps)
        if gyro is None:
            w, weight = (0.0 if stationary else w_wheels), 0.0
        else:
            weight = self.imu_weight
            w = 0.0 if settled else weight * (gyro - self.gyro_bias_radps) + (1.0 - weight) * w_wheels
        tilted = pitch_rad is not None and finite(pitch_rad)
        if tilted:
            s.pitch_rad = float(pitch_rad)
            s.roll_rad = float(roll_rad) if roll_rad is not None and finite(roll_rad) else 0.0
            s.attitude_known = True
        ds = v * dt_s * (math.cos(pitch_rad) if tilted else 1.0)
        dyaw = w * dt_s
        side = -dyaw * pivot_x_m if finite(pivot_x_m) else 0.0
        mid = s.yaw_rad + 0.5 * dyaw
        c, sn = math.cos(mid), math.sin(mid)
        s.x_m += ds * c - side * sn
        s.y_m += ds * sn + side * c
        s.yaw_rad = math.atan2(math.sin(s.yaw_rad + dyaw), math.cos(s.yaw_rad + dyaw))
        s.linear_mps, s.angular_radps = v, w
        s.distance_m += abs(ds)
        # Covariance: first-order propagation, F = d(pose')/d(pose), plus motion noise.
        F = np.array([[1.0, 0.0, -ds * sn], [0.0, 1.0, ds * c], [0.0, 0.0, 1.0]])
        n = self.noise
        var_along = (n.along_track_frac * ds) ** 2
        var_cross = (n.cross_track_frac * ds) ** 2
        var_yaw = weight * n.gyro_arw_rad_per_sqrt_s ** 2 * dt_s + \
            (1.0 - weight) * (n.wheel_yaw_frac * dyaw) ** 2
        R = np.array([[c, -sn], [sn, c]])
        Q = np.zeros((3, 3))
        Q[:2, :2] = R @ np.diag([var_along, var_cross]) @ R.T
        Q[2, 2] = var_yaw
        s.covariance = F @ s.covariance @ F.T + Q
        return s

    def twist_covariance_6x6(self) -> np.ndarray:
        s = self.state
        var_v = max((self.noise.along_track_frac * s.linear_mps) ** 2, 1e-6)
        var_w = max((self.noise.wheel_yaw_frac * s.angular_radps) ** 2 * (1 - self.imu_weight), 1e-6)
        return np.diag([var_v, 1e-6, 1e3, 1e3, 1e3, var_w])


@dataclass(frozen=True)
class SlipReport:
    """Estimated wheel slip ratio (0 rolling .. 1 spinning), whether it counts as slipping, and its source."""
    slip_ratio: float      # 0 = rolling, 1 = spinning in place; longitudinal if measured
    slipping: bool
    source: str            # 'ground_speed', 'yaw_rate', 'wheel_spread' or 'none'


class SlipDetector:
    """Flags wheel slip when the slip ratio stays above ``threshold`` for ``hold_s``.

    Ratios are computed only while the wheels move faster than ``min_speed_mps`` (at a
    standstill the ratio is undefined and reported as 0) and low-passed with
    ``time_constant_s`` so that one noisy sample does not raise the flag.
    """

    def __init__(self, kinematics: SkidSteer, threshold: float = 0.3, hold_s: float = 0.5,
                 min_speed_mps: float = 0.05, min_turn_radps: float = 0.1,
                 time_constant_s: float = 0.3):
        self.kinematics = kinematics
        self.threshold = threshold
        self.hold_s = hold_s
        self.min_speed_mps = min_speed_mps
        self.min_turn_radps = min_turn_radps
        self.time_constant_s = time_constant_s
        self.ratio = 0.0
        self._above_s = 0.0
        self._source = 'none'

    def update(self, dt_s: float, left_radps: list, right_radps: list,
               imu_yaw_rate_radps: float | None = None,
               ground_speed_mps: float | None = None) -> SlipReport:
        """``left_radps``/``right_radps``: every wheel speed on that side (front, rear)."""
        r = self.kinematics.wheel_radius_m
        left = [w for w in left_radps if finite(w)]
        right = [w for w in right_radps if finite(w)]
        raw, source = 0.0, 'none'
        if left and right and finite(dt_s) and dt_s > 0:
            v_wheel, w_wheel = self.kinematics.wheels_to_twist(float(np.mean(left)), float(np.mean(right)))
            candidates = []
            if (ground_speed_mps is not None and finite(ground_speed_mps)
                    and abs(v_wheel) > self.min_speed_mps):
                candidates.append((1.0 - abs(ground_speed_mps) / abs(v_wheel), 'ground_speed'))
            if imu_yaw_rate_radps is not None and finite(imu_yaw_rate_radps) \
                    and abs(w_wheel) > self.min_turn_radps:
                candidates.append((1.0 - imu_yaw_rate_radps / w_wheel, 'yaw_rate'))
            for side in (left, right):
                peak = max(abs(w) for w in side) * r
                if len(side) > 1 and peak > self.min_speed_mps:
                    candidates.append(((max(side) - min(side)) * r / peak, 'wheel_spread'))
            if candidates:
                raw, source = max(candidates)
                raw = min(max(raw, 0.0), 1.0)
            k = min(1.0, dt_s / self.time_constant_s)
            self.ratio += k * (raw - self.ratio)
            self._above_s = self._above_s + dt_s if self.ratio > self.threshold else 0.0
            self._source = source if candidates else self._source
        return SlipReport(self.ratio, self._above_s >= self.hold_s, self._source)
