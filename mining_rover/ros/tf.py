"""Optional tf2: broadcast TF where tf2_ros is installed, do nothing (once logged) elsewhere.

tf2_ros is not on PyPI (ARCHITECTURE.md), so on a bare machine nodes still call
``make_tf_broadcaster(node).send(...)`` and the call is a no-op; on a ROS 2 machine the
same call publishes /tf (or latched /tf_static) so rviz sees the frames.
"""
from __future__ import annotations

import importlib

from geometry_msgs.msg import TransformStamped

from mining_rover.ros.geometry import matrix_to_transform
from mining_rover.ros.stamps import make_header


def _import_tf2_ros():
    """The tf2_ros module, or None where it is not installed."""
    try:
        return importlib.import_module('tf2_ros')
    except ImportError:
        return None


def tf_available() -> bool:
    """True when tf2_ros imports (a ROS 2 machine), False on a pip-only machine."""
    return _import_tf2_ros() is not None


def make_transform_stamped(T, parent: str, child: str, stamp=None) -> TransformStamped:
    """4x4 rigid T_parent_child (metres) -> geometry_msgs/TransformStamped parent -> child."""
    for role, name in (('parent', parent), ('child', child)):
        if not isinstance(name, str) or not name:
            raise ValueError(f'TransformStamped {role} frame must be a non-empty str, got {name!r}')
    if parent == child:
        raise ValueError(f'TransformStamped parent and child frames are both {parent!r}')
    return TransformStamped(header=make_header(parent, stamp), child_frame_id=child,
                            transform=matrix_to_transform(T))


def _as_list(transforms) -> list:
    items = [transforms] if isinstance(transforms, TransformStamped) else list(transforms)
    for t in items:
        if not isinstance(t, TransformStamped):
            raise ValueError(f'expected geometry_msgs/TransformStamped, got {type(t).__name__}')
    return items


class TfBroadcaster:
    """Sends TransformStamped messages through tf2_ros (dynamic or static)."""

    available = True

    def __init__(self, node, static: bool, tf2_ros):
        cls = tf2_ros.StaticTransformBroadcaster if static else tf2_ros.TransformBroadcaster
        self._broadcaster = cls(node)
        self.static = static

    def send(self, transforms) -> None:
        """Broadcast one TransformStamped or a sequence of them."""
        self._broadcaster.sendTransform(_as_list(transforms))


class NullTfBroadcaster:
    """Stands in for a tf2 broadcaster where tf2_ros is absent: logs once, sends nothing."""

    available = False

    def __init__(self, node, static: bool):
        self._logger = node.get_logger()
        self.static = static
        self._logged = False
        self.dropped = 0  # how many transforms were not sent, for tests and diagnostics

    def send(self, transforms) -> None:
        items = _as_list(transforms)
        self.dropped += len(items)
        if not self._logged:
            frames = ', '.join(f'{t.header.frame_id}->{t.child_frame_id}' for t in items)
            self._logger.info(f'tf2_ros is not installed: not broadcasting TF ({frames}); '
                              'nodes take extrinsics from robot_description instead')
            self._logged = True


def make_tf_broadcaster(node, static: bool = False):
    """A broadcaster with ``send(transforms)``: tf2_ros's (/tf, or /tf_static when
    ``static``) where tf2_ros imports, else a no-op that logs once through the node."""
    tf2_ros = _import_tf2_ros()
    if tf2_ros is None:
        return NullTfBroadcaster(node, static)
    return TfBroadcaster(node, static, tf2_ros)
