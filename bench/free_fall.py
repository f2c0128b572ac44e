"""Free fall in every world: gravity the simulator produces against the world's value.

A rover dropped with contacts and air drag off: g from the base's vertical velocity change
over 0.5 s (and from the fall distance). g_rel_error_<world> = |g_sim - g_world| / g_world.
"""
from __future__ import annotations

import os

from mining_rover.benchmarking import metric

NAME = 'free_fall'
DESCRIPTION = 'simulated free-fall acceleration vs each world\'s gravity (contacts and drag off)'


def run(quick: bool = False) -> dict:
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from mining_rover.sim.simulator import Simulator
    from mining_rover.sim.world import list_worlds
    out, worst = {}, 0.0
    for name in list_worlds():
        sim = Simulator(world=name, camera_width=64, camera_height=48)
        sim.set_contacts(False)
        sim.model.opt.density = 0.0
        z0, v0 = sim.ground_truth_pose()[2, 3], float(sim.data.qvel[2])
        sim.step(int(round(0.5 / sim.dt)))
        t = sim.time
        g_v = -(float(sim.data.qvel[2]) - v0) / t
        g_z = 2 * (z0 - sim.ground_truth_pose()[2, 3]) / t ** 2
        g = sim.world.gravity_mps2
        err = max(abs(g_v - g), abs(g_z - g)) / g
        worst = max(worst, err)
        out[f'g_rel_error_{name}'] = metric(float(err), '', '<= 0.01')
        sim.close()
    out['g_rel_error_max'] = metric(float(worst), '', '<= 0.01')
    return out
