"""Prospecting layer and dig-site scoring on synthetic maps."""
import math

import numpy as np
import pytest

from mining_rover.planning.astar import LETHAL
from mining_rover.planning.resource import (TYPICAL_GRADE, ResourceBelief, load_prior_map,
                                            uniform_prior)
from mining_rover.planning.sites import SiteConfig, score_sites

RES = 0.1


def _score(costs=None, elevation=None, grade=None, berm=(0.5, 5.0), zone=(5.0, 5.0, 3.0), **kw):
    n = 100
    costs = np.zeros((n, n), np.int16) if costs is None else costs
    elevation = np.zeros((n, n)) if elevation is None else elevation
    grade = np.full((n, n), 1e-4) if grade is None else grade
    return score_sites(costs, elevation, RES, (0.0, 0.0), grade, grade * 0.0, zone, berm,
                       0.02, 20.0, 1500.0, cfg=SiteConfig(**kw))


def test_richer_ground_ranks_first():
    grade = np.full((100, 100), 1e-4)
    grade[60:80, 60:80] = 5e-4
    best = _score(grade=grade)[0]
    assert 6.0 <= best.x <= 8.0 and 6.0 <= best.y <= 8.0
    assert best.expected_target_kg == pytest.approx(best.expected_mass_kg * 5e-4)


def test_nearer_the_berm_ranks_first_on_uniform_ground():
    sites = _score(berm=(0.5, 5.0))
    assert sites[0].x < 3.5
    assert [s.score for s in sites] == sorted((s.score for s in sites), reverse=True)


def test_hazards_and_slopes_are_excluded():
    costs = np.zeros((100, 100), np.int16)
    costs[45:55, 45:55] = LETHAL
    yy, xx = np.mgrid[0:100, 0:100]
    elevation = np.where(xx < 50, 0.0, (xx - 50) * RES * 0.5)   # 26.6 deg ramp on the east half
    sites = _score(costs=costs, elevation=elevation, min_clearance_m=0.8, max_slope_deg=15.0, max_sites=50)
    assert sites
    for s in sites:
        assert s.clearance_m >= 0.8 and s.slope_deg <= 15.0
        assert s.x < 5.0 + 0.6


def test_unknown_ground_and_no_cut_give_no_sites():
    unknown = np.full((100, 100), np.nan)
    assert _score(elevation=unknown) == []
    n = 100
    z = np.zeros((n, n))
    assert all(s.score == 0 for s in score_sites(np.zeros((n, n), np.int16), z, RES, (0, 0), z, z,
                                                 (5, 5, 2), (0, 0), 0.0, 20.0, 1500.0))


def test_unreachable_sites_are_dropped():
    sites = _score(max_sites=5)
    reach = score_sites(np.zeros((100, 100), np.int16), np.zeros((100, 100)), RES, (0, 0),
                        np.full((100, 100), 1e-4), np.zeros((100, 100)), (5, 5, 3), (0.5, 5.0),
                        0.02, 20.0, 1500.0, travel_from_rover=lambda xy: np.where(xy[:, 0] < 5, np.inf, 1.0))
    assert sites and reach and all(s.x >= 5 for s in reach)


def test_prior_map_loader_tolerates_bad_files(tmp_path):
    missing, why = load_prior_map(tmp_path / 'nope.npz', 'helium3')
    assert missing.uniform and 'unreadable' in why
    corrupt = tmp_path / 'bad.npz'
    corrupt.write_bytes(b'not a zip at all')
    m, why = load_prior_map(corrupt, 'rare_earth')
    assert m.uniform and why
    other = tmp_path / 'other.npz'
    np.savez(other, rare_earth=np.ones((3, 3)), resolution=1.0, origin=[0.0, 0.0])
    m, why = load_prior_map(other, 'platinum_group')
    assert m.uniform and 'no' in why and m.mean.flat[0] == TYPICAL_GRADE['platinum_group']
    m, why = load_prior_map('', 'helium3')
    assert m.uniform and why


def test_prior_map_loads_and_belief_fuses_measurements(tmp_path):
    f = tmp_path / 'prior.npz'
    g = np.full((4, 4), 1e-8)
    g[3, 3] = 4e-8                         # row 3 = highest y
    g[0, 0] = np.nan                       # bad cell: filled with the median
    np.savez(f, helium3=g, helium3_std=np.full((4, 4), 1e-8), resolution=2.0, origin=[-4.0, -4.0])
    prior, why = load_prior_map(f, 'helium3')
    assert why == '' and not prior.uniform
    belief = ResourceBelief(prior, (80, 80), RES, (-4.0, -4.0))
    mean, std = belief.at([(3.0, 3.0), (-3.9, -3.9)])
    assert mean[0] == pytest.approx(4e-8) and mean[1] == pytest.approx(1e-8)
    # A precise measurement pulls the mean most of the way and shrinks the variance.
    n = belief.update((3.0, 3.0), 0.3, 1e-8, 1e-9)
    assert n > 0
    m2, s2 = belief.at([(3.0, 3.0)])
    assert abs(m2[0] - 1e-8) < 0.05 * 3e-8 and s2[0] < std[0]
    assert belief.update((3.0, 3.0), 0.3, math.nan, 1e-9) == 0


def test_uniform_prior_has_typical_grade():
    p = uniform_prior('rare_earth')
    mean, _ = p.sample([(100.0, -3.0)])
    assert mean[0] == TYPICAL_GRADE['rare_earth']
