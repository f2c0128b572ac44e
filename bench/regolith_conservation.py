"""Regolith mass balance through dig, carry, spill and dump in each world.

The front drum digs while the rover creeps forward on the world's terrain (hidden
regolith), then the arm rises and the drum reverses to dump. Per world:
|excavated - (carried + dumped + spilled)| / excavated, and the terrain check
|mass removed from the heightfield - excavated| / excavated before dumping.
"""
from __future__ import annotations

import os

from mining_rover.benchmarking import metric

NAME = 'regolith_conservation'
DESCRIPTION = 'excavated = carried + dumped + spilled, and heightfield mass removed = excavated'
WHEELS = ['front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint']


def run(quick: bool = False) -> dict:
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from mining_rover.sim.simulator import Simulator
    from mining_rover.sim.world import list_worlds
    worlds = ['moon_south_pole', 'mars'] if quick else list_worlds()
    out, worst, worst_terrain = {}, 0.0, 0.0
    for name in worlds:
        sim = Simulator(world=name, camera_width=64, camera_height=48)
        res2 = sim.world.resolution_m ** 2
        dens = sim.world.regolith['density_kgpm3'].astype(float)
        sim.step(250)
        h0 = sim.heights.copy()
        sim.set_command('front_arm_joint', 0.25)
        sim.set_command('front_drum_joint', 4.0)
        for j in WHEELS:
            sim.set_command(j, 0.5)
        sim.step(2500)
        tel = sim.regolith_telemetry()
        removed = float(((h0 - sim.heights).clip(min=0) * dens).sum() * res2)
        terrain_err = abs(removed - tel['excavated_kg']) / max(tel['excavated_kg'], 1e-9)
        for j in WHEELS:
            sim.set_command(j, 0.0)
        sim.set_command('front_arm_joint', -0.7)
        sim.set_command('front_drum_joint', -4.0)
        sim.step(3000)
        tel = sim.regolith_telemetry()
        exc = tel['excavated_kg']
        err = abs(exc - (tel['carried_kg'] + tel['dumped_kg'] + tel['spilled_kg'])) / max(exc, 1e-9)
        worst, worst_terrain = max(worst, err), max(worst_terrain, terrain_err)
        out[f'excavated_kg_{name}'] = metric(float(exc), 'kg')
        out[f'dumped_kg_{name}'] = metric(float(tel['dumped_kg']), 'kg')
        sim.close()
    out['terrain_mass_error_max'] = metric(float(worst_terrain), '', '<= 0.01')
    out['mass_balance_error_max'] = metric(float(worst), '', '<= 0.01')
    return out
