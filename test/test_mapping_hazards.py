"""Hazard detection and traversability layers on synthetic heightmaps with known craters
and rocks (no ROS, no rendering)."""
import numpy as np
import pytest

from mining_rover.sim.terrain import crater_profile, value_noise

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
    for cr in craters:   # the impact-crater profile the simulator draws (Pike 1977 rim/depth)
        r = np.hypot(X - cr.x, Y - cr.y) / cr.radius
        h += crater_profile(r, cr.depth, 0.2 * cr.depth)
    for rk in rocks:
        d2 = (X - rk.x) ** 2 + (Y - rk.y) ** 2
        h = np.maximum(h, np.where(d2 < rk.radius ** 2,
                                   h + rk.height * np.sqrt(np.clip(1 - d2 / rk.radius ** 2, 0, 1)), h))
    return h.astype(np.float32)


ROCKS = [Rock(2.0, 3.0, 0.25, 0.2), Rock(-4.0, 1.0, 0.18, 0.15), Rock(0.5, -5.0, 0.4, 0.35),
         Rock(5.0, -1.0, 0.18, 0.18)]   # 3 cm over the 0.15 m threshold: the 3x3 median costs ~1 cm
CRATERS = [Crater(-3.0, -3.0, 1.0, 0.3), Crater(3.5, 4.5, 0.55, 0.12), Crater(-2.5, 5.0, 1.6, 0.45)]


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
    for crater in CRATERS:  # radius within 25 % (one step of the template ladder), depth
        det = min(hz.craters, key=lambda d: np.hypot(d.x - crater.x, d.y - crater.y))
        assert det.radius == pytest.approx(crater.radius, rel=0.25)
        assert det.depth == pytest.approx(crater.depth, rel=0.3)   # the 5x5 median rounds the floor
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


def undulating(seed=0, amplitude_m=0.04, size_m=15.0):
    """The world generator's natural undulation (multi-octave value noise, largest octave
    size/4) on the test grid, m."""
    rng = np.random.default_rng(seed)
    return (amplitude_m * value_noise((N, N), rng, size_m / 4 / RES, 5)).astype(np.float32)


def hollow(depth_m, width_m, x=0.0, y=0.0):
    """A smooth natural hollow without a rim (Gaussian), m."""
    c = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    X, Y = np.meshgrid(c, c)
    return (-depth_m * np.exp(-((X - x) ** 2 + (Y - y) ** 2) / (2 * (width_m / 4) ** 2))).astype(np.float32)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_natural_undulation_and_a_hollow_are_no_craters(seed):
    """Issue #18: a 6.7 cm natural hollow was a crater in every run. Undulation plus a
    rimless hollow 6.7 cm deep and 2.5 m wide (depth/diameter 0.03) is no crater; the same
    ground with an impact crater 1.2 m across and 12 cm deep (d/D 0.1, half the fresh
    ratio) has exactly that crater. (At d/D 0.075 the fit misses it on one of these three
    grounds: the 4 cm undulation then rivals the 9 cm bowl.)"""
    ground = terrain((), (), noise_m=0.003, seed=seed) + undulating(seed)
    hz = detect_hazards(ground + hollow(0.067, 2.5, 1.0, -1.0), RES, ORIGIN)
    assert hz.craters == []
    assert not hz.footprint.any()
    crater = Crater(1.0, -1.0, 0.6, 0.12)
    hz = detect_hazards(ground + terrain((), [crater], slope=(0, 0), noise_m=0.0), RES, ORIGIN)
    _, precision, recall = match_detections(hz.craters, [crater], 0.3)
    assert (precision, recall) == (1.0, 1.0), hz.craters


def test_crater_depth_must_be_significant_against_the_height_variance():
    """A shallow crater (1 m across, 6 cm deep) is found where the map knows its heights
    to 5 mm, not where their sigma is 5 cm (its depth is then within the stereo error)."""
    crater = Crater(0.0, 0.0, 0.5, 0.06)
    h = terrain((), [crater], noise_m=0.002)
    for sigma, expected in ((0.005, 1), (0.05, 0)):
        var = np.full(h.shape, sigma ** 2, np.float32)
        hz = detect_hazards(h, RES, ORIGIN, variance=var)
        assert len(hz.craters) == expected, (sigma, hz.craters)


