"""sensor_msgs/Image and stereo_msgs/DisparityImage <-> numpy, without cv_bridge.

Arrays are HxW (one channel) or HxWxC, C-contiguous, in native byte order, and always a
copy: they never alias ``msg.data``. Pixel (row 0, col 0) is the first pixel of the
message (top-left for a camera image, the lowest-y cell for a map layer; see grid.py).
Encodings follow sensor_msgs/image_encodings.hpp.
"""
from __future__ import annotations

import array
import sys

import numpy as np
from sensor_msgs.msg import Image
from stereo_msgs.msg import DisparityImage

from mining_rover.ros.stamps import make_header

#: encoding -> (numpy base dtype, channels), per sensor_msgs/image_encodings.hpp
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    'mono8': (np.dtype(np.uint8), 1),
    'mono16': (np.dtype(np.uint16), 1),
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4),
    'bgra8': (np.dtype(np.uint8), 4),
    '8UC1': (np.dtype(np.uint8), 1),
    '8UC3': (np.dtype(np.uint8), 3),
    '8UC4': (np.dtype(np.uint8), 4),
    '16UC1': (np.dtype(np.uint16), 1),
    '16SC1': (np.dtype(np.int16), 1),
    '32SC1': (np.dtype(np.int32), 1),
    '32FC1': (np.dtype(np.float32), 1),
    '32FC3': (np.dtype(np.float32), 3),
    '64FC1': (np.dtype(np.float64), 1),
}

_NATIVE_IS_BIGENDIAN = sys.byteorder == 'big'


def encoding_info(encoding: str) -> tuple[np.dtype, int]:
    """(numpy dtype, channels) of a ROS image encoding; ValueError for unknown ones."""
    try:
        return ENCODINGS[encoding]
    except (KeyError, TypeError):
        raise ValueError(f'unknown encoding {encoding!r}; known: {", ".join(ENCODINGS)}') from None


def _check_geometry(msg: Image, bytes_per_pixel: int) -> None:
    row_bytes = msg.width * bytes_per_pixel
    if msg.step < row_bytes:
        raise ValueError(f'Image step {msg.step} is smaller than width*bytes_per_pixel = {row_bytes} '
                         f'(width {msg.width}, encoding {msg.encoding!r})')
    expected = msg.height * msg.step
    if len(msg.data) != expected:
        raise ValueError(f'Image data has {len(msg.data)} bytes, expected height*step = {expected} '
                         f'(height {msg.height}, step {msg.step})')


def image_to_numpy(msg: Image) -> np.ndarray:
    """sensor_msgs/Image -> HxW or HxWxC array (copy, native byte order).

    Honours ``step`` padding (rows longer than width*bytes_per_pixel) and
    ``is_bigendian``. Raises ValueError on an unknown encoding or inconsistent sizes.
    """
    dtype, channels = encoding_info(msg.encoding)
    bpp = dtype.itemsize * channels
    _check_geometry(msg, bpp)
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    rows = raw.reshape(msg.height, msg.step)[:, :msg.width * bpp]
    wire = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    # ascontiguousarray drops the step padding; astype then byteswaps and copies.
    pixels = np.ascontiguousarray(rows).view(wire).astype(dtype, copy=True)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape)


def _check_array_for_encoding(array_in: np.ndarray, encoding: str) -> np.ndarray:
    dtype, channels = encoding_info(encoding)
    arr = np.asarray(array_in)
    if arr.dtype.kind != dtype.kind or arr.dtype.itemsize != dtype.itemsize:
        raise ValueError(f'array dtype {arr.dtype} does not match encoding {encoding!r} '
                         f'(expects {dtype})')
    ok_shape = (arr.ndim == 2 and channels == 1) or (arr.ndim == 3 and arr.shape[2] == channels)
    if not ok_shape:
        want = 'HxW or HxWx1' if channels == 1 else f'HxWx{channels}'
        raise ValueError(f'array shape {arr.shape} does not fit encoding {encoding!r} (expects {want})')
    return np.ascontiguousarray(arr, dtype=dtype)  # native byte order


