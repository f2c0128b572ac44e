"""The bucket-drum model: the planner's predictions against the simulator's truth, per world.

The simulator (sim/simulator.py) cuts with the shared physics (mining_rover/physics/) at
the drum's real phase, depth and velocity and the world's true soil; the planner
(planning/regolith.py) with the same law averaged over the bucket phase. Per world
(uniform soil at the world table's nominal values, physics/world_soil.py; flat ground):

- planner_vs_sim_torque_rel_err: max over random cuts (depth 1-8 cm, drum 2-8 rad/s,
  advance 1-10 cm/s; the trial's arms trimmed to hold the depth, sim/digtrial.py) of
  |planner torque - simulator torque| / simulator torque, the planner given the true soil
  and, sample by sample, the depth, feed and spin the simulator realised (both averaged
  over whole bucket pitches). Where no cut is feasible without them (the rubble pile: the
  rover floats off its wheels as the drums bite, slipping 40-86 %, so depth and feed
  change within a pitch), every trial fires the hold-down thrusters at full thrust
  (config/rover.yaml holddown) and the planner plans with them (site.py does the same),
  as a rover digs there. ``..._mean_kinematics``: the
  planner given the cut's mean depth, feed and spin instead (adds what a cut that is still settling does);
  ``..._commanded``: the commanded settings (adds the wheels' slip, ~13 % in the
  simulator's compliant contact, and the depth the trims left): context.
- estimator_rel_err: planning/soil_estimator.py's estimate after 3 cuts, the probe cuts
  (soil_estimator.probe_cuts: the cut planned with config/regolith_nominal.yaml at 2, 5
  and 8 rad/s), each drum's torque fed with the samples it was measured over (depth,
  feed, spin and drum angle: add_drum_samples) and the mass each took in over the volume
  it dug (the weigh, with 2 % noise): worst relative error, over all seven worlds,
  against the world's true soil, of the density and of what torque and
  travel identify, the cohesive and inertial strengths k_c and k_v
  (soil_estimator.cutting_strengths). Cohesion and friction angle apart are not
  identifiable from torque and travel (soil_estimator's docstring): their errors, and the
  density's, are printed as context (``..._density``, ``..._cohesion``, ``..._friction``).
  ``..._random_cuts``: as before this round, the first 3 random cuts, both drums' torque
  at their mean depth and spin and the travel's advance, no mass (k_c, k_v only);
  ``..._phase_mean``: the probe cuts' samples and mass without the drum angle (a phase
  average at each sample's kinematics).
  ``..._model_fed``: the same estimator fed 3 cuts of the planner's own model with 2 %
  noise and the collected mass.
- specific_energy_jpkg_<world>: cutting power / mass rate of the planned cut in the
  simulator (torque x spin of both drums over depth x drum length x advance x the
  layer's density, all as the simulator realised them): an output, no longer a knob.
- cuts_over_traction: planned cuts (plan_cut with the true soil) that, run in the
  simulator with both drums and with the rear (up-cutting) drum alone, slip the wheels
  more than 30 % (ground speed against the wheels' rim speed, over at least 5 cm of
  travel: sim/digtrial.py), stall them (rim speed < half the command), lift the rover or
  stall a drum (spin < half the command).
- max_cut_depth_m_<world>: deepest cut (to the drum radius) that still fits traction,
  weight and torque at the planned drum speed and advance; blade_limit_m_<world>: the
  depth at which a flat blade of the drum's width at the bucket rake needs mu m g / 2
  (docs/readme/physics.md says why they differ).
"""
from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np

from mining_rover.benchmarking import metric

NAME = 'drum_model'
DESCRIPTION = 'bucket-drum model: planner vs simulator torque, estimator, specific energy, cuts vs traction'
SLIP_LIMIT = 0.30


