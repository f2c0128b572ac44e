"""ROS 2 message definitions as MCAP ``ros2msg`` schema text.

The definition of ``pkg/msg/Type`` is its .msg file followed by the definition of every
type it uses (transitively), each after a line of 80 '=' and a ``MSG: pkg/Type`` header:
the format ``ros2 bag`` writes and Foxglove and mcap_ros2 read. The .msg files come with
the message packages: ``<prefix>/share/<pkg>/msg/<Type>.msg`` for every prefix on
``AMENT_PREFIX_PATH`` (a ROS install) and the Python prefix (the ``ros-jazzy-*`` wheels).
A few types the recorder writes itself but that have no wheel on PyPI (``tf2_msgs``)
carry their .msg text here (``EMBEDDED``), used only where no installed file is found.
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

SEPARATOR = '=' * 80

#: ROS 2 built-in field types (no .msg file).
_PRIMITIVES = frozenset({
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16',
    'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring',
})


#: .msg texts of types the recorder writes although their package may be absent (tf2_msgs
#: is not on PyPI: ARCHITECTURE.md). Verbatim field lines of the upstream .msg files
#: (ros2/geometry2 tf2_msgs/msg/TFMessage.msg); their dependencies resolve as usual.
EMBEDDED = {
    'tf2_msgs/msg/TFMessage': 'geometry_msgs/TransformStamped[] transforms\n',
}


def share_prefixes() -> list[Path]:
    """Directories that may hold ``<pkg>/msg/*.msg``, most specific first."""
    prefixes = [Path(p) / 'share' for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes += [Path(sys.prefix) / 'share', Path(sys.base_prefix) / 'share']
    seen, out = set(), []
    for p in prefixes:
        if p not in seen and p.is_dir():
            seen.add(p)
            out.append(p)
    return out


def normalise(datatype: str) -> str:
    """'sensor_msgs/msg/Image' or 'sensor_msgs/Image' -> 'sensor_msgs/msg/Image'."""
    parts = datatype.split('/')
    if len(parts) == 2:
        return f'{parts[0]}/msg/{parts[1]}'
    if len(parts) == 3:
        return datatype
    raise ValueError(f'not a ROS 2 message type name: {datatype!r}')


@lru_cache(maxsize=None)
def msg_file(datatype: str) -> Path:
    """Path of the .msg file of a type; FileNotFoundError names the places tried."""
    pkg, kind, name = normalise(datatype).split('/')
    tried = []
    for share in share_prefixes():
        path = share / pkg / kind / f'{name}.msg'
        if path.is_file():
            return path
        tried.append(str(path))
    raise FileNotFoundError(f'no .msg definition for {datatype}; tried: {", ".join(tried)}')


def msg_text(datatype: str) -> str:
    """The .msg text of a type: the installed file, else the embedded copy (``EMBEDDED``);
    FileNotFoundError (naming the places tried) when neither exists."""
    try:
        return msg_file(datatype).read_text()
    except FileNotFoundError:
        embedded = EMBEDDED.get(normalise(datatype))
        if embedded is None:
            raise
        return embedded


def _dependencies(pkg: str, text: str) -> list[str]:
    """Types ('pkg/msg/Type') that the fields of a .msg text use, in order of use."""
    deps = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        base = re.sub(r'\[.*\]$', '', line.split()[0])  # arrays: T[], T[3], T[<=3]
        base = re.sub(r'<=\d+$', '', base)              # bounded strings: string<=10
        if base in _PRIMITIVES:  # constants are always of a primitive type
            continue
        full = normalise(base if '/' in base else f'{pkg}/{base}')
        if full not in deps:
            deps.append(full)
    return deps


@lru_cache(maxsize=None)
def definition(datatype: str) -> str:
    """The full ros2msg schema text of a type, its dependencies appended once each."""
    root = normalise(datatype)
    text = msg_text(root)
    order, stack, seen = [], list(reversed(_dependencies(root.split('/')[0], text))), {root}
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        order.append(dep)
        dep_text = msg_text(dep)
        stack.extend(reversed(_dependencies(dep.split('/')[0], dep_text)))
    parts = [text.rstrip('\n')]
    for dep in order:
        pkg, _kind, name = dep.split('/')
        parts.append(f'{SEPARATOR}\nMSG: {pkg}/{name}\n{msg_text(dep).rstrip()}')
    return '\n'.join(parts) + '\n'
