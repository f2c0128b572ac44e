"""Odometry: exact integration on synthetic wheel data, IMU fusion, bias, covariance, slip."""
import math

import numpy as np
import pytest

from mining_rover.control.kinematics import SkidSteer
from mining_rover.control.odometry import SlipDetector, WheelImuOdometry

K = SkidSteer(0.7, 0.2)


def test_straight_line_exact():
    odo = WheelImuOdometry(K)
    for _ in range(100):
        odo.update(0.01, 5.0, 5.0, 0.0)      # 1 m/s for 1 s
    s = odo.state
    assert (s.x_m, s.y_m, s.yaw_rad) == pytest.approx((1.0, 0.0, 0.0), abs=1e-9)
    assert s.covariance[0, 0] > 0 and s.covariance[1, 1] >= 0


def test_circle_closes():
    odo = WheelImuOdometry(K, imu_weight=0.0)
    left, right = K.twist_to_wheels(0.5, 0.5)  # radius 1 m, one lap in 4 pi s
    n = 4000
    for _ in range(n):
        odo.update(4 * math.pi / n, left, right)
    s = odo.state
    assert math.hypot(s.x_m, s.y_m) < 1e-3
    assert s.distance_m == pytest.approx(2 * math.pi, rel=1e-6)


def test_gyro_corrects_skid_heading():
    # The rover actually turns at 0.3 rad/s while skid makes the wheels claim 0.5.
    truth, odo_wheels, odo_fused = 0.0, WheelImuOdometry(K, 0.0), WheelImuOdometry(K, 0.98)
    left, right = K.twist_to_wheels(0.2, 0.5)
    for _ in range(500):
        truth += 0.3 * 0.01
        odo_wheels.update(0.01, left, right, 0.3)
        odo_fused.update(0.01, left, right, 0.3)
    assert abs(odo_fused.state.yaw_rad - truth) < 0.1 * abs(odo_wheels.state.yaw_rad - truth)


def test_gyro_bias_learned_at_standstill():
    odo = WheelImuOdometry(K, bias_time_constant_s=1.0)
    for _ in range(1000):
        odo.update(0.01, 0.0, 0.0, 0.02)
    assert odo.gyro_bias_radps == pytest.approx(0.02, rel=1e-3)
    yaw = odo.state.yaw_rad            # the first settle_s of standstill may still be motion
    assert yaw == pytest.approx(0.98 * 0.02 * odo.settle_s, abs=0.98 * 0.02 * 0.011)   # to a step
    for _ in range(100):
        odo.update(0.01, 5.0, 5.0, 0.02)    # driving straight, biased gyro
    assert abs(odo.state.yaw_rad - yaw) < 1e-3


def test_non_finite_input_ignored():
    odo = WheelImuOdometry(K)
    odo.update(0.01, math.nan, 1.0, 0.0)
    odo.update(0.01, 1.0, 1.0, math.inf)      # bad gyro: wheels only
    assert np.isfinite(odo.state.matrix()).all()


def test_slip_detection_sources():
    det = SlipDetector(K, threshold=0.3, hold_s=0.2, time_constant_s=0.05)
    for _ in range(50):   # wheels at 1 m/s, ground speed 0.4 m/s: slip 0.6
        r = det.update(0.02, [5.0, 5.0], [5.0, 5.0], 0.0, ground_speed_mps=0.4)
    assert r.slipping and r.slip_ratio == pytest.approx(0.6, abs=0.01) and r.source == 'ground_speed'
    det = SlipDetector(K, threshold=0.3, hold_s=0.2, time_constant_s=0.05)
    for _ in range(50):   # one left wheel spins at twice the other's speed
        r = det.update(0.02, [10.0, 5.0], [7.5, 7.5])
    assert r.slipping and r.source == 'wheel_spread' and r.slip_ratio == pytest.approx(0.5, abs=0.01)
    det = SlipDetector(K)
    for _ in range(50):   # rolling cleanly
        r = det.update(0.02, [5.0, 5.0], [5.0, 5.0], 0.0, ground_speed_mps=1.0)
    assert not r.slipping and r.slip_ratio < 0.01