def numpy_to_image(array_in: np.ndarray, encoding: str, frame_id: str = '', stamp=None) -> Image:
    """HxW or HxWxC array -> sensor_msgs/Image (unpadded rows, native byte order).

    The array's dtype must match the encoding (uint8 for rgb8, float32 for 32FC1, ...);
    nothing is cast silently.
    """
    arr = _check_array_for_encoding(array_in, encoding)
    height, width = arr.shape[:2]
    msg = Image(header=make_header(frame_id, stamp), height=height, width=width,
                encoding=encoding, is_bigendian=int(_NATIVE_IS_BIGENDIAN),
                step=width * arr.dtype.itemsize * (arr.shape[2] if arr.ndim == 3 else 1))
    data = array.array('B')
    data.frombytes(arr.reshape(-1).view(np.uint8))
    msg.data = data
    return msg


def float_grid_to_image(grid: np.ndarray, frame_id: str, stamp=None) -> Image:
    """HxW float grid (a map layer, metres or m^2; NaN = unknown) -> 32FC1 Image.

    float64 input is narrowed to float32. Row 0 is the lowest-y row of the grid, as in
    nav_msgs/OccupancyGrid (see grid.py).
    """
    arr = np.asarray(grid)
    if arr.ndim != 2 or arr.dtype.kind != 'f':
        raise ValueError(f'float grid must be a 2-D float array, got shape {arr.shape} dtype {arr.dtype}')
    return numpy_to_image(arr.astype(np.float32, copy=False), '32FC1', frame_id, stamp)


def image_to_float_grid(msg: Image) -> np.ndarray:
    """32FC1 Image -> HxW float32 grid (NaN preserved)."""
    if msg.encoding != '32FC1':
        raise ValueError(f'float grid image must have encoding 32FC1, got {msg.encoding!r}')
    return image_to_numpy(msg)


def disparity_to_msg(disparity: np.ndarray, f: float, T: float, min_disparity: float,
                     max_disparity: float, delta_d: float, frame_id: str,
                     stamp=None) -> DisparityImage:
    """HxW float32 disparity (pixels, left rectified optical frame) -> DisparityImage.

    ``f`` is the focal length in pixels, ``T`` the baseline in metres (depth = f*T/d),
    ``delta_d`` the smallest disparity step in pixels. Invalid pixels keep whatever the
    caller marks them with (NaN, or a value below ``min_disparity``).
    """
    values = {'f': f, 'T': T, 'min_disparity': min_disparity, 'max_disparity': max_disparity,
              'delta_d': delta_d}
    values = {k: float(v) for k, v in values.items()}
    for name in ('f', 'T', 'delta_d'):
        if not np.isfinite(values[name]) or values[name] <= 0.0:
            raise ValueError(f'disparity {name} must be finite and > 0, got {values[name]}')
    if not (np.isfinite(min_disparity) and np.isfinite(max_disparity)
            and values['min_disparity'] < values['max_disparity']):
        raise ValueError(f'disparity range must be finite with min < max, got '
                         f'min {values["min_disparity"]}, max {values["max_disparity"]}')
    arr = np.asarray(disparity)
    if arr.ndim != 2 or arr.dtype != np.float32:
        raise ValueError(f'disparity must be a 2-D float32 array, got shape {arr.shape} dtype {arr.dtype}')
    image = numpy_to_image(arr, '32FC1', frame_id, stamp)
    return DisparityImage(header=image.header, image=image, f=values['f'], t=values['T'],
                          min_disparity=values['min_disparity'],
                          max_disparity=values['max_disparity'], delta_d=values['delta_d'])


def msg_to_disparity(msg: DisparityImage) -> tuple[np.ndarray, dict]:
    """DisparityImage -> (HxW float32 disparity in pixels, {f, T, min_disparity,
    max_disparity, delta_d}) with f in pixels and T (baseline) in metres."""
    if msg.image.encoding != '32FC1':
        raise ValueError(f'DisparityImage.image must be 32FC1, got {msg.image.encoding!r}')
    params = {'f': float(msg.f), 'T': float(msg.t), 'min_disparity': float(msg.min_disparity),
              'max_disparity': float(msg.max_disparity), 'delta_d': float(msg.delta_d)}
    return image_to_numpy(msg.image), params
