"""Benchmark: elevation-map accuracy against ground-truth terrain at 2-6 m range, and
hazard detection (craters >= 0.5 m diameter, rocks >= 0.15 m, within 6 m).

Terrain and images: the embedded simulator when installed, else the rendered test scene
(mining_rover.perception.scene: a textured MuJoCo height field with known craters and
rocks, ideal stereo pair on the rover's mast). The rover takes FRAMES views while it
creeps forward; the stereo pipeline and the map run with config/stereo.yaml and
config/mapping.yaml.

* rmse_m: height error of the fused map over known cells 2-6 m from the first pose;
* stereo_bound_m: RMS over the same cells of the stereo error model's single-frame
  height sigma, sigma_h = |(R p)_z| / z * z^2 sigma_d / (f B) (+ the 1 cm floor), i.e.
  what one frame of ideal SGBM would give; rmse_to_bound = rmse_m / stereo_bound_m;
* within_3sigma: fraction of those cells whose error is within 3 of the map's own sigma;
* precision/recall: detections matched to truth within max(0.3 m, half the crater
  radius) (rocks: 0.3 m); truth counted where it is within 6 m and at least half of its
  footprint was observed (a hazard hidden behind a crest cannot be found by any camera);
* survey_false_lethal_fraction: the mission's survey turn at the lunar start (320x240
  pair, mission stereo settings, SURVEY_VIEWS views a whole turn round, true poses): of
  the cells the costmap judges, the fraction marked lethal more than 0.5 m from any true
  crater or rock; baseline: the same map judged without despeckling
  (mapping/despeckle.py) and with craters found on the unfiltered grid
  (crater_median_cells 0); and how many true hazard cells (crater or rock footprints)
  are lethal both ways;
* the same RMSE with radiation hits (single-event upsets: saturated pixels) on, and its
  ratio to the clean run (goal: within 10 %).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.mapping.elevation_map import MapParams, height_variance
from mining_rover.mapping.hazards import Crater, HazardParams, Rock, match_detections
from mining_rover.mapping.terrain_mapper import StereoErrorModel, TerrainMapper
from mining_rover.paths import config_parameters
from mining_rover.perception.stereo import StereoParams, StereoPipeline
from mining_rover.ros.camera_info import ideal_stereo_pair

NAME = 'elevation_accuracy'
DESCRIPTION = ('fused elevation map vs ground-truth terrain at 2-6 m (RMSE, stereo error bound, '
               '3-sigma consistency), crater/rock precision and recall, with and without radiation hits')

FRAMES, FRAMES_QUICK = 6, 3
RADIATION_HITS_PER_PIXEL = 2e-4   # per frame: a solar-particle-event order of upsets



def _params(node, name):
    return config_parameters(name, node)


def _mapper(pipe, mp: dict, T_base_cam, T_map_base) -> TerrainMapper:
    """A TerrainMapper with config/mapping.yaml's settings and ``pipe``'s stereo error model,
    its grid fixed around ``T_map_base``."""
    err_model = StereoErrorModel(focal_px=pipe.focal_px, baseline_m=pipe.baseline_m,
                                 sigma_disparity_px=mp['sigma_disparity_px'],
                                 floor_m=mp['height_floor_m'], max_range_m=mp['max_range_m'])
    mapper = TerrainMapper(MapParams.from_dict({**mp, 'follow_robot': False}),
                           hazard_params=HazardParams.from_dict(mp), error_model=err_model,
                           T_base_cam=T_base_cam, max_points=mp['max_points'],
                           classify_sigma_m=mp['classify_sigma_m'], despeckle_cells=mp['despeckle_cells'])
    mapper.map._place(T_map_base[:2, 3])
    return mapper


class _SceneSource:
    """The rendered test scene, driven by setting the pose."""

    def __init__(self, radiation: bool):
        from mining_rover.perception.scene import (DEFAULT_CRATERS, DEFAULT_ROCKS, SceneConfig,
                                                   StereoScene, rover_camera_extrinsics)
        self.scene = StereoScene(SceneConfig(), DEFAULT_CRATERS, DEFAULT_ROCKS)
        self.Tb = rover_camera_extrinsics()
        self.craters, self.rocks = list(DEFAULT_CRATERS), list(DEFAULT_ROCKS)
        self.radiation = radiation
        self.rng = np.random.default_rng(7)
        self.true_height = self.scene.true_height
        self.intr = self.scene.intrinsics()

    def view(self, i):
        T = np.eye(4)
        x = 0.15 * i
        T[0, 3] = x
        T[2, 3] = float(self.true_height(x, 0.0)) + 0.2
        left, right = self.scene.render_stereo(T, self.Tb)
        if self.radiation:
            for img in (left, right):
                hits = self.rng.random(img.shape[:2]) < RADIATION_HITS_PER_PIXEL
                img[hits] = 255
        return left, right, T, self.Tb

    def close(self):
        self.scene.close()


#: (x, y, yaw) in the lunar world where the rover looks at hazards, facing -y.
VIEWPOINT = (-0.3, -2.6, -1.5708)


class _SimSource:
    """The embedded simulator, driving slowly forward."""

    def __init__(self, radiation: bool):
        from mining_rover.sim.simulator import Simulator
        self.sim = Simulator(world='moon_south_pole', seed=0, camera_width=640, camera_height=480,
                             radiation_rate=RADIATION_HITS_PER_PIXEL if radiation else 0.0)
        # The start pose is in a zone cleared of hazards: look from a point facing a
        # crater field instead (3 craters of 1.3-2.3 m and a rock 2.7-5.7 m ahead).
        x, y, yaw = VIEWPOINT
        self.sim.set_base_state(pos=[x, y, float(self.sim.true_height(x, y)) + 0.21], yaw=yaw)
        self.sim.step(250)
        hz = self.sim.world.hazards
        self.craters = [Crater(c['x'], c['y'], c['radius'], c['depth']) for c in hz.craters]
        self.rocks = [Rock(r['x'], r['y'], r['height'], r['radius']) for r in hz.rocks]
        self.true_height = self.sim.true_height
        self.intr = self.sim.camera_intrinsics()

    def view(self, i):
        if i:
            for joint in ('front_left_wheel_joint', 'front_right_wheel_joint',
                          'rear_left_wheel_joint', 'rear_right_wheel_joint'):
                self.sim.set_command(joint, 1.0)
            self.sim.step(50)
            for joint in ('front_left_wheel_joint', 'front_right_wheel_joint',
                          'rear_left_wheel_joint', 'rear_right_wheel_joint'):
                self.sim.set_command(joint, 0.0)
            self.sim.step(50)
        left, right = self.sim.render_stereo()
        T = self.sim.ground_truth_pose()
        return left, right, T, np.linalg.inv(T) @ self.sim.camera_pose('left')

    def close(self):
        close = getattr(self.sim, 'close', None)
        if close:
            close()


def _source(radiation):
    try:
        import mining_rover.sim.simulator  # noqa: F401
    except ImportError:
        return _SceneSource(radiation), 'test scene'
    return _SimSource(radiation), 'simulator'


def evaluate(frames: int, radiation: bool = False) -> dict:
    src, name = _source(radiation)
    try:
        intr = src.intr
        sp = StereoParams.from_dict(_params('stereo_node', 'stereo.yaml'))
        pipe = StereoPipeline(*ideal_stereo_pair(intr), sp)
        mp = _params('mapping_node', 'mapping.yaml')
        mapper = None
        bound_sum = np.zeros(0)
        for i in range(frames):
            left, right, T, Tb = src.view(i)
            if mapper is None:
                T0 = T
                mapper = _mapper(pipe, mp, Tb, T0)
                err_model = mapper.error
                bound_sum = np.zeros_like(mapper.map.height, dtype=np.float64)
                bound_n = np.zeros_like(bound_sum)
            res = pipe.process(left, right, 'rgb8')
            mapper.integrate(res.points, T)
            # single-frame model sigma per cell, for the bound
            T_map_cam = T @ Tb
            pts = res.points.astype(np.float64)
            var = height_variance(pts, err_model.sigma_z(pts[:, 2]), T_map_cam[:3, :3],
                                  err_model.floor_m ** 2)
            pm = pts @ T_map_cam[:3, :3].T + T_map_cam[:3, 3]
            row, col, inside = mapper.map.cell_index(pm[:, 0], pm[:, 1])
            np.add.at(bound_sum, (row[inside], col[inside]), var[inside])
            np.add.at(bound_n, (row[inside], col[inside]), 1.0)
        m = mapper.map
        xs, ys = m.cell_centres()
        X, Y = np.meshgrid(xs, ys)
        rng = np.hypot(X - T0[0, 3], Y - T0[1, 3])
        sel = m.known() & (rng >= 2.0) & (rng <= 6.0) & (bound_n > 0)
        err = (m.height - src.true_height(X, Y))[sel]
        rmse = float(np.sqrt(np.mean(err ** 2)))
        bound = float(np.sqrt(np.mean((bound_sum / np.maximum(bound_n, 1))[sel])))
        within = float(np.mean(np.abs(err) <= 3.0 * np.sqrt(m.variance[sel])))
        hz = mapper.hazards()

        def observed(obj, radius):
            if np.hypot(obj.x - T0[0, 3], obj.y - T0[1, 3]) > 6.0:
                return False
            near = np.hypot(X - obj.x, Y - obj.y) <= radius
            return near.any() and np.mean(m.known()[near]) >= 0.5

        craters = [c for c in src.craters if 2 * c.radius >= 0.5 and observed(c, c.radius)]
        rocks = [r for r in src.rocks if r.height >= 0.15 and observed(r, r.radius)]
        in_range = lambda d: np.hypot(d.x - T0[0, 3], d.y - T0[1, 3]) <= 6.0
        _, cp, cr = match_detections([c for c in hz.craters if in_range(c)], craters,
                                     lambda t: max(0.3, 0.5 * t.radius))
        _, rp, rr = match_detections([r for r in hz.rocks if in_range(r)], rocks, 0.3)
        return dict(rmse=rmse, bound=bound, within=within, cp=cp, cr=cr, rp=rp, rr=rr,
                    cells=int(sel.sum()), n_craters=len(craters), n_rocks=len(rocks), source=name)
    finally:
        src.close()


SURVEY_VIEWS, SURVEY_VIEWS_QUICK = 16, 8


def survey(views: int) -> dict:
    """False lethal cells after the mission's survey turn at the lunar start."""
    try:
        from mining_rover.sim.simulator import Simulator
    except ImportError:
        return dict(false=None, false_raw=None, true=None, true_raw=None)
    sim = Simulator(world='moon_south_pole', seed=1, camera_width=320, camera_height=240)
    try:
        pipe = StereoPipeline(*ideal_stereo_pair(sim.camera_intrinsics()),
                              StereoParams.from_dict(_params('stereo_node', 'stereo.yaml')))
        mp = _params('mapping_node', 'mapping.yaml')
        x, y, yaw0 = sim.world.zones.start_xy_yaw
        mapper = None
        for k in range(views):
            sim.set_base_state(pos=[x, y, float(sim.true_height(x, y)) + 0.21],
                               yaw=yaw0 + 2 * np.pi * k / views)
            sim.step(250)
            left, right = sim.render_stereo()
            T = sim.ground_truth_pose()
            if mapper is None:
                mapper = _mapper(pipe, mp, np.linalg.inv(T) @ sim.camera_pose('left'), T)
            mapper.integrate(pipe.process(left, right, 'rgb8').points, T)
        xs, ys = mapper.map.cell_centres()
        X, Y = np.meshgrid(xs, ys)
        hazard = np.zeros(X.shape, bool)
        near = np.zeros(X.shape, bool)
        for h in list(sim.world.hazards.craters) + list(sim.world.hazards.rocks):
            d = np.hypot(X - h['x'], Y - h['y'])
            hazard |= d <= h['radius']
            near |= d <= h['radius'] + 0.5
        # the fiducial boards at the base are obstacles too (lethal by rights, not invented);
        # a board stands as tall as it is wide, so its margin is a board width, not 0.5 m
        boards = getattr(sim, 'fiducials', None)
        for b in (boards.boards if boards is not None else ()):
            near |= np.hypot(X - b.x, Y - b.y) <= 1.5 * b.board_size_m + 0.5
        out = {}
        configured = mapper.hazard_params
        for tag, cells, hp in (('', mp['despeckle_cells'], configured),
                               ('_raw', 0, dataclasses.replace(configured, crater_median_cells=0))):
            mapper.despeckle_cells, mapper.hazard_params = cells, hp
            height = mapper.confident_height()
            judged = np.isfinite(height)
            lethal = mapper.costmap(mapper.layers(height), mapper.hazards(height)) == 100
            free_truth = judged & ~near
            out['false' + tag] = float(np.mean(lethal[free_truth])) if free_truth.any() else None
            out['true' + tag] = int(np.sum(lethal & hazard))
        return out
    finally:
        sim.close()


