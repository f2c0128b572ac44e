"""The embedded MuJoCo simulator: the rover (urdf/rover.urdf.xacro) on a world's terrain.

Pure Python (mujoco + numpy, no rclpy); sim_node wraps it in the sim contract. Physics:
MuJoCo rigid bodies on a heightfield with the world's gravity; regolith excavation and
dumping are modelled on the heightfield (mass-conserving bookkeeping: excavated =
carried + dumped + spilled), the soil's load on each engaged bucket from the shared
bucket-drum physics (mining_rover/physics/) with the world's true soil
(physics/world_soil.py) and applied to the drum bodies; motors have a lumped thermal model;
hold-down thrusters (control/holddown.py) push the chassis down and book their propellant.

Frames: the world frame is ``map``; ``ground_truth_pose()`` is map -> base_link.

Rovers: one by default (MuJoCo names as in the URDF), or a fleet in one world
(``rovers=['r1', 'r2']`` or RoverSpecs with start poses: sim/fleet.py), each attached with
its name as prefix; per-rover ids and state live in sim/rover.py's Rover, the methods
below act on the active rover (the first; ``rover_view(name)`` / ``acting(name)`` pick another)
and ``step`` runs the regolith, hold-down, hazard and motor updates for each rover.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

from mining_rover.contract import load_contract
from mining_rover.control.holddown import HoldDown
from mining_rover.description import expand_xacro, parse_urdf
from mining_rover.paths import rover_config
from mining_rover.physics.drum import MIN_CUT_RADPS, DrumGeometry, PassFeed, bucket_loads
from mining_rover.physics.soil import layer_mass_per_area
from mining_rover.physics.world_soil import soil_for
from mining_rover.sim.fiducial_bodies import FiducialBoardsMixin
from mining_rover.sim.motor_faults import MotorFaults
from mining_rover.sim.motor_thermal import CHASSIS_K, MotorThermalMixin
from mining_rover.sim.holddown_thrust import HoldDownMixin
from mining_rover.sim.fleet import RoverSpec, check_rovers, collision_bits, fleet_specs, world_keep_clear
from mining_rover.sim.rover import ActiveRover, Rover
from mining_rover.sim.rover_sensors import RoverSensorsMixin
from mining_rover.sim.stereo_camera import StereoCameraMixin
from mining_rover.sim.hazard_contacts import HazardContacts
from mining_rover.sim.hazard_truth import grid_height_at
from mining_rover.sim.terrain_tiles import TerrainTilesMixin, regolith_texture
from mining_rover.sim.world import WorldSpec, bilinear, load_world

#: Angle of repose of lunar regolith ~35-45 deg (Carrier et al., Lunar Sourcebook 1991, ch. 9.1.7).
ANGLE_OF_REPOSE_DEG = 35.0
#: Thinner cuts (m) are numerical slivers of a trench wall, not soil failing at a face.
CUT_EPS_M = 1e-5
DUMP_RATE_KG_S = 5.0           # drum discharge rate while reversing
#: A drum turning slower than this (rad/s) takes nothing in: it passes through the terrain
#: (drums do not collide); slower, the rocking rover's idle drums would swallow the ground.
DIG_MIN_RADPS = max(0.5, MIN_CUT_RADPS)
#: Arm angle (rad, + lowers) above which a reversed drum's discharge is a dump (the mission
#: dumps at -0.6, config/drivers_sim.yaml dump_arm_rad); lower, it spills where it is.
DISCHARGE_ARM_RAD = -0.3
DIG_EVERY = 10                 # regolith update every N physics steps
KV = {'wheel': 30.0, 'drum': 15.0}
#: Compliant wheel-regolith contact (MuJoCo solimp: dmin, dmax, width m, midpoint, power).
#: Impedance rises from 0 to 0.95 over the first 1 cm of penetration, standing in for wheel
#: sinkage in loose regolith (Apollo 15 LRV tracks were ~1.25 cm deep: Costes et al., "Mobility
#: performance of the Lunar Roving Vehicle", NASA TR R-401, 1973). Rigid contacts (MuJoCo's
#: default dmin 0.9 over 1 mm) made the wheels chatter in low gravity while skidding: in
#: contact 16 % of the time, turning in place at 13 % of the kinematic rate instead of the
#: ~55 % that Coulomb friction predicts for this footprint. This one turns at 51-53 %.
SOIL_SOLIMP = [0.0, 0.95, 0.01, 0.5, 2.0]
KP_ARM, KV_ARM = 600.0, 40.0


def _yaw_quat_wxyz(yaw: float) -> list:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


class Simulator(ActiveRover, RoverSensorsMixin, HoldDownMixin, MotorThermalMixin, StereoCameraMixin,
                TerrainTilesMixin, FiducialBoardsMixin):
    """See module docstring. Commands: wheels/drums velocity rad/s, arms position rad."""

    def __init__(self, world: str | WorldSpec = 'moon_south_pole', seed: int = 0, camera_width: int = 640,
                 camera_height: int = 480, radiation_rate: float = 0.0, timestep: float = 0.002,
                 flat: bool = False, motor_watchdog_s: float = 0.0, rovers=None):
        self.world = world if isinstance(world, WorldSpec) else load_world(world)
        specs = check_rovers([RoverSpec()] if rovers is None else rovers)
        # a rover without a start pose stands where fleet_specs puts the i-th of a fleet
        side_by_side = fleet_specs(range(len(specs)), self.world.zones.start_xy_yaw,
                                   keep_clear=world_keep_clear(self.world))
        self._starts = [tuple(float(v) for v in (r.start_xy_yaw or side_by_side[i].start_xy_yaw))
                        for i, r in enumerate(specs)]
        if not (timestep > 0 and math.isfinite(timestep)):
            raise ValueError(f'timestep must be > 0, got {timestep}')
        if not (camera_width >= 16 and camera_height >= 16):
            raise ValueError(f'camera size {camera_width}x{camera_height} too small')
        if not (radiation_rate >= 0 and math.isfinite(radiation_rate)):
            raise ValueError(f'radiation_rate must be >= 0, got {radiation_rate}')
        self.seed = int(seed)
        self.flat = bool(flat)
        self.radiation_rate = float(radiation_rate)
        self.width, self.height = int(camera_width), int(camera_height)
        self.contract = load_contract()
        self.rover = rover_config()
        self.holddown = HoldDown.from_rover(self.rover)
        drum = self.rover['drum']
        self._drum_geom = DrumGeometry(float(drum['radius']), float(drum['length']))
        self._urdf = expand_xacro()
        self.robot = parse_urdf(self._urdf)
        self._init_heights = (np.zeros_like(self.world.heights) if self.flat
                              else self.world.heights.astype(np.float64).copy())
        self._build(timestep, specs)
        self._fleet = [Rover(r, i, self.model, self.contract, self.seed) for i, r in enumerate(specs)]
        for r in self._fleet:
            r.motor_faults = MotorFaults(self.model, self.data, r._act, r._vadr, r._qadr,
                                         self.joint_kind, motor_watchdog_s)
            terrain = grid_height_at(self._init_heights, *self.world.origin_xy, self.world.resolution_m)
            r._in_hazard = HazardContacts(self.world.hazards.craters, self.world.hazards.rocks, terrain)
        self._active = self._fleet[0]
        self._renderer = None
        self.reset()

    # -- model -------------------------------------------------------------------------
    def _build(self, timestep, specs):
        """Compile the world: one rover is the URDF's model itself (as always); a fleet is
        an empty model with each rover attached under its name."""
        if len(specs) == 1 and specs[0].prefix == '':
            spec = self._rover_spec(self._starts[0], collision_bits(0, 1))
        else:
            spec = mujoco.MjSpec()
            for i, r in enumerate(specs):
                rover = self._rover_spec(self._starts[i], collision_bits(i, len(specs)))
                if i == 0:
                    # the URDF's compiler settings (inertia balancing, no static fusing)
                    # apply when the fleet's model compiles
                    spec.compiler = rover.compiler
                spec.attach(rover, prefix=r.prefix, frame=spec.worldbody.add_frame())
        self._add_world(spec, timestep)
        self.spec = spec
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._hfield_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_HFIELD, 'terrain')
        if self._tiled:
            self._bind_terrain_tiles()

    def _rover_spec(self, start_xy_yaw, contact_bits) -> mujoco.MjSpec:
        """The rover (urdf/rover.urdf.xacro) as a MuJoCo spec at its start pose: a free
        base, collision classes, IMU sensors, cameras at the optical frames and one
        actuator per contract joint; sets ``joint_kind`` and ``limits``."""
        urdf = self._urdf.replace(
            '<link name="base_link"/>',
            '<mujoco><compiler discardvisual="false" fusestatic="false" balanceinertia="true"/></mujoco>'
            '<link name="base_link"/>', 1)
        if '<mujoco>' not in urdf:
            raise ValueError('URDF has no <link name="base_link"/> to attach the simulator to')
        spec = mujoco.MjSpec.from_string(urdf)
        base = spec.body('base_link')
        base.add_freejoint(name='base_free')
        base.mass, base.inertia, base.explicitinertial = 0.05, [1e-4] * 3, True
        x, y, yaw = start_xy_yaw
        base.pos = [x, y, 0.0]
        base.quat = _yaw_quat_wxyz(yaw)
        # robot geoms collide with the terrain only (contype 2 / conaffinity 1; in a fleet
        # with the other rovers too: rover.collision_bits); drums cut through the terrain
        # (digging is modelled on the heightfield) and do not collide.
        for g in spec.geoms:
            if g.contype or g.conaffinity:
                body = g.parent.name
                if body.endswith('_drum'):
                    g.contype, g.conaffinity = 0, 0
                else:
                    g.contype, g.conaffinity = contact_bits
                    g.friction = [0.8, 0.01, 0.001]
                    g.solimp = SOIL_SOLIMP
                g.group = 3           # collision geoms hidden in renders
        imu = spec.body(self.contract.frames['imu'])
        imu.add_site(name='imu_site')
        spec.add_sensor(name='accel', type=mujoco.mjtSensor.mjSENS_ACCELEROMETER,
                        objtype=mujoco.mjtObj.mjOBJ_SITE, objname='imu_site')
        spec.add_sensor(name='gyro', type=mujoco.mjtSensor.mjSENS_GYRO,
                        objtype=mujoco.mjtObj.mjOBJ_SITE, objname='imu_site')
        # cameras at the optical frames (MuJoCo cameras look along -z with y up)
        fovy = math.degrees(2 * math.atan(math.tan(self.contract.camera_hfov_rad / 2)
                                          * self.height / self.width))
        for cam in (self.contract.left, self.contract.right):
            spec.body(cam.frame).add_camera(name=cam.frame, quat=[0.0, 1.0, 0.0, 0.0], fovy=fovy)

        # actuators
        self.joint_kind = {j.name: j.kind for j in self.contract.joints}
        self.limits = {}
        for j in self.contract.joints:
            uj = self.robot.joints[j.name]
            eff = float(uj.effort)
            a = spec.add_actuator(name=j.name, target=j.name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            if j.command == 'velocity':
                a.set_to_velocity(kv=KV[j.kind])
                vmax = float(uj.velocity)
                self.limits[j.name] = (-vmax, vmax)
            else:
                a.set_to_position(kp=KP_ARM, kv=KV_ARM)
                self.limits[j.name] = (float(uj.lower), float(uj.upper))
            a.forcelimited, a.forcerange = True, [-eff, eff]
        return spec

    def _add_world(self, spec, timestep):
        """Physics options, rendering, the terrain height field and the sun."""
        w = self.world
        spec.option.timestep = timestep
        spec.option.gravity = np.asarray(w.gravity, dtype=float)
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.density = float(w.atmosphere_density_kgpm3)
        spec.visual.global_.offwidth = max(self.width, 640)
        spec.visual.global_.offheight = max(self.height, 480)
        spec.visual.quality.shadowsize = 4096
        spec.visual.map.shadowscale = 0.3
        spec.visual.map.zfar = 60.0
        amb = 0.0 if w.vacuum else 0.25
        spec.visual.headlight.ambient = [amb] * 3
        spec.visual.headlight.diffuse = [0.0 if w.vacuum else 0.2] * 3
        spec.visual.headlight.specular = [0.0] * 3
        spec.visual.headlight.active = 0 if w.vacuum else 1

        # terrain
        H, W = self._init_heights.shape
        z0, z1 = self._z_range()
        sx, sy = w.size_xy
        hf = spec.add_hfield(name='terrain', nrow=H, ncol=W, size=[sx / 2, sy / 2, z1 - z0, 0.5])
        hf.userdata = np.clip((self._init_heights - z0) / (z1 - z0), 0.0, 1.0).ravel().tolist()
        tex = spec.add_texture(name='regolith_tex', type=mujoco.mjtTexture.mjTEXTURE_2D,
                               width=256, height=256, nchannel=3)
        tex.data = regolith_texture(256).tobytes()
        spec.add_material(name='regolith_mat', textures=['', 'regolith_tex'], texuniform=True,
                          texrepeat=[0.5, 0.5], rgba=[1, 1, 1, 1], specular=0.05, shininess=0.0)
        terrain = spec.worldbody.add_geom(name='terrain', type=mujoco.mjtGeom.mjGEOM_HFIELD,
                                          hfieldname='terrain',
                                pos=[sx / 2 + w.origin_xy[0], sy / 2 + w.origin_xy[1], z0],
                                material='regolith_mat', contype=1, conaffinity=2,
                                friction=[0.8, 0.01, 0.001], solimp=SOIL_SOLIMP, group=2)
        # a large site: the cameras draw it in tiles (sim/terrain_tiles.py), not whole
        self._tiled = (H - 1) > 256 and (H - 1) % 64 == 0 and (W - 1) % 64 == 0
        if self._tiled:
            terrain.group = 3
            self._add_terrain_tiles(spec, 'regolith_mat', z0, z1)
        d = np.asarray(w.sun_direction, dtype=float)
        # camera auto-exposure: a low sun lights flat ground by sin(elevation) only
        gain = float(np.clip(0.7 / max(-d[2], 1e-3), 1.0, 8.0))
        spec.worldbody.add_light(name='sun', type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, dir=d,
                                 pos=-d * 30.0, castshadow=True, diffuse=[gain, gain, 0.95 * gain],
                                 ambient=[0.0 if w.vacuum else 0.15] * 3, specular=[0.1] * 3)
        self._add_fiducial_boards(spec)

    def _z_range(self):
        h = self._init_heights
        z0 = float(min(self.world.z_range[0], h.min())) - 0.5   # room to dig
        z1 = float(max(self.world.z_range[1], h.max())) + 0.5   # room for berms
        return z0, z1

    # -- state -------------------------------------------------------------------------
    def reset(self):
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        self.heights = self._init_heights.copy()
        self._upload_heights_to_model()
        self._terrain_dirty = True
        self._steps = 0
        for rover, start in zip(self._fleet, self._starts):
            with self.acting(rover.name):
                self._reset_rover(start)
        mujoco.mj_forward(m, d)

    def _reset_rover(self, start_xy_yaw):
        """The active rover at rest at its start pose (x, y m, yaw rad), its state cleared."""
        m, d = self.model, self.data
        x, y, yaw = start_xy_yaw
        ground = max(self.true_height(x + dx, y + dy) for dx in (-0.3, 0.0, 0.3) for dy in (-0.35, 0.0, 0.35))
        wheel_r = float(self.rover['wheel']['radius'])
        q = self._active.free_qadr
        d.qpos[q:q + 3] = [x, y, ground + wheel_r + 0.005]   # settles at once even in microgravity
        d.qpos[q + 3:q + 7] = _yaw_quat_wxyz(yaw)
        self._cmd = {n: 0.0 for n in self._act}
        for n in self._act:
            d.ctrl[self._act[n]] = 0.0
        for n, b in self._drum_body.items():
            m.body_mass[b] = self._drum_mass0[n]
        self._rng = np.random.default_rng(self._active.rng_seed)
        self._carried = {n: 0.0 for n in self._drums}
        self._tel = dict(excavated_kg=0.0, carried_kg=0.0, dumped_kg=0.0, spilled_kg=0.0, berm_mass_kg=0.0,
                         berm_volume_m3=0.0, hazard_contacts=0, holddown_n=0.0, propellant_used_kg=0.0,
                         cutting_energy_j=0.0, nonfinite_loads=0)
        self._holddown_cmd = 0.0
        self._in_hazard.reset()
        self._temp_k = {n: CHASSIS_K for n in self._act}
        self._cut_load = {n: (0.0, 0.0, 0.0) for n in self._drums}
        self._cut_state = {n: None for n in self._drums}
        self._pass_feed = {n: PassFeed(self._drum_geom.bucket_rows) for n in self._drums}
        self.motor_faults.reset()

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def dt(self) -> float:
        return float(self.model.opt.timestep)

    def set_contacts(self, enabled: bool):
        """Enable/disable all contacts (ballistic tests)."""
        if enabled:
            self.model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        else:
            self.model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)

    def set_base_state(self, pos=None, lin_vel=None, yaw=None):
        """Teleport the (active) rover's base (tests, benchmarks): world position, linear
        velocity, heading."""
        q, v = self._active.free_qadr, self._active.free_vadr
        if pos is not None:
            self.data.qpos[q:q + 3] = pos
        if yaw is not None:
            self.data.qpos[q + 3:q + 7] = _yaw_quat_wxyz(float(yaw))
        if lin_vel is not None:
            self.data.qvel[v:v + 3] = lin_vel
        mujoco.mj_forward(self.model, self.data)

    def set_command(self, joint: str, value: float):
        if joint not in self._act:
            raise KeyError(f'unknown joint {joint!r}; joints: {list(self._act)}')
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f'{joint}: command {value!r} is not a number') from None
        if not math.isfinite(v):
            raise ValueError(f'{joint}: command {v} is not finite; holding {self._cmd[joint]}')
        lo, hi = self.limits[joint]
        if v < lo - 1e-9 or v > hi + 1e-9:
            raise ValueError(f'{joint}: command {v} outside [{lo}, {hi}]; holding {self._cmd[joint]}')
        if not self.motor_faults.accepts(joint, self.time):
            return   # the controller is in error or the bus is off: the command is lost
        self._cmd[joint] = v
        self.data.ctrl[self._act[joint]] = v

    def step(self, n: int = 1):
        """``n`` physics steps; every DIG_EVERY steps each rover's regolith, hold-down and
        hazard updates (the forces they apply stand until the next update), after every
        step each rover's motor temperatures and controller faults."""
        m, d = self.model, self.data
        active = self._active
        try:
            for _ in range(int(n)):
                mujoco.mj_step(m, d)
                self._steps += 1
                if self._steps % DIG_EVERY == 0:
                    d.xfrc_applied[:] = 0.0
                    for rover in self._fleet:
                        self._active = rover
                        self._regolith(DIG_EVERY * m.opt.timestep)
                        self._holddown(DIG_EVERY * m.opt.timestep)
                        self._hazards()
                for rover in self._fleet:
                    self._active = rover
                    self._thermal(m.opt.timestep)
                    self.motor_faults.after_step(d.time)
        finally:
            self._active = active

    # -- regolith ------------------------------------------------------------------------
    def _cells(self, cx, cy, r):
        w = self.world
        res = w.resolution_m
        H, W = self.heights.shape
        c0 = max(0, int(math.floor((cx - r - w.origin_xy[0]) / res)))
        c1 = min(W - 1, int(math.ceil((cx + r - w.origin_xy[0]) / res)))
        r0 = max(0, int(math.floor((cy - r - w.origin_xy[1]) / res)))
        r1 = min(H - 1, int(math.ceil((cy + r - w.origin_xy[1]) / res)))
        if c1 < c0 or r1 < r0:
            return None
        rows, cols = np.mgrid[r0:r1 + 1, c0:c1 + 1]
        return rows, cols, w.origin_xy[0] + cols * res, w.origin_xy[1] + rows * res

    def _regolith(self, dt):
        """Digging and dumping of the active rover's drums, every DIG_EVERY physics steps
        (module docstring); step() clears the applied forces before the rovers' updates."""
        m, d = self.model, self.data
        cap_m3 = float(self.rover['drum']['capacity_m3'])
        for n in self._drums:
            b = self._drum_body[n]
            omega = float(d.qvel[self._vadr[n]])
            self._cut_load[n] = (0.0, 0.0, 0.0)
            self._cut_state[n] = None
            if omega >= DIG_MIN_RADPS:
                self._dig(n, b, omega, cap_m3, dt)
            else:
                self._pass_feed[n].clear()
            if omega < -0.5 and self._carried[n] > 0.0:
                # Reversed, the drum discharges through its scoops (RASSOR dumps this way):
                # raised past the discharge angle it is a dump, lower it spills where it is.
                p = d.xpos[b]
                dm = min(self._carried[n], DUMP_RATE_KG_S * dt)
                self._carried[n] -= dm
                arm = float(d.qpos[self._qadr[self._drum_arm[n]]])
                self._deposit(p[0], p[1], dm, spilled=arm > DISCHARGE_ARM_RAD)
            m.body_mass[b] = self._drum_mass0[n] + self._carried[n]
        self._tel['carried_kg'] = sum(self._carried.values())

    def _dig(self, n, b, omega, cap_m3, dt):
        """Drum n digging: take the terrain inside its circle into the drum (mass from swept
        volume and the world's density profile; over capacity it spills) and apply the soil's
        load on its buckets (physics/drum.py: the world's true soil at the face, chips from the
        axle's displacement over the last bucket pitch, PassFeed) to the drum body: MuJoCo
        passes it through the arm to the chassis and wheels, the drum motor reacts the torque."""
        d, w = self.data, self.world
        moved = self._pass_feed[n].update(float(d.qpos[self._qadr[n]]), d.xpos[b])
        res2 = w.resolution_m ** 2
        rad, length = self._drum_geom.radius_m, self._drum_geom.length_m
        p = d.xpos[b].copy()
        axis = d.xmat[b].reshape(3, 3)[:, 1]
        cells = self._cells(p[0], p[1], 0.5 * length + rad)
        if cells is None:
            return
        rows, cols, X, Y = cells
        rel = np.stack([X - p[0], Y - p[1]], axis=-1)
        ah = axis[:2] / (np.linalg.norm(axis[:2]) or 1.0)
        s = rel @ ah                                 # along the drum axis
        t = rel @ np.array([-ah[1], ah[0]])          # across
        inside = (np.abs(s) <= length / 2) & (np.abs(t) < rad)
        if not inside.any():
            return
        surf = p[2] - np.sqrt(np.clip(rad * rad - t * t, 0.0, None))
        h = self.heights[rows, cols]
        cut = np.where(inside, np.clip(h - surf, 0.0, None), 0.0)
        sel = cut > CUT_EPS_M   # cells the buckets bite into now
        # Depth of cut: the highest ground whose cell overlaps the footprint on the side the drum
        # moves to, to its bottom (6-19 cm cells: those inside the circle lose the face ahead).
        ahead = 0.0 if moved is None else float(np.sign(moved[:2] @ np.array([-ah[1], ah[0]])))
        face = (np.abs(s) <= length / 2) & (np.abs(t) < rad + 0.5 * w.resolution_m) & (t * ahead >= 0.0)
        top = int(np.argmax(np.where(face, h, -np.inf)))
        depth = max(0.0, float(h.flat[top]) - (p[2] - rad))
        if depth <= CUT_EPS_M:
            return      # above the ground or turning in its own trench: nothing to cut
        touch = sel if sel.any() else face & (h > p[2] - rad)
        dens = w.regolith['density_kgpm3'][rows, cols].astype(float)
        soil = soil_for(w.name, dens[touch].mean(), *(w.regolith[k][rows, cols][touch].mean() for k in
                                                      ('cohesion_pa', 'friction_deg', 'wall_friction_deg')))
        dug = np.clip(self._init_heights[rows, cols] - h, 0.0, None)   # already dug below the surface
        face_depth = float(dug.flat[top])
        if sel.any():
            ratio = soil.density_deep_kgm3 / soil.density_kgm3
            dm = float((layer_mass_per_area(dens, ratio, soil.density_scale_m, dug, dug + cut) * res2).sum())
            self.heights[rows, cols] = h - cut
            self._terrain_dirty = True
            self._write_cells(rows, cols)
            take = min(dm, max(0.0, cap_m3 * float(dens[inside].mean()) - self._carried[n]))
            self._carried[n] += take
            self._tel['excavated_kg'] += dm
            self._tel['spilled_kg'] += dm - take
        # The soil's load on the buckets, in the drum's plane: e_x = z x axis is where the
        # bottom bucket moves for omega > 0, so the joint's speed and angle are the model's.
        ex = np.cross([0.0, 0.0, 1.0], axis)
        ex /= np.linalg.norm(ex) or 1.0
        ez = np.cross(axis, ex)
        feed = np.zeros(3) if moved is None else moved * (abs(omega) * self._drum_geom.bucket_rows / math.tau)
        load = bucket_loads(depth, float(feed @ ex), float(feed @ ez), omega,
                            float(d.qpos[self._qadr[n]]), self._drum_geom, soil, w.gravity_mps2,
                            face_depth_m=face_depth)
        fx, fz, torque = float(load.fx_n), float(load.fz_n), float(load.torque_nm)
        if not all(map(math.isfinite, (fx, fz, torque))):
            self._tel['nonfinite_loads'] += 1   # never handed to MuJoCo
            return
        self._cut_load[n] = (fx, fz, torque)
        self._cut_state[n] = (depth, float(feed @ ex), float(feed @ ez), face_depth)
        self._tel['cutting_energy_j'] += torque * abs(omega) * dt
        d.xfrc_applied[b, :3] += fx * ex + fz * ez
        d.xfrc_applied[b, 3:] += -math.copysign(torque, omega) * axis

    def drum_loads(self) -> dict:
        """{drum joint: (fx N, fz N, cutting torque N m)} of the last digging update (drum
        plane: x where its bottom bucket moves at + speed, z up; the torque its motor reacts)."""
        return dict(self._cut_load)

    def drum_cuts(self) -> dict:
        """{drum joint: (depth m, feed x m/s, feed z m/s, face depth below the original
        surface m) or None} of the last digging update: what bucket_loads was given."""
        return dict(self._cut_state)

    def _deposit(self, x, y, dm, spilled: bool = False):
        """Dumped (or spilled) mass dm as a cone at the angle of repose onto the ground
        below (x, y); only a dump in the berm zone counts as berm."""
        w = self.world
        dens = float(bilinear(w.regolith['density_kgpm3'].astype(float), w.origin_xy, w.resolution_m, x, y))
        dv = dm / max(dens, 1.0)
        self._tel['spilled_kg' if spilled else 'dumped_kg'] += dm
        bx, by, br = w.zones.berm_zone
        if not spilled and math.hypot(x - bx, y - by) <= br:
            self._tel['berm_mass_kg'] += dm
            self._tel['berm_volume_m3'] += dv
        cells = self._cells(x, y, 1.5)
        if cells is None:
            return
        rows, cols, X, Y = cells
        h = self.heights[rows, cols]
        dist = np.hypot(X - x, Y - y)
        slope = math.tan(math.radians(ANGLE_OF_REPOSE_DEG))
        res2 = w.resolution_m ** 2
        lo, hi = float(h.min()), float(h.max()) + 2.0
        for _ in range(40):   # apex height whose cone adds exactly dv
            apex = 0.5 * (lo + hi)
            add = np.clip(apex - dist * slope - h, 0.0, None)
            if add.sum() * res2 > dv:
                hi = apex
            else:
                lo = apex
        add = np.clip(lo - dist * slope - h, 0.0, None)
        self.heights[rows, cols] = h + add
        self._terrain_dirty = True
        self._write_cells(rows, cols)

    def _write_cells(self, rows, cols):
        z0, z1 = self._z_range()
        adr = self.model.hfield_adr[self._hfield_id]
        W = self.heights.shape[1]
        vals = np.clip((self.heights[rows, cols] - z0) / (z1 - z0), 0.0, 1.0)
        self.model.hfield_data[adr + rows * W + cols] = vals
        if self._tiled:
            self._mark_tiles(rows, cols)

    def _upload_heights_to_model(self):
        z0, z1 = self._z_range()
        adr = self.model.hfield_adr[self._hfield_id]
        n = self.heights.size
        self.model.hfield_data[adr:adr + n] = np.clip((self.heights - z0) / (z1 - z0), 0.0, 1.0).ravel()
        if self._tiled:
            self._mark_all_tiles()

    def _hazards(self):
        """Count the hazards (craters, rocks) a chassis or wheel body newly entered."""
        if self.flat:
            return
        xy = self.data.xpos[self._hazard_bodies, :2]
        self._tel['hazard_contacts'] += self._in_hazard.update(xy)

    # -- motors --------------------------------------------------------------------------
    def jump_clock(self, seconds: float):
        """Move the simulation clock forward by ``seconds`` (a fault: the physics is
        unchanged, every time stamp after it is later)."""
        if not (math.isfinite(seconds) and seconds > 0.0):
            raise ValueError(f'clock jump must be > 0 s, got {seconds}')
        self.data.time += seconds
        for rover in self._fleet:
            rover.motor_faults.shift_time(seconds)

    def true_height(self, x, y):
        return bilinear(self.heights, self.world.origin_xy, self.world.resolution_m, x, y)

    def regolith_telemetry(self) -> dict:
        t = dict(self._tel)
        t['carried_kg'] = sum(self._carried.values())
        t['rover_mass_kg'] = float(self.model.body_mass[self._active.bodies].sum())
        return t

    # -- cameras -------------------------------------------------------------------------
    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
