"""Issue 19: the online soil estimator after three cuts: probe cuts that span the drum's
speed, and each drum's torque fitted over the samples it was measured on (depth, feed,
spin, drum angle)."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from mining_rover.paths import config_path, rover_mass_kg
from mining_rover.physics.drum import bucket_loads
from mining_rover.physics.soil import RegolithParams, load_params
from mining_rover.physics.world_soil import WORLD_SOIL
from mining_rover.planning.regolith import Rover, cut_fits, drum_cut, traction
from mining_rover.planning.soil_estimator import (PROBE_DRUM_RADPS, RegolithEstimator, cutting_strengths,
                                                  probe_cuts)


def _nominal() -> RegolithParams:
    return load_params(config_path('regolith_nominal.yaml'))


def _err(est: RegolithEstimator, truth: RegolithParams) -> float:
    got, want = cutting_strengths(est.params), cutting_strengths(truth)
    return max(abs(got[k] / want[k] - 1.0) for k in ('density_kgm3', 'k_c_pa', 'k_v_kgm3'))


@pytest.mark.parametrize('world', ['moon_south_pole', 'mars', 'psyche'])
def test_probe_cuts_span_the_drum_speed_and_fit(world):
    """Three probe cuts at 2, 5 and 8 rad/s (tip speed^2 spans 16x), each within traction,
    weight and torque with the nominal soil, as any planned cut."""
    g = {'moon_south_pole': 1.62, 'mars': 3.71, 'psyche': 0.144}[world]
    rover, nominal = Rover(mass_kg=rover_mass_kg()), _nominal()
    cuts = probe_cuts(rover, nominal, g)
    assert [c.drum_speed_radps for c in cuts] == list(PROBE_DRUM_RADPS)
    tr = traction(rover, nominal, g)
    for c in cuts:
        assert c.feasible and c.depth_of_cut_m > 0.0
        cut = drum_cut(c.depth_of_cut_m, c.drum_speed_radps, c.drive_speed_mps, rover, nominal, g)
        assert bool(cut_fits(cut, rover, tr, 0.3))


def _bobbing_samples(depth_m, radps, advance_mps, sign, n=200, bob_m=0.006):
    """Samples of one drum over whole pitches whose depth and feed go with the bucket phase
    (the drum bobbing on its arm at the bucket frequency, as in the simulator)."""
    rows = Rover().drum.bucket_rows
    phase = np.linspace(0.0, 4 * 2 * math.pi / rows, n, endpoint=False)
    wob = np.sin(rows * phase)
    depth = depth_m + bob_m * wob
    feed_z = -bob_m * rows * radps * np.cos(rows * phase) * 0.3
    return depth, np.full(n, sign * advance_mps), feed_z, np.full(n, -sign * radps), phase


def test_drum_samples_at_the_drum_angle_identify_the_strengths():
    """Three probe-like cuts of a bobbing drum (both drums), the torque from the bucket
    model with a hidden soil at the samples' phases and the mass each took in, 2 % noise
    on both: fitted at the drum angle, density and the two strengths come within 5 %
    (3.4 % measured). Without the mass k_v was 12 % off: with a friction angle 9 deg from
    the nominal the fit slides along the direction torque hardly sees (soil_estimator's
    docstring), which moves k_v; the density the weigh fixes pins it."""
    hidden = RegolithParams(density_kgm3=1400.0, density_deep_kgm3=1540.0, cohesion_pa=1600.0,
                            friction_deg=33.0, wall_friction_ratio=0.6)
    rover, g, rng = Rover(), 3.71, np.random.default_rng(7)
    est = RegolithEstimator(_nominal(), rover, g)
    for w in PROBE_DRUM_RADPS:
        for sign in (1.0, -1.0):
            d, fx, fz, spin, phase = _bobbing_samples(0.06, w, 0.02, sign)
            torque = float(np.mean(bucket_loads(d, fx, fz, spin, phase, rover.drum, hidden, g).torque_nm))
            noisy = torque * (1 + 0.02 * rng.standard_normal())
            est.add_drum_samples(d, fx, fz, spin, noisy, phase_rad=phase)
        volume = 2 * 0.06 * rover.drum_length_m * 0.05
        kg = float(hidden.density_at(0.06)) * volume * (1 + 0.02 * rng.standard_normal())
        est.add_collected(0.06, volume, kg)
    assert est.updates == 9
    assert _err(est, hidden) < 0.05


def test_drum_samples_ignore_bad_input():
    est = RegolithEstimator(_nominal(), Rover(), 1.62)
    est.add_drum_samples([0.05, np.nan], [0.01, 0.01], [0.0, 0.0], [4.0, 4.0], 1.0)
    est.add_drum_samples([0.0, 0.0], [0.01, 0.01], [0.0, 0.0], [4.0, 4.0], 1.0)
    est.add_drum_samples([0.05], [0.01], [0.0], [4.0], float('inf'))
    est.add_drum_samples([0.05], [0.01], [0.0], [4.0], 1.0, phase_rad=[float('nan')])
    assert est.updates == 0 and est.params.cohesion_pa == _nominal().cohesion_pa


def test_estimator_meets_the_target_on_mars_after_the_three_probe_cuts():
    """Mars (its true soil, cohesion 1.6 kPa against the nominal 0.52): the three probe cuts
    run in the simulator, each drum's measured torque fitted over its samples at the drum
    angle, and the mass each cut took in over the volume it dug: density, k_c and k_v
    within 10 % (issue 19's target; 3.5 % when measured, 6.6 % without the mass). The
    benchmark's first three random cuts at their mean depth left k_v 33 % off; the probe
    cuts' samples without the drum angle 15 % (a phase average loses how the drum's bob
    goes with its buckets)."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    pytest.importorskip('mujoco')
    from mining_rover.sim.digtrial import cut_trial
    from mining_rover.sim.simulator import Simulator
    soil, rover = WORLD_SOIL['mars'].nominal(), Rover(mass_kg=rover_mass_kg())
    sim = Simulator(world='mars', flat=True, camera_width=64, camera_height=48)
    try:
        g = sim.world.gravity_mps2
        est = RegolithEstimator(_nominal(), rover, g)
        for p in probe_cuts(rover, _nominal(), g):
            t = cut_trial('mars', p.depth_of_cut_m, p.drum_speed_radps, p.drive_speed_mps, soil=soil, sim=sim,
                          settle_s=2.0, lower_s=min(p.depth_of_cut_m / (2.0 * p.drive_speed_mps), 4.0))
            for c in t.drums.values():
                s = c['samples']
                est.add_drum_samples(s[:, 0], s[:, 1], s[:, 2], s[:, 4], c['torque_nm'], s[:, 3],
                                     c['phase_rad'])
            est.add_collected(p.depth_of_cut_m, t.dug_m3, t.dug_kg)
    finally:
        sim.close()
    assert est.updates == 9
    assert _err(est, soil) <= 0.10


