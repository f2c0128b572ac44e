"""Drive a closed square by odometry in a simulator and measure how far from home it ends.

The rover navigates by its own wheel+IMU odometry (as it would without localisation):
each leg drives ``side_m`` by odometry distance, each corner turns in place by 90 deg of
odometry yaw. The simulator's ground truth then shows the real closing error, which is
the odometry's accumulated error (distance scale, heading drift, slip). Works with any
object offering the embedded Simulator's interface: ``set_command(joint, value)``,
``step(n)``, ``dt``, ``joint_state()``, ``imu()``, ``ground_truth_pose()``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mining_rover.control.kinematics import SkidSteer
from mining_rover.control.limits import MotionLimiter, TwistLimiter
from mining_rover.control.odometry import WheelImuOdometry

WHEELS_LEFT = ('front_left_wheel_joint', 'rear_left_wheel_joint')
WHEELS_RIGHT = ('front_right_wheel_joint', 'rear_right_wheel_joint')


@dataclass(frozen=True)
class SquareResult:
    """Outcome of driving a square: closing and odometry errors (m), heading error (rad), path and time."""
    closing_error_m: float        # ground truth: end position vs start position
    distance_m: float             # ground-truth path length
    odometry_error_m: float       # |odometry end pose - ground-truth end pose| (start frame)
    heading_error_rad: float      # ground-truth final heading change vs the 360 deg it should be
    sim_time_s: float


def _yaw(T) -> float:
    return math.atan2(T[1, 0], T[0, 0])


def drive_square(sim, kinematics: SkidSteer, side_m: float = 2.0, speed_mps: float = 0.4,
                 turn_radps: float = 0.5, control_period_s: float = 0.02, imu_weight: float = 0.98,
                 max_wheel_radps: float = 6.0, timeout_s: float = 120.0) -> SquareResult:
    """Drive a closed square of side ``side_m`` in ``sim`` with wheel+IMU odometry and compare the
    odometry's end pose with ground truth (speeds in m/s and rad/s)."""
    n = max(1, int(round(control_period_s / sim.dt)))
    dt = n * sim.dt
    odo = WheelImuOdometry(kinematics, imu_weight)
    limiter = TwistLimiter(MotionLimiter(1.0, 0.5), MotionLimiter(1.5, 2.0))
    T0 = np.asarray(sim.ground_truth_pose(), dtype=float)
    T0_inv = np.linalg.inv(T0)
    path, last_xy = 0.0, T0[:2, 3].copy()
    legs = [('straight', side_m), ('turn', math.pi / 2)] * 4
    t = 0.0
    for kind, amount in legs:
        s0 = odo.state.distance_m
        yaw_acc, prev_yaw = 0.0, odo.state.yaw_rad
        while t < timeout_s:
            if kind == 'straight':
                left_to_go = amount - (odo.state.distance_m - s0)
                # Slow down over the last stretch so the limiter can stop on the mark.
                v = min(speed_mps, math.sqrt(2 * 0.4 * max(left_to_go, 0.0)))
                target = (v if left_to_go > 0.005 else 0.0, 0.0)
            else:
                left_to_go = amount - yaw_acc
                w = min(turn_radps, math.sqrt(2 * 1.5 * max(left_to_go, 0.0)))
                target = (0.0, w if left_to_go > 0.002 else 0.0)
            v, w = limiter.step(*target, dt)
            if target == (0.0, 0.0) and abs(v) < 1e-3 and abs(w) < 1e-3:
                break
            left, right = kinematics.scale_to_wheel_limit(*kinematics.twist_to_wheels(v, w), max_wheel_radps)
            for j in WHEELS_LEFT:
                sim.set_command(j, left)
            for j in WHEELS_RIGHT:
                sim.set_command(j, right)
            sim.step(n)
            t += dt
            js = sim.joint_state()
            wl = float(np.mean([js[j][1] for j in WHEELS_LEFT]))
            wr = float(np.mean([js[j][1] for j in WHEELS_RIGHT]))
            gyro = float(sim.imu()['angular_velocity'][2])
            odo.update(dt, wl, wr, gyro)
            dyaw = odo.state.yaw_rad - prev_yaw
            yaw_acc += math.atan2(math.sin(dyaw), math.cos(dyaw))
            prev_yaw = odo.state.yaw_rad
            xy = np.asarray(sim.ground_truth_pose())[:2, 3]
            path += float(np.linalg.norm(xy - last_xy))
            last_xy = xy.copy()
    for j in WHEELS_LEFT + WHEELS_RIGHT:
        sim.set_command(j, 0.0)
    sim.step(n)
    T1 = np.asarray(sim.ground_truth_pose(), dtype=float)
    rel = T0_inv @ T1                       # truth end pose in the start frame
    odo_xy = np.array([odo.state.x_m, odo.state.y_m])
    return SquareResult(
        closing_error_m=float(np.linalg.norm(rel[:2, 3])),
        distance_m=path,
        odometry_error_m=float(np.linalg.norm(rel[:2, 3] - odo_xy)),
        heading_error_rad=abs(_yaw(rel)),
        sim_time_s=t)
