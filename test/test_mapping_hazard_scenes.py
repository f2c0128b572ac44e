"""Hazard detection on a rendered scene (bench/hazard_scenes.py: the world generator's
terrain with a dense hazard field, rendered by the embedded MuJoCo simulator at 640x480,
matched by the stereo pipeline, fused by the map): tuning seed 0, three frames. No ROS."""
import numpy as np
import pytest

from bench_modules import load_bench


@pytest.fixture(scope='module')
def scored():
    pytest.importorskip('mujoco')
    bench = load_bench('hazard_detection')
    return bench.evaluate((0,), 3)


def test_map_sigma_follows_the_matched_image(scored):
    """With the matched (half-size) pair's focal length and the calibrated disparity noise
    the map's height errors away from hazard edges are ~1 sigma; main's full-size focal
    length claimed half the sigma (and 0.25 px), so its normalised errors were larger."""
    cal = scored['calib']
    z = np.sqrt(cal['z2_clear'] / cal['z_n_clear'])
    z_main = np.sqrt(cal['z2_clear_main'] / cal['z_n_clear'])
    core = np.median(cal['z_abs']) / 0.6745
    # away from hazard edges the map's sigma is honest to within 50 % (mixed pixels at
    # rock flanks are outliers no Gaussian model covers: they are left out here)
    assert 0.6 < z < 1.5 and 0.6 < core < 1.5, (z, core)
    assert z < z_main, (z, z_main)


def test_detections_on_rendered_stereo(scored):
    """Every rock and crater reported from the stereo map is a real one, and flat clear
    ground is (almost) never lethal."""
    k = scored['counts']['stereo'].n
    assert k['rock_det'] + k['crater_det'] > 0
    assert k['rock_ok'] + k['crater_ok'] >= 0.7 * (k['rock_det'] + k['crater_det']), k
    assert k['flat'] > 200 and k['flat_lethal'] <= 0.05 * k['flat'], k