class KinematicSim:
    """A minimal stand-in for the embedded Simulator: wheels track their command with a
    first-order lag; the body turns at the wheels' yaw rate divided by ``skid`` (lateral
    skid of a skid-steer rover); the gyro measures the true yaw rate."""

    def __init__(self, kin, skid=1.0, dt=0.005):
        self.kin, self.skid, self.dt, self.time = kin, skid, dt, 0.0
        self.cmd = {}
        self.vel = {}
        self.x = self.y = self.yaw = self.w_true = 0.0

    def set_command(self, joint, value):
        self.cmd[joint] = value

    def step(self, n=1):
        for _ in range(n):
            for j, c in self.cmd.items():
                v = self.vel.get(j, 0.0)
                self.vel[j] = v + min(1.0, self.dt / 0.03) * (c - v)
            wl = (self.vel.get('front_left_wheel_joint', 0) + self.vel.get('rear_left_wheel_joint', 0)) / 2
            wr = (self.vel.get('front_right_wheel_joint', 0) + self.vel.get('rear_right_wheel_joint', 0)) / 2
            v, w = self.kin.wheels_to_twist(wl, wr)
            self.w_true = w / self.skid
            self.x += v * math.cos(self.yaw) * self.dt
            self.y += v * math.sin(self.yaw) * self.dt
            self.yaw += self.w_true * self.dt
            self.time += self.dt

    def joint_state(self):
        return {j: (0.0, v, 0.0) for j, v in self.vel.items()}

    def imu(self):
        return {'angular_velocity': (0.0, 0.0, self.w_true)}

    def ground_truth_pose(self):
        T = np.eye(4)
        T[:2, :2] = [[math.cos(self.yaw), -math.sin(self.yaw)], [math.sin(self.yaw), math.cos(self.yaw)]]
        T[0, 3], T[1, 3] = self.x, self.y
        return T


def test_square_closes_with_ideal_wheels():
    from mining_rover.control.odometry_check import drive_square
    r = drive_square(KinematicSim(K), K, side_m=1.0)
    assert r.distance_m == pytest.approx(4.0, abs=0.05)
    assert r.closing_error_m < 0.03 and r.odometry_error_m < 0.03


def test_square_gyro_fusion_beats_wheels_under_skid():
    from mining_rover.control.odometry_check import drive_square
    fused = drive_square(KinematicSim(K, skid=1.3), K, side_m=1.0, imu_weight=0.98)
    wheels = drive_square(KinematicSim(K, skid=1.3), K, side_m=1.0, imu_weight=0.0)
    assert fused.closing_error_m < 0.05
    assert wheels.closing_error_m > 5 * fused.closing_error_m


def test_stalled_wheels_that_are_told_to_move_are_no_standstill():
    """A rover pushed round by its digging drums on stalled wheels: the gyro's yaw is real
    motion (heading follows it), not bias; parked for real, the bias is learned."""
    odo = WheelImuOdometry(K, bias_time_constant_s=1.0)
    yaw_rate = 0.004   # rad/s: 13 deg over a 55 s cut, as seen in the mission
    for _ in range(5500):
        odo.update(0.01, 0.0, 0.0, yaw_rate, commanded_radps=(0.25, 0.25))
    assert odo.gyro_bias_radps == 0.0
    assert odo.state.yaw_rad == pytest.approx(0.98 * yaw_rate * 55.0, rel=1e-3)
    yaw = odo.state.yaw_rad
    for _ in range(500):   # parked: commanded and measured still, gyro reads its bias
        odo.update(0.01, 0.0, 0.0, 0.002, commanded_radps=(0.0, 0.0))
    assert odo.gyro_bias_radps == pytest.approx(0.002, rel=0.05)
    # settling for settle_s, then still: the parked heading holds
    assert odo.state.yaw_rad == pytest.approx(yaw + 0.98 * 0.002 * odo.settle_s, abs=0.98 * 0.002 * 0.011)


