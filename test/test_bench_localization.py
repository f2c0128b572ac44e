"""bench/localization.py's route: the far point is inside the world and the legs to it and
back to the berm pass no true rock or crater (the benchmark measures localization, not
hazard contacts); the benchmark is discoverable by `mining-rover bench`."""
import math

import pytest

from bench_modules import load_bench
from mining_rover.benchmarking import discover
from mining_rover.sim.world import load_world


@pytest.mark.parametrize('world', ['moon_south_pole', 'vesta', 'mars'])
def test_route_is_clear_and_inside(world):
    b = load_bench('localization')
    w = load_world(world)
    far = b.far_point(w, w.zones.start_xy_yaw[:2], 5.0)
    dig = w.zones.dig_zone[:2]
    bx, by, _ = w.zones.berm_zone
    assert max(abs(far[0]), abs(far[1])) <= min(w.size_xy) / 2 - 1.0
    assert math.hypot(far[0] - bx, far[1] - by) > math.hypot(dig[0] - bx, dig[1] - by)
    assert b._clear(w, dig, far) and b._clear(w, far, (bx, by), 0.5)


def test_clear_sees_a_rock_on_the_line():
    b = load_bench('localization')
    w = load_world('moon_south_pole')
    r = w.hazards.rocks[0]
    assert not b._clear(w, (r['x'] - 3.0, r['y']), (r['x'] + 3.0, r['y']))


def test_discovered():
    assert 'localization' in discover()


def test_route_goes_round_the_hazards_of_an_operational_site():
    """The operational site puts rocks and craters on the straight line from the base to
    the dig zone: the benchmark's route goes round them, and ends at the goal."""
    b = load_bench('localization')
    w = load_world('moon_south_pole_operational')
    start, dig = w.zones.start_xy_yaw[:2], w.zones.dig_zone[:2]
    assert not b._clear(w, start, dig, 0.4)
    wps = b.route(w, start, dig)
    assert wps[-1] == pytest.approx(tuple(dig))
    legs = [tuple(start), *wps]
    assert all(b._clear(w, p, q, 0.4) for p, q in zip(legs, legs[1:]))
    assert sum(math.dist(p, q) for p, q in zip(legs, legs[1:])) < 1.5 * math.dist(start, dig)
