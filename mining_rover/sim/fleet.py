"""The rovers of one simulated world: names, start poses, side-by-side placement and
which rovers' geoms collide (pure Python: no MuJoCo, no rclpy, so launch files and the
stack table may use it).

A world holds one rover (``RoverSpec()``: MuJoCo names exactly as in the URDF, what the
simulator always did) or a fleet, each rover named like a ROS namespace ('r1',
'fleet/r1'); the simulator prefixes each fleet rover's MuJoCo names with its name and
sim_node publishes its topics under that namespace (sim/rover.py, nodes/sim_node.py).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Lateral distance between neighbouring rovers of a fleet placed by ``fleet_specs``, m.
#: A rover turning in place sweeps a circle of ~1.15 m radius (config/rover.yaml: arm
#: pivot 0.45 + arm 0.45 + drum radius 0.16 m ahead of the centre, 0.41 m to the wheel
#: edge), so two neighbours turning at their start poses stay clear with room to spare.
FLEET_SPACING_M = 4.0

_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


@dataclass(frozen=True)
class RoverSpec:
    """A rover of the world: ``name`` ('' = the one unprefixed rover; else a ROS-namespace-
    like name, 'r1' or 'fleet/r1', that prefixes its MuJoCo names) and its start pose
    (x m, y m, yaw rad in map; None = the world's start pose)."""
    name: str = ''
    start_xy_yaw: tuple | None = None

    @property
    def prefix(self) -> str:
        """What its MuJoCo names start with: 'r1/' or ''."""
        return f'{self.name}/' if self.name else ''


def check_rovers(rovers) -> list:
    """``rovers`` (RoverSpecs or names) as a list of RoverSpec; ValueError naming the bad
    entry: an empty list, a repeated or malformed name, an unnamed rover in a fleet, or
    a start pose that is not three finite numbers."""
    out = [r if isinstance(r, RoverSpec) else RoverSpec(str(r)) for r in rovers]
    if not out:
        raise ValueError('rovers: the world needs at least one rover')
    names = [r.name for r in out]
    for r in out:
        if r.name and not _NAME.match(r.name):
            raise ValueError(f"rovers: {r.name!r} is not a rover name (tokens of letters, digits and '_', "
                             "not starting with a digit, separated by '/')")
        if r.name == '' and len(out) > 1:
            raise ValueError(f'rovers: an unnamed rover must be alone; got {names}')
        if names.count(r.name) > 1:
            raise ValueError(f'rovers: {r.name!r} appears twice in {names}')
        if r.start_xy_yaw is not None and (len(r.start_xy_yaw) != 3
                                           or not all(math.isfinite(float(v)) for v in r.start_xy_yaw)):
            raise ValueError(f'rovers: start pose of {r.name!r} must be (x, y, yaw), got {r.start_xy_yaw!r}')
    return out


#: How far a fleet rover's start keeps from the berm zone's edge and from the fiducial
#: boards, m: a rover turning in place sweeps ~1.15 m round its centre (FLEET_SPACING_M).
START_CLEARANCE_M = 1.2


def fleet_specs(names, start_xy_yaw, spacing_m: float = FLEET_SPACING_M, keep_clear=()) -> list:
    """RoverSpecs for ``names`` side by side: the first at ``start_xy_yaw`` (x, y, yaw),
    each next one ``spacing_m`` further to the left of that heading, same heading; to the
    right instead where a start on the left would come within START_CLEARANCE_M of one of
    the ``keep_clear`` discs (x, y, radius m: the berm zone, the fiducial boards) and the
    right is clear (``world_keep_clear``)."""
    x, y, yaw = (float(v) for v in start_xy_yaw)
    names = list(names)

    def row(side):
        lx, ly = -side * math.sin(yaw), side * math.cos(yaw)
        return [(x + i * spacing_m * lx, y + i * spacing_m * ly, yaw) for i in range(len(names))]

    def clear(poses):
        return all(math.hypot(px - cx, py - cy) >= r + START_CLEARANCE_M
                   for px, py, _ in poses[1:] for cx, cy, r in keep_clear)

    left = row(1.0)
    poses = left if clear(left) or not clear(row(-1.0)) else row(-1.0)
    return [RoverSpec(n, p) for n, p in zip(names, poses)]


def world_keep_clear(spec) -> tuple:
    """The discs (x, y, radius m) fleet rovers must not start on in world ``spec`` (a
    sim.world.WorldSpec): its berm zone and its fiducial boards (half a board wide)."""
    from mining_rover.sim.fiducials import load_fiducials
    bx, by, br = spec.zones.berm_zone
    discs = [(float(bx), float(by), float(br))]
    boards = load_fiducials(spec.sdf_path)
    if boards is not None:
        discs += [(b.x, b.y, b.board_size_m / 2) for b in boards.boards]
    return tuple(discs)


def collision_bits(index: int, count: int) -> tuple:
    """(contype, conaffinity) of rover ``index``'s collision geoms in a world of ``count``:
    every rover collides with the terrain (contype 1 / conaffinity 2); in a fleet each
    also has its own bit 4 << index and takes the other rovers' bits, so rovers collide
    with each other but never with themselves. One rover: (2, 1), as always."""
    if count == 1:
        return 2, 1
    if count > 29:
        raise ValueError(f'rovers: at most 29 rovers share a world (MuJoCo has 32 contact bits), got {count}')
    others = sum(4 << j for j in range(count) if j != index)
    return 2 | (4 << index), 1 | others
