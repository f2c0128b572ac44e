"""sensor_msgs/PointCloud2 <-> numpy, vectorised (np.frombuffer + structured dtypes).

A PointCloud2 is ``height`` rows of ``width`` points; each point is ``point_step`` bytes
holding the named fields at their offsets; each row is ``row_step`` bytes (it may be
padded past width*point_step). Points are in ``header.frame_id`` (metres). NaN marks an
invalid point; ``is_dense`` is true when there is none.
"""
from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from mining_rover.ros.stamps import make_header

#: PointField datatype -> numpy base dtype (sensor_msgs/PointField constants)
DATATYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8), PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16), PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32), PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32), PointField.FLOAT64: np.dtype(np.float64),
}
DATATYPE_NAMES = {PointField.INT8: 'INT8', PointField.UINT8: 'UINT8', PointField.INT16: 'INT16',
                  PointField.UINT16: 'UINT16', PointField.INT32: 'INT32', PointField.UINT32: 'UINT32',
                  PointField.FLOAT32: 'FLOAT32', PointField.FLOAT64: 'FLOAT64'}
_XYZ = ('x', 'y', 'z')


def _datatype_name(datatype: int) -> str:
    return DATATYPE_NAMES.get(datatype, f'unknown({datatype})')


def _field_dtype(field: PointField) -> np.dtype:
    try:
        return DATATYPES[field.datatype]
    except KeyError:
        raise ValueError(f"PointField '{field.name}' has unknown datatype {field.datatype}") from None


def _check_fields(msg: PointCloud2) -> list:
    """Validate the field layout against point_step; return fields sorted by offset."""
    if not msg.fields:
        raise ValueError('PointCloud2 has no fields')
    names = [f.name for f in msg.fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or '' in names:
        raise ValueError(f'PointCloud2 field names must be unique and non-empty, got {names}')
    fields = sorted(msg.fields, key=lambda f: f.offset)
    end = 0
    for f in fields:
        if f.count < 1:
            raise ValueError(f"PointCloud2 field '{f.name}' has count {f.count}, expected >= 1")
        size = _field_dtype(f).itemsize * f.count
        if f.offset < end:
            raise ValueError(f"PointCloud2 field '{f.name}' at offset {f.offset} overlaps the "
                             f'previous field (which ends at byte {end})')
        end = f.offset + size
        if end > msg.point_step:
            raise ValueError(f'PointCloud2 point_step {msg.point_step} is smaller than the fields: '
                             f"'{f.name}' spans bytes {f.offset}..{end}")
    return fields


def _check_sizes(msg: PointCloud2) -> None:
    row_bytes = msg.width * msg.point_step
    if msg.row_step < row_bytes:
        raise ValueError(f'PointCloud2 row_step {msg.row_step} is smaller than width*point_step = '
                         f'{row_bytes} (width {msg.width}, point_step {msg.point_step})')
    expected = msg.height * msg.row_step
    if len(msg.data) != expected:
        raise ValueError(f'PointCloud2 data has {len(msg.data)} bytes, expected height*row_step = '
                         f'{expected} (height {msg.height}, row_step {msg.row_step})')


def _point_bytes(msg: PointCloud2) -> np.ndarray:
    """The points' bytes as one contiguous uint8 buffer (row padding removed; no copy
    unless rows are padded)."""
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    row_bytes = msg.width * msg.point_step
    if msg.row_step == row_bytes:
        return raw
    return np.ascontiguousarray(raw.reshape(msg.height, msg.row_step)[:, :row_bytes]).reshape(-1)


def _wire_dtype(fields: list, point_step: int, bigendian: bool) -> np.dtype:
    order = '>' if bigendian else '<'
    formats = [(_field_dtype(f).newbyteorder(order), (f.count,)) if f.count > 1
               else _field_dtype(f).newbyteorder(order) for f in fields]
    return np.dtype({'names': [f.name for f in fields], 'formats': formats,
                     'offsets': [f.offset for f in fields], 'itemsize': point_step})


def pointcloud2_to_array(msg: PointCloud2) -> np.ndarray:
    """PointCloud2 -> flat (height*width,) structured array with every field.

    The result is packed (no padding bytes), fields in offset order, native byte order,
    a copy of the message data; a field with count > 1 becomes a sub-array of that length.
    Reshape with (msg.height, msg.width) for an organised cloud.
    """
    fields = _check_fields(msg)
    _check_sizes(msg)
    n = msg.width * msg.height
    wire = _wire_dtype(fields, msg.point_step, bool(msg.is_bigendian))
    points = _point_bytes(msg)[:n * msg.point_step].view(wire)
    out_dtype = np.dtype([(f.name, _field_dtype(f), (f.count,)) if f.count > 1
                          else (f.name, _field_dtype(f)) for f in fields])
    out = np.empty(n, dtype=out_dtype)
    for f in fields:
        out[f.name] = points[f.name]  # per-field strided copy; byteswaps when needed
    return out


def _xyz_fields(msg: PointCloud2) -> list:
    by_name = {f.name: f for f in msg.fields}
    missing = [n for n in _XYZ if n not in by_name]
    if missing:
        raise ValueError(f'PointCloud2 lacks field(s) {missing}; has {[f.name for f in msg.fields]}')
    xyz = [by_name[n] for n in _XYZ]
    for f in xyz:
        if f.datatype not in (PointField.FLOAT32, PointField.FLOAT64):
            raise ValueError(f"PointCloud2 field '{f.name}' has datatype {_datatype_name(f.datatype)}, "
                             f'expected FLOAT32 (or FLOAT64)')
        if f.count != 1:
            raise ValueError(f"PointCloud2 field '{f.name}' has count {f.count}, expected 1")
    return xyz


def pointcloud2_to_xyz(msg: PointCloud2, skip_nans: bool = True) -> np.ndarray:
    """PointCloud2 -> (N, 3) float32 x, y, z in metres (header.frame_id), a copy.

    With ``skip_nans`` the points with a NaN coordinate are dropped (N <= height*width);
    otherwise N = height*width in row-major order.
    """
    _check_fields(msg)
    x, y, z = _xyz_fields(msg)
    _check_sizes(msg)
    n = msg.width * msg.height
    buf = _point_bytes(msg)
    order = '>' if msg.is_bigendian else '<'
    same = x.datatype == y.datatype == z.datatype
    item = DATATYPES[x.datatype].itemsize
    if same and y.offset == x.offset + item and z.offset == x.offset + 2 * item:
        # x, y, z adjacent (the usual layout): one strided (N, 3) view, one copy.
        view = np.ndarray((n, 3), dtype=DATATYPES[x.datatype].newbyteorder(order), buffer=buf,
                          offset=x.offset if n else 0, strides=(msg.point_step, item))
        out = view.astype(np.float32)
    else:
        points = buf[:n * msg.point_step].view(_wire_dtype([x, y, z], msg.point_step, msg.is_bigendian))
        out = np.empty((n, 3), dtype=np.float32)
        for i, name in enumerate(_XYZ):
            out[:, i] = points[name]
    if skip_nans:
        nan = np.isnan(out)
        if nan.any():
            # np.compress on rows is several times faster than 2-D boolean indexing.
            out = np.compress(~(nan[:, 0] | nan[:, 1] | nan[:, 2]), out, axis=0)
    return out


def _pack_rgb(rgb: np.ndarray, n: int) -> np.ndarray:
    """(N, 3) uint8 colours -> (N,) float32 holding 0x00RRGGBB bit-for-bit (the ROS/PCL 'rgb')."""
    c = np.asarray(rgb)
    if c.shape != (n, 3):
        raise ValueError(f'rgb must have shape ({n}, 3), got {c.shape}')
    if c.dtype != np.uint8:
        raise ValueError(f'rgb must be uint8, got {c.dtype}')
    c = c.astype(np.uint32)
    return ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).view(np.float32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """(N,) float32 'rgb' field values -> (N, 3) uint8 (inverse of the packing above)."""
    bits = np.ascontiguousarray(packed, dtype=np.float32).view(np.uint32)
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF], axis=-1).astype(np.uint8)


