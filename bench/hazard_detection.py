"""Benchmark: rock and crater detection from the rover's own stereo map within 6 m, on
rendered hazard fields the tuning never saw; the same detector on exact heights (the
control, so stereo and detector errors are told apart); and the detector as it was on
main before issue #18 (bench/hazard_baseline.py, with main's stereo error model) on the
same frames, in the same run.

Scenes (bench/hazard_scenes.py): a dense hazard field (craters 0.8-6 m, rocks 0.15-0.4 m
on multi-octave undulating regolith) rendered by the embedded MuJoCo simulator at
640x480 from FRAMES rover poses 0.4 m apart along a drive; each pair goes through the
stereo pipeline (config/stereo.yaml: half-size matching) and the elevation map
(config/mapping.yaml). Seeds: TUNING_SEEDS were used to choose the thresholds;
EVAL_SEEDS (never tuned on) give the figures.

Truth judged (from the last pose of the drive, within RANGE_M), by the one hazard
definition the site generator and the simulator's contact counter share
(mining_rover/sim/hazard_truth.py): rocks standing >= 0.2 m above the ground around them
and craters >= 1 m across whose wall is steeper than the rover's 15 deg rating, with at
least half their footprint in known (confident) cells. crater_recall is over those;
crater_recall_all over every crater >= 1 m across (the issue's literal count), so the
definition cannot be said to make the target easier (on these scenes, whose craters have
depth/diameter 0.07-0.2, both sets are the same).
A detection counts as correct when it lies within max(0.3 m, radius) of a true rock
(rocks) or max(0.3 m, half the radius) of a true crater (craters) of any size (a
detected 0.15 m rock or 0.8 m crater is real, no false alarm; only the >= 0.2 m / >= 1 m
ones must be found). Metrics pool detections and truth over the seeds.

false_lethal_fraction: of the judged cells within RANGE_M that are flat and clear by
truth (more than 0.5 m from every true rock and crater rim, and not lethal in the
costmap of the exact heights), the fraction the costmap (traversability + hazard
footprints) marks lethal.

rocks_marked_lethal / craters_marked_lethal (context): the fraction of the judged true
hazards whose centre the costmap marks lethal (by a detection or by the slope, step and
roughness layers): what the planner avoids, touching boulders merged into one detection
included.

height_z_rms: the calibration of the map's height variance: RMS over known cells within
RANGE_M of z = (map height - true height) / map sigma (1 for a calibrated map), with the
error model as configured and with main's (full-size focal length, 0.25 px);
height_z_rms_clear the same over cells more than 0.5 m from every hazard (rock flanks
and occlusion edges carry mixed-pixel errors no Gaussian model covers);
height_z_median_ratio: median |z| / 0.6745 over those clear cells (1 for a calibrated core).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.mapping.elevation_map import MapParams
from mining_rover.mapping.hazards import HazardParams, detect_hazards, match_detections
from mining_rover.mapping.terrain_mapper import StereoErrorModel, TerrainMapper
from mining_rover.mapping.traversability import LETHAL, mark_lethal, traversability
from mining_rover.paths import config_parameters
from mining_rover.perception.stereo import StereoParams, StereoPipeline
from mining_rover.ros.camera_info import ideal_stereo_pair
from mining_rover.sim.hazard_truth import (CRATER_MIN_DIAMETER_M, ROCK_MIN_PROTRUSION_M, is_hazard_crater,
                                           rock_protrusion_m)

NAME = 'hazard_detection'
DESCRIPTION = ('rocks >= 0.2 m and craters >= 1 m within 6 m from rendered 640x480 stereo on held-out '
               'hazard fields: precision, recall, false lethal; exact heights as control; main as baseline')

TUNING_SEEDS = tuple(range(20))
EVAL_SEEDS, EVAL_SEEDS_QUICK = tuple(range(100, 112)), (100, 101)
FRAMES, FRAMES_QUICK = 6, 4
RANGE_M = 6.0
CLEAR_MARGIN_M = 0.5
#: A list to collect per-map truth and detections in (tuning and tests), or None.
DEBUG = None
#: main's stereo error model (before issue #18): disparity noise (px); its focal length
#: was the full-size image's while the half-size pair was matched.
MAIN_SIGMA_DISPARITY_PX = 0.25


def _bench_module(name: str):
    path = Path(__file__).resolve().parent / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'mining_rover_bench_{name}', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _mapper(mp: dict, focal_px: float, baseline_m: float, sigma_d: float, T_base_cam) -> TerrainMapper:
    err = StereoErrorModel(focal_px=focal_px, baseline_m=baseline_m, sigma_disparity_px=sigma_d,
                           floor_m=mp['height_floor_m'], max_range_m=mp['max_range_m'])
    return TerrainMapper(MapParams.from_dict({**mp, 'follow_robot': False}),
                         hazard_params=HazardParams.from_dict(mp), error_model=err, T_base_cam=T_base_cam,
                         max_points=mp['max_points'], classify_sigma_m=mp['classify_sigma_m'],
                         self_box=mp['self_filter_box'], despeckle_cells=mp['despeckle_cells'])


class _Counts:
    """Pooled detection counts of one variant over the seeds."""

    def __init__(self):
        self.n = dict(rock_det=0, rock_ok=0, rock_truth=0, rock_found=0, crater_det=0, crater_ok=0,
                      crater_truth=0, crater_found=0, crater_truth_all=0, crater_found_all=0, flat=0,
                      flat_lethal=0, rock_marked=0, crater_marked=0)

    def add(self, **kw):
        for k, v in kw.items():
            self.n[k] += int(v)

    def ratio(self, num, den):
        return self.n[num] / self.n[den] if self.n[den] else None


def _score(counts: _Counts, hz, cost, judged, scene, X, Y, centre, truth_lethal):
    """Add one map's detections and lethal cells to ``counts``."""
    near = lambda o: np.hypot(o.x - centre[0], o.y - centre[1]) <= RANGE_M

    def observed(o):
        foot = np.hypot(X - o.x, Y - o.y) <= o.radius
        return foot.any() and np.mean(judged[foot]) >= 0.5

    rocks = [r for r in scene.rocks if near(r) and observed(r)
             and rock_protrusion_m(r.x, r.y, r.radius, scene.true_height) >= ROCK_MIN_PROTRUSION_M]
    all_craters = [c for c in scene.craters
                   if near(c) and 2 * c.radius >= CRATER_MIN_DIAMETER_M and observed(c)]
    craters = [c for c in all_craters if is_hazard_crater(c.radius, c.depth)]
    rock_tol = lambda t: max(0.3, t.radius)
    crater_tol = lambda t: max(0.3, 0.5 * t.radius)
    det_r = [r for r in hz.rocks if near(r)]
    det_c = [c for c in hz.craters if near(c)]
    ok_r, _, _ = match_detections(det_r, scene.rocks, rock_tol)
    ok_c, _, _ = match_detections(det_c, scene.craters, crater_tol)
    found_r, _, _ = match_detections(det_r, rocks, rock_tol)
    found_c, _, _ = match_detections(det_c, craters, crater_tol)
    found_all, _, _ = match_detections(det_c, all_craters, crater_tol)
    clear = np.ones(X.shape, bool)
    for o in list(scene.rocks) + list(scene.craters):
        clear &= np.hypot(X - o.x, Y - o.y) > o.radius + CLEAR_MARGIN_M
    flat = judged & clear & ~truth_lethal & (np.hypot(X - centre[0], Y - centre[1]) <= RANGE_M)
    if DEBUG is not None:
        DEBUG.append(dict(rocks=rocks, craters=craters, det_r=det_r, det_c=det_c, all_r=scene.rocks,
                          all_c=scene.craters, centre=centre))
    lethal_at = lambda o: bool(cost[int((o.y - Y[0, 0]) / (Y[1, 0] - Y[0, 0]) + 0.5),
                                    int((o.x - X[0, 0]) / (X[0, 1] - X[0, 0]) + 0.5)] == LETHAL)
    counts.add(rock_marked=sum(map(lethal_at, rocks)), crater_marked=sum(map(lethal_at, craters)))
    counts.add(rock_det=len(det_r), rock_ok=ok_r, rock_truth=len(rocks), rock_found=found_r,
               crater_det=len(det_c), crater_ok=ok_c, crater_truth=len(craters), crater_found=found_c,
               crater_truth_all=len(all_craters), crater_found_all=found_all,
               flat=flat.sum(), flat_lethal=np.sum(flat & (cost == LETHAL)))


