"""builtin_interfaces/Time <-> float seconds, and std_msgs/Header construction.

Every conversion in ``mining_rover.ros`` takes ``stamp=None`` and accepts a
builtin_interfaces/Time, an ``rclpy.time.Time`` (anything with ``to_msg()``) or float
seconds; ``None`` gives time zero (the node passes the real stamp of its input).
"""
from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from std_msgs.msg import Header

_NS_PER_S = 1_000_000_000
_INT32_MAX = 2**31 - 1


def seconds_to_stamp(t: float) -> Time:
    """Float seconds (>= 0, finite, below 2**31 s) -> builtin_interfaces/Time.

    The nanoseconds are rounded from the fractional part alone, so a stamp of the epoch
    seconds of today (about 1.7e9 s) keeps sub-microsecond precision.
    """
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ValueError(f'stamp seconds must be a number, got {t!r}') from None
    if not math.isfinite(t) or t < 0.0:
        raise ValueError(f'stamp seconds must be finite and >= 0, got {t}')
    sec = math.floor(t)
    nanosec = int(round((t - sec) * _NS_PER_S))
    if nanosec >= _NS_PER_S:
        sec, nanosec = sec + 1, nanosec - _NS_PER_S
    if sec > _INT32_MAX:
        raise ValueError(f'stamp seconds {t} overflow builtin_interfaces/Time.sec (int32)')
    return Time(sec=int(sec), nanosec=nanosec)


def stamp_to_seconds(stamp) -> float:
    """builtin_interfaces/Time (or anything with ``sec`` and ``nanosec``) -> float seconds."""
    try:
        return float(stamp.sec) + float(stamp.nanosec) * 1e-9
    except AttributeError:
        raise ValueError(f'expected a builtin_interfaces/Time, got {type(stamp).__name__}') from None


def as_stamp(stamp) -> Time:
    """Normalise the ``stamp`` argument of every conversion to a builtin_interfaces/Time."""
    if stamp is None:
        return Time()
    if isinstance(stamp, Time):
        return stamp
    if hasattr(stamp, 'to_msg'):
        return stamp.to_msg()
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return seconds_to_stamp(stamp)
    raise ValueError(f'stamp must be None, builtin_interfaces/Time, rclpy Time or seconds, '
                     f'got {type(stamp).__name__}')


def make_header(frame_id: str, stamp=None) -> Header:
    """std_msgs/Header with the given frame (REP-105 name) and stamp (see ``as_stamp``)."""
    if not isinstance(frame_id, str):
        raise ValueError(f'frame_id must be a str, got {type(frame_id).__name__}')
    return Header(frame_id=frame_id, stamp=as_stamp(stamp))
