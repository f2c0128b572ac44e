"""One rover of the embedded simulator's world: its names in the MuJoCo model, its ids
and its state (pure Python: mujoco + numpy, no rclpy).

A world holds one rover (``RoverSpec()``, MuJoCo names exactly as in the URDF: what
the simulator always did) or a fleet, each rover attached to the world with its name as
prefix (``r1/base_link``, ``r1/front_drum_joint``, ``r1/left_camera_optical_frame``,
``r1/accel``), so several coexist in one model. Per-rover state is keyed by the sim
contract's (unprefixed) joint names, so every rover answers to the same commands.

``Rover`` holds what sim.simulator.Simulator used to hold for its one rover: the ids
of its joints, actuators, drums, cameras, IMU and hazard-counted bodies, and its
commands, carried regolith, telemetry, hold-down, motor temperatures, motor faults and
noise generator. The simulator's physics and sensor methods act on its *active* rover
(``ROVER_STATE`` below are forwarded to it); ``RoverView`` is the per-rover API a
caller holds (``Simulator.rover_view('r1')``).
"""
from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass

import mujoco
import numpy as np

#: Lateral distance between neighbouring rovers of a fleet placed by ``fleet_specs``, m:
#: two chassis widths of config/rover.yaml (~1 m track with wheels), so their wheels
#: and drums never touch at the start.
FLEET_SPACING_M = 4.0

#: Bodies whose entry into a crater or onto a rock counts as a hazard contact.
HAZARD_BODIES = ('chassis', 'front_left_wheel', 'front_right_wheel', 'rear_left_wheel', 'rear_right_wheel')

#: The Simulator's attributes that are the active rover's (see Simulator).
ROVER_STATE = ('_act', '_jnt', '_qadr', '_vadr', '_drums', '_drum_body', '_drum_arm', '_drum_mass0',
               '_cam_ids', '_cam_body', '_imu_body', '_hazard_bodies', '_accel_adr', '_gyro_adr',
               '_base_id', '_chassis_id', '_cmd', '_carried', '_tel', '_holddown_cmd', '_in_hazard',
               '_temp_k', '_cut_load', '_cut_state', '_rng', 'motor_faults')

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


def fleet_specs(names, start_xy_yaw, spacing_m: float = FLEET_SPACING_M) -> list:
    """RoverSpecs for ``names`` side by side: the first at ``start_xy_yaw`` (x, y, yaw),
    each next one ``spacing_m`` further to the left of that heading, same heading."""
    x, y, yaw = (float(v) for v in start_xy_yaw)
    lx, ly = -math.sin(yaw), math.cos(yaw)
    return [RoverSpec(n, (x + i * spacing_m * lx, y + i * spacing_m * ly, yaw)) for i, n in enumerate(names)]


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


class Rover:
    """One rover's ids in the compiled model (names ``spec.prefix + <URDF name>``) and its
    state; Simulator.reset() fills the state."""

    def __init__(self, spec: RoverSpec, index: int, model, contract, seed: int):
        self.spec, self.index = spec, index
        self.name = spec.name
        m, p = model, spec.prefix

        def find(kind, name):
            i = mujoco.mj_name2id(m, kind, p + name)
            if i < 0:
                raise ValueError(f'rover {self.name!r}: no {kind.name} {p + name!r} in the model')
            return i

        body, joint = mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_JOINT
        self._base_id = find(body, 'base_link')
        self._chassis_id = find(body, 'chassis')
        free = find(joint, 'base_free')
        self.free_qadr, self.free_vadr = int(m.jnt_qposadr[free]), int(m.jnt_dofadr[free])
        joints = contract.joints
        self._act = {j.name: find(mujoco.mjtObj.mjOBJ_ACTUATOR, j.name) for j in joints}
        self._jnt = {j.name: find(joint, j.name) for j in joints}
        self._qadr = {n: m.jnt_qposadr[i] for n, i in self._jnt.items()}
        self._vadr = {n: m.jnt_dofadr[i] for n, i in self._jnt.items()}
        self._drums = [j.name for j in joints if j.kind == 'drum']
        self._drum_body = {n: m.jnt_bodyid[self._jnt[n]] for n in self._drums}
        self._drum_arm = {n: n.replace('_drum_joint', '_arm_joint') for n in self._drums}
        self._drum_mass0 = {n: float(m.body_mass[b]) for n, b in self._drum_body.items()}
        cams = (('left', contract.left), ('right', contract.right))
        self._cam_ids = {s: find(mujoco.mjtObj.mjOBJ_CAMERA, c.frame) for s, c in cams}
        self._cam_body = {s: find(body, c.frame) for s, c in cams}
        self._imu_body = find(body, contract.frames['imu'])
        self._hazard_bodies = [find(body, b) for b in HAZARD_BODIES]
        sensor = mujoco.mjtObj.mjOBJ_SENSOR
        self._accel_adr = m.sensor_adr[find(sensor, 'accel')]
        self._gyro_adr = m.sensor_adr[find(sensor, 'gyro')]
        #: every body of this rover (its tree under base_link), for its mass
        self.bodies = np.flatnonzero(m.body_rootid == self._base_id)
        #: the one rover draws from the simulator's seed as it always did; a fleet's
        #: rovers each from their own stream of it
        self.rng_seed = int(seed) if spec.prefix == '' else [int(seed), index]
        self.motor_faults = None      # set by the Simulator once the model has its data