def test_slope_climb_projects_the_distance_and_carries_the_tilt():
    """Climbing a 10 deg slope (pitch -10 deg: nose up, REP-103) 1 m along the ground:
    0.985 m forward, and the pose carries the tilt (the mapping projects stereo points
    with it: a pose without it misplaces the ground ahead); z is not integrated."""
    odo = WheelImuOdometry(K)
    pitch, roll = math.radians(-10.0), math.radians(3.0)
    for _ in range(100):
        odo.update(0.01, 5.0, 5.0, 0.0, pitch, roll_rad=roll)   # 1 m/s for 1 s
    s = odo.state
    T = s.matrix()
    assert (s.x_m, T[2, 3]) == pytest.approx((math.cos(pitch), 0.0), abs=1e-9)
    forward = T[:3, :3] @ [1.0, 0.0, 0.0]
    assert forward[2] == pytest.approx(math.sin(math.radians(10.0)), abs=1e-9)   # x axis up the slope
    left = T[:3, :3] @ [0.0, 1.0, 0.0]
    assert left[2] == pytest.approx(math.cos(pitch) * math.sin(roll), abs=1e-9)   # roll lifts y
    cov = s.pose_covariance_6x6()
    assert cov[2, 2] == 1e3 and cov[3, 3] < 1e-3 and cov[4, 4] < 1e-3


def test_without_attitude_the_pose_stays_planar():
    odo = WheelImuOdometry(K)
    for _ in range(100):
        odo.update(0.01, 5.0, 5.0, 0.0)
    odo.update(0.01, 5.0, 5.0, 0.0, math.nan, roll_rad=0.2)   # a broken attitude is no attitude
    s = odo.state
    assert s.matrix()[2, 3] == 0.0 and (s.roll_rad, s.pitch_rad) == (0.0, 0.0)
    np.testing.assert_allclose(s.matrix()[2], [0.0, 0.0, 1.0, 0.0])
    assert s.pose_covariance_6x6()[2, 2] == 1e3 and s.pose_covariance_6x6()[4, 4] == 1e3


def test_turn_about_a_loaded_end_moves_base_link_sideways():
    """A full rear drum: the rover pivots behind its centre, and a 180 deg turn in place
    swings base_link round that point, to twice the pivot's offset (the embedded
    simulator: 0.5 m)."""
    from mining_rover.control.odometry import TurnPivot
    pivot = TurnPivot().pivot_x_m(0.0, 18.0)
    assert -0.26 <= pivot < -0.2
    assert TurnPivot().pivot_x_m(0.0, 0.0) == 0.0 and TurnPivot().pivot_x_m(9.0, 9.0) == 0.0
    assert TurnPivot().pivot_x_m(math.nan, 1.0) == 0.0 and TurnPivot().pivot_x_m(-1.0, 1.0) == 0.0
    odo = WheelImuOdometry(K)
    left, right = K.twist_to_wheels(0.0, 0.5)
    n = 1000
    for _ in range(n):                       # pi rad at 0.5 rad/s
        odo.update(2 * math.pi / n, left, right, 0.5, pivot_x_m=pivot)
    s = odo.state
    assert abs(s.yaw_rad) == pytest.approx(math.pi, abs=1e-3)
    assert (s.x_m, s.y_m) == pytest.approx((2 * pivot, 0.0), abs=1e-3)


def test_the_turn_a_rover_settles_through_after_its_wheels_stop_is_kept():
    """Wheels stop, the body still turns 0.2 rad/s for 0.5 s (suspension, soil): that
    turn is real. Neither does it count as standstill nor feed the gyro bias."""
    odo = WheelImuOdometry(K)
    for _ in range(50):
        odo.update(0.01, 0.0, 0.0, 0.2, commanded_radps=(0.0, 0.0))
    assert odo.state.yaw_rad == pytest.approx(0.1 * 0.98, rel=1e-6)   # the gyro's share of the fusion
    assert odo.gyro_bias_radps == 0.0
    for _ in range(300):                     # then truly still: a bias of 0.01 rad/s is learned
        odo.update(0.01, 0.0, 0.0, 0.01, commanded_radps=(0.0, 0.0))
    assert 0.0 < odo.gyro_bias_radps < 0.01