def test_crater_footprint_stays_on_the_crater():
    """Lethal marking of a crater covers its rim disc plus the margin, never the level
    ground around it."""
    crater = Crater(0.0, 0.0, 1.0, 0.2)
    hz = detect_hazards(terrain((), [crater], noise_m=0.002) + undulating(3), RES, ORIGIN)
    assert len(hz.craters) == 1
    c = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    X, Y = np.meshgrid(c, c)
    r = np.hypot(X, Y)
    assert hz.footprint[r <= 0.9].all()
    assert not hz.footprint[r > 1.0 * 1.25 + 0.15 + RES].any()


def test_a_rock_with_its_shadow_unknown_is_found():
    """The ground behind a rock is hidden from the camera (unknown): the rock is still one
    rock of about its height, not a plateau reaching into the shadow."""
    rock = Rock(1.0, 0.0, 0.3, 0.3)
    h = terrain([rock], (), noise_m=0.003)
    c = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    X, Y = np.meshgrid(c, c)
    h[(X > 1.0) & (X < 3.0) & (np.abs(Y) < 0.35)] = np.nan    # the shadow, camera at -x
    hz = detect_hazards(h, RES, ORIGIN)
    _, precision, recall = match_detections(hz.rocks, [rock], 0.3)
    assert (precision, recall) == (1.0, 1.0), hz.rocks
    assert hz.rocks[0].height == pytest.approx(0.3, abs=0.05)


def test_a_small_rock_leaning_on_a_boulder_is_a_rock_of_its_own():
    # a 0.22 m rock touching a 0.4 m boulder: one component whose second top (0.22 m) is
    # below 0.6 of the boulder's height; the h-maxima split keeps it (touching boulders in
    # a dense field were one detection)
    pair = [Rock(0.0, 0.0, 0.4, 0.4), Rock(0.6, 0.1, 0.22, 0.22)]
    hz = detect_hazards(terrain(pair, (), noise_m=0.003), RES, ORIGIN)
    tp, precision, recall = match_detections(hz.rocks, pair, lambda t: max(0.3, t.radius))
    assert (tp, precision, recall) == (2, 1.0, 1.0), hz.rocks
    small = min(hz.rocks, key=lambda d: np.hypot(d.x - 0.6, d.y - 0.1))
    assert small.height == pytest.approx(0.22, abs=0.05)


def test_a_crater_strewn_with_small_rocks_is_found():
    # rocks below the rock threshold (0.13 m) scattered over a 1.2 m crater spoil the rim +
    # bowl fit (R^2 0.4-0.6): the fit leaves such bumps out (BUMP_FRACTION) and accepts
    # R^2 >= 0.5 (with a stricter significance); before, 3 of these 8 craters were lost
    found = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        rocks = [Rock(float(x), float(y), 0.13, 0.2) for x, y in rng.uniform(-0.9, 0.9, (16, 2))]
        h = terrain(rocks, [Crater(0.0, 0.0, 0.6, 0.12)], slope=(0, 0), noise_m=0.004, seed=seed)
        hz = detect_hazards(h + undulating(seed, 0.06), RES, ORIGIN)
        found += any(np.hypot(c.x, c.y) <= 0.3 for c in hz.craters)
        assert len(hz.craters) <= 1 and all(np.hypot(c.x, c.y) <= 0.6 for c in hz.craters), hz.craters
    assert found >= 6


def test_a_rock_is_placed_at_its_top_not_at_its_skirt():
    # stereo leaves a skirt of mixed pixels (rock and ground) on a rock's camera side: the
    # rock's position is that of its upper half, within 1.5 cm of the true centre
    rock = Rock(0.0, 0.0, 0.3, 0.3)
    c = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    X, Y = np.meshgrid(c, c)
    h = terrain([rock], (), noise_m=0.003)
    skirt = (X < -0.2) & (X > -0.8) & (np.abs(Y) < 0.25)
    h = np.where(skirt, np.maximum(h, 0.12 * (X + 0.8) / 0.6 + 0.05 * X - 0.03 * Y), h).astype(np.float32)
    hz = detect_hazards(h, RES, ORIGIN)
    assert len(hz.rocks) == 1, hz.rocks
    assert np.hypot(hz.rocks[0].x - rock.x, hz.rocks[0].y - rock.y) < 0.015, hz.rocks   # skirt-weighted: 3 cm
