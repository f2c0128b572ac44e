"""Benchmark: global localization on haul trips in the embedded lunar simulator.

The rover drives haul trips by its own *fused* pose: from the base out past the dig zone
to a far point (the route chosen clear of the world's true rocks and craters), back to
the berm, and onto the dump point (berm radius + 0.3 m standoff, facing the berm centre,
as the executive's HAUL and DUMP do), then a half turn in place to dump the rear drum
(the cameras then face away from the boards). Wheel + IMU odometry (control/odometry.py, 50 Hz)
feeds the map-frame filter (localization/filter.py); stereo pairs are rendered at the
stack's rate and size (2 Hz, 320x240: config/mission_sim.yaml) and every pair is searched
for the base's fiducial boards (perception/fiducials.py). Truth from the simulator.

Baseline in the same run: the same odometry alone (no fixes), on the same trajectory.
Metrics: ``dump_pose_error_m`` (max over dumps, front and rear drum, of |believed - true|
position when the rover stands at the dump point), ``drift_percent`` (the fused estimate's error growth
over each fix-free stretch of >= 2 m, as % of the distance driven there; the max), and
the baseline's dump error and drift. Visual odometry is not in this loop (the stack's
/odom fuses it too); the fix-free stretches are then pure wheel + IMU dead reckoning.
"""
from __future__ import annotations

import math
import sys

import numpy as np

NAME = 'localization'
DESCRIPTION = ('haul trips in the lunar simulator driven by the fused pose: dump-point error vs '
               'truth and drift between fiducial fixes; odometry-alone baseline on the same run')

CONTROL_S = 0.02          # drive_node's control period, s
CAMERA_S = 0.5            # stereo at 2 Hz (config/mission_sim.yaml)
SPEED_MPS, TURN_RADPS = 0.35, 0.5
STANDOFF_M = 0.3          # config/mission.yaml berm_standoff_m
WHEELS_LEFT = ('front_left_wheel_joint', 'rear_left_wheel_joint')
WHEELS_RIGHT = ('front_right_wheel_joint', 'rear_right_wheel_joint')


def _wrap(a):
    return (a + math.pi) % (2 * math.pi) - math.pi


def _planar(T):
    return np.array([T[0, 3], T[1, 3], math.atan2(T[1, 0], T[0, 0])])


