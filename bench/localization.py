"""Benchmark: global localization on haul trips in the embedded lunar simulator.

The rover drives haul trips by its own *fused* pose: from the base out past the dig zone
to a far point and back to the berm (routes round the world's true rocks and craters),
onto the dump point (berm radius + 0.3 m standoff, facing the berm centre, as the
executive's HAUL and DUMP do), then a half turn in place to dump the rear drum (the
cameras then face away from the boards). Everything runs as in the stack:

* odometry is drive_node's ``/odom``: wheels + IMU (control/odometry.py at 50 Hz, with
  the IMU's tilt and the turn-pivot model; the drums are empty here, so the pivot is the
  centre) corrected over each camera interval by stereo visual odometry
  (perception/visual_odometry.py through control/visual_fusion.py);
* stereo pairs are rendered at the stack's rate and size (2 Hz, 320x240:
  config/mission_sim.yaml), matched with the mission's stereo settings, searched for the
  base's fiducial boards (perception/fiducials.py) and, with ``map`` on, laid into /
  matched against the rover's own elevation map (localization/relocalization.py);
* the map-frame filter (localization/filter.py) takes the fixes. Two filters run on the
  same odometry and the same board fixes: with map fixes (what the rover drives by) and
  without. Truth from the simulator.

Baselines in the same run: the stack's /odom alone (no fixes) and wheel + IMU alone.
Metrics: ``dump_pose_error_m`` (max over dumps, front and rear drum, of |believed - true|
position when the rover stands at the dump point), ``drift_percent`` (error growth over
each stretch of >= 2 m between board fixes, % of the distance driven there; the max),
each also without the map fixes and for the odometry baselines on the same stretches.
``--site operational`` runs the world's operational site (base and dig zone 25-40 m
apart across a hazard field).
"""
from __future__ import annotations

import math
import os
import sys
import time

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


def _hazards(world) -> np.ndarray:
    """(N, 3) x, y, radius of the world's true rocks and craters (cached on the world)."""
    h = getattr(world, '_bench_hazards', None)
    if h is None:
        h = np.array([(d['x'], d['y'], d['radius']) for d in [*world.hazards.rocks, *world.hazards.craters]],
                     float).reshape(-1, 3)
        object.__setattr__(world, '_bench_hazards', h)
    return h


