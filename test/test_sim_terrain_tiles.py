"""The simulator on a large site: camera tiles follow the dug terrain and the camera's view
(the hazard-contact counter: test_sim_hazard_contacts.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mining_rover.sim import terrain_tiles as tt
from mining_rover.sim.sites import world_ref


@pytest.fixture(scope='module')
def sim():
    from mining_rover.sim.simulator import Simulator
    s = Simulator(world_ref('moon_south_pole', 'operational'))
    yield s
    s.close()


def _tile_heights(s, t, step):
    """A tile's height field in metres, from the model's normalised data."""
    m = s.model
    hid = s._tile_ids[t, 2 if step == 1 else 3]
    k = tt.TILE_CELLS // step + 1
    adr = m.hfield_adr[hid]
    z0, z1 = s._z_range()
    return z0 + m.hfield_data[adr:adr + k * k].reshape(k, k) * (z1 - z0)


def test_large_site_is_drawn_in_tiles_that_follow_a_dump(sim):
    assert sim._tiled and len(sim._tile_geoms) == (512 // tt.TILE_CELLS) ** 2
    sim._upload_tiles(None)
    bx, by, _ = sim.world.zones.berm_zone
    before = sim.heights.copy()
    sim._deposit(bx, by, 40.0)
    changed = np.argwhere(sim.heights != before)
    assert len(changed) and sim._tiles_dirty
    assert sim._upload_tiles(None) >= len({(int(r) // 64, int(c) // 64) for r, c in changed})
    for t, (_, _, r0, c0) in enumerate(sim._tile_geoms):
        fine = sim.heights[r0:r0 + 65, c0:c0 + 65]
        assert np.allclose(_tile_heights(sim, t, 1), fine, atol=2e-5)
        k = tt.COARSE_STEP
        assert np.allclose(_tile_heights(sim, t, k), fine[::k, ::k], atol=2e-5)


def test_tiles_behind_the_camera_are_not_drawn_and_near_ones_always(sim):
    cam = np.array([0.0, 0.0, 1.0])
    level = sim._choose_tiles(cam, np.array([1.0, 0.0, -0.3]))
    lo, hi = sim._tile_lo, sim._tile_hi
    gap = np.maximum(np.maximum(lo - cam[:2], cam[:2] - hi), 0.0)
    dist = np.hypot(gap[:, 0], gap[:, 1])
    behind = hi[:, 0] < cam[0] - 1.0
    assert np.all(level[behind & (dist >= tt.NEAR_M)] == 0)
    assert np.all(level[dist < tt.NEAR_M] == 2)
    ahead = lo[:, 0] > cam[0] + 1.0
    assert np.all(level[ahead & (np.abs(0.5 * (lo[:, 1] + hi[:, 1])) < lo[:, 0])] > 0)
    g = sim.model.geom_group
    assert np.all(g[sim._tile_ids[level == 2, 0]] == tt.TILE_GROUP)
    assert np.all(g[sim._tile_ids[level != 2, 0]] == tt.HIDDEN_GROUP)
    assert np.all(g[sim._tile_ids[level == 1, 1]] == tt.TILE_GROUP)


def test_rover_settles_on_the_operational_site(sim):
    sim.reset()
    sim.step(1500)   # 3 s
    pose = sim.ground_truth_pose()
    x, y, _ = sim.world.zones.start_xy_yaw
    assert math.hypot(pose[0, 3] - x, pose[1, 3] - y) < 0.2
    assert abs(pose[2, 3] - sim.true_height(x, y) - 0.2) < 0.15   # wheels (r 0.2 m) on the ground
    assert sim.regolith_telemetry()['hazard_contacts'] == 0
