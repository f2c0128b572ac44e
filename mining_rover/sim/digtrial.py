"""One cut in the embedded simulator, measured: what the drum model benchmark
(bench/drum_model.py) and the tests compare the planner's predictions with.

``cut_trial`` puts the rover on flat ground of a world whose soil is made uniform (the
world table's nominal values, or the values given), lowers the chosen drums to a depth,
spins them and drives the wheels at the advance, lets the cut settle, then averages over
whole bucket pitches: the drum loads, the depth, feed and spin the bucket model saw, the
drum motors' torque, the ground speed and the wheel slip 1 - v / (omega_wheel r) (the
wheels' measured speed, over at least MIN_TRAVEL_M of travel).

Depth: the arm angle for a depth on flat ground (``arm_for_depth``) assumes the wheels
stand on the surface; in the simulator they sink into the compliant regolith contact
(~1 cm on the Moon) and the chassis pitches under the drums' reactions, so the drums cut
deeper than that geometry says (5 cm commanded, 6.1-6.3 cm cut). With ``hold_depth`` the
trial trims the arms during the settling time from the depth the drums cut (what a rover
does with its arm encoders and chassis attitude over the mapped ground), so the cut is
the one asked for and the planner is compared on the cut it planned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mining_rover.physics.soil import RegolithParams
from mining_rover.physics.world_soil import WORLD_SOIL
from mining_rover.sim.simulator import Simulator

#: Share of the depth error each arm trim corrects: the arm's sag grows as the drum fills
#: (8 cm in 1 g with a full drum on the 600 N m/rad arm servo), so a full correction per trim
#: overshoots and oscillates.
TRIM_GAIN = 0.6
#: Least travel (m) over which the trial measures slip (about a wheel's contact length in
#: the compliant contact; planning/regolith.py contact_length_m), and the longest window (s).
MIN_TRAVEL_M, MAX_WINDOW_S = 0.05, 8.0
WHEELS = ('front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint')


@dataclass
class CutTrial:
    """What one simulated cut did: wheel slip, ground speed, lift, stalls and per-drum loads."""

    slip: float                 # 1 - ground speed / the wheels' measured rim speed (> 0: they spin)
    ground_mps: float
    lifted: bool                # a wheel or the chassis left the ground for good (z rose > 5 cm)
    drums: dict                 # {drum joint: dict(depth_m, feed_x_mps, feed_z_mps, face_m, radps,
                                #  fx_n, fz_n, torque_nm, motor_nm, engaged_share, samples)}:
                                #  means (kinematics over the samples that cut), and the
                                #  samples (n, 5): depth, feed x, feed z, face depth, spin (0s: no cut)
                                #  and phase_rad (n,): the drum's angle at each sample
    excavated_kg: float
    cutting_energy_j: float
    duration_s: float = 0.0     # length of the measured window, s
    rim_mps: float = 0.0        # the wheels' mean rim speed over the window, m/s
    commanded_mps: float = 0.0  # the rim speed commanded, m/s
    dug_m3: float = 0.0         # volume the whole trial dug out of the terrain (the map before - after), m^3
    dug_kg: float = 0.0         # mass it took in or spilled (what the drums' weigh and spill add to), kg

    @property
    def wheels_stalled(self) -> bool:
        """The wheels turn at under half their command (held back by the cut)."""
        return self.commanded_mps > 0.0 and self.rim_mps < 0.5 * self.commanded_mps


def uniform_soil(sim: Simulator, soil: RegolithParams):
    """Give every cell of the simulator's world the same soil (``soil``)."""
    r = sim.world.regolith
    r['density_kgpm3'][:] = soil.density_kgm3
    r['cohesion_pa'][:] = soil.cohesion_pa
    r['friction_deg'][:] = soil.friction_deg
    r['wall_friction_deg'][:] = soil.friction_deg * soil.wall_friction_ratio


def arm_for_depth(depth_m: float, sim: Simulator) -> float:
    """Arm angle putting the drum bottom depth_m below flat ground (planning/mission.py's
    geometry: pivot on the axle plane, a wheel radius above the ground)."""
    r = sim.rover
    s = (float(r['wheel']['radius']) - float(r['drum']['radius']) + depth_m) / float(r['arm']['length'])
    return math.asin(min(max(s, -1.0), 1.0))