def _clear(world, a, b, margin=0.7) -> bool:
    """True when the segment a-b passes no true rock or crater (footprint margin, m)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    L2 = max(float(ab @ ab), 1e-9)
    h = _hazards(world)
    t = np.clip((h[:, :2] - a) @ ab / L2, 0.0, 1.0)
    d = np.linalg.norm(a + t[:, None] * ab - h[:, :2], axis=1)
    return bool(np.all(d >= h[:, 2] + margin))


def route(world, a, b, margin=0.6, cell=0.25):
    """Waypoints from a to b round the world's true rocks and craters (footprint +
    ``margin`` m): the cheapest path on a ``cell`` grid (scikit-image MCP_Geometric),
    shortened to the farthest point still in clear line of sight at each step."""
    from skimage.graph import MCP_Geometric
    if _clear(world, a, b, margin):
        return [tuple(b)]
    half = np.array(world.size_xy) / 2.0
    n = (2 * half / cell).astype(int)
    xs = -half[0] + (np.arange(n[0]) + 0.5) * cell
    ys = -half[1] + (np.arange(n[1]) + 0.5) * cell
    X, Y = np.meshgrid(xs, ys)
    cost = np.ones(X.shape)
    for hx, hy, hr in _hazards(world):
        cost[np.hypot(X - hx, Y - hy) < hr + margin] = 1e6
    idx = lambda p: (int(np.clip((p[1] + half[1]) / cell, 0, n[1] - 1)),
                     int(np.clip((p[0] + half[0]) / cell, 0, n[0] - 1)))
    cost[idx(a)] = cost[idx(b)] = 1.0
    mcp = MCP_Geometric(cost)
    mcp.find_costs([idx(a)], [idx(b)])
    path = [(xs[c], ys[r]) for r, c in mcp.traceback(idx(b))] + [tuple(b)]
    out, cur = [], tuple(a)
    i = 0
    while i < len(path) - 1:
        j = len(path) - 1
        while j > i + 1 and not _clear(world, cur, path[j], margin * 0.8):
            j -= 1
        cur = path[j]
        out.append(cur)
        i = j
    return out


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


class Odometry:
    """drive_node's /odom: wheels + IMU (tilt, turn pivot) and visual odometry, fused as
    drive_node fuses them; ``wheel`` is the wheel + IMU pose alone (the weaker baseline)."""

    def __init__(self, kin, start, pipeline, vo):
        from mining_rover.control.odometry import TurnPivot, WheelImuOdometry
        from mining_rover.control.visual_fusion import VisualOdometryFusion
        self.odo = WheelImuOdometry(kin, 0.98)
        self.odo.reset(*start)
        self.fusion = VisualOdometryFusion()       # drive_node's vo_* defaults
        self.pivot = TurnPivot()
        self.pipeline, self.vo = pipeline, vo
        self.last_vo = None
        self.vo_ok = self.vo_failed = 0

    def update(self, t, dt, wl, wr, gyro, roll, pitch, commanded):
        self.odo.update(dt, wl, wr, gyro, pitch, commanded_radps=commanded, roll_rad=roll,
                        pivot_x_m=self.pivot.pivot_x_m(0.0, 0.0))     # empty drums
        s = self.odo.state
        self.fusion.add_wheel(t, (s.x_m, s.y_m, s.yaw_rad))

    def frame(self, t, left, right):
        """One stereo pair: visual odometry over the interval; the matched cloud."""
        res = self.pipeline.process(left, right, 'rgb8')
        step = self.vo.update(t, res.left_rect, res.disparity)
        if self.last_vo is None:
            self.fusion.add_visual(t, t, None)
        else:
            delta = _planar(step.motion) if step.ok else None
            self.vo_ok += int(step.ok)
            self.vo_failed += int(not step.ok)
            self.fusion.add_visual(self.last_vo, t, delta)
        self.last_vo = t
        return res

    @property
    def wheel(self):
        s = self.odo.state
        return np.array([s.x_m, s.y_m, s.yaw_rad])

    @property
    def pose(self):
        return np.array(self.fusion.fused(tuple(self.wheel)))

    def matrix(self):
        """odom -> base_link 4x4 of the fused pose with the IMU's tilt."""
        from transforms3d.euler import euler2mat
        x, y, yaw = self.pose
        T = np.eye(4)
        T[:3, :3] = euler2mat(self.odo.state.roll_rad, self.odo.state.pitch_rad, yaw, 'sxyz')
        T[0, 3], T[1, 3] = x, y
        return T


