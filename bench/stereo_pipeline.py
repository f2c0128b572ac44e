"""Benchmark: the whole stereo pipeline (images -> rectify -> SGBM -> cloud -> elevation map
update) against bare cv2.StereoSGBM on the same rendered 640x480 pair in the same run.

Images: the embedded simulator's lunar world when it is installed, else the rendered
test scene (mining_rover.perception.scene: a textured MuJoCo height field seen from the
rover's mast). The pipeline runs with config/stereo.yaml and config/mapping.yaml values.
Baseline: cv2.StereoSGBM_create(0, 64, 5) (OpenCV's defaults otherwise, full resolution),
and, for context, the same bare matcher with the pipeline's disparity range.
Times are medians over repetitions.
"""
from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.mapping.elevation_map import MapParams
from mining_rover.mapping.terrain_mapper import StereoErrorModel, TerrainMapper
from mining_rover.paths import config_parameters
from mining_rover.perception.stereo import StereoParams, StereoPipeline, to_gray
from mining_rover.ros.camera_info import ideal_stereo_pair

NAME = 'stereo_pipeline'
DESCRIPTION = ('640x480 rendered lunar pair: images -> SGBM disparity -> cloud -> elevation map '
               'update, vs bare cv2.StereoSGBM (64 disparities, block 5) on the same images')


def render_pair(width=640, height=480):
    """(left, right, intrinsics, T_map_base, T_base_cam, source) of one lunar view."""
    from mining_rover.perception.scene import (DEFAULT_CRATERS, DEFAULT_ROCKS, SceneConfig,
                                               StereoScene, rover_camera_extrinsics)
    try:
        from mining_rover.sim.simulator import Simulator
    except ImportError:
        Simulator = None
    if Simulator is not None:
        sim = Simulator(world='moon_south_pole', seed=0, camera_width=width, camera_height=height)
        left, right = sim.render_stereo()
        T_map_base = sim.ground_truth_pose()
        T_base_cam = np.linalg.inv(T_map_base) @ sim.camera_pose('left')
        return left, right, sim.camera_intrinsics(), T_map_base, T_base_cam, 'simulator'
    scene = StereoScene(SceneConfig(width=width, height=height), DEFAULT_CRATERS, DEFAULT_ROCKS)
    T = np.eye(4)
    T[2, 3] = float(scene.true_height(0.0, 0.0)) + 0.2
    Tb = rover_camera_extrinsics()
    left, right = scene.render_stereo(T, Tb)
    intr = scene.intrinsics()
    scene.close()
    return left, right, intr, T, Tb, 'test scene'


def _params(node: str, name: str) -> dict:
    return config_parameters(name, node)


def _median_ms(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def run(quick: bool = False) -> dict:
    left, right, intr, T_map_base, T_base_cam, _source = render_pair()
    sp = StereoParams.from_dict(_params('stereo_node', 'stereo.yaml'))
    pipe = StereoPipeline(*ideal_stereo_pair(intr), sp)
    mp = _params('mapping_node', 'mapping.yaml')
    mapper = TerrainMapper(MapParams.from_dict(mp),
                           error_model=StereoErrorModel(focal_px=intr['fx'], baseline_m=intr['baseline_m']),
                           T_base_cam=T_base_cam, max_points=mp['max_points'])
    reps = 8 if quick else 30
    gl, gr = to_gray(left), to_gray(right)
    bare = cv2.StereoSGBM_create(0, 64, 5)
    bare_same = cv2.StereoSGBM_create(0, sp.num_disparities, 5)
    n_points = []

    def whole():
        res = pipe.process(left, right, 'rgb8')
        mapper.integrate(res.points, T_map_base)
        n_points.append(len(res.points))

    for fn in (whole, lambda: bare.compute(gl, gr), lambda: bare_same.compute(gl, gr)):
        fn()  # warm-up (allocations, OpenCV thread pool)
    # interleave so that machine load affects both alike
    t_pipe, t_bare, t_same = [], [], []
    for _ in range(reps):
        t_pipe.append(_median_ms(whole, 1))
        t_bare.append(_median_ms(lambda: bare.compute(gl, gr), 1))
        t_same.append(_median_ms(lambda: bare_same.compute(gl, gr), 1))
    pipe_ms, sgbm_ms, same_ms = (statistics.median(t) for t in (t_pipe, t_bare, t_same))
    return {
        'pipeline_ms': metric(pipe_ms, 'ms'),
        'pipeline_hz': metric(1e3 / pipe_ms, 'Hz', '>= 25'),
        'sgbm_ms': metric(sgbm_ms, 'ms'),
        'ratio_to_sgbm': metric(pipe_ms / sgbm_ms, 'x', '<= 1.6'),
        'sgbm_same_range_ms': metric(same_ms, 'ms'),
        'ratio_to_sgbm_same_range': metric(pipe_ms / same_ms, 'x'),
        'num_disparities': metric(sp.num_disparities, 'px'),
        'cloud_points': metric(float(np.median(n_points)), 'points'),
        'map_update_ms': metric(mapper.last_update_ms, 'ms'),
    }
