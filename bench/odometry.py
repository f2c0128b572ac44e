"""Benchmark: wheel + IMU odometry closing a 2 m square in the embedded simulator.

The rover drives the square by its own odometry (real kinematics, limiter and
WheelImuOdometry code; 50 Hz control); the simulator's ground truth gives the closing
error. Baseline in the same run: the same square with wheel-only odometry
(imu_weight = 0), which shows what the gyro fusion buys on a skid-steer rover.
"""
from __future__ import annotations

import sys

NAME = 'odometry'
DESCRIPTION = ('drive a 2 m square (8 m) by odometry in the embedded lunar simulator; closing '
               'error from ground truth, fused wheel+IMU vs wheel-only baseline')


def run(quick: bool = False) -> dict:
    from mining_rover.benchmarking import metric
    from mining_rover.control.kinematics import configured_slip_factor, skid_steer_from_rover
    from mining_rover.control.odometry_check import drive_square
    from mining_rover.sim.simulator import Simulator

    side = 1.0 if quick else 2.0
    kin = skid_steer_from_rover(configured_slip_factor('drivers_sim.yaml'))
    fused = drive_square(Simulator(world='moon_south_pole', seed=0), kin, side_m=side, imu_weight=0.98)
    wheels = drive_square(Simulator(world='moon_south_pole', seed=0), kin, side_m=side, imu_weight=0.0)
    return {
        'square_side_m': metric(side, 'm'),
        'distance_driven_m': metric(fused.distance_m, 'm'),
        'square_closing_error_m': metric(fused.closing_error_m, 'm', f'<= {0.05 * 4 * side:g}'),
        'square_closing_error_frac': metric(fused.closing_error_m / max(fused.distance_m, 1e-9), '',
                                            '<= 0.05'),
        'odometry_end_error_m': metric(fused.odometry_error_m, 'm'),
        'heading_error_deg': metric(fused.heading_error_rad * 57.29578, 'deg'),
        'baseline_wheel_only_closing_error_m': metric(wheels.closing_error_m, 'm'),
        'fused_vs_wheel_only_ratio': metric(fused.closing_error_m / max(wheels.closing_error_m, 1e-9), '',
                                            '<= 1'),
        'sim_time_s': metric(fused.sim_time_s, 's'),
    }


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:36s} {m.value!s:>12} {m.unit:4s} {m.goal}')
