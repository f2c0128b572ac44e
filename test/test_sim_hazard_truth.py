"""The one geometric hazard definition (sim/hazard_truth.py): rocks by how far they stand
out of the ground around them, craters by size and wall slope against the rover's rating."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mining_rover.sim import hazard_truth as ht
from mining_rover.sim.terrain import crater_profile


def test_wall_slope_is_the_steepest_slope_of_the_drawn_profile():
    # numerical derivative of sim.terrain.crater_profile (what both generators draw)
    R, depth = 1.5, 0.2
    r = np.linspace(0.0, 1.5 * R, 30001)
    h = crater_profile(r / R, depth, ht.RIM_TO_DEPTH * depth)
    steepest = math.degrees(math.atan(np.max(np.abs(np.diff(h) / np.diff(r)))))
    assert ht.crater_wall_slope_deg(R, depth) == pytest.approx(steepest, abs=0.05)


def test_the_depth_ratio_threshold_matches_the_slope_limit():
    q = ht.crater_min_depth_ratio()
    assert 0.05 < q < 0.06                                  # 0.056 for a 15 deg rating
    assert ht.crater_wall_slope_deg(1.0, 2.0 * q) == pytest.approx(ht.CRATER_WALL_SLOPE_LIMIT_DEG)


@pytest.mark.parametrize('diameter, ratio, hazard', [
    (2.0, 0.04, False),    # degraded equilibrium crater (the operational sites'): 11 deg walls
    (6.0, 0.05, False),    # a big degraded one: deep (0.3 m) but gentle (13 deg)
    (2.0, 0.10, True),     # moderately degraded impact crater: 26 deg
    (1.2, 0.20, True),     # fresh (Pike 1977): 44 deg
    (0.8, 0.20, False),    # under 1 m across (issue #18)
])
def test_crater_hazards(diameter, ratio, hazard):
    assert bool(ht.is_hazard_crater(diameter / 2, ratio * diameter)) is hazard
    assert len(ht.hazard_craters([{'radius': diameter / 2, 'depth': ratio * diameter}])) == int(hazard)


def _cap(x, y, h=0.2, r=0.2):
    return h * np.sqrt(np.clip(1 - (x * x + y * y) / r ** 2, 0, None))


def test_rock_protrusion_on_flat_and_sloped_ground():
    assert ht.rock_protrusion_m(0.0, 0.0, 0.2, _cap) == pytest.approx(0.2, abs=1e-3)
    # on a 10 deg slope, seated at its lowest point (as the generators seat rocks): it stands
    # out less than its drawn height over the median ground of the ring around it
    k = math.tan(math.radians(10.0))

    def seated(x, y):
        inside = x * x + y * y < 0.2 ** 2
        return np.where(inside, np.maximum(k * x, -0.2 * k + _cap(x, y)), k * x)
    assert ht.rock_protrusion_m(0.0, 0.0, 0.2, seated) == pytest.approx(0.2 - 0.2 * k, abs=5e-3)
    assert ht.hazard_rocks([{'x': 0.0, 'y': 0.0, 'radius': 0.2}], seated) == []
    assert len(ht.hazard_rocks([{'x': 0.0, 'y': 0.0, 'radius': 0.2}], _cap)) == 1


def test_grid_height_at_is_bilinear_on_vertex_samples():
    h = np.arange(12, dtype=float).reshape(3, 4)           # z = 4 row + col
    f = ht.grid_height_at(h, -1.0, 2.0, 0.5)
    assert f(-1.0, 2.0) == 0.0
    assert f(-0.75, 2.25) == pytest.approx(0.5 + 2.0)      # half a cell each way
    assert f(10.0, 10.0) == pytest.approx(11.0)           # clamped to the far corner