class Trip:
    """The drive loop: odometry, filters, fixes and truth, stepped together."""

    def __init__(self, sim, localizer, kin, odometry, filt, filt_nomap, reloc, T_base_opt):
        self.sim, self.loc, self.kin, self.odo = sim, localizer, kin, odometry
        self.filt, self.filt_nomap, self.reloc, self.T_base_opt = filt, filt_nomap, reloc, T_base_opt
        self.n = max(1, int(round(CONTROL_S / sim.dt)))
        self.t, self.next_cam = 0.0, 0.0
        self.driven = 0.0
        self.fix_marks = []      # distance driven at each board fix (ok from the detector)
        self.err_log = []        # (distance, with map, without map, /odom, wheel + IMU errors)
        self._last_xy = _planar(sim.ground_truth_pose())[:2]
        self.fixes = self.refused = 0
        self.map_fixes = self.map_refused = self.absorbed = 0
        self.map_reasons = {}
        self.match_ms = []
        self.frames = []         # with LOCALIZATION_BENCH_FRAMES set: every frame, to re-tune offline

    def belief(self):
        return self.filt.pose

    def errors(self):
        truth = _planar(self.sim.ground_truth_pose())[:2]
        return tuple(float(np.linalg.norm(p[:2] - truth))
                     for p in (self.filt.pose, self.filt_nomap.pose, self.odo.pose, self.odo.wheel))

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
        imu = sim.imu()
        roll, pitch = _roll_pitch(imu['orientation_xyzw'])
        self.odo.update(self.t, dt, wl, wr, float(imu['angular_velocity'][2]), roll, pitch, (left, right))
        pose = self.odo.pose
        self.filt.predict_odometry(pose, self.t)
        self.filt_nomap.predict_odometry(pose, self.t)
        xy = _planar(sim.ground_truth_pose())[:2]
        self.driven += float(np.linalg.norm(xy - self._last_xy))
        self._last_xy = xy
        if self.t >= self.next_cam:
            self.next_cam += CAMERA_S
            self._camera()

    def _camera(self):
        from mining_rover.localization.relocalization import level_points
        left, right = self.sim.render_stereo()
        res = self.odo.frame(self.t, left, right)
        fix = self.loc.fix(left, right)
        board = False
        if fix is not None:
            if fix.ok:
                self.fix_marks.append(self.driven)
                z = (fix.x, fix.y, fix.yaw)
                board = self.filt.update_fix(z, fix.cov, self.t)
                self.filt_nomap.update_fix(z, fix.cov, self.t)
            self.fixes += int(board)
            self.refused += int(not board)
        if self.reloc is not None and len(res.points):
            level = level_points(res.points, self.odo.matrix() @ self.T_base_opt, self.odo.pose)
            st = self.filt.status()
            if os.environ.get('LOCALIZATION_BENCH_FRAMES'):
                self.frames.append((self.t, level.astype(np.float32), self.filt.pose, st.sigma_xy_m,
                                    self.filt.last_fix_source, board, _planar(self.sim.ground_truth_pose())))
            c0 = time.perf_counter()
            what, out = self.reloc.step(level, self.odo.pose, self.filt.map_to_odom(), st.sigma_xy_m,
                                        self.filt.last_fix_source, board, self.t)
            if what == 'absorbed':
                self.absorbed += int(out > 0)
            elif what == 'match':
                self.match_ms.append(1e3 * (time.perf_counter() - c0))
                ok = out.ok and self.filt.update_fix((out.x, out.y, out.yaw), out.cov, self.t, source='map')
                self.map_fixes += int(ok)
                self.map_refused += int(not ok)
                if not ok:
                    key = (out.reason if not out.ok else 'gated by the filter').split(':')[0].split(' ')[0]
                    self.map_reasons[key] = self.map_reasons.get(key, 0) + 1
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

    def follow(self, world, xy, tol=0.1):
        """Drive to ``xy`` along a route round the true hazards (``route``)."""
        wps = route(world, tuple(self.belief()[:2]), tuple(xy))
        for i, wp in enumerate(wps):
            self.go_to(wp, tol if i == len(wps) - 1 else 0.3)

    def stop(self, s=0.4):
        for _ in range(int(s / CONTROL_S)):
            self.tick(0.0, 0.0)


def _roll_pitch(q):
    """(roll, pitch) rad of an (x, y, z, w) quaternion (Z-Y-X Euler), as drive_node reads the IMU."""
    from transforms3d.euler import quat2euler
    x, y, z, w = (float(v) for v in q)
    r, p, _ = quat2euler((w, x, y, z), 'sxyz')
    return r, p