def run(quick: bool = False) -> dict:
    frames = FRAMES_QUICK if quick else FRAMES
    clean = evaluate(frames)
    rad = evaluate(frames, radiation=True)
    sv = survey(SURVEY_VIEWS_QUICK if quick else SURVEY_VIEWS)
    return {
        'rmse_m': metric(clean['rmse'], 'm'),
        'stereo_bound_m': metric(clean['bound'], 'm'),
        'rmse_to_bound': metric(clean['rmse'] / clean['bound'], 'x', '<= 1.5'),
        'within_3sigma': metric(clean['within'], 'fraction'),
        'cells_evaluated': metric(clean['cells'], 'cells'),
        # nothing observed: no figure (a precision of 1 over no hazards would be vacuous)
        'crater_precision': metric(clean['cp'] if clean['n_craters'] else None, '', '>= 0.9'),
        'crater_recall': metric(clean['cr'] if clean['n_craters'] else None, '', '>= 0.9'),
        'craters_observed': metric(clean['n_craters'], ''),
        'rock_precision': metric(clean['rp'] if clean['n_rocks'] else None, '', '>= 0.9'),
        'rock_recall': metric(clean['rr'] if clean['n_rocks'] else None, '', '>= 0.9'),
        'rocks_observed': metric(clean['n_rocks'], ''),
        'survey_false_lethal_fraction': metric(sv['false'], 'fraction'),
        'survey_false_lethal_fraction_no_despeckle': metric(sv['false_raw'], 'fraction'),
        'survey_false_lethal_ratio': metric(sv['false'] / sv['false_raw'] if sv['false_raw'] else None,
                                            'x', '<= 0.5'),
        'survey_true_hazard_cells_lethal': metric(sv['true'], 'cells'),
        'survey_true_hazard_cells_lethal_no_despeckle': metric(sv['true_raw'], 'cells'),
        'rmse_m_radiation': metric(rad['rmse'], 'm'),
        'radiation_to_clean': metric(rad['rmse'] / clean['rmse'], 'x', '<= 1.1'),
    }