def _clear(world, a, b, margin=0.7) -> bool:
    """True when the segment a-b passes no true rock or crater (footprint margin, m)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    L2 = max(float(ab @ ab), 1e-9)
    for h in [*world.hazards.rocks, *world.hazards.craters]:
        p = np.array([h['x'], h['y']])
        t = float(np.clip((p - a) @ ab / L2, 0.0, 1.0))
        if np.linalg.norm(a + t * ab - p) < h['radius'] + margin:
            return False
    return True


def far_point(world, start_xy, reach_m: float):
    """The point ``reach_m`` beyond the dig zone (seen from the berm) or, where that
    crosses a hazard, the clear candidate on rings around the dig zone farthest from
    the berm; the dig zone itself when nothing is clear."""
    bx, by, _ = world.zones.berm_zone
    dx, dy, _ = world.zones.dig_zone
    base = math.atan2(dy - by, dx - bx)
    half = min(world.size_xy) / 2 - 1.0
    best, best_d = (dx, dy), -1.0
    for r in np.linspace(reach_m, 1.0, 8):
        for da in np.radians(np.arange(-90, 91, 15)):
            p = (dx + r * math.cos(base + da), dy + r * math.sin(base + da))
            if max(abs(p[0]), abs(p[1])) > half:
                continue
            if _clear(world, (dx, dy), p) and _clear(world, p, (bx, by), 0.5):
                d = math.hypot(p[0] - bx, p[1] - by)
                if d > best_d:
                    best, best_d = p, d
        if best_d > 0:
            break
    return best


class Trip:
    """The drive loop: odometry, filter, fixes and truth, stepped together."""

    def __init__(self, sim, localizer, kin, filt, odo):
        self.sim, self.loc, self.kin, self.filt, self.odo = sim, localizer, kin, filt, odo
        self.n = max(1, int(round(CONTROL_S / sim.dt)))
        self.t, self.next_cam = 0.0, 0.0
        self.driven = 0.0
        self.fix_log = []        # (distance driven, fused error) at each accepted fix
        self.err_log = []        # (distance driven, fused error, odom error)
        self._last_xy = _planar(sim.ground_truth_pose())[:2]
        self.o0 = None
        self.fixes = self.refused = 0

    def odom_map(self):
        """The baseline: odometry alone, started at the known start pose (as drive_node's)."""
        s = self.odo.state
        return np.array([s.x_m, s.y_m, s.yaw_rad])

    def belief(self):
        return self.filt.pose

    def errors(self):
        truth = _planar(self.sim.ground_truth_pose())
        return (float(np.linalg.norm(self.belief()[:2] - truth[:2])),
                float(np.linalg.norm(self.odom_map()[:2] - truth[:2])))

    def tick(self, v, w):
        sim = self.sim
        left, right = self.kin.scale_to_wheel_limit(*self.kin.twist_to_wheels(v, w), 6.0)
        for j in WHEELS_LEFT:
            sim.set_command(j, left)
        for j in WHEELS_RIGHT:
            sim.set_command(j, right)
        sim.step(self.n)
        dt = self.n * sim.dt
        self.t += dt
        js = sim.joint_state()
        wl = float(np.mean([js[j][1] for j in WHEELS_LEFT]))
        wr = float(np.mean([js[j][1] for j in WHEELS_RIGHT]))
        self.odo.update(dt, wl, wr, float(sim.imu()['angular_velocity'][2]))
        self.filt.predict_odometry(self.odom_map(), self.t)
        xy = _planar(sim.ground_truth_pose())[:2]
        self.driven += float(np.linalg.norm(xy - self._last_xy))
        self._last_xy = xy
        if self.t >= self.next_cam:
            self.next_cam += CAMERA_S
            fix = self.loc.fix(*sim.render_stereo())
            if fix is not None:
                if fix.ok and self.filt.update_fix((fix.x, fix.y, fix.yaw), fix.cov, self.t):
                    self.fixes += 1
                    self.fix_log.append((self.driven, self.errors()[0]))
                else:
                    self.refused += 1
            self.err_log.append((self.driven, *self.errors()))

    def turn_to(self, yaw, tol=0.03, timeout_s=40.0):
        t_end = self.t + timeout_s
        while self.t < t_end:
            err = _wrap(yaw - self.belief()[2])
            if abs(err) < tol:
                break
            self.tick(0.0, float(np.clip(1.5 * err, -TURN_RADPS, TURN_RADPS)))
        self.stop()

    def go_to(self, xy, tol=0.1, timeout_s=120.0):
        x, y, yaw = self.belief()
        self.turn_to(math.atan2(xy[1] - y, xy[0] - x))
        t_end = self.t + timeout_s
        while self.t < t_end:
            x, y, yaw = self.belief()
            d = math.hypot(xy[0] - x, xy[1] - y)
            if d < tol:
                break
            err = _wrap(math.atan2(xy[1] - y, xy[0] - x) - yaw)
            v = min(SPEED_MPS, 0.5 * d) * max(0.0, math.cos(err))
            self.tick(v, float(np.clip(1.5 * err, -TURN_RADPS, TURN_RADPS)))
        self.stop()

    def stop(self, s=0.4):
        for _ in range(int(s / CONTROL_S)):
            self.tick(0.0, 0.0)


def run(quick: bool = False) -> dict:
    from mining_rover.benchmarking import metric
    from mining_rover.control.kinematics import configured_slip_factor, skid_steer_from_rover
    from mining_rover.control.odometry import WheelImuOdometry
    from mining_rover.localization.filter import PoseFilter
    from mining_rover.perception.fiducials import FiducialLocalizer
    from mining_rover.sim.simulator import Simulator

    sim = Simulator('moon_south_pole', seed=0, camera_width=320, camera_height=240)
    world = sim.world
    intr = sim.camera_intrinsics()
    K = np.array([[intr['fx'], 0, intr['cx']], [0, intr['fy'], intr['cy']], [0, 0, 1.0]])
    T_base_cam = np.linalg.inv(sim.ground_truth_pose()) @ sim.camera_pose('left')
    localizer = FiducialLocalizer(sim.fiducials, K, intr['baseline_m'], T_base_cam)
    kin = skid_steer_from_rover(configured_slip_factor('drivers_sim.yaml'))
    odo = WheelImuOdometry(kin, 0.98)
    start = _planar(sim.ground_truth_pose())
    odo.reset(*start)
    trip = Trip(sim, localizer, kin, PoseFilter(start), odo)
    bx, by, br = world.zones.berm_zone
    far = far_point(world, start[:2], 2.0 if quick else 5.0)
    dumps = []
    for _ in range(1 if quick else 2):
        trip.go_to(world.zones.dig_zone[:2])
        trip.go_to(far)
        trip.go_to(world.zones.dig_zone[:2])
        x, y, _ = trip.belief()
        bearing = math.atan2(y - by, x - bx)
        r = br + STANDOFF_M
        trip.go_to((bx + r * math.cos(bearing), by + r * math.sin(bearing)))
        x, y, _ = trip.belief()
        facing = math.atan2(by - y, bx - x)
        trip.turn_to(facing)                      # the front drum over the berm
        trip.stop(1.0)
        dumps.append((*trip.errors(), trip.filt.status().sigma_xy_m))
        trip.turn_to(_wrap(facing + math.pi / 2))  # the rear drum over the berm: a half turn,
        trip.turn_to(_wrap(facing + math.pi))      # the cameras away from the boards
        trip.stop(1.0)
        dumps.append((*trip.errors(), trip.filt.status().sigma_xy_m))
    sim.close()

    def drift(col):
        """Max error growth (column ``col`` of the error log: 1 fused, 2 odometry alone)
        over the stretches of >= 2 m between accepted fixes, % of the distance driven."""
        log = trip.err_log
        marks = [0.0] + [d for d, _ in trip.fix_log]     # the start pose is known
        worst = 0.0
        for d0, d1 in zip(marks, marks[1:]):
            seg = [row for row in log if d0 <= row[0] < d1]
            if d1 - d0 >= 2.0 and seg:
                worst = max(worst, 100.0 * (seg[-1][col] - seg[0][col]) / (d1 - d0))
        return worst

    total = max(trip.driven, 1e-9)
    odo_end = trip.err_log[-1][2] if trip.err_log else math.nan
    fused_dump = max(d[0] for d in dumps)
    return {
        'trips': metric(len(dumps) // 2, ''),
        'distance_driven_m': metric(round(trip.driven, 2), 'm'),
        'fixes_accepted': metric(trip.fixes, '', '>= 1'),
        'fixes_refused': metric(trip.refused, ''),
        'dump_pose_error_m': metric(round(fused_dump, 4), 'm', '<= 0.10'),
        'dump_sigma_xy_m': metric(round(max(d[2] for d in dumps), 4), 'm'),
        'baseline_odometry_dump_error_m': metric(round(max(d[1] for d in dumps), 4), 'm'),
        'fused_vs_odometry_dump_ratio': metric(round(fused_dump / max(max(d[1] for d in dumps), 1e-9), 3),
                                               '', '<= 1'),
        'drift_percent': metric(round(drift(1), 3), '%'),
        'baseline_odometry_drift_percent': metric(round(drift(2), 3), '%'),
        'baseline_odometry_end_error_percent': metric(round(100.0 * odo_end / total, 3), '%'),
        'sim_time_s': metric(round(trip.t, 1), 's'),
    }


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:36s} {m.value!s:>12} {m.unit:4s} {m.goal}')
