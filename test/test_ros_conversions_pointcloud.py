"""PointCloud2 conversions against an independent per-point struct oracle.

The property tests build clouds the way a foreign driver might (any field order, gaps,
point_step and row_step padding, either byte order, FLOAT64 coordinates, NaN points),
packing each point with ``struct`` so the oracle shares no code with the library.
"""
from __future__ import annotations

import array
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import PointCloud2, PointField

from mining_rover.ros.conversions import (pointcloud2_to_array, pointcloud2_to_xyz, unpack_rgb,
                                          xyz_to_pointcloud2)

FAST = settings(max_examples=150, deadline=None)
STRUCT_CODE = {PointField.INT8: 'b', PointField.UINT8: 'B', PointField.INT16: 'h',
               PointField.UINT16: 'H', PointField.INT32: 'i', PointField.UINT32: 'I',
               PointField.FLOAT32: 'f', PointField.FLOAT64: 'd'}
NUMPY_DTYPE = {PointField.INT8: np.int8, PointField.UINT8: np.uint8, PointField.INT16: np.int16,
               PointField.UINT16: np.uint16, PointField.INT32: np.int32,
               PointField.UINT32: np.uint32, PointField.FLOAT32: np.float32,
               PointField.FLOAT64: np.float64}


@st.composite
def clouds(draw):
    """(PointCloud2, {field name: (height*width, count) expected values})."""
    xyz_type = draw(st.sampled_from([PointField.FLOAT32, PointField.FLOAT64]))
    specs = [(n, xyz_type, 1) for n in 'xyz']
    for i in range(draw(st.integers(0, 3))):
        specs.append((f'extra{i}', draw(st.sampled_from(sorted(STRUCT_CODE))), draw(st.integers(1, 3))))
    specs = draw(st.permutations(specs))
    fields, offset = [], 0
    for name, datatype, count in specs:
        offset += draw(st.integers(0, 3))  # gaps between fields, as PCL's alignment leaves
        fields.append(PointField(name=name, offset=offset, datatype=datatype, count=count))
        offset += np.dtype(NUMPY_DTYPE[datatype]).itemsize * count
    point_step = offset + draw(st.integers(0, 5))
    height, width = draw(st.integers(1, 3)), draw(st.integers(0, 5))
    row_step = width * point_step + draw(st.integers(0, 7))
    bigendian = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = height * width
    values = {}
    for f in fields:
        dtype = np.dtype(NUMPY_DTYPE[f.datatype])
        if dtype.kind == 'f':
            v = rng.normal(0.0, 50.0, (n, f.count)).astype(dtype)
            v[rng.random((n, f.count)) < 0.15] = np.nan
        else:
            info = np.iinfo(dtype)
            v = rng.integers(info.min, info.max, (n, f.count), dtype=dtype, endpoint=True)
        values[f.name] = v
    data = bytearray(b'\xee' * (height * row_step))  # junk in every padding byte
    endian = '>' if bigendian else '<'
    for i in range(n):
        base = (i // width) * row_step + (i % width) * point_step
        for f in fields:
            code = endian + STRUCT_CODE[f.datatype] * f.count
            struct.pack_into(code, data, base + f.offset, *values[f.name][i].tolist())
    msg = PointCloud2(height=height, width=width, fields=fields, is_bigendian=bigendian,
                      point_step=point_step, row_step=row_step, data=array.array('B', bytes(data)))
    return msg, values


@FAST
@given(clouds())
def test_pointcloud2_to_array_matches_struct_oracle(cloud):
    msg, values = cloud
    out = pointcloud2_to_array(msg)
    assert out.shape == (msg.height * msg.width,)
    assert list(out.dtype.names) == [f.name for f in sorted(msg.fields, key=lambda f: f.offset)]
    for name, expected in values.items():
        got = out[name].reshape(expected.shape)
        assert got.dtype == expected.dtype and got.dtype.isnative
        np.testing.assert_array_equal(got, expected)
    assert not np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@FAST
@given(clouds())
def test_pointcloud2_to_xyz_matches_struct_oracle(cloud):
    msg, values = cloud
    xyz = np.hstack([values[n] for n in 'xyz']).astype(np.float32)
    np.testing.assert_array_equal(pointcloud2_to_xyz(msg, skip_nans=False), xyz)
    kept = pointcloud2_to_xyz(msg)
    np.testing.assert_array_equal(kept, xyz[~np.isnan(xyz).any(axis=1)])
    assert kept.dtype == np.float32 and kept.flags.c_contiguous


@FAST
@given(n=st.integers(0, 40), with_rgb=st.booleans(), with_intensity=st.booleans(),
       nan_fraction=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2**32 - 1))
