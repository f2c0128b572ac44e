"""Stereo visual odometry against rendered terrain with known rover motion (MuJoCo
scenes from mining_rover.perception.scene, matched by the stereo pipeline). No ROS."""
import math

import numpy as np
import pytest

from mining_rover.perception.stereo import StereoParams, StereoPipeline
from mining_rover.perception.visual_odometry import StereoVisualOdometry, VoParams
from mining_rover.ros.camera_info import ideal_stereo_pair


def _pose(x, y, yaw, z=0.0):
    T = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    T[:2, :2] = [[c, -s], [s, c]]
    T[:3, 3] = (x, y, z)
    return T


def _planar(T):
    return np.array([T[0, 3], T[1, 3], math.atan2(T[1, 0], T[0, 0])])


@pytest.fixture(scope='module')
def rig():
    import mining_rover.perception.scene as scene_mod
    scene = scene_mod.StereoScene(scene_mod.SceneConfig(), scene_mod.DEFAULT_CRATERS, scene_mod.DEFAULT_ROCKS)
    Tb = scene_mod.rover_camera_extrinsics()
    pipe = StereoPipeline(*ideal_stereo_pair(scene.intrinsics()), StereoParams(downscale=2,
                                                                               num_disparities=128))

    def frame(x, y, yaw):
        T = _pose(x, y, yaw)
        T[2, 3] = float(scene.true_height(x, y)) + 0.2
        res = pipe.process(*scene.render_stereo(T, Tb), 'rgb8')
        return T, res
    yield scene, Tb, pipe, frame
    scene.close()


@pytest.mark.parametrize('motion', [(0.12, 0.0, 0.0),       # straight on
                                    (0.0, 0.0, 0.15),       # turning in place
                                    (0.02, -0.08, 0.1)])    # sliding sideways while turning
def test_motion_between_two_frames_matches_the_rover_motion(rig, motion):
    _scene, Tb, pipe, frame = rig
    vo = StereoVisualOdometry.from_pipeline(pipe, Tb)
    T0, r0 = frame(0.0, 0.0, 0.0)
    first = vo.update(10.0, r0.left_rect, r0.disparity)
    assert not first.ok and first.reason == 'first frame'
    T1, r1 = frame(*motion)
    step = vo.update(10.5, r1.left_rect, r1.disparity)
    assert step.ok, step.reason
    truth = np.linalg.solve(T0, T1)
    err = _planar(step.motion) - _planar(truth)
    assert np.hypot(err[0], err[1]) < 0.01           # 1 cm of a 0.5 s step
    assert abs(err[2]) < math.radians(0.3)
    assert step.inliers >= VoParams().min_inliers and step.rms_px < 1.0
    assert step.dt_s == pytest.approx(0.5)


def test_a_frame_without_texture_gives_no_motion_and_the_next_one_starts_over(rig):
    _scene, Tb, pipe, frame = rig
    vo = StereoVisualOdometry.from_pipeline(pipe, Tb)
    _, r0 = frame(0.0, 0.0, 0.0)
    vo.update(1.0, r0.left_rect, r0.disparity)
    blank = np.full_like(r0.left_rect, 90)
    step = vo.update(1.5, blank, np.full_like(r0.disparity, np.nan))
    assert not step.ok and 'features tracked' in step.reason and step.motion is None
    # the blank frame has no features with depth: the next frame cannot be measured from it
    _, r1 = frame(0.05, 0.0, 0.0)
    step = vo.update(2.0, r1.left_rect, r1.disparity)
    assert not step.ok and 'features with depth' in step.reason
    T2, r2 = frame(0.10, 0.0, 0.0)
    step = vo.update(2.5, r2.left_rect, r2.disparity)
    assert step.ok and step.motion[0, 3] == pytest.approx(0.05, abs=0.01)


def test_implausible_motion_and_time_going_backwards_are_rejected(rig):
    _scene, Tb, pipe, frame = rig
    vo = StereoVisualOdometry.from_pipeline(pipe, Tb, VoParams(max_speed_mps=0.1))
    _, r0 = frame(0.0, 0.0, 0.0)
    _, r1 = frame(0.15, 0.0, 0.0)
    vo.update(1.0, r0.left_rect, r0.disparity)
    step = vo.update(1.5, r1.left_rect, r1.disparity)        # 0.3 m/s against a 0.1 m/s limit
    assert not step.ok and 'implausible' in step.reason
    step = vo.update(1.0, r0.left_rect, r0.disparity)
    assert not step.ok and 'not after' in step.reason


def test_bad_input_and_parameters(rig):
    _scene, Tb, pipe, frame = rig
    vo = StereoVisualOdometry.from_pipeline(pipe, Tb)
    _, r0 = frame(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match='grey uint8'):
        vo.update(1.0, r0.left_rect.astype(np.float32), r0.disparity)
    with pytest.raises(ValueError, match='disparity is'):
        vo.update(1.0, r0.left_rect, r0.disparity[:-2])
    with pytest.raises(ValueError, match='max_range_m'):
        VoParams(min_range_m=5.0, max_range_m=4.0)
    with pytest.raises(ValueError, match='lk_window_px'):
        VoParams(lk_window_px=20)
    with pytest.raises(ValueError, match='min_inliers'):
        VoParams.from_dict({'min_inliers': 2, 'unrelated': 1})
    with pytest.raises(ValueError, match='scale'):
        StereoVisualOdometry(np.eye(3), np.eye(4), 0, Tb)
