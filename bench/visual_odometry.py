"""Benchmark: odometry drift with and without stereo visual odometry, in the embedded simulator.

The rover drives a fixed script of turns in place, arcs and straights (the moves a mining
cycle is made of) on the Mars world (loose regolith, 3.72 m/s^2) and on Psyche
(0.144 m/s^2, where the wheels slide most). Stereo pairs are rendered at 2 Hz as in the
mission (320x240), matched by the stereo pipeline with the mission's settings, and fed
to visual odometry; the drive_node's fusion (control/visual_fusion.py) corrects the
wheel + IMU odometry with it. Baseline in the same run: the wheel + IMU odometry alone.
The simulator's ground truth gives both errors.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

NAME = 'visual_odometry'
DESCRIPTION = ('scripted drive on Mars and Psyche; end-pose error of wheel+IMU odometry corrected by '
               'stereo visual odometry vs wheel+IMU alone (ground truth from the simulator)')

#: (linear m/s, angular rad/s, seconds): survey turn, drive, turn back, arc, long turn, drive
SCRIPT = ((0.0, 0.3, 6.0), (0.2, 0.0, 6.0), (0.0, -0.3, 5.0), (0.2, 0.1, 6.0), (0.0, 0.3, 10.0),
          (0.15, 0.0, 6.0), (0.0, 0.0, 2.0))
WHEELS_LEFT = ('front_left_wheel_joint', 'rear_left_wheel_joint')
WHEELS_RIGHT = ('front_right_wheel_joint', 'rear_right_wheel_joint')


def _planar(T) -> tuple:
    return float(T[0, 3]), float(T[1, 3]), math.atan2(T[1, 0], T[0, 0])


def drive(world: str, script=SCRIPT, frame_period_s: float = 0.5) -> dict:
    from mining_rover.control.kinematics import configured_slip_factor, skid_steer_from_rover
    from mining_rover.control.odometry import WheelImuOdometry
    from mining_rover.control.visual_fusion import VisualOdometryFusion, between
    from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
    from mining_rover.perception.stereo import StereoParams, StereoPipeline
    from mining_rover.perception.visual_odometry import StereoVisualOdometry
    from mining_rover.ros.camera_info import ideal_stereo_pair
    from mining_rover.sim.simulator import Simulator

    sim = Simulator(world=world, seed=1, camera_width=320)
    try:
        kin = skid_steer_from_rover(configured_slip_factor('drivers_sim.yaml'))
        # the mission's stereo settings at 320x240 (config/stereo.yaml + mission_sim.yaml:
        # 128 disparities on the half-size pair)
        pipe = StereoPipeline(*ideal_stereo_pair(sim.camera_intrinsics()),
                              StereoParams(downscale=2, num_disparities=128))
        vo = StereoVisualOdometry.from_pipeline(pipe,
                                                xyzrpy_to_matrix(*left_camera_xyz_rpy()) @ T_LINK_OPTICAL)
        odo, fusion = WheelImuOdometry(kin), VisualOdometryFusion()
        T0 = np.asarray(sim.ground_truth_pose(), dtype=float)
        x0, y0, yaw0 = _planar(T0)
        odo.reset(x0, y0, yaw0)
        n = max(1, int(round(0.02 / sim.dt)))
        dt = n * sim.dt
        t, next_frame, last_vo, vo_ms = 0.0, frame_period_s, None, []
        frames = failed = 0
        path, last_xy = 0.0, T0[:2, 3].copy()
        for v, w, dur in script:
            left, right = kin.twist_to_wheels(v, w)
            for j in WHEELS_LEFT:
                sim.set_command(j, left)
            for j in WHEELS_RIGHT:
                sim.set_command(j, right)
            end = t + dur
            while t < end - 1e-9:
                sim.step(n)
                t += dt
                js = sim.joint_state()
                imu = sim.imu()
                odo.update(dt, float(np.mean([js[j][1] for j in WHEELS_LEFT])),
                           float(np.mean([js[j][1] for j in WHEELS_RIGHT])),
                           float(imu['angular_velocity'][2]))
                s = odo.state
                fusion.add_wheel(t, (s.x_m, s.y_m, s.yaw_rad))
                xy = np.asarray(sim.ground_truth_pose())[:2, 3]
                path += float(np.linalg.norm(xy - last_xy))
                last_xy = xy.copy()
                if t >= next_frame - 1e-9:
                    next_frame += frame_period_s
                    c0 = time.perf_counter()
                    res = pipe.process(*sim.render_stereo(), 'rgb8')
                    step = vo.update(t, res.left_rect, res.disparity)
                    vo_ms.append(1e3 * (time.perf_counter() - c0))
                    frames += 1
                    if last_vo is None:
                        fusion.add_visual(t, t, None)
                    else:
                        delta = _planar(step.motion) if step.ok else None
                        failed += 0 if step.ok else 1
                        fusion.add_visual(last_vo, t, delta)
                    last_vo = t
        truth = _planar(np.asarray(sim.ground_truth_pose(), dtype=float))
        s = odo.state
        wheel = (s.x_m, s.y_m, s.yaw_rad)
        fused = fusion.fused(wheel)
        err = lambda p: between(truth, p)
        ew, ef = err(wheel), err(fused)
        return dict(path_m=path, wheel_error_m=math.hypot(ew[0], ew[1]), fused_error_m=math.hypot(ef[0],
                                                                                                  ef[1]),
                    wheel_heading_deg=abs(math.degrees(ew[2])), fused_heading_deg=abs(math.degrees(ef[2])),
                    frames=frames, failed=failed, vo_ms=float(np.median(vo_ms)) if vo_ms else math.nan)
    finally:
        sim.close()


def run(quick: bool = False) -> dict:
    from mining_rover.benchmarking import metric
    script = SCRIPT[:3] + SCRIPT[-1:] if quick else SCRIPT
    out = {}
    for world in ('mars', 'psyche'):
        r = drive(world, script)
        dist = max(r['path_m'], 1e-9)
        out[f'{world}_path_m'] = metric(r['path_m'], 'm')
        out[f'{world}_fused_error_m'] = metric(r['fused_error_m'], 'm')
        out[f'{world}_fused_error_frac'] = metric(r['fused_error_m'] / dist, '', '<= 0.02')
        out[f'{world}_baseline_wheel_imu_error_m'] = metric(r['wheel_error_m'], 'm')
        out[f'{world}_fused_vs_wheel_imu_ratio'] = metric(r['fused_error_m'] / max(r['wheel_error_m'], 1e-9),
                                                          '', '<= 0.5')
        out[f'{world}_fused_heading_error_deg'] = metric(r['fused_heading_deg'], 'deg')
        out[f'{world}_baseline_heading_error_deg'] = metric(r['wheel_heading_deg'], 'deg')
        out[f'{world}_vo_frames'] = metric(r['frames'], 'frames')
        out[f'{world}_vo_frames_failed'] = metric(r['failed'], 'frames')
        out[f'{world}_stereo_plus_vo_ms'] = metric(r['vo_ms'], 'ms', '<= 250 (2 Hz on 2 cores)')
    return out


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:40s} {m.value!s:>12} {m.unit:6s} {m.goal}')