def test_xyz_to_pointcloud2_round_trip(n, with_rgb, with_intensity, nan_fraction, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(0, 10, (n, 3)).astype(np.float32)
    points[rng.random((n, 3)) < nan_fraction] = np.nan
    rgb = rng.integers(0, 256, (n, 3), dtype=np.uint8) if with_rgb else None
    intensity = rng.random(n).astype(np.float32) if with_intensity else None
    msg = xyz_to_pointcloud2(points, 'left_camera_optical_frame', stamp=1.0, rgb=rgb,
                             intensity=intensity)
    assert (msg.height, msg.width, msg.header.frame_id) == (1, n, 'left_camera_optical_frame')
    assert msg.is_dense == (not np.isnan(points).any())
    assert all(f.datatype == PointField.FLOAT32 and f.count == 1 for f in msg.fields)
    np.testing.assert_array_equal(pointcloud2_to_xyz(msg, skip_nans=False), points)
    arr = pointcloud2_to_array(msg)
    if with_rgb:
        np.testing.assert_array_equal(unpack_rgb(arr['rgb']), rgb)
    if with_intensity:
        np.testing.assert_array_equal(arr['intensity'], intensity)


def test_rgb_packing_follows_ros_convention():
    msg = xyz_to_pointcloud2(np.zeros((1, 3)), 'f', rgb=np.array([[0x12, 0x34, 0x56]], np.uint8))
    rgb_field = next(f for f in msg.fields if f.name == 'rgb')
    (bits,) = struct.unpack_from('<I', bytes(msg.data), rgb_field.offset)
    assert bits == 0x00123456


def test_float64_points_are_narrowed_to_float32():
    msg = xyz_to_pointcloud2(np.array([[1.0, 2.0, 3.0]]), 'base_link')
    assert msg.point_step == 12 and msg.row_step == 12 and len(msg.data) == 12
    np.testing.assert_array_equal(pointcloud2_to_xyz(msg), [[1.0, 2.0, 3.0]])


def _xyz_msg():
    return xyz_to_pointcloud2(np.arange(12, dtype=np.float32).reshape(4, 3), 'f')


def _with(**changes):
    msg = _xyz_msg()
    for k, v in changes.items():
        setattr(msg, k, v)
    return msg


@pytest.mark.parametrize('msg, match', [
    (_with(fields=[PointField(name='x', offset=0, datatype=PointField.UINT8, count=1),
                   PointField(name='y', offset=4, datatype=PointField.FLOAT32, count=1),
                   PointField(name='z', offset=8, datatype=PointField.FLOAT32, count=1)]),
     r"field 'x' has datatype UINT8, expected FLOAT32"),
    (_with(fields=[PointField(name='x', offset=0, datatype=PointField.FLOAT32, count=1)]),
     r"lacks field\(s\) \['y', 'z'\]"),
    (_with(point_step=8, row_step=32), r"point_step 8 is smaller than the fields: 'z' spans bytes 8..12"),
    (_with(data=array.array('B', bytes(40))), r'data has 40 bytes, expected height\*row_step = 48'),
    (_with(row_step=40), r'row_step 40 is smaller than width\*point_step = 48'),
    (_with(fields=[]), r'has no fields'),
    (_with(fields=[PointField(name='x', offset=0, datatype=PointField.FLOAT32, count=1)] * 3),
     r'unique and non-empty'),
    (_with(fields=[PointField(name='x', offset=0, datatype=9, count=1)]), r'unknown datatype 9'),
    (_with(fields=[PointField(name='x', offset=0, datatype=PointField.FLOAT64, count=1),
                   PointField(name='y', offset=4, datatype=PointField.FLOAT32, count=1)]),
     r"'y' at offset 4 overlaps"),
    (_with(fields=[PointField(name='x', offset=0, datatype=PointField.FLOAT32, count=0)]),
     r"'x' has count 0"),
])
def test_bad_clouds_are_rejected(msg, match):
    with pytest.raises(ValueError, match=match):
        pointcloud2_to_xyz(msg)
    if 'lacks' not in match and 'expected FLOAT32' not in match:
        with pytest.raises(ValueError, match=match):
            pointcloud2_to_array(msg)


@pytest.mark.parametrize('kwargs, match', [
    (dict(points=np.zeros((4, 2))), r'points must have shape \(N, 3\), got \(4, 2\)'),
    (dict(points=np.array([['a', 'b', 'c']])), r'points must be numeric'),
    (dict(rgb=np.zeros((3, 3), np.uint8)), r'rgb must have shape \(4, 3\), got \(3, 3\)'),
    (dict(rgb=np.zeros((4, 3), np.float32)), r'rgb must be uint8, got float32'),
    (dict(intensity=np.zeros(5)), r'intensity must be numeric with shape \(4,\)'),
])
def test_xyz_to_pointcloud2_rejects_bad_arrays(kwargs, match):
    args = dict(points=np.zeros((4, 3), np.float32), frame_id='f')
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        xyz_to_pointcloud2(**args)