def run(quick: bool = False, site: str = 'compact', use_map: bool = True) -> dict:
    from mining_rover.benchmarking import metric
    from mining_rover.control.kinematics import configured_slip_factor, skid_steer_from_rover
    from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
    from mining_rover.localization.filter import PoseFilter
    from mining_rover.localization.relocalization import MapRelocalizer, RelocParams
    from mining_rover.perception.fiducials import FiducialLocalizer
    from mining_rover.perception.stereo import StereoParams, StereoPipeline
    from mining_rover.perception.visual_odometry import StereoVisualOdometry
    from mining_rover.ros.camera_info import ideal_stereo_pair
    from mining_rover.sim.simulator import Simulator

    world_name = 'moon_south_pole' + ('_operational' if site == 'operational' else '')
    sim = Simulator(world_name, seed=0, camera_width=320, camera_height=240)
    world = sim.world
    intr = sim.camera_intrinsics()
    K = np.array([[intr['fx'], 0, intr['cx']], [0, intr['fy'], intr['cy']], [0, 0, 1.0]])
    T_base_cam = np.linalg.inv(sim.ground_truth_pose()) @ sim.camera_pose('left')
    localizer = FiducialLocalizer(sim.fiducials, K, intr['baseline_m'], T_base_cam)
    kin = skid_steer_from_rover(configured_slip_factor('drivers_sim.yaml'))
    # the mission's stereo (config/stereo.yaml + mission_sim.yaml: half-size matching)
    pipe = StereoPipeline(*ideal_stereo_pair(intr), StereoParams(downscale=2, num_disparities=128,
                                                                 min_range_m=0.85, max_range_m=12.0))
    T_base_opt = xyzrpy_to_matrix(*left_camera_xyz_rpy()) @ T_LINK_OPTICAL
    vo = StereoVisualOdometry.from_pipeline(pipe, T_base_opt)
    start = _planar(sim.ground_truth_pose())
    bx, by, br = world.zones.berm_zone
    reloc = (MapRelocalizer(RelocParams(size_m=float(max(world.size_xy)), centre_x=bx, centre_y=by))
             if use_map else None)
    trip = Trip(sim, localizer, kin, Odometry(kin, start, pipe, vo), PoseFilter(start), PoseFilter(start),
                reloc, T_base_opt)
    far = far_point(world, start[:2], 2.0 if quick else 5.0)
    dumps = []
    for _ in range(1 if quick else 2):
        trip.follow(world, world.zones.dig_zone[:2])
        trip.follow(world, far)
        trip.follow(world, world.zones.dig_zone[:2])
        x, y, _ = trip.belief()
        bearing = math.atan2(y - by, x - bx)
        r = br + STANDOFF_M
        trip.follow(world, (bx + r * math.cos(bearing), by + r * math.sin(bearing)))
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
    if trip.frames:
        import pickle
        with open(os.environ['LOCALIZATION_BENCH_FRAMES'], 'wb') as f:
            pickle.dump(trip.frames, f)

    def drift(col):
        """Max error growth (column ``col`` of the error log: 1 with map fixes, 2 without,
        3 /odom, 4 wheel + IMU) over the stretches of >= 2 m between board fixes, % of the
        distance driven there."""
        log = trip.err_log
        marks = [0.0] + trip.fix_marks + [trip.driven + 1e-6]   # the start pose is known
        worst = 0.0
        for d0, d1 in zip(marks, marks[1:]):
            seg = [row for row in log if d0 <= row[0] < d1]
            if d1 - d0 >= 2.0 and seg:
                worst = max(worst, 100.0 * (seg[-1][col] - seg[0][col]) / (d1 - d0))
        return worst

    worst = [max(d[i] for d in dumps) for i in range(5)]
    out = {
        'site': metric(site, ''),
        'dump_errors_m': metric(' '.join(f'{d[0]:.3f}' for d in dumps), 'm'),
        'trips': metric(len(dumps) // 2, ''),
        'distance_driven_m': metric(round(trip.driven, 2), 'm'),
        'farthest_from_berm_m': metric(round(max(math.hypot(*(np.array(far) - (bx, by))), 0.0), 1), 'm'),
        'fixes_accepted': metric(trip.fixes, '', '>= 1'),
        'fixes_refused': metric(trip.refused, ''),
        'dump_pose_error_m': metric(round(worst[0], 4), 'm', '<= 0.10'),
        'dump_pose_error_without_map_m': metric(round(worst[1], 4), 'm'),
        'baseline_odom_dump_error_m': metric(round(worst[2], 4), 'm'),
        'baseline_wheel_imu_dump_error_m': metric(round(worst[3], 4), 'm'),
        'dump_sigma_xy_m': metric(round(worst[4], 4), 'm'),
        'drift_percent': metric(round(drift(1), 3), '%'),
        'drift_percent_without_map': metric(round(drift(2), 3), '%'),
        'baseline_odom_drift_percent': metric(round(drift(3), 3), '%'),
        'baseline_wheel_imu_drift_percent': metric(round(drift(4), 3), '%'),
        'baseline_odom_end_error_percent': metric(
            round(100.0 * trip.err_log[-1][3] / max(trip.driven, 1e-9), 3), '%'),
        'vo_frames_ok': metric(trip.odo.vo_ok, ''),
        'vo_frames_failed': metric(trip.odo.vo_failed, ''),
        'map_frames_absorbed': metric(trip.absorbed, ''),
        'map_fixes_accepted': metric(trip.map_fixes, ''),
        'map_fixes_refused': metric(trip.map_refused, ''),
        'map_refusals': metric(', '.join(f'{k} {v}' for k, v in sorted(trip.map_reasons.items())) or '-', ''),
        'map_match_ms_median': metric(
            round(float(np.median(trip.match_ms)), 1) if trip.match_ms else math.nan, 'ms'),
        'sim_time_s': metric(round(trip.t, 1), 's'),
    }
    return out


if __name__ == '__main__':
    site = sys.argv[sys.argv.index('--site') + 1] if '--site' in sys.argv else 'compact'
    for k, m in run(quick='--quick' in sys.argv, site=site, use_map='--no-map' not in sys.argv).items():
        print(f'{k:36s} {m.value!s:>12} {m.unit:4s} {m.goal}')
