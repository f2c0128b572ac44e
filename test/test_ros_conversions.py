"""Image, DisparityImage, CameraInfo and stamp conversions: round trips, properties, bad input.

Messages are plain Python objects here: no ROS graph, no rclpy.init.
"""
from __future__ import annotations

import array
import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image

from mining_rover.ros.conversions import (ENCODINGS, CameraModel, camera_info_to_model,
                                          disparity_to_msg, float_grid_to_image,
                                          image_to_float_grid, image_to_numpy, make_camera_info,
                                          model_to_camera_info, msg_to_disparity, numpy_to_image,
                                          seconds_to_stamp, stamp_to_seconds, stereo_q_matrix)

FAST = settings(max_examples=150, deadline=None)


def _random_image_array(rng, encoding, height, width):
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def _wire_message(arr, encoding, padding, bigendian):
    """Build an Image by hand the way a foreign driver would: given endianness and padding."""
    height, width = arr.shape[:2]
    wire = arr.astype(arr.dtype.newbyteorder('>' if bigendian else '<'))
    row_bytes = width * arr.itemsize * (arr.shape[2] if arr.ndim == 3 else 1)
    rows = np.frombuffer(wire.tobytes(), np.uint8).reshape(height, row_bytes)
    padded = np.concatenate([rows, np.full((height, padding), 0xAB, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, is_bigendian=int(bigendian),
                 step=rows.shape[1] + padding, data=array.array('B', padded.tobytes()))


# --- Image -----------------------------------------------------------------------------

@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_image_round_trip_every_encoding(encoding):
    arr = _random_image_array(np.random.default_rng(1), encoding, 4, 5)
    msg = numpy_to_image(arr, encoding, frame_id='left_camera_optical_frame', stamp=12.5)
    assert msg.encoding == encoding and msg.header.frame_id == 'left_camera_optical_frame'
    assert stamp_to_seconds(msg.header.stamp) == 12.5
    assert msg.step == arr.nbytes // 4
    back = image_to_numpy(msg)
    np.testing.assert_array_equal(back, arr)
    assert back.dtype == arr.dtype and back.flags.c_contiguous


@FAST
@given(encoding=st.sampled_from(sorted(ENCODINGS)), height=st.integers(0, 6),
       width=st.integers(0, 7), padding=st.integers(0, 9), bigendian=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_image_decodes_any_padding_and_endianness(encoding, height, width, padding, bigendian, seed):
    arr = _random_image_array(np.random.default_rng(seed), encoding, height, width)
    msg = _wire_message(arr, encoding, padding, bigendian)
    out = image_to_numpy(msg)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype.isnative and out.flags.c_contiguous and out.shape == arr.shape


def test_image_output_is_a_copy():
    msg = numpy_to_image(np.arange(12, dtype=np.uint8).reshape(3, 4), 'mono8')
    out = image_to_numpy(msg)
    assert not np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    out[0, 0] = 99
    assert msg.data[0] == 0


def test_numpy_to_image_accepts_hxwx1_and_non_native_input():
    arr = np.arange(6, dtype='>u2').reshape(2, 3, 1)
    out = image_to_numpy(numpy_to_image(arr, 'mono16'))
    np.testing.assert_array_equal(out, arr[..., 0])
    assert out.dtype == np.uint16


@pytest.mark.parametrize('mutate, match', [
    (lambda m: setattr(m, 'data', array.array('B', bytes(1000))),
     r'Image data has 1000 bytes, expected height\*step = 921600 \(height 480, step 1920\)'),
    (lambda m: setattr(m, 'encoding', 'foo'), r"unknown encoding 'foo'"),
    (lambda m: setattr(m, 'step', 1000), r'step 1000 is smaller than width\*bytes_per_pixel = 1920'),
])
def test_image_to_numpy_rejects_bad_messages(mutate, match):
    msg = numpy_to_image(np.zeros((480, 640, 3), np.uint8), 'rgb8')
    mutate(msg)
    with pytest.raises(ValueError, match=match):
        image_to_numpy(msg)


@pytest.mark.parametrize('arr, encoding, match', [
    (np.zeros((2, 3), np.float64), 'mono8', r"dtype float64 does not match encoding 'mono8'"),
    (np.zeros((2, 3), np.uint8), 'rgb8', r"shape \(2, 3\) does not fit encoding 'rgb8'"),
    (np.zeros((2, 3, 4), np.uint8), 'bgr8', r'expects HxWx3'),
    (np.zeros((2, 3), np.uint8), 'bogus', r"unknown encoding 'bogus'"),
    (np.zeros((2, 3), np.int16), '16UC1', r'does not match encoding'),
])
def test_numpy_to_image_rejects_mismatches(arr, encoding, match):
    with pytest.raises(ValueError, match=match):
        numpy_to_image(arr, encoding)


def test_float_grid_round_trip_keeps_nan():
    grid = np.array([[0.5, np.nan], [-1.25, 3.0]], dtype=np.float64)
    msg = float_grid_to_image(grid, 'map', stamp=Time(sec=3, nanosec=5))
    assert msg.encoding == '32FC1' and msg.header.frame_id == 'map'
    out = image_to_float_grid(msg)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, grid.astype(np.float32))


def test_float_grid_rejects_wrong_inputs():
    with pytest.raises(ValueError, match='2-D float array'):
        float_grid_to_image(np.zeros((2, 2), np.int32), 'map')
    with pytest.raises(ValueError, match="encoding 32FC1, got 'mono8'"):
        image_to_float_grid(numpy_to_image(np.zeros((2, 2), np.uint8), 'mono8'))


# --- DisparityImage --------------------------------------------------------------------

def test_disparity_round_trip():
    d = np.random.default_rng(2).uniform(0, 64, (6, 8)).astype(np.float32)
    d[0, 0] = np.nan
    msg = disparity_to_msg(d, f=700.0, T=0.12, min_disparity=0.0, max_disparity=64.0,
                           delta_d=1 / 16, frame_id='left_optical', stamp=4.25)
    assert msg.header.frame_id == msg.image.header.frame_id == 'left_optical'
    out, params = msg_to_disparity(msg)
    np.testing.assert_array_equal(out, d)
    assert params == {'f': 700.0, 'T': pytest.approx(0.12), 'min_disparity': 0.0,
                      'max_disparity': 64.0, 'delta_d': 1 / 16}


@pytest.mark.parametrize('kwargs, match', [
    (dict(f=0.0), r'f must be finite and > 0, got 0.0'),
    (dict(T=-0.1), r'T must be finite and > 0, got -0.1'),
    (dict(min_disparity=10.0, max_disparity=5.0), r'min < max, got min 10.0, max 5.0'),
    (dict(delta_d=float('nan')), r'delta_d must be finite'),
])
def test_disparity_rejects_bad_parameters(kwargs, match):
    args = dict(f=500.0, T=0.1, min_disparity=0.0, max_disparity=32.0, delta_d=0.0625,
                frame_id='cam')
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        disparity_to_msg(np.zeros((2, 2), np.float32), **args)


def test_disparity_rejects_float64_array():
    with pytest.raises(ValueError, match='2-D float32'):
        disparity_to_msg(np.zeros((2, 2)), 500.0, 0.1, 0.0, 32.0, 0.0625, 'cam')


# --- CameraInfo ------------------------------------------------------------------------

def test_camera_info_round_trip():
    info = make_camera_info(640, 480, 500.0, 501.0, 319.5, 239.5, 'right_optical',
                            baseline_m=0.2, stamp=7.0)
    model = camera_info_to_model(info)
    assert (model.width, model.height, model.frame_id) == (640, 480, 'right_optical')
    assert model.P[0, 3] == pytest.approx(-100.0)
    np.testing.assert_array_equal(model.K, [[500, 0, 319.5], [0, 501, 239.5], [0, 0, 1]])
    assert model.D.shape == (5,) and model.distortion_model == 'plumb_bob'
    back = model_to_camera_info(model, stamp=info.header.stamp)
    assert camera_info_to_model(back) == model
    assert back.header.stamp == info.header.stamp
    with pytest.raises(ValueError):  # read-only matrices: the model is really frozen
        model.K[0, 0] = 1.0


def test_camera_model_keeps_distortion_of_any_length():
    model = CameraModel(width=10, height=8, K=np.diag([5.0, 5.0, 1.0]), D=[0.1, -0.2, 0, 0, 0.01, 0, 0, 0],
                        R=np.eye(3), P=np.hstack([np.diag([5.0, 5.0, 1.0]), np.zeros((3, 1))]),
                        distortion_model='rational_polynomial', frame_id='cam')
    again = camera_info_to_model(model_to_camera_info(model))
    assert again == model and again.D.shape == (8,)


@pytest.mark.parametrize('field, value, match', [
    ('K', np.eye(2), r'camera K must have 9 entries'),
    ('P', np.full((3, 4), np.nan), r'camera P has non-finite entries'),
    ('width', 0, r'camera width must be a positive integer, got 0'),
    ('K', np.zeros((3, 3)), r'fx, fy > 0'),
])
def test_camera_model_rejects_bad_values(field, value, match):
    args = dict(width=4, height=3, K=np.diag([2.0, 2.0, 1.0]), D=np.zeros(5), R=np.eye(3),
                P=np.hstack([np.diag([2.0, 2.0, 1.0]), np.zeros((3, 1))]))
    args[field] = value
    with pytest.raises(ValueError, match=match):
        CameraModel(**args)


def test_stereo_q_reprojects_to_known_depth():
    f, b, cx, cy = 700.0, 0.25, 320.0, 240.0
    left = make_camera_info(640, 480, f, f, cx, cy, 'left')
    right = make_camera_info(640, 480, f, f, cx, cy, 'right', baseline_m=b)
    Q = stereo_q_matrix(camera_info_to_model(left), right)  # model and message both work
    # A point at (X, Y, Z) projects to u_l = f X/Z + cx, u_r = f (X - b)/Z + cx.
    X, Y, Z = 0.4, -0.3, 5.0
    u_l, v = f * X / Z + cx, f * Y / Z + cy
    d = f * b / Z
    h = Q @ [u_l, v, d, 1.0]
    np.testing.assert_allclose(h[:3] / h[3], [X, Y, Z], rtol=1e-12)


def test_stereo_q_handles_different_principal_points():
    f, b = 600.0, 0.3
    left = make_camera_info(640, 480, f, f, 330.0, 240.0, 'left')
    right = make_camera_info(640, 480, f, f, 310.0, 240.0, 'right', baseline_m=b)
    X, Y, Z = -1.0, 0.5, 8.0
    u_l, u_r, v = f * X / Z + 330.0, f * (X - b) / Z + 310.0, f * Y / Z + 240.0
    h = stereo_q_matrix(left, right) @ [u_l, v, u_l - u_r, 1.0]
    np.testing.assert_allclose(h[:3] / h[3], [X, Y, Z], rtol=1e-12)


def test_stereo_q_rejects_bad_pairs():
    left = make_camera_info(640, 480, 500.0, 500.0, 320.0, 240.0, 'left')
    with pytest.raises(ValueError, match=r'baseline must be > 0 .* got 0.0 m'):
        stereo_q_matrix(left, left)
    other = make_camera_info(640, 480, 510.0, 500.0, 320.0, 240.0, 'right', baseline_m=0.1)
    with pytest.raises(ValueError, match=r'not a rectified pair: left fx 500.0 != right fx 510.0'):
        stereo_q_matrix(left, other)


# --- stamps ----------------------------------------------------------------------------

@FAST
@given(st.floats(0.0, 2.0**31 - 2, allow_nan=False))
def test_stamp_round_trip_within_a_nanosecond(t):
    stamp = seconds_to_stamp(t)
    assert 0 <= stamp.nanosec < 1_000_000_000
    # float seconds near 2**31 carry ~2e-7 s of resolution; the stamp must not add error.
    assert abs(stamp_to_seconds(stamp) - t) <= max(1e-9, 4 * math.ulp(t))


def test_stamp_examples():
    assert seconds_to_stamp(1.5) == Time(sec=1, nanosec=500_000_000)
    assert seconds_to_stamp(0.9999999999) == Time(sec=1, nanosec=0)
    assert stamp_to_seconds(Time(sec=2, nanosec=250_000_000)) == 2.25


@pytest.mark.parametrize('bad, match', [(-1.0, 'finite and >= 0, got -1.0'), (float('inf'), 'got inf'),
                                        (2.0**40, 'overflow'), ('x', 'must be a number')])
def test_seconds_to_stamp_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        seconds_to_stamp(bad)


def test_stamp_to_seconds_rejects_non_stamps():
    with pytest.raises(ValueError, match='expected a builtin_interfaces/Time, got float'):
        stamp_to_seconds(1.0)


# --- wire validity: what we build survives rclpy's serializer unchanged -----------------

def test_built_messages_serialize_and_decode_identically():
    from rclpy.serialization import deserialize_message, serialize_message

    from mining_rover.ros.conversions import (matrix_to_odometry, numpy_to_occupancy_grid,
                                              pointcloud2_to_xyz, xyz_to_pointcloud2)
    from mining_rover.ros.tf import make_transform_stamped
    points = np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, 1.0]], np.float32)
    built = [
        numpy_to_image(np.zeros((2, 3, 3), np.uint8), 'bgr8', 'cam', stamp=1.25),
        make_camera_info(64, 48, 50.0, 50.0, 32.0, 24.0, 'cam', baseline_m=0.1),
        xyz_to_pointcloud2(points, 'cam', rgb=np.zeros((2, 3), np.uint8), intensity=np.ones(2)),
        # resolution is float32 on the wire: 0.25 is exact there, 0.2 would not compare equal
        numpy_to_occupancy_grid(np.array([[-1, 0], [50, 100]]), 0.25, (1.0, -2.0), yaw=0.5),
        matrix_to_odometry(np.eye(4), 'odom', 'base_link', twist=np.arange(6.0)),
        disparity_to_msg(np.ones((2, 2), np.float32), 500.0, 0.125, 0.0, 64.0, 0.25, 'cam'),  # float32-exact
        make_transform_stamped(np.eye(4), 'map', 'odom', stamp=3.0),
    ]
    for msg in built:
        again = deserialize_message(serialize_message(msg), type(msg))
        if hasattr(msg, 'fields'):  # NaN != NaN: compare the cloud by content
            np.testing.assert_array_equal(pointcloud2_to_xyz(again, skip_nans=False),
                                          pointcloud2_to_xyz(msg, skip_nans=False))
            assert again.fields == msg.fields and again.is_dense == msg.is_dense
        else:
            assert again == msg, type(msg).__name__
