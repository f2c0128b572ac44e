"""Rendered hazard scenes for bench/hazard_detection.py and its test (no NAME: not a benchmark).

``hazard_scene(seed)`` is the one place the scene source is chosen: a world of our own
from the world generator (mining_rover.sim.worldgen.build_world) written to a temporary
directory, a dense hazard field on a 16 m square of lunar terrain. Not the operational
sites (sim/site_layout.py): their craters are degraded equilibrium bowls (depth/diameter
0.03-0.05), none a hazard by the shared definition (sim/hazard_truth.py), and their rocks
are a few per hundred square metres, so six frames there judge almost nothing; here the
craters are fresh to moderately degraded (0.07-0.2, all hazards) and every frame sees
several rocks.

``drive_frames(scene, frames)`` renders what the rover's mast cameras see (MuJoCo, 640x480
by default, the simulator's own stereo rig) from poses along a straight drive through the
field, the rover settled on the terrain at each pose; each frame carries the true
map -> base_link and base_link -> left optical transforms.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mining_rover.mapping.hazards import Crater, Rock

#: Scene terrain: side (m) and height-field vertices (16 m / 256 = 6.25 cm spacing: a
#: 0.2 m rock spans 6 vertices).
SCENE_SIZE_M, SCENE_VERTICES = 16.0, 257
#: Hazard field: crater and rock counts on the 16 m square (the generator draws craters
#: 0.8-6 m across from a power law, Melosh 2011, and rocks 0.15-0.4 m high); the clear
#: zones of the generator keep them off the rover's start.
SCENE_CRATERS, SCENE_CRATER_D_MAX_M, SCENE_ROCKS = 40, 6.0, 150
#: Sun elevation (deg): between the polar 5 deg (where most of a crater is in shadow and
#: unknown, not judged) and mid-latitude noon.
SCENE_SUN_ELEVATION_DEG = 15.0
#: Drive: the rover starts at x = START_X_M (the start zone of the scene) and drives
#: along +x at a seed-dependent heading within +-HEADING_SPREAD_RAD.
START_X_M, STEP_M, HEADING_SPREAD_RAD = -5.5, 0.4, 0.35
#: Stereo frame size the benchmark renders (the mast cameras' 640x480).
WIDTH, HEIGHT = 640, 480


@dataclass
class Scene:
    """A rendered hazard scene: the simulator on it, its true hazards, and the drive's heading."""
    sim: object
    craters: list
    rocks: list
    heading_rad: float
    tmp: tempfile.TemporaryDirectory

    def true_height(self, x, y):
        """True terrain height (m) at map x, y (arrays ok)."""
        return self.sim.true_height(x, y)

    def close(self) -> None:
        """Release the renderer and delete the generated world files."""
        close = getattr(self.sim, 'close', None)
        if close:
            close()
        self.tmp.cleanup()


def hazard_scene(seed: int, width: int = WIDTH, height: int = HEIGHT) -> Scene:
    """A dense hazard field rendered by the embedded simulator, deterministic in ``seed``."""
    from mining_rover.sim.simulator import Simulator
    from mining_rover.sim.world import load_world
    from mining_rover.sim.worldgen import WORLDS, build_world
    rng = np.random.default_rng(10_000 + seed)
    heading = float(rng.uniform(-HEADING_SPREAD_RAD, HEADING_SPREAD_RAD))
    w = dataclasses.replace(
        WORLDS['moon_south_pole'], name=f'hazard_scene_{seed}', size=SCENE_SIZE_M, n=SCENE_VERTICES,
        craters=SCENE_CRATERS, crater_d_max=SCENE_CRATER_D_MAX_M, rocks=SCENE_ROCKS,
        sun_elevation_deg=SCENE_SUN_ELEVATION_DEG, sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        start=(START_X_M, 0.0, 1.0), dig=(7.5, 7.5, 0.3), berm=(-7.5, 7.5, 0.3), seed=seed)
    tmp = tempfile.TemporaryDirectory(prefix='hazard_scene_')
    try:
        sdf = build_world(w, Path(tmp.name))
        sim = Simulator(world=load_world(str(sdf)), seed=seed, camera_width=width, camera_height=height)
    except Exception:
        tmp.cleanup()
        raise
    hz = sim.world.hazards
    craters = [Crater(c['x'], c['y'], c['radius'], c['depth']) for c in hz.craters]
    rocks = [Rock(r['x'], r['y'], r['height'], r['radius']) for r in hz.rocks]
    return Scene(sim, craters, rocks, heading, tmp)


def drive_frames(scene: Scene, frames: int):
    """Yield (left rgb, right rgb, T_map_base, T_base_optical) for ``frames`` poses STEP_M
    apart along the scene's heading from the start."""
    sim = scene.sim
    c, s = np.cos(scene.heading_rad), np.sin(scene.heading_rad)
    for i in range(frames):
        x, y = START_X_M + i * STEP_M * c, i * STEP_M * s
        sim.set_base_state(pos=[x, y, float(sim.true_height(x, y)) + 0.21], yaw=scene.heading_rad)
        sim.step(120)
        left, right = sim.render_stereo()
        T = sim.ground_truth_pose()
        yield left, right, T, np.linalg.inv(T) @ sim.camera_pose('left')
