"""Stereo pipeline against synthetic pairs with known disparity (no ROS, no rendering)."""
import cv2
import numpy as np
import pytest

from mining_rover.perception.cloud_filters import (finite_points, range_filter,
                                                   statistical_outliers, voxel_downsample)
from mining_rover.perception.stereo import (DISP_SCALE, Rectifier, StereoParams, StereoPipeline,
                                            depth_sigma_m, disparity_to_points, q_matrix)
from mining_rover.ros.camera_info import CameraModel, stereo_q_matrix

W, H, F, B = 640, 480, 470.0, 0.2
CX, CY = 319.5, 239.5


def pinhole(baseline=0.0, D=None, frame='cam'):
    K = [[F, 0, CX], [0, F, CY], [0, 0, 1]]
    P = [[F, 0, CX, -F * baseline], [0, F, CY, 0], [0, 0, 1, 0]]
    return CameraModel(W, H, K, np.zeros(5) if D is None else D, np.eye(3), P, 'plumb_bob', frame)


def texture(shape, seed=0):
    """Band-limited random texture (like regolith at a few pixels per grain)."""
    rng = np.random.default_rng(seed)
    t = rng.random((shape[0] // 2 + 8, shape[1] // 2 + 8)).astype(np.float32)
    t = cv2.resize(t, (shape[1] + 16, shape[0] + 16), interpolation=cv2.INTER_CUBIC)
    return np.clip(t * 255, 0, 255).astype(np.uint8)[:shape[0], :shape[1]]


def shifted_pair(disparity_of_row):
    """Left = texture; right(u, v) = left(u + d(v), v) so that d = u_left - u_right."""
    tex = texture((H, W + 120))
    u, v = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    left = tex[:H, 40:40 + W].copy()
    d = disparity_of_row(v)
    right = cv2.remap(tex, u + 40 + d, v, cv2.INTER_CUBIC)
    return left, right


def test_fronto_parallel_plane_depth():
    z_true = F * B / 20.0                      # 4.7 m at d = 20 px
    left, right = shifted_pair(lambda v: np.full_like(v, 20.0))
    pipe = StereoPipeline(pinhole(0.0), pinhole(B), StereoParams())
    res = pipe.process(left, right, 'mono8')
    d = res.disparity[:, 80:]
    # SGBM on a noise-free band-limited texture: sub-pixel error well under 0.1 px
    assert np.nanmedian(d) == pytest.approx(20.0, abs=0.05)
    assert np.mean(np.isfinite(d)) > 0.9
    z = res.points[:, 2]
    assert np.median(z) == pytest.approx(z_true, rel=0.005)
    # sigma_z from the error model: z^2 sigma_d / (f B)
    assert res.sigma_z[0] == pytest.approx(z[0] ** 2 * 0.25 / (F * B), rel=1e-4)


def test_ground_plane_geometry():
    """A level ground plane 0.8 m below a level camera: d(v) = B (v - cy) / h."""
    cam_h = 0.8
    left, right = shifted_pair(lambda v: np.clip(B * (v - CY) / cam_h, 0, 60))
    p = StereoParams(min_range_m=1.5, max_range_m=8.0)
    res = StereoPipeline(pinhole(0.0), pinhole(B), p).process(left, right, 'mono8')
    y = res.points[:, 1]
    assert len(y) > 20000
    # heights: within 3 sigma of the stereo model at the farthest point (8 m)
    sigma_far = depth_sigma_m(8.0, F, B, 0.25) * cam_h / 8.0
    assert np.median(np.abs(y - cam_h)) < sigma_far
    assert res.points[:, 2].min() >= 1.5 - 1e-3 and res.points[:, 2].max() <= 8.0 + 1e-3


def test_downscaled_matching_keeps_geometry():
    left, right = shifted_pair(lambda v: np.full_like(v, 24.0))
    pipe = StereoPipeline(pinhole(0.0), pinhole(B), StereoParams(downscale=2, num_disparities=128))
    res = pipe.process(left, right, 'mono8')
    assert res.disparity.shape == (H // 2, W // 2)
    assert np.nanmedian(res.disparity) == pytest.approx(12.0, abs=0.1)
    assert np.median(res.points[:, 2]) == pytest.approx(F * B / 24.0, rel=0.01)
    assert res.focal_px == F / 2


def test_q_matrix_matches_ros_conversion_and_reprojection():
    left, right = pinhole(0.0), pinhole(B)
    Q = q_matrix(left.P, right.P)
    np.testing.assert_allclose(Q, stereo_q_matrix(left, right))
    raw = np.full((H, W), -16, np.int16)
    raw[100, 200] = 25 * DISP_SCALE
    raw[300, 600] = 10 * DISP_SCALE
    pts, z = disparity_to_points(raw, Q, 1.0, 64.0)
    ref = cv2.reprojectImageTo3D(raw.astype(np.float32) / DISP_SCALE, Q)
    np.testing.assert_allclose(pts, ref[[100, 300], [200, 600]], rtol=1e-5)
    # pinhole: u = cx + f x / z
    np.testing.assert_allclose(CX + F * pts[:, 0] / pts[:, 2], [200, 600], atol=1e-3)
    np.testing.assert_allclose(z, F * B / np.array([25.0, 10.0]), rtol=1e-6)


def test_rectifier_passthrough_and_undistort():
    r = Rectifier(pinhole(0.0), pinhole(B))
    img = texture((H, W))
    assert r.passthrough and r.rectify(img, img)[0] is img
    D = np.array([-0.1, 0.01, 0, 0, 0])
    r2 = Rectifier(pinhole(0.0, D), pinhole(B, D))
    out, _ = r2.rectify(img, img)
    assert not r2.passthrough and out.shape == img.shape and not np.array_equal(out, img)


def test_bad_inputs_raise():
    pipe = StereoPipeline(pinhole(0.0), pinhole(B))
    img = texture((H, W))
    with pytest.raises(ValueError):
        pipe.process(img, img[:, :-2], 'mono8')
    with pytest.raises(ValueError):
        pipe.process(img[:240], img[:240], 'mono8')
    with pytest.raises(ValueError):
        StereoParams(num_disparities=50)
    with pytest.raises(ValueError):
        StereoParams(block_size=4)
    with pytest.raises(ValueError):
        q_matrix(pinhole(0.0).P, pinhole(0.0).P)   # no baseline


def test_textureless_regions_give_no_points():
    """A black (shadowed) band has no texture: no disparity there, never a wrong depth."""
    left, right = shifted_pair(lambda v: np.full_like(v, 20.0))
    left[200:320] = 0
    right[200:320] = 0
    res = StereoPipeline(pinhole(0.0), pinhole(B)).process(left, right, 'mono8')
    band = res.disparity[205:315, 100:]
    assert np.mean(np.isfinite(band)) < 0.02
    # what is left is right: a handful of edge pixels off by about a pixel, none worse than 2
    off = np.abs(res.disparity[:, 100:] - 20.0)
    assert np.nanmean(off > 0.5) < 1e-3 and np.nanmax(off) < 2.0


def test_radiation_hits_are_removed_before_matching():
    left, right = shifted_pair(lambda v: np.full_like(v, 20.0))
    rng = np.random.default_rng(3)
    for img in (left, right):
        img[rng.random(img.shape) < 5e-3] = 255       # saturated single pixels
    res = StereoPipeline(pinhole(0.0), pinhole(B)).process(left, right, 'mono8')
    assert np.nanmedian(res.disparity) == pytest.approx(20.0, abs=0.05)
    assert np.nanmean(np.abs(res.disparity[:, 120:] - 20.0) > 1.0) < 1e-3


def test_cloud_filters():
    rng = np.random.default_rng(1)
    pts = rng.normal(0, 0.05, (2000, 3)).astype(np.float32)
    pts = np.vstack([pts, [[5, 5, 5]], [[np.nan, 0, 0]]]).astype(np.float32)
    pts = finite_points(pts)
    assert len(pts) == 2001
    assert statistical_outliers(pts, 20, 2.0)[-1]
    assert len(range_filter(pts, 0.0, 1.0)) == 2000
    vox = voxel_downsample(pts, 1.0)
    assert len(vox) <= 9
