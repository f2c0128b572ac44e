"""One rover of the embedded simulator's world: its names in the MuJoCo model, its ids
and its state (pure Python: mujoco + numpy, no rclpy).

A world holds one rover (``RoverSpec()``, MuJoCo names exactly as in the URDF: what
the simulator always did) or a fleet, each rover attached to the world with its name as
prefix (``r1/base_link``, ``r1/front_drum_joint``, ``r1/left_camera_optical_frame``,
``r1/accel``), so several coexist in one model. Per-rover state is keyed by the sim
contract's (unprefixed) joint names, so every rover answers to the same commands.

The rover list itself (names, start poses, placement, contact bits) is sim/fleet.py.
``Rover`` holds what sim.simulator.Simulator used to hold for its one rover: the ids
of its joints, actuators, drums, cameras, IMU and hazard-counted bodies, and its
commands, carried regolith, telemetry, hold-down, motor temperatures, motor faults and
noise generator. The simulator's physics and sensor methods act on its *active* rover
(``ROVER_STATE`` below are forwarded to it); ``RoverView`` is the per-rover API a
caller holds (``Simulator.rover_view('r1')``).
"""
from __future__ import annotations

from contextlib import contextmanager

import mujoco
import numpy as np

from mining_rover.sim.fleet import RoverSpec

#: Bodies whose entry into a crater or onto a rock counts as a hazard contact.
HAZARD_BODIES = ('chassis', 'front_left_wheel', 'front_right_wheel', 'rear_left_wheel', 'rear_right_wheel')

#: The Simulator's attributes that are the active rover's (see Simulator).
ROVER_STATE = ('_act', '_jnt', '_qadr', '_vadr', '_drums', '_drum_body', '_drum_arm', '_drum_mass0',
               '_cam_ids', '_cam_body', '_imu_body', '_hazard_bodies', '_accel_adr', '_gyro_adr',
               '_base_id', '_chassis_id', '_cmd', '_carried', '_tel', '_holddown_cmd', '_in_hazard',
               '_temp_k', '_cut_load', '_cut_state', '_pass_feed', '_rng', 'motor_faults')



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

    def drum_cuts(self) -> dict:
        return self._call('drum_cuts')

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