def cut_trial(world: str, depth_m: float, drum_radps: float, drive_mps: float,
              drums=('front', 'rear'), soil: RegolithParams | None = None, sim: Simulator | None = None,
              settle_s: float = 2.0, pitches: int = 4, hold_depth: bool = True,
              lower_s: float = 0.0, holddown_n: float = 0.0, min_travel_m: float = MIN_TRAVEL_M) -> CutTrial:
    """Run one cut in ``world`` at depth_m (m), drum_radps (rad/s) and drive_mps (m/s) with
    the given drums and soil (the world's own when None), measured from simulator truth;
    hold_depth trims the arms to the asked depth while settling (module docstring); lower_s
    > 0 lowers the drums from the surface to the depth over that time (a plunge at a
    bounded rate) before settling, instead of at once; holddown_n fires the hold-down
    thrusters (N); the measured window covers ``pitches`` bucket pitches and at least
    min_travel_m of travel (0: the pitches alone, where slip is not the point)."""
    sim = sim or Simulator(world=world, flat=True, camera_width=64, camera_height=48)
    sim.reset()
    uniform_soil(sim, soil or WORLD_SOIL[world].nominal())
    sim.set_holddown(holddown_n)
    wheel_r = float(sim.rover['wheel']['radius'])
    sim.step(int(0.4 / sim.dt))
    arm = arm_for_depth(depth_m, sim)
    for side in drums:
        sim.set_command(f'{side}_drum_joint', drum_radps)
    for j in WHEELS:
        sim.set_command(j, drive_mps / wheel_r)
    ramp = max(int(lower_s / 0.05), 0)
    for k in range(1, ramp + 1):
        for side in drums:
            sim.set_command(f'{side}_arm_joint', arm_for_depth(depth_m * k / ramp, sim))
        sim.step(int(0.05 / sim.dt))
    for side in drums:
        sim.set_command(f'{side}_arm_joint', arm)
    names = [f'{s}_drum_joint' for s in drums]
    trims = 3 if hold_depth else 0
    sim.step(int(settle_s / (trims + 1) / sim.dt))
    arm_len = float(sim.rover['arm']['length'])
    arms = {side: arm for side in drums}
    for _ in range(trims):
        cut = {k: [] for k in names}
        for _ in range(max(1, int(settle_s / (trims + 1) / (10 * sim.dt)))):
            sim.step(10)
            for k, c in sim.drum_cuts().items():
                if k in cut and c is not None:
                    cut[k].append(c[0])
        for side, k in zip(drums, names):
            if cut[k]:
                err = depth_m - float(np.mean(cut[k]))
                arms[side] += TRIM_GAIN * err / (arm_len * max(math.cos(arms[side]), 0.3))
                sim.set_command(f'{side}_arm_joint', arms[side])
    if trims:
        sim.step(int(settle_s / (trims + 1) / sim.dt))     # the arms settle at the last trim
    pitch_s = 2.0 * math.pi / (abs(drum_radps) * 4)
    # Slip is a steady state over the contact patch: over 1 cm of travel (1 s of a 1 cm/s
    # creep) the chassis' pitching as a drum fills and the wheel servo's transient read as
    # tens of percent (docs/readme/physics.md), so the window covers MIN_TRAVEL_M too.
    travel_s = min(min_travel_m / max(abs(drive_mps), 1e-6), MAX_WINDOW_S)
    window_s = max(pitches, math.ceil(travel_s / pitch_s)) * pitch_s
    n = max(1, round(window_s / (10 * sim.dt)))
    pose0, t0 = sim.ground_truth_pose(), sim.time
    heading = pose0[:2, 0] / (np.linalg.norm(pose0[:2, 0]) or 1.0)   # the world's start yaw is not 0
    e0 = sim.regolith_telemetry()
    acc = {k: [] for k in names}
    rim = []
    for _ in range(n):
        sim.step(10)
        ms, loads, cuts, js = sim.motor_state(), sim.drum_loads(), sim.drum_cuts(), sim.joint_state()
        rim.append(np.mean([js[j][1] for j in WHEELS]) * wheel_r)
        for k in names:
            c = cuts[k] or (0.0, 0.0, 0.0, 0.0)
            acc[k].append([*c, js[k][1], *loads[k], abs(ms[k]['torque_nm']), cuts[k] is not None, js[k][0]])
    T = sim.time - t0
    pose = sim.ground_truth_pose()
    ground = float((pose[:2, 3] - pose0[:2, 3]) @ heading) / T
    e1 = sim.regolith_telemetry()
    out = {}
    for k in names:
        a = np.array(acc[k], dtype=float)
        engaged = a[:, 9] > 0
        mean = a[engaged].mean(axis=0) if engaged.any() else np.zeros(a.shape[1])
        out[k] = dict(samples=a[:, :5], phase_rad=a[:, 10], depth_m=mean[0], feed_x_mps=mean[1],
                      feed_z_mps=mean[2], face_m=mean[3],
                      radps=float(a[:, 4].mean()), fx_n=float(a[:, 5].mean()), fz_n=float(a[:, 6].mean()),
                      torque_nm=float(a[:, 7].mean()), motor_nm=float(a[:, 8].mean()),
                      engaged_share=float(engaged.mean()))
    rim_mps = float(np.mean(rim))
    res = float(sim.world.resolution_m)
    dug_m3 = float(np.clip(sim._init_heights - sim.heights, 0.0, None).sum()) * res * res
    return CutTrial(slip=1.0 - ground / rim_mps if rim_mps > 1e-9 else 0.0, ground_mps=ground,
                    lifted=bool(pose[2, 3] - pose0[2, 3] > 0.05), drums=out,
                    excavated_kg=e1['excavated_kg'] - e0['excavated_kg'],
                    cutting_energy_j=e1['cutting_energy_j'] - e0['cutting_energy_j'], duration_s=T,
                    rim_mps=rim_mps, commanded_mps=drive_mps, dug_m3=dug_m3, dug_kg=float(e1['excavated_kg']))