class RoverView:
    """The simulator's per-rover API for one rover of its world: each call runs with that
    rover active (``Simulator.acting``). Same methods and units as the Simulator's."""

    def __init__(self, sim, name: str):
        self._sim, self.name = sim, name

    @property
    def motor_faults(self):
        return self._sim._rover_named(self.name).motor_faults

    def _call(self, method: str, *args):
        with self._sim.acting(self.name):
            return getattr(self._sim, method)(*args)

    def set_command(self, joint: str, value: float):
        return self._call('set_command', joint, value)

    def set_holddown(self, thrust_n: float):
        return self._call('set_holddown', thrust_n)

    def set_base_state(self, pos=None, lin_vel=None, yaw=None):
        with self._sim.acting(self.name):
            return self._sim.set_base_state(pos=pos, lin_vel=lin_vel, yaw=yaw)

    def joint_state(self) -> dict:
        return self._call('joint_state')

    def imu(self) -> dict:
        return self._call('imu')

    def ground_truth_pose(self) -> np.ndarray:
        return self._call('ground_truth_pose')

    def ground_truth_twist(self) -> np.ndarray:
        return self._call('ground_truth_twist')

    def regolith_telemetry(self) -> dict:
        return self._call('regolith_telemetry')

    def motor_state(self) -> dict:
        return self._call('motor_state')

    def drum_loads(self) -> dict:
        return self._call('drum_loads')

    def camera_intrinsics(self) -> dict:
        return self._call('camera_intrinsics')

    def camera_pose(self, side: str) -> np.ndarray:
        return self._call('camera_pose', side)

    def render_stereo(self) -> tuple:
        return self._call('render_stereo')


class ActiveRover:
    """Mixin of sim.simulator.Simulator: ``ROVER_STATE`` attributes read and write the
    active rover's (``self._active``), so the physics code written for one rover runs
    for each rover of the world in turn."""

    def _rover_named(self, name: str) -> Rover:
        for r in self._fleet:
            if r.name == name:
                return r
        raise KeyError(f'no rover {name!r} in this world; rovers: {self.rover_names}')

    @property
    def rover_names(self) -> list:
        """The world's rovers, in the order they were given."""
        return [r.name for r in self._fleet]

    def rover_view(self, name: str) -> RoverView:
        """The per-rover API of rover ``name`` (KeyError listing the rovers if unknown)."""
        self._rover_named(name)
        return RoverView(self, name)

    @contextmanager
    def acting(self, name: str):
        """Run the block with rover ``name`` active (restores the previous one after)."""
        before = self._active
        self._active = self._rover_named(name)
        try:
            yield self._active
        finally:
            self._active = before


def _forward(name):
    return property(lambda self: getattr(self._active, name),
                    lambda self, value: setattr(self._active, name, value),
                    doc=f"The active rover's {name} (sim/rover.py).")


for _attr in ROVER_STATE:
    setattr(ActiveRover, _attr, _forward(_attr))