def evaluate(seeds, frames: int) -> dict:
    """Counts per variant ('stereo', 'exact', 'baseline', 'baseline_exact') and the
    height calibration ('z2', 'z2_main' sums and 'z_n') over ``seeds``."""
    scenes = _bench_module('hazard_scenes')
    base = _bench_module('hazard_baseline')
    sp = StereoParams.from_dict(config_parameters('stereo.yaml', 'stereo_node'))
    mp = config_parameters('mapping.yaml', 'mapping_node')
    counts = {k: _Counts() for k in ('stereo', 'exact', 'baseline', 'baseline_exact')}
    calib = dict(z2=0.0, z2_main=0.0, z_n=0, z2_clear=0.0, z2_clear_main=0.0, z_n_clear=0, z_abs=[],
                 z_abs_main=[])
    for seed in seeds:
        scene = scenes.hazard_scene(seed)
        try:
            pipe = StereoPipeline(*ideal_stereo_pair(scene.sim.camera_intrinsics()), sp)
            new = main = None
            for left, right, T, Tb in scenes.drive_frames(scene, frames):
                if new is None:
                    new = _mapper(mp, pipe.focal_px, pipe.baseline_m, mp['sigma_disparity_px'], Tb)
                    main = _mapper(mp, pipe.focal_px * pipe.scale, pipe.baseline_m,
                                   MAIN_SIGMA_DISPARITY_PX, Tb)
                    for m in (new, main):
                        m.map._place(T[:2, 3])
                points = pipe.process(left, right, 'rgb8').points
                new.integrate(points, T)
                main.integrate(points, T)
            centre = T[:2, 3]
            xs, ys = new.map.cell_centres()
            X, Y = np.meshgrid(xs, ys)
            truth = scene.true_height(X, Y).astype(np.float32)
            res = new.map.resolution
            truth_lethal = traversability(truth, res, new.trav_params).cost == LETHAL
            in_range = np.hypot(X - centre[0], Y - centre[1]) <= RANGE_M
            clear = np.ones(X.shape, bool)
            for o in list(scene.rocks) + list(scene.craters):
                clear &= np.hypot(X - o.x, Y - o.y) > o.radius + CLEAR_MARGIN_M
            for tag, m in (('', new), ('_main', main)):
                sel = m.map.known() & in_range
                z = (m.map.height - truth) / np.sqrt(m.map.variance)
                calib['z2' + tag] += float(np.sum(z[sel] ** 2))
                calib['z2_clear' + tag] += float(np.sum(z[sel & clear] ** 2))
                calib['z_abs' + tag].extend(np.abs(z[sel & clear]).tolist())
            calib['z_n'] += int(np.sum(new.map.known() & in_range))
            calib['z_n_clear'] += int(np.sum(new.map.known() & in_range & clear))
            # the configured detector on the stereo map, and on exact heights where it is known
            height = new.confident_height()
            judged = np.isfinite(height)
            hz = new.hazards(height)
            _score(counts['stereo'], hz, new.costmap(new.layers(height), hz), judged, scene, X, Y, centre,
                   truth_lethal)
            exact = np.where(judged, truth, np.nan)
            hz = detect_hazards(exact, res, new.map.origin, new.hazard_params)
            cost = mark_lethal(traversability(exact, res, new.trav_params).cost, hz.footprint)
            _score(counts['exact'], hz, cost, judged, scene, X, Y, centre, truth_lethal)
            # main's detector and error model
            bp = base.HazardParams()
            height = main.confident_height()
            judged = np.isfinite(height)
            hz = base.detect_hazards(height, res, main.map.origin, bp)
            _score(counts['baseline'], hz, main.costmap(main.layers(height), hz), judged, scene, X, Y,
                   centre, truth_lethal)
            exact = np.where(judged, truth, np.nan)
            hz = base.detect_hazards(exact, res, main.map.origin, bp)
            cost = mark_lethal(traversability(exact, res, main.trav_params).cost, hz.footprint)
            _score(counts['baseline_exact'], hz, cost, judged, scene, X, Y, centre, truth_lethal)
        finally:
            scene.close()
    return dict(counts=counts, calib=calib)