def xyz_to_pointcloud2(points: np.ndarray, frame_id: str, stamp=None, rgb=None,
                       intensity=None) -> PointCloud2:
    """(N, 3) points in metres (frame_id) -> unorganised PointCloud2 (height 1).

    Fields, all FLOAT32, little-endian on little-endian hosts: x, y, z at 0, 4, 8; then
    'rgb' (colour packed as 0x00RRGGBB in the float's bits, the ROS/PCL convention) if
    ``rgb`` (N, 3) uint8 is given; then 'intensity' if ``intensity`` (N,) is given.
    ``is_dense`` is true when no coordinate is NaN or infinite.
    """
    p = np.asarray(points)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f'points must have shape (N, 3), got {p.shape}')
    if p.dtype.kind not in 'fiu':
        raise ValueError(f'points must be numeric, got dtype {p.dtype}')
    n = p.shape[0]
    columns = [p.astype(np.float32, copy=False)]
    names = list(_XYZ)
    if rgb is not None:
        columns.append(_pack_rgb(rgb, n)[:, None])
        names.append('rgb')
    if intensity is not None:
        inten = np.asarray(intensity)
        if inten.shape != (n,) or inten.dtype.kind not in 'fiu':
            raise ValueError(f'intensity must be numeric with shape ({n},), got {inten.shape} {inten.dtype}')
        columns.append(inten.astype(np.float32)[:, None])
        names.append('intensity')
    block = columns[0] if len(columns) == 1 else np.concatenate(columns, axis=1)
    block = np.ascontiguousarray(block, dtype=np.float32)
    point_step = 4 * len(names)
    msg = PointCloud2(header=make_header(frame_id, stamp), height=1, width=n,
                      is_bigendian=np.little_endian is False, point_step=point_step,
                      row_step=point_step * n, is_dense=bool(np.all(np.isfinite(block[:, :3]))))
    msg.fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, name in enumerate(names)]
    data = array.array('B')
    data.frombytes(block.reshape(-1).view(np.uint8))
    msg.data = data
    return msg
