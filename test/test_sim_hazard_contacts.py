"""The simulator's hazard-contact counter (sim/hazard_contacts.py): each entry counted once
over hundreds of hazards, and only hazards by the shared definition (sim/hazard_truth.py)."""
from __future__ import annotations

import math

import numpy as np

from mining_rover.sim.hazard_contacts import HazardContacts


def _caps(rocks):
    """height_at(x, y) of flat ground carrying the rocks as spherical caps (as the generators draw)."""
    def height_at(x, y):
        z = np.zeros(np.shape(x))
        for k in rocks:
            d2 = ((np.asarray(x) - k['x']) ** 2 + (np.asarray(y) - k['y']) ** 2) / k['radius'] ** 2
            z = np.maximum(z, k['height'] * np.sqrt(np.clip(1.0 - d2, 0.0, None)))
        return z
    return height_at


def test_hazard_contacts_count_each_entry_once():
    rng = np.random.default_rng(0)
    craters = [{'x': float(x), 'y': float(y), 'radius': 1.0, 'depth': 0.2}
               for x, y in rng.uniform(-30, 30, (400, 2))]
    rocks = [{'x': 50.0 + 2 * i, 'y': 0.0, 'height': 0.3, 'radius': 0.3} for i in range(100)]
    hc = HazardContacts(craters, rocks, _caps(rocks))
    assert (hc.n_craters, hc.n_rocks) == (400, 100)
    far = np.array([[300.0, 300.0]])
    assert hc.update(far) == 0
    c = craters[17]
    inside = np.array([[c['x'] + 0.5, c['y']], [300.0, 300.0]])        # within 0.7 R of the centre
    expected = sum(math.hypot(k['x'] - inside[0, 0], k['y'] - inside[0, 1]) < 0.7 for k in craters)
    assert hc.update(inside) == expected >= 1
    assert hc.update(inside) == 0                                       # still in: no new contact
    assert hc.update(np.array([[50.1, 0.0], [54.0, 0.1]])) == 2         # two rocks, two bodies
    assert hc.update(far) == 0
    assert hc.update(inside) == expected                                # left and came back
    hc.reset()
    assert hc.update(inside) == expected
    assert HazardContacts([], [], _caps([])).update(far) == 0


def test_only_hazards_by_the_shared_definition_count():
    # a degraded 2 m crater 8 cm deep (walls ~11 deg) and a 0.15 m rock are driven over;
    # a 2 m crater 0.3 m deep (walls ~36 deg) and a 0.3 m rock are hazards
    craters = [{'x': 0.0, 'y': 0.0, 'radius': 1.0, 'depth': 0.08},
               {'x': 10.0, 'y': 0.0, 'radius': 1.0, 'depth': 0.3}]
    rocks = [{'x': 20.0, 'y': 0.0, 'height': 0.15, 'radius': 0.15},
             {'x': 30.0, 'y': 0.0, 'height': 0.3, 'radius': 0.3}]
    hc = HazardContacts(craters, rocks, _caps(rocks))
    assert (hc.n_craters, hc.n_rocks) == (1, 1)
    counts = [hc.update(np.array([[x, 0.0]])) for x in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)]
    assert counts == [0, 0, 1, 0, 0, 0, 1]


def test_a_rock_sunk_in_a_hollow_is_judged_by_what_it_shows():
    # a 0.25 m cap whose base sits 0.1 m below the ground around it stands 0.15 m out
    rock = {'x': 0.0, 'y': 0.0, 'height': 0.25, 'radius': 0.25}

    def sunk(x, y):
        d = np.hypot(x, y)
        return np.where(d <= 0.25, -0.1 + 0.25 * np.sqrt(np.clip(1 - (d / 0.25) ** 2, 0, None)), 0.0)
    assert HazardContacts([], [rock], sunk).n_rocks == 0
    assert HazardContacts([], [rock], _caps([rock])).n_rocks == 1