def merge(parts: list) -> dict:
    """One evaluate() result from several (seeds evaluated in separate processes)."""
    out = parts[0]
    for part in parts[1:]:
        for k, c in part['counts'].items():
            out['counts'][k].add(**c.n)
        for k, v in part['calib'].items():
            out['calib'][k] = out['calib'][k] + v
    return out


def run(quick: bool = False) -> dict:
    seeds = EVAL_SEEDS_QUICK if quick else EVAL_SEEDS
    return summarise(evaluate(seeds, FRAMES_QUICK if quick else FRAMES), seeds)


def summarise(out: dict, seeds) -> dict:
    """The benchmark's metrics from an evaluate() result over ``seeds``."""
    c, cal = out['counts'], out['calib']
    res = {'eval_seeds': metric(len(seeds), f'seeds {seeds[0]}..{seeds[-1]}')}
    for tag, variant in (('', 'stereo'), ('_exact', 'exact'), ('_baseline', 'baseline'),
                         ('_baseline_exact', 'baseline_exact')):
        k = c[variant]
        goal = tag in ('', '_exact')
        p_goal, r_goal = ('>= 0.9', '>= 0.95') if goal else ('', '')
        res.update({
            f'rock_precision{tag}': metric(k.ratio('rock_ok', 'rock_det'), '', p_goal),
            f'rock_recall{tag}': metric(k.ratio('rock_found', 'rock_truth'), '', r_goal),
            f'crater_precision{tag}': metric(k.ratio('crater_ok', 'crater_det'), '', p_goal),
            f'crater_recall{tag}': metric(k.ratio('crater_found', 'crater_truth'), '', r_goal),
            f'crater_recall_all{tag}': metric(k.ratio('crater_found_all', 'crater_truth_all'),
                                              'craters >= 1 m, any depth'),
            f'false_lethal_fraction{tag}': metric(k.ratio('flat_lethal', 'flat'), 'fraction',
                                                  '<= 0.02' if goal else ''),
            f'rocks_judged{tag}': metric(k.n['rock_truth'], 'rocks'),
            f'rocks_marked_lethal{tag}': metric(k.ratio('rock_marked', 'rock_truth'), 'fraction'),
            f'craters_marked_lethal{tag}': metric(k.ratio('crater_marked', 'crater_truth'), 'fraction'),
            f'craters_judged{tag}': metric(k.n['crater_truth'], 'craters'),
            f'craters_judged_all{tag}': metric(k.n['crater_truth_all'], 'craters'),
        })
    n, nc = max(cal['z_n'], 1), max(cal['z_n_clear'], 1)
    for tag, main in (('', ''), ('_baseline', '_main')):
        goal = '' if tag else '<= 1.5'
        res['height_z_rms' + tag] = metric(float(np.sqrt(cal['z2' + main] / n)), 'x', goal)
        res['height_z_rms_clear' + tag] = metric(float(np.sqrt(cal['z2_clear' + main] / nc)), 'x', goal)
        # the median of |z| over that of a unit normal (0.674): the core of the distribution
        res['height_z_median_ratio' + tag] = metric(float(np.median(cal['z_abs' + main]) / 0.6745)
                                                    if cal['z_abs' + main] else None, 'x')
    return res
