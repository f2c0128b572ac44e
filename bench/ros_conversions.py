"""Benchmark: message <-> numpy conversions against a naive per-point struct loop.

The baseline is what ROS 1's point_cloud2.py did: one ``struct.unpack_from`` (read) or
``struct.pack_into`` (write) per point, in Python. It runs on the first SUBSET points of
the same cloud, in the same run, and its time is scaled linearly to the full cloud (a
per-point loop is linear in N). Times are the median of several repetitions.
"""
from __future__ import annotations

import statistics
import struct
import time

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.ros.conversions import (image_to_numpy, numpy_to_image, pointcloud2_to_array,
                                          pointcloud2_to_xyz, xyz_to_pointcloud2)

NAME = 'ros_conversions'
DESCRIPTION = ('PointCloud2 (300k xyz float32 points, 5% NaN) <-> numpy and 640x480 rgb8 Image '
               'round trip; baseline: per-point struct loop in Python on a 30k-point subset '
               '(10k with --quick) of the same cloud, scaled linearly to 300k')

N_POINTS = 300_000
SUBSET = 30_000
SUBSET_QUICK = 10_000


def _median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _naive_read(msg, count: int) -> list:
    """Per-point unpack of x, y, z (offsets 0, 4, 8), skipping NaN points."""
    data, step, fmt = bytes(msg.data), msg.point_step, '<fff' if not msg.is_bigendian else '>fff'
    out = []
    for i in range(count):
        p = struct.unpack_from(fmt, data, i * step)
        if p[0] == p[0] and p[1] == p[1] and p[2] == p[2]:  # NaN != NaN
            out.append(p)
    return out


def _naive_write(points: np.ndarray) -> bytearray:
    """Per-point pack of x, y, z into a 12-byte-per-point buffer."""
    buf = bytearray(12 * len(points))
    for i, (x, y, z) in enumerate(points.tolist()):
        struct.pack_into('<fff', buf, 12 * i, x, y, z)
    return buf


def run(quick: bool = False) -> dict:
    rng = np.random.default_rng(0)
    points = rng.uniform(-20.0, 20.0, (N_POINTS, 3)).astype(np.float32)
    points[rng.random(N_POINTS) < 0.05, 2] = np.nan  # stereo clouds carry invalid pixels
    reps = 3 if quick else 7
    subset = SUBSET_QUICK if quick else SUBSET
    scale = N_POINTS / subset

    msg = xyz_to_pointcloud2(points, 'left_camera_optical_frame')
    to_numpy_ms = _median_ms(lambda: pointcloud2_to_xyz(msg), reps)
    to_array_ms = _median_ms(lambda: pointcloud2_to_array(msg), reps)
    from_numpy_ms = _median_ms(lambda: xyz_to_pointcloud2(points, 'left_camera_optical_frame'), reps)
    naive_read_ms = scale * _median_ms(lambda: _naive_read(msg, subset), max(1, reps // 2))
    naive_write_ms = scale * _median_ms(lambda: _naive_write(points[:subset]), max(1, reps // 2))

    # The fast path must agree with the baseline where both ran.
    fast = pointcloud2_to_xyz(msg)
    slow = np.array(_naive_read(msg, subset), dtype=np.float32)
    if not np.array_equal(fast[:len(slow)], slow):
        raise AssertionError('pointcloud2_to_xyz disagrees with the per-point baseline')

    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    image_ms = _median_ms(lambda: image_to_numpy(numpy_to_image(image, 'rgb8', 'cam')), reps * 3)

    return {
        'cloud_to_numpy_ms': metric(to_numpy_ms, 'ms', ''),
        'cloud_to_numpy_naive_ms': metric(naive_read_ms, 'ms', ''),
        'cloud_to_numpy_speedup': metric(naive_read_ms / to_numpy_ms, 'x', '>= 10'),
        'cloud_from_numpy_ms': metric(from_numpy_ms, 'ms', ''),
        'cloud_from_numpy_naive_ms': metric(naive_write_ms, 'ms', ''),
        'cloud_from_numpy_speedup': metric(naive_write_ms / from_numpy_ms, 'x', '>= 10'),
        'cloud_to_structured_array_ms': metric(to_array_ms, 'ms', ''),
        'image_640x480_rgb8_round_trip_ms': metric(image_ms, 'ms', ''),
    }
