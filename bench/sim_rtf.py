"""Real-time factor of the embedded simulator on the lunar world.

rtf_physics: sim seconds per wall second stepping physics (500 Hz) while driving, with the
regolith model on and no rendering. rtf_stereo_<N>hz: the same with a 640x480 stereo pair
rendered N times per sim second (the contract's camera is 5 Hz). Goal: >= 1 (real time).
"""
from __future__ import annotations

import os
import time

from mining_rover.benchmarking import metric

NAME = 'sim_rtf'
DESCRIPTION = 'embedded simulator real-time factor: physics only and with 640x480 stereo at 2/5/10 Hz'
WHEELS = ['front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint']


def _rtf(sim, sim_seconds: float, camera_hz: float) -> float:
    steps = int(round(sim_seconds / sim.dt))
    every = int(round(1.0 / (camera_hz * sim.dt))) if camera_hz > 0 else 0
    t_sim0 = sim.time
    start = time.perf_counter()
    for i in range(steps):
        sim.step(1)
        if every and i % every == 0:
            sim.render_stereo()
    return (sim.time - t_sim0) / (time.perf_counter() - start)


def run(quick: bool = False) -> dict:
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from mining_rover.sim.simulator import Simulator
    sim = Simulator(world='moon_south_pole', camera_width=640, camera_height=480)
    for j in WHEELS:
        sim.set_command(j, 1.5)
    sim.render_stereo()   # context creation off the clock
    seconds = 2.0 if quick else 6.0
    out = {'rtf_physics': metric(float(_rtf(sim, seconds * 2, 0.0)), 'x', '>= 1')}
    for hz in (2, 5, 10):
        out[f'rtf_stereo_{hz}hz'] = metric(float(_rtf(sim, seconds, float(hz))), 'x', '>= 1')
    start = time.perf_counter()
    n = 3 if quick else 8
    for _ in range(n):
        sim.render_stereo()
    out['stereo_render_ms'] = metric(float((time.perf_counter() - start) / n * 1e3), 'ms')
    sim.close()
    return out
