"""Hazard detection and traversability layers on synthetic heightmaps with known craters
and rocks (no ROS, no rendering)."""
import numpy as np
import pytest

from mining_rover.mapping.hazards import (Crater, Rock, detect_hazards,
                                          fill_unknown, match_detections)
from mining_rover.mapping.traversability import (LETHAL, UNKNOWN, TraversabilityParams,
                                                 roughness_m, slope_rad, step_height_m,
                                                 traversability)

RES = 0.05
N = 300  # 15 m x 15 m
ORIGIN = (-7.5, -7.5)


def terrain(rocks=(), craters=(), slope=(0.05, -0.03), noise_m=0.005, seed=0):
    """Plane + small noise + bowl craters with raised rims + spherical-cap rocks."""
    c = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    X, Y = np.meshgrid(c, c)
    h = slope[0] * X + slope[1] * Y
    h += np.random.default_rng(seed).normal(0.0, noise_m, h.shape)
    for cr in craters:
        r = np.hypot(X - cr.x, Y - cr.y) / cr.radius
        bowl = np.where(r < 1.0, -cr.depth * (1.0 - r ** 2), 0.0)
        rim = 0.15 * cr.depth * np.exp(-((r - 1.0) / 0.25) ** 2)
        h += bowl + rim
    for rk in rocks:
        d2 = (X - rk.x) ** 2 + (Y - rk.y) ** 2
        h = np.maximum(h, np.where(d2 < rk.radius ** 2,
                                   h + rk.height * np.sqrt(np.clip(1 - d2 / rk.radius ** 2, 0, 1)), h))
    return h.astype(np.float32)


ROCKS = [Rock(2.0, 3.0, 0.25, 0.2), Rock(-4.0, 1.0, 0.18, 0.15), Rock(0.5, -5.0, 0.4, 0.35),
         Rock(5.0, -1.0, 0.18, 0.18)]   # 3 cm over the 0.15 m threshold: the 3x3 median costs ~1 cm
CRATERS = [Crater(-3.0, -3.0, 1.0, 0.3), Crater(3.5, 4.5, 0.4, 0.12), Crater(-2.5, 5.0, 1.6, 0.45)]


def test_detects_known_rocks_and_craters():
    h = terrain(ROCKS, CRATERS)
    hz = detect_hazards(h, RES, ORIGIN)
    _, rp, rr = match_detections(hz.rocks, ROCKS, 0.3)
    _, cp, cr = match_detections(hz.craters, CRATERS, lambda t: max(0.3, 0.5 * t.radius))
    assert (rp, rr) == (1.0, 1.0), hz.rocks
    assert (cp, cr) == (1.0, 1.0), hz.craters
    for rock in ROCKS:  # top-hat height within 3 cm (noise 5 mm, cell quantisation)
        det = min(hz.rocks, key=lambda d: np.hypot(d.x - rock.x, d.y - rock.y))
        assert det.height == pytest.approx(rock.height, abs=0.04)
    for crater in CRATERS:  # radius within 25 % (depression of the parabolic bowl fades at
        det = min(hz.craters, key=lambda d: np.hypot(d.x - crater.x, d.y - crater.y))
        assert det.radius == pytest.approx(crater.radius, rel=0.3)  # the rim)
        assert det.depth == pytest.approx(crater.depth, rel=0.25)
    assert hz.footprint.any()


def test_small_bumps_and_slopes_are_not_hazards():
    small = [Rock(1.0, 1.0, 0.08, 0.2), Rock(-3.0, 2.0, 0.1, 0.3)]
    shallow = [Crater(2.0, -3.0, 0.15, 0.2)]   # 0.3 m diameter: below 0.5 m
    h = terrain(small, shallow, slope=(0.2, 0.1), noise_m=0.01)
    hz = detect_hazards(h, RES, ORIGIN)
    assert hz.rocks == [] and hz.craters == []


def test_unknown_cells_never_become_hazards():
    h = terrain((), ())
    h[100:160, 100:160] = np.nan     # a shadow: unknown, not a hole
    hz = detect_hazards(h, RES, ORIGIN)
    assert hz.rocks == [] and hz.craters == []
    filled = fill_unknown(h)
    assert np.isfinite(filled).all()


def test_layers_on_a_known_plane():
    c = np.arange(N) * RES
    X, _ = np.meshgrid(c, c)
    angle = 0.2
    h = (np.tan(angle) * X).astype(np.float32)
    s = slope_rad(h, RES)
    assert np.nanmedian(s[20:-20, 20:-20]) == pytest.approx(angle, abs=1e-3)
    assert np.nanmax(roughness_m(h, RES)[20:-20, 20:-20]) < 1e-3
    step = step_height_m(h, RES, 0.25)
    # 5-cell disc: max - min spans 4 cells along the slope
    assert np.nanmedian(step[20:-20, 20:-20]) == pytest.approx(np.tan(angle) * 4 * RES, rel=1e-3)


def test_costmap_semantics():
    h = terrain([Rock(0.0, 0.0, 0.4, 0.3)], (), slope=(0.0, 0.0), noise_m=0.002)
    h[:, :40] = np.nan
    layers = traversability(h, RES, TraversabilityParams())
    cost = layers.cost
    assert cost.dtype == np.int8
    assert set(np.unique(cost)) <= set(range(-1, 101))
    assert (cost[:, :40] == UNKNOWN).all()
    r, c = int((0.0 - ORIGIN[1]) / RES), int((0.0 - ORIGIN[0]) / RES)
    assert cost[r, c] == LETHAL               # on the rock flank: step > 0.15 m
    assert np.median(cost[250:, 250:]) <= 20  # flat regolith: cheap


def test_match_detections_counts():
    truth = [Rock(0, 0, 0.2, 0.1), Rock(5, 5, 0.2, 0.1)]
    found = [Rock(0.1, 0, 0.2, 0.1), Rock(0.0, 0.1, 0.2, 0.1), Rock(9, 9, 0.2, 0.1)]
    tp, precision, recall = match_detections(found, truth, 0.5)
    assert tp == 1 and precision == pytest.approx(1 / 3) and recall == 0.5


def test_crater_median_window_is_checked():
    from mining_rover.mapping.hazards import HazardParams
    assert HazardParams().crater_median_cells == 5
    for bad in (2, 4, 7):
        with pytest.raises(ValueError):
            HazardParams(crater_median_cells=bad)