def _predicted_torque(trial, geom, soil, g) -> tuple:
    """The planner's phase-averaged drum model (the simulator's drum frames: signed feed
    and spin) at each sample's depth, feed and spin, averaged like the simulator's torque
    (samples without a cut count as zero); and at the cut's mean kinematics."""
    from mining_rover.physics.drum import drum_load_mean
    total, mean = 0.0, 0.0
    for c in trial.drums.values():
        s = c['samples']
        load = drum_load_mean(s[:, 0], s[:, 1], s[:, 2], s[:, 4], geom, soil, g, face_depth_m=s[:, 3])
        total += float(np.mean(np.where(s[:, 0] > 0.0, load.torque_nm, 0.0)))
        at_mean = drum_load_mean(c['depth_m'], c['feed_x_mps'], c['feed_z_mps'], c['radps'], geom, soil, g,
                                 face_depth_m=c['face_m'])
        mean += float(at_mean.torque_nm) * c['engaged_share']
    return total, mean


def _param_err(e, soil, keys=('k_c_pa', 'k_v_kgm3')) -> float:
    """Worst relative error of what torque and travel identify (k_c, k_v; and density
    where the collected mass was given)."""
    from mining_rover.planning.soil_estimator import cutting_strengths
    got, want = cutting_strengths(e), cutting_strengths(soil)
    return max(abs(got[k] / want[k] - 1.0) for k in keys)


def _blade_limit(rover, soil, g, speed) -> float:
    """Depth (m) at which a flat blade of the drum's width needs mu m g / 2 of draft."""
    from mining_rover.physics.soil import blade_force
    target = rover.wheel_soil_friction * rover.mass_kg * g / 2.0
    lo, hi = 0.0, 2.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        f = float(blade_force(mid, rover.drum_length_m, soil, g, rake_rad=rover.bucket_rake_rad,
                              speed_mps=speed).draft_n)
        lo, hi = (mid, hi) if f < target else (lo, mid)
    return lo


