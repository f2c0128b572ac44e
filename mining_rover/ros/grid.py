"""nav_msgs/OccupancyGrid <-> numpy int8 grid.

Layout (nav_msgs/MapMetaData): ``grid[row, col]`` is the cell whose lower-left corner is
at ``origin + (col * resolution, row * resolution)`` in the grid frame rotated by the
origin's yaw, so row 0 is the lowest y and col 0 the lowest x. Values are Nav2 costs:
0..100 (percent occupancy) or -1 (unknown). Units: metres, metres per cell, radians.
"""
from __future__ import annotations

import array
import math

import numpy as np
from geometry_msgs.msg import Point, Pose
from nav_msgs.msg import MapMetaData, OccupancyGrid

from mining_rover.ros.geometry import pose_to_matrix, yaw_from_matrix, yaw_to_quaternion
from mining_rover.ros.stamps import as_stamp, make_header

UNKNOWN = -1
FREE = 0
LETHAL = 100
_FLAT_TOL = 1e-6  # the origin may only rotate about z: |roll|, |pitch| terms below this


def _check_values(grid: np.ndarray) -> None:
    bad = (grid < UNKNOWN) | (grid > LETHAL)
    if np.any(bad):
        values = np.unique(grid[bad])[:5].tolist()
        raise ValueError(f'occupancy values must be -1 or 0..100, found {values} '
                         f'in {int(np.count_nonzero(bad))} cells')


def _check_resolution(resolution: float) -> float:
    r = float(resolution)
    if not math.isfinite(r) or r <= 0.0:
        raise ValueError(f'grid resolution must be finite and > 0 m/cell, got {resolution}')
    return r


def occupancy_grid_to_numpy(msg: OccupancyGrid) -> tuple[np.ndarray, float, tuple, float]:
    """OccupancyGrid -> (grid int8 HxW, resolution m/cell, origin (x, y) m, yaw rad).

    The grid is a copy with row 0 = lowest y. ValueError when the data size does not
    match width*height, a value is outside -1..100, or the origin is tilted (roll/pitch).
    """
    info = msg.info
    resolution = _check_resolution(info.resolution)
    expected = info.width * info.height
    if len(msg.data) != expected:
        raise ValueError(f'OccupancyGrid data has {len(msg.data)} cells, expected width*height = '
                         f'{expected} (width {info.width}, height {info.height})')
    grid = np.frombuffer(msg.data, dtype=np.int8).reshape(info.height, info.width).copy()
    _check_values(grid)
    T = pose_to_matrix(info.origin)
    if abs(T[2, 2] - 1.0) > _FLAT_TOL:
        raise ValueError(f'OccupancyGrid origin must rotate about z only, got R[2,2] = {T[2, 2]:.6g}')
    return grid, resolution, (float(T[0, 3]), float(T[1, 3])), yaw_from_matrix(T)


def numpy_to_occupancy_grid(grid: np.ndarray, resolution: float, origin_xy, frame_id: str = 'map',
                            stamp=None, yaw: float = 0.0) -> OccupancyGrid:
    """int HxW grid (row 0 = lowest y; values -1 or 0..100) -> OccupancyGrid.

    ``origin_xy`` is the (x, y) in metres of the lower-left corner of cell (0, 0) in
    ``frame_id``; ``yaw`` (rad) rotates the grid about that corner.
    """
    arr = np.asarray(grid)
    if arr.ndim != 2:
        raise ValueError(f'occupancy grid must be 2-D, got shape {arr.shape}')
    if arr.dtype.kind not in 'iu':
        raise ValueError(f'occupancy grid must have an integer dtype, got {arr.dtype}')
    _check_values(arr)
    resolution = _check_resolution(resolution)
    origin = np.asarray(origin_xy, dtype=np.float64)
    if origin.shape != (2,) or not np.all(np.isfinite(origin)):
        raise ValueError(f'grid origin_xy must be 2 finite values (x, y) in metres, got {origin_xy!r}')
    ox, oy = (float(v) for v in origin)
    header = make_header(frame_id, stamp)
    info = MapMetaData(map_load_time=as_stamp(stamp), resolution=resolution,
                       width=arr.shape[1], height=arr.shape[0],
                       origin=Pose(position=Point(x=ox, y=oy, z=0.0),
                                   orientation=yaw_to_quaternion(float(yaw))))
    msg = OccupancyGrid(header=header, info=info)
    data = array.array('b')
    data.frombytes(np.ascontiguousarray(arr, dtype=np.int8).reshape(-1))
    msg.data = data
    return msg