def test_samples_at_the_drum_angle_are_the_simulators_torque():
    """Mars, 5 cm at 3 rad/s and 5 cm/s, both drums, the true soil: the estimator's model
    over the measured samples at the drum's angle is the simulator's torque (to 0.1 %:
    the same law at the same kinematics); phase-averaged at each sample's kinematics it
    is off by more than 5 % on a drum (19 % measured on the front drum), which the fit
    would take for soil."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    pytest.importorskip('mujoco')
    from mining_rover.planning.soil_estimator import samples_torque_nm
    from mining_rover.sim.digtrial import cut_trial
    from mining_rover.sim.simulator import Simulator
    soil, rover = WORLD_SOIL['mars'].nominal(), Rover()
    sim = Simulator(world='mars', flat=True, camera_width=64, camera_height=48)
    try:
        g = sim.world.gravity_mps2
        t = cut_trial('mars', 0.05, 3.0, 0.05, soil=soil, sim=sim, settle_s=2.0)
    finally:
        sim.close()
    off = []
    for name, c in t.drums.items():
        s = c['samples']
        rows = np.column_stack([s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4], c['phase_rad']])
        assert c['torque_nm'] > 0.1, name
        assert samples_torque_nm(rows, rover, soil, g) == pytest.approx(c['torque_nm'], rel=1e-3), name
        rows[:, 5] = np.nan
        off.append(abs(samples_torque_nm(rows, rover, soil, g) / c['torque_nm'] - 1.0))
    assert max(off) > 0.05