def run(quick: bool = False, worlds=None) -> dict:
    """The metrics of the module docstring, over ``worlds`` (default: every world)."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from mining_rover.paths import config_path, rover_mass_kg
    from mining_rover.physics.drum import swept_mass_rate
    from mining_rover.physics.world_soil import WORLD_SOIL
    from mining_rover.planning.regolith import Rover, cut_fits, drum_cut, load_params, plan_cut, traction
    from mining_rover.planning.soil_estimator import RegolithEstimator, probe_cuts
    from mining_rover.sim.digtrial import cut_trial
    from mining_rover.sim.simulator import Simulator

    base_rover = Rover(mass_kg=rover_mass_kg())
    geom = base_rover.drum
    nominal = load_params(config_path('regolith_nominal.yaml'))
    cuts = 3 if quick else 20
    out = {}
    worst_model, worst_mean, worst_cmd, worst_est, over, checked = 0.0, 0.0, 0.0, 0.0, 0, 0
    worst_rho, worst_c, worst_phi = 0.0, 0.0, 0.0
    all_cmd = []
    worst_model_est, worst_random, worst_phase_mean = 0.0, 0.0, 0.0
    for index, (world, table) in enumerate(WORLD_SOIL.items()):
        if worlds is not None and world not in worlds:
            continue
        rng = np.random.default_rng([19, index])    # a world's cuts do not depend on which others run
        soil = table.nominal()
        sim = Simulator(world=world, flat=True, camera_width=64, camera_height=48)
        g = sim.world.gravity_mps2
        # where the rover's weight cannot react a cut (the rubble pile) it digs pressed down
        # by its hold-down thrusters, as site.py plans it: planner and trials both know
        rover = base_rover
        plan = plan_cut(rover, soil, g)
        hold = 0.0 if plan.feasible else sim.max_holddown_n
        if hold > 0.0:
            rover = replace(base_rover, holddown_n=hold)
            plan = plan_cut(rover, soil, g)
        est = RegolithEstimator(nominal, rover, g)
        errs, errs_mean, errs_cmd = [], [], []
        for i in range(cuts):
            d, w, v = rng.uniform(0.01, 0.08), rng.uniform(2.0, 8.0), rng.uniform(0.01, 0.10)
            t = cut_trial(world, d, w, v, soil=soil, sim=sim, settle_s=1.5, holddown_n=hold, min_travel_m=0.0)
            sim_torque = sum(c['torque_nm'] for c in t.drums.values())
            if sim_torque < 1e-3:
                continue        # nothing cut (a rubble pile's rover does not hold its depth)
            per_sample, at_mean = _predicted_torque(t, geom, soil, g)
            errs.append(abs(per_sample / sim_torque - 1.0))
            errs_mean.append(abs(at_mean / sim_torque - 1.0))
            errs_cmd.append(abs(float(drum_cut(d, w, v, rover, soil, g).torque_nm) / sim_torque - 1.0))
            if i < 3 and plan.feasible:    # where no cut is feasible the rover holds none to learn from
                # what the rover measures: its drums' depth (arm encoders over the map),
                # spin and torque, and its travel
                depth = float(np.mean([c['depth_m'] for c in t.drums.values()]))
                radps = float(np.mean([c['radps'] for c in t.drums.values()]))
                est.add_cut(depth, radps, max(t.ground_mps, 1e-4), sim_torque)
        probe = RegolithEstimator(nominal, rover, g)
        phase_mean = RegolithEstimator(nominal, rover, g)
        for p in (probe_cuts(rover, nominal, g) if plan.feasible else []):
            t = cut_trial(world, p.depth_of_cut_m, p.drum_speed_radps, p.drive_speed_mps, soil=soil, sim=sim,
                          settle_s=2.0, lower_s=min(p.depth_of_cut_m / (2.0 * p.drive_speed_mps), 4.0),
                          holddown_n=hold)
            for c in t.drums.values():
                # what the rover measures: arm encoders over its map, odometry, the drum encoder
                s = c['samples']
                probe.add_drum_samples(s[:, 0], s[:, 1], s[:, 2], s[:, 4], c['torque_nm'], s[:, 3],
                                       c['phase_rad'])
                phase_mean.add_drum_samples(s[:, 0], s[:, 1], s[:, 2], s[:, 4], c['torque_nm'], s[:, 3])
            # the weigh: the mass the cut took in (drum fill from the arms' torque, plus any
            # spill) over the volume the map sees gone, with a 2 % weighing error
            kg = t.dug_kg * (1.0 + 0.02 * rng.standard_normal())
            probe.add_collected(p.depth_of_cut_m, t.dug_m3, kg)
            phase_mean.add_collected(p.depth_of_cut_m, t.dug_m3, kg)
        model_est = RegolithEstimator(nominal, rover, g)
        for d, w, v in ((0.03, 4.0, 0.05), (0.06, 7.0, 0.02), (0.08, 2.0, 0.01)):
            torque = float(drum_cut(d, w, v, rover, soil, g).torque_nm) * (1 + 0.02 * rng.standard_normal())
            model_est.add_cut(d, w, v, torque)
            volume = rover.drums_digging * d * geom.length_m * v * 10.0
            noisy_kg = float(soil.density_at(d)) * volume * (1 + 0.02 * rng.standard_normal())
            model_est.add_collected(d, volume, noisy_kg)
        worst_model_est = max(worst_model_est, _param_err(model_est.params, soil,
                                                          ('density_kgm3', 'k_c_pa', 'k_v_kgm3')))
        if est.updates:
            worst_random = max(worst_random, _param_err(est.params, soil))
        if phase_mean.updates:
            worst_phase_mean = max(worst_phase_mean, _param_err(phase_mean.params, soil,
                                                                ('density_kgm3', 'k_c_pa', 'k_v_kgm3')))
        e = probe.params
        est_err = _param_err(e, soil, ('density_kgm3', 'k_c_pa', 'k_v_kgm3')) if probe.updates else math.nan
        if probe.updates:
            worst_rho = max(worst_rho, abs(e.density_kgm3 / soil.density_kgm3 - 1.0))
            worst_c = max(worst_c, abs(e.cohesion_pa / soil.cohesion_pa - 1.0))
            worst_phi = max(worst_phi, abs(e.friction_deg / soil.friction_deg - 1.0))
        if errs:
            worst_model = max(worst_model, max(errs))
            worst_mean = max(worst_mean, max(errs_mean))
            worst_cmd = max(worst_cmd, max(errs_cmd))
            all_cmd += errs_cmd
        if math.isfinite(est_err):
            worst_est = max(worst_est, est_err)
        out[f'torque_rel_err_{world}'] = metric(max(errs) if errs else math.nan, '')
        out[f'torque_rel_err_commanded_{world}'] = metric(max(errs_cmd) if errs_cmd else math.nan, '')
        out[f'estimator_rel_err_{world}'] = metric(est_err, '')

        tr = traction(rover, soil, g)
        energy, worst_slip = math.nan, math.nan
        if plan.feasible:
            for drums in (('front', 'rear'), ('rear',)):
                # the drums lowered at twice the advance: an instant plunge (the arm at its
                # 1 rad/s) takes chips 10-40x the planned one and a drum alone then drags the
                # rover into a runaway self-feeding cut (docs/readme/drum.md)
                t = cut_trial(world, plan.depth_of_cut_m, plan.drum_speed_radps, plan.drive_speed_mps,
                              drums=drums, soil=soil, sim=sim, settle_s=2.0,
                              lower_s=min(plan.depth_of_cut_m / (2.0 * plan.drive_speed_mps), 4.0),
                              holddown_n=hold)
                stalled = (t.wheels_stalled
                           or any(c['radps'] < 0.5 * plan.drum_speed_radps for c in t.drums.values()))
                checked += 1
                over += int(t.slip > SLIP_LIMIT or t.lifted or stalled)
                worst_slip = t.slip if not math.isfinite(worst_slip) else max(worst_slip, t.slip)
                if len(drums) == 2:
                    # the cutting power over the mass rate of the face swept (depth x drum
                    # length x advance x the layer's density): over a few pitches the
                    # simulator's 6-19 cm cells enter the drums in lumps
                    power = sum(c['torque_nm'] * c['radps'] for c in t.drums.values())
                    rate = sum(float(swept_mass_rate(c['depth_m'], t.ground_mps, soil, geom.length_m,
                                                     c['face_m'])) for c in t.drums.values())
                    energy = power / rate if rate > 0 else math.nan
            depths = np.linspace(0.001, geom.radius_m, 160)
            fits = cut_fits(drum_cut(depths, plan.drum_speed_radps, plan.drive_speed_mps, rover, soil, g),
                            rover, tr, 0.3)
            deepest = float(depths[fits].max()) if fits.any() else 0.0
        else:
            deepest = 0.0
        out[f'specific_energy_jpkg_{world}'] = metric(energy, 'J/kg')
        out[f'max_cut_depth_m_{world}'] = metric(deepest, 'm')
        blade = _blade_limit(rover, soil, g, plan.drive_speed_mps or 0.05)
        out[f'blade_limit_m_{world}'] = metric(blade, 'm')
        out[f'planned_depth_m_{world}'] = metric(plan.depth_of_cut_m, 'm')
        out[f'arm_sag_m_{world}'] = metric(plan.arm_sag_m, 'm')
        out[f'holddown_n_{world}'] = metric(hold, 'N')
        out[f'planned_cut_slip_{world}'] = metric(worst_slip, '')
        sim.close()
    result = {
        'planner_vs_sim_torque_rel_err': metric(worst_model, '', '<= 0.15'),
        'planner_vs_sim_torque_rel_err_mean_kinematics': metric(worst_mean, ''),
        'planner_vs_sim_torque_rel_err_commanded': metric(worst_cmd, ''),
        'planner_vs_sim_torque_rel_err_median_commanded':
            metric(float(np.median(all_cmd)) if all_cmd else math.nan, ''),
        'estimator_rel_err': metric(worst_est, '', '<= 0.10'),
        'estimator_rel_err_random_cuts': metric(worst_random, ''),
        'estimator_rel_err_phase_mean': metric(worst_phase_mean, ''),
        'estimator_rel_err_model_fed': metric(worst_model_est, ''),
        'estimator_rel_err_density': metric(worst_rho, ''),
        'estimator_rel_err_cohesion': metric(worst_c, ''),
        'estimator_rel_err_friction': metric(worst_phi, ''),
        'cuts_over_traction': metric(over, 'cuts', '== 0'),
        'cuts_run_against_traction': metric(checked, 'cuts'),
    }
    result.update(out)
    return result


if __name__ == '__main__':
    for k, m in run().items():
        print(f'{k:44s} {m.value:10.4g} {m.unit:5s} {m.goal:8s} {m.met}')
