"""Faults of the simulated motor controllers, injected by fault plans (runner/faults.py).

Pure Python over a compiled MuJoCo model: the Simulator owns one and calls
``accepts`` for every command and ``after_step`` after every physics step. What each
fault does to the physics, and what the controller reports for it, mirrors the ODrive
0.6 behaviour that drivers/odrive_can.py handles on the rover:

* **command watchdog** (``watchdog_s`` > 0): a velocity joint whose last command is older
  than this is commanded to zero speed, as an ODrive axis with ``enable_watchdog`` disarms
  when its setpoint refresh stops (config/drivers_rover.yaml: 0.2 s on the rover). This is
  what stops a motor whose driver process is gone.
* **motor error** on a joint: the controller drops to IDLE (no torque at all: the wheel
  turns freely), commands are ignored, and it reports an ERROR (a DRV fault) until the
  fault clears.
* **jam** of a joint (a rock wedged in a bucket drum): the joint is held where it is; the
  motor pushes at its current limit against it, which is what the driver sees (slow and
  loaded), so the excavator's stall handling is exercised, not bypassed.
* **bus-off**: the CAN bus between the rover computer and every controller is down:
  commands never arrive (so the watchdog stops the motors) and every controller reports
  the bus error.
* **stuck** (not a controller fault: the ground's): an unseen patch the rover cannot
  cross, as a wheel sunk in loose regolith or a belly on a buried rock. A disc of
  ``STUCK_RADIUS_M`` that the chassis centre cannot enter, put just ahead of it the
  first time it drives forwards once the fault is on (so it lies on the rover's way):
  driving on, the wheels turn and slip while the rover stays; backing off and going
  round works. Every controller stays healthy and
  reports nothing, so only the rover's own sensing can tell (planning/executive/stuck.py).

Times are sim seconds.
"""
from __future__ import annotations

import math

#: sim_node's fault input (std_msgs/String, JSON ``{"kind": ..., "on": bool, ...}``): the
#: simulator side only, not in the sim contract, so no rover node subscribes to it and a
#: fault it injects looks to the rover exactly like the real one.
FAULT_TOPIC = 'sim/fault'
SIM_FAULT_KINDS = ('camera_blackout', 'camera_frozen', 'motor_error', 'jam', 'bus_off', 'clock_jump',
                   'stuck')
#: Radius of the patch a stuck fault puts just ahead of the chassis, m: half the 0.6 m
#: wheelbase (config/rover.yaml), so the front axle sits on its far half.
STUCK_RADIUS_M = 0.3
#: The patch is placed once the chassis drives forwards at least this fast, m/s.
STUCK_ARM_MPS = 0.03

#: The message a controller reports for each fault (the text the driver shows).
MOTOR_ERROR_TEXT = 'motor error: DRV fault (controller in IDLE)'
BUS_OFF_TEXT = 'CAN bus-off: no frames from the controllers'


