"""Despeckling the elevation grid: a single-cell stereo mismatch is no step, a rock stays."""
import numpy as np
import pytest

from mining_rover.mapping.despeckle import despeckle
from mining_rover.mapping.hazards import HazardParams, detect_hazards
from mining_rover.mapping.traversability import LETHAL, TraversabilityParams, traversability

RES = 0.05


def _ground(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.005, (n, n)).astype(np.float32)


def _rock(h, row, col, radius_m=0.17, height_m=0.17):
    r, c = np.mgrid[0:h.shape[0], 0:h.shape[1]]
    d = np.hypot(r - row, c - col) * RES
    h = h.copy()
    h[d < radius_m] += height_m * np.sqrt(1.0 - (d[d < radius_m] / radius_m) ** 2)
    return h


@pytest.mark.parametrize('window', [3, 5])
def test_a_single_cell_mismatch_is_removed_and_judged_free(window):
    h = _ground()
    h[60, 60] = 0.25          # a stereo mismatch, 0.25 m proud of flat ground
    h[30, 90] = -0.2
    raw = traversability(h, RES, TraversabilityParams())
    assert (raw.cost == LETHAL).sum() > 0          # the step layer paints a disc around it
    clean = despeckle(h, window)
    assert abs(clean[60, 60]) < 0.02 and abs(clean[30, 90]) < 0.02
    assert (traversability(clean, RES, TraversabilityParams()).cost == LETHAL).sum() == 0


def test_a_rock_survives_and_is_still_a_hazard():
    h = _rock(_ground(), 60, 60, radius_m=0.2, height_m=0.2)   # the sim's rocks: hemispheres 0.15-0.4 m
    clean = despeckle(h, 3)
    assert clean[60, 60] == pytest.approx(h[60, 60], abs=0.02)
    hz = detect_hazards(clean, RES, (0.0, 0.0), HazardParams())
    assert len(hz.rocks) == 1
    assert (traversability(clean, RES, TraversabilityParams()).cost[55:66, 55:66] == LETHAL).any()


def test_unknown_cells_stay_unknown_and_do_not_vote():
    h = _ground()
    h[:, :50] = np.nan                 # half the map never seen
    h[40:43, 70] = np.nan              # a gap
    out = despeckle(h, 3)
    assert np.array_equal(np.isnan(out), np.isnan(h))
    # a known cell beside unknown ones keeps a height from its known neighbours
    assert np.all(np.abs(out[:, 50:52]) < 0.03)


def test_window_choices():
    h = _ground(20)
    h[5, 5] = 1.0
    assert np.array_equal(despeckle(h, 0), h) and np.array_equal(despeckle(h, 1), h)
    assert despeckle(h, 5)[5, 5] < 0.05
    assert np.isnan(despeckle(np.full((4, 4), np.nan, np.float32), 3)).all()
    for bad in (2, 4, 7, -3):
        with pytest.raises(ValueError):
            despeckle(h, bad)