class MotorFaults:
    """Fault state of the simulated motor controllers of one model.

    ``act``/``vadr``/``qadr``: {joint: actuator id / dof address / qpos address};
    ``kinds``: {joint: 'wheel' | 'drum' | 'arm'}; velocity joints are wheels and drums."""

    def __init__(self, model, data, act: dict, vadr: dict, qadr: dict, kinds: dict,
                 watchdog_s: float = 0.0):
        if not (math.isfinite(watchdog_s) and watchdog_s >= 0.0):
            raise ValueError(f'motor watchdog_s must be >= 0 (0 = off), got {watchdog_s}')
        self.model, self.data = model, data
        self.act, self.vadr, self.qadr, self.kinds = act, vadr, qadr, kinds
        self.watchdog_s = float(watchdog_s)
        self._gain = {n: (float(model.actuator_gainprm[a, 0]), float(model.actuator_biasprm[a, 1]),
                          float(model.actuator_biasprm[a, 2])) for n, a in act.items()}
        self.reset()

    def reset(self):
        for name in list(getattr(self, 'errors', ())):
            self.set_motor_error(name, False)
        self.errors = set()          # joints whose controller is in error (IDLE)
        self.jams = {}               # joint -> held qpos
        self.bus_off = False
        self.stuck = None            # (x, y) centre of the patch the chassis cannot enter,
        self.stuck_armed = False     # ... or, armed, placed when it next drives forwards
        self.stuck_radius_m = STUCK_RADIUS_M
        self._last_cmd = {}          # velocity joint -> sim time of its last accepted command
        self.watchdog_trips = 0

    # -- hooks the Simulator calls ------------------------------------------------------
    def accepts(self, joint: str, now_s: float) -> bool:
        """Whether a command for ``joint`` reaches its controller (and feeds its watchdog)."""
        if self.bus_off or joint in self.errors:
            return False
        if self.kinds[joint] != 'arm':
            self._last_cmd[joint] = now_s
        return True

    def after_step(self, now_s: float):
        d = self.data
        for joint, q in self.jams.items():
            d.qpos[self.qadr[joint]] = q
            d.qvel[self.vadr[joint]] = 0.0
        if self.stuck_armed:
            self._place_patch()
        if self.stuck is not None:
            self._hold_off_patch()
        if self.watchdog_s > 0.0:
            for joint, t in list(self._last_cmd.items()):
                if now_s - t > self.watchdog_s:
                    del self._last_cmd[joint]
                    if d.ctrl[self.act[joint]] != 0.0:
                        d.ctrl[self.act[joint]] = 0.0
                        self.watchdog_trips += 1

    def shift_time(self, jump_s: float):
        """The clock jumped by ``jump_s``: command ages are unchanged by it."""
        self._last_cmd = {j: t + jump_s for j, t in self._last_cmd.items()}

    # -- faults ---------------------------------------------------------------------------
    def set_motor_error(self, joint: str, on: bool):
        """Controller of ``joint`` to IDLE (no torque) or back to closed loop at zero speed."""
        a = self.act[joint]
        m = self.model
        if on:
            self.errors.add(joint)
            m.actuator_gainprm[a, 0] = 0.0
            m.actuator_biasprm[a, 1] = 0.0
            m.actuator_biasprm[a, 2] = 0.0
        else:
            self.errors.discard(joint)
            m.actuator_gainprm[a, 0], m.actuator_biasprm[a, 1], m.actuator_biasprm[a, 2] = self._gain[joint]
        self.data.ctrl[a] = 0.0 if self.kinds[joint] != 'arm' else self.data.qpos[self.qadr[joint]]

    def set_jam(self, joint: str, on: bool):
        if on:
            self.jams[joint] = float(self.data.qpos[self.qadr[joint]])
        else:
            self.jams.pop(joint, None)

    def set_bus_off(self, on: bool):
        self.bus_off = bool(on)

    def _chassis(self) -> tuple:
        """(qpos address, dof address) of the rover's free joint (its chassis)."""
        import mujoco
        m = self.model
        # this rover's root body: up the tree from one of its own joints (a fleet has one
        # free joint per rover)
        addrs = set(int(a) for a in self.qadr.values())
        own = [j for j in range(m.njnt) if int(m.jnt_qposadr[j]) in addrs]
        body = int(m.jnt_bodyid[own[0]]) if own else 0
        while body and int(m.body_parentid[body]) != 0:
            body = int(m.body_parentid[body])
        for j in range(m.njnt):
            if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE and (not own or int(m.jnt_bodyid[j]) == body):
                return int(m.jnt_qposadr[j]), int(m.jnt_dofadr[j])
        raise ValueError('no free joint (chassis) in the model')

    def set_stuck(self, on: bool, radius_m: float = STUCK_RADIUS_M):
        """Arm (or take away) the patch the chassis cannot enter: a disc of ``radius_m``
        put ahead of the chassis, its edge at the chassis centre, the first time the
        chassis drives forwards (``_place_patch``)."""
        self.stuck, self.stuck_armed = None, bool(on)
        self.stuck_radius_m = float(radius_m)
        if on:
            self._chassis_adr = self._chassis()

    def _place_patch(self):
        q, v = self._chassis_adr
        d = self.data
        vx, vy = float(d.qvel[v]), float(d.qvel[v + 1])
        w, qx, qy, qz = (float(c) for c in d.qpos[q + 3:q + 7])
        yaw = math.atan2(2.0 * (w * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        if vx * math.cos(yaw) + vy * math.sin(yaw) < STUCK_ARM_MPS:
            return
        r = self.stuck_radius_m
        self.stuck = (float(d.qpos[q]) + r * math.cos(yaw), float(d.qpos[q + 1]) + r * math.sin(yaw))
        self.stuck_armed = False

    def _hold_off_patch(self):
        """Keep the chassis centre out of the patch: at its edge the rover may only move
        away from it (the sunk wheels' soil holds it: no sliding round the edge either)."""
        q, v = self._chassis_adr
        d = self.data
        cx, cy = self.stuck
        dx, dy = float(d.qpos[q]) - cx, float(d.qpos[q + 1]) - cy
        dist = math.hypot(dx, dy)
        r = self.stuck_radius_m
        if dist > r or dist == 0.0:
            return
        nx, ny = dx / dist, dy / dist
        d.qpos[q], d.qpos[q + 1] = cx + nx * r, cy + ny * r
        outward = float(d.qvel[v]) * nx + float(d.qvel[v + 1]) * ny
        keep = max(0.0, outward)
        d.qvel[v], d.qvel[v + 1] = keep * nx, keep * ny

    def status(self, joint: str) -> str:
        """'' when the controller of ``joint`` is healthy, else what it reports."""
        if self.bus_off:
            return BUS_OFF_TEXT
        if joint in self.errors:
            return MOTOR_ERROR_TEXT
        return ''
