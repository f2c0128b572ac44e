"""Operational sites (sim.site_layout, sim.sites): distances, hazard models and densities,
hazards on the route, slopes, reachability, determinism, the files and the command line."""
from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest

from mining_rover.sim import site_layout as sl
from mining_rover.sim.hazard_truth import grid_height_at
from mining_rover.sim.sites import world_ref
from mining_rover.sim.world import list_worlds, load_world
from mining_rover.sim.worldgen import WORLDS, build_operational

OPERATIONAL = sorted(sl.HAZARD_MODELS)


@pytest.fixture(scope='module')
def sites():
    return {w: load_world(world_ref(w, 'operational')) for w in OPERATIONAL}


def test_every_planetary_world_has_a_committed_operational_site(sites):
    assert set(OPERATIONAL) == set(WORLDS) - {'lunabotics_arena'}
    for name, w in sites.items():
        assert w.name == name and w.site.kind == 'operational' and w.site.seed == WORLDS[name].seed
        assert w.size_xy[0] >= 60.0 and w.size_xy[1] >= 60.0
        assert w.gravity_mps2 == pytest.approx(load_world(name).gravity_mps2)
        # the operational files are not worlds of their own
        assert f'{name}_operational' not in list_worlds()


def test_dig_zone_is_25_to_40_m_from_the_base_and_the_start_beside_it(sites):
    for name, w in sites.items():
        (dx, dy, _), (bx, by, _) = w.zones.dig_zone, w.zones.berm_zone
        haul = math.hypot(dx - bx, dy - by)
        assert 25.0 <= haul <= 40.0, name
        assert w.site.haul_distance_m == pytest.approx(haul, abs=1e-3)
        sx, sy, yaw = w.zones.start_xy_yaw
        assert math.hypot(sx - bx, sy - by) < 5.0
        # the rover starts facing the dig zone; the base faces the route
        assert abs(math.remainder(yaw - math.atan2(dy - sy, dx - sx), math.tau)) < 1e-3
        assert w.site.base_xy_yaw[:2] == pytest.approx((bx, by))
        assert abs(math.remainder(w.site.base_xy_yaw[2] - math.atan2(dy - by, dx - bx), math.tau)) < 1e-3


def test_the_dig_direction_depends_on_the_seed():
    directions = {round(sl.layout_site('moon_south_pole', s).base_xy_yaw[2], 3) for s in (11, 12, 13)}
    assert len(directions) == 3


def test_the_straight_route_crosses_at_least_three_lethal_hazards(sites):
    # by the shared definition (sim/hazard_truth.py), on the terrain as written to the world
    for name, w in sites.items():
        a, b = w.zones.berm_zone[:2], w.zones.dig_zone[:2]
        height_at = grid_height_at(w.heights, *w.origin_xy, w.resolution_m)
        assert sl.line_hazards(list(w.hazards.craters), list(w.hazards.rocks), a, b, height_at) >= 3, name


def test_degraded_craters_do_not_count_as_route_hazards():
    # a 2 m crater 8 cm deep (depth/diameter 0.04, walls ~11 deg) on the line is ground; the
    # same crater 0.3 m deep (0.15, walls ~36 deg) is a hazard; a 0.3 m rock counts, a 0.15 m
    # one does not
    a, b = (0.0, 0.0), (10.0, 0.0)
    flat = lambda x, y: np.zeros(np.shape(x))
    shallow = [{'x': 3.0, 'y': 0.0, 'radius': 1.0, 'depth': 0.08}]
    deep = [{'x': 3.0, 'y': 0.0, 'radius': 1.0, 'depth': 0.3}]
    assert sl.line_hazards(shallow, [], a, b, flat) == 0
    assert sl.line_hazards(deep, [], a, b, flat) == 1
    rocks = [{'x': 6.0, 'y': 0.0, 'height': 0.3, 'radius': 0.3},
             {'x': 8.0, 'y': 0.0, 'height': 0.15, 'radius': 0.15}]

    def caps(x, y):
        z = np.zeros(np.shape(x))
        for k in rocks:
            z = np.maximum(z, k['height'] * np.sqrt(np.clip(1 - ((x - k['x']) ** 2 + (y - k['y']) ** 2)
                                                            / k['radius'] ** 2, 0, None)))
        return z
    assert sl.line_hazards([], rocks, a, b, caps) == 1


def test_zones_are_clear_of_hazards(sites):
    for name, w in sites.items():
        (bx, by, _), (dx, dy, dr) = w.zones.berm_zone, w.zones.dig_zone
        sx, sy, _ = w.zones.start_xy_yaw
        for zx, zy, zr in ((bx, by, sl.BASE_CLEAR_M), (sx, sy, sl.START_CLEAR_M), (dx, dy, dr)):
            for h in (*w.hazards.craters, *w.hazards.rocks):
                assert math.hypot(h['x'] - zx, h['y'] - zy) > h['radius'] + zr, (name, h)


def test_slopes_stay_within_15_deg_off_the_rocks(sites):
    for name, w in sites.items():
        slope = sl.slope_deg(w.heights, w.resolution_m)
        rock = np.zeros(w.heights.shape, bool)
        for r in w.hazards.rocks:   # a rock's flank is an obstacle, not a slope to drive
            sl._disc(rock, r['x'], r['y'], r['radius'] + 2 * w.resolution_m, *w.origin_xy,
                     w.resolution_m, w.heights.shape[0])
        assert slope[~rock].max() <= sl.MAX_SLOPE_DEG, name


def test_the_dig_zone_is_reachable(sites):
    for name, w in sites.items():
        lethal = sl.lethal_grid(w.heights, list(w.hazards.craters), list(w.hazards.rocks), *w.origin_xy,
                                w.resolution_m)
        # heights with rocks: their flanks are steep, which only adds lethal cells
        assert sl.reachable(lethal, w.zones.start_xy_yaw[:2], w.zones.dig_zone[:2], *w.origin_xy,
                            w.resolution_m), name


def test_lunar_crater_density_follows_the_equilibrium_law(sites):
    moon = sites['moon_south_pole']
    d = np.array([2 * c['radius'] for c in moon.hazards.craters])
    model = sl.HAZARD_MODELS['moon_south_pole']
    area = moon.size_xy[0] * moon.size_xy[1]
    # Trask: N(>D) = 10^-1.1 D^-2 per m^2; minus the clear zones (~120 m^2 of 4096) and
    # the craters placed on the route. Poisson: 4 sigma of ~300 is ~70.
    for d0 in (1.0, 2.0, 4.0):
        expected = area * sl.TRASK_EQ_COEFF * (d0 ** -2 - model.crater_d_m[1] ** -2)
        assert abs(np.sum(d >= d0) - expected) < 4 * math.sqrt(expected) + 0.05 * expected, d0


def test_rock_laws_reproduce_their_published_forms():
    rng = np.random.default_rng(0)
    # Golombek & Rapp 1997: cumulative fractional area F(D) = k exp(-q D), q = 1.79 + 0.152 / k
    mars = sl.HazardModel(0.0, (0.03, 0.05), 'golombek', 0.07, rock_d_m=(0.1, 3.0))
    area = 40000.0
    d = sl.rock_diameters(rng, area, mars)
    q = 1.79 + 0.152 / 0.07
    for d0 in (0.3, 0.6):
        covered = np.sum(math.pi * d[d >= d0] ** 2 / 4) / area
        assert covered == pytest.approx(0.07 * (math.exp(-q * d0) - math.exp(-q * 3.0)), rel=0.15)
    # power law normalised to a rock abundance: rocks >= 1 m cover rock_k (Diviner's RA)
    moon = sl.HazardModel(0.0, (0.03, 0.05), 'power', 0.005, rock_d_m=(0.5, 50.0))
    d = sl.rock_diameters(np.random.default_rng(1), 400000.0, moon)
    covered = np.sum(math.pi * d[d >= 1.0] ** 2 / 4) / 400000.0
    assert covered == pytest.approx(0.005 * (1 - 50.0 ** -0.5), rel=0.25)   # heavy tail: few big rocks


def test_layout_is_deterministic_per_seed():
    a, b, c = (sl.layout_site('vesta', s) for s in (5, 5, 6))
    assert np.array_equal(a.heights, b.heights) and a.craters == b.craters and a.rocks == b.rocks
    assert not np.array_equal(a.heights, c.heights)


def test_a_blocked_draw_is_redrawn_with_the_next_sub_seed(monkeypatch):
    first = sl.layout_site('ceres', 7)
    calls = []
    real = sl.check_layout

    def blocked_once(layout, bare):
        calls.append(layout.attempt)
        return 'the dig zone is unreachable from the start' if layout.attempt == 0 else real(layout, bare)
    monkeypatch.setattr(sl, 'check_layout', blocked_once)
    second = sl.layout_site('ceres', 7)
    assert calls[0] == 0 and second.attempt == calls[-1] >= 1
    assert not np.array_equal(first.heights, second.heights)


@pytest.mark.parametrize('world, seed', [('ceres', 21), ('mars', 22), ('rubble_pile', 23)])
def test_fresh_seeds_meet_every_requirement(world, seed):
    site = sl.layout_site(world, seed)
    assert sl.HAUL_RANGE_M[0] <= site.haul_distance_m <= sl.HAUL_RANGE_M[1]
    assert site.line_hazards >= sl.MIN_LINE_HAZARDS
    a, b = site.berm_zone[:2], site.dig_zone[:2]
    assert site.line_hazards == sl.line_hazards(site.craters, site.rocks, a, b,
                                                grid_height_at(site.heights, site.x0, site.y0, site.res))
    assert site.max_slope_deg <= sl.MAX_SLOPE_DEG


def test_an_unreachable_site_is_refused_with_the_reason():
    boulder_field = sl.HazardModel(0.0, (0.03, 0.05), 'power', 0.5, rock_d_m=(0.4, 2.0))
    with pytest.raises(ValueError, match=r"'moon_south_pole', seed 3: refused after 2 draws; last: "
                                         r'the dig zone is unreachable'):
        sl.layout_site('moon_south_pole', 3, model=boulder_field, max_attempts=2)
    with pytest.raises(ValueError, match='no operational site'):
        sl.layout_site('lunabotics_arena', 1)


def test_committed_site_is_what_worldgen_writes(tmp_path):
    sdf = build_operational(WORLDS['rubble_pile'], tmp_path)
    assert sdf.read_text() == load_world(world_ref('rubble_pile', 'operational')).sdf_path.read_text()
    assert (tmp_path / 'media' / 'rubble_pile_operational' / 'truth.npz').read_bytes() == \
        (load_world(world_ref('rubble_pile', 'operational')).sdf_path.parent / 'media'
         / 'rubble_pile_operational' / 'truth.npz').read_bytes()


def test_other_seeds_are_generated_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MINING_ROVER_SITE_CACHE', str(tmp_path))
    ref = world_ref('psyche', 'operational', 41)
    assert ref.startswith(str(tmp_path / 'seed-41'))
    w = load_world(ref)
    assert w.name == 'psyche' and w.site.seed == 41
    mtime = (tmp_path / 'seed-41' / 'psyche_operational.sdf').stat().st_mtime_ns
    assert world_ref('psyche', 'operational', 41) == ref
    assert (tmp_path / 'seed-41' / 'psyche_operational.sdf').stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / 'seed-41').iterdir() if p.name.startswith('.gen')] == []
    if shutil.which('ign'):
        out = subprocess.run(['ign', 'sdf', '-k', ref], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and 'Valid' in out.stdout, out.stdout + out.stderr


def test_site_requests_name_what_is_wrong():
    assert world_ref('vesta') == 'vesta'
    for args, words in ((('vesta', 'huge'), "--site 'huge': expected one of compact, operational"),
                        (('vesta', 'compact', 3), '--site-seed 3: only an operational site'),
                        (('lunabotics_arena', 'operational'), 'competition arena'),
                        (('vesta', 'operational', -1), '--site-seed -1')):
        with pytest.raises(ValueError, match=words):
            world_ref(*args)


def test_sim_site_flag_is_one_line_exit_2(tmp_path, capsys):
    from mining_rover import cli
    for argv, words in ((['--site', 'huge'], "invalid choice: 'huge'"),
                        (['--site', 'operational', '--world', 'lunabotics_arena'], 'no operational site'),
                        (['--site-seed', '4'], 'only an operational site has a seed')):
        try:
            code = cli.main(['sim', '--duration', '5', '--out', str(tmp_path / 'x'), *argv])
        except SystemExit as exc:   # argparse's own refusal (OneLineParser: one line, exit 2)
            code = exc.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / 'x').exists()


def test_summary_site_facts(sites):
    from mining_rover.mission_runner import site_facts
    moon = sites['moon_south_pole']
    facts = site_facts(moon, 'operational')
    assert facts['site'] == 'operational' and facts['site_seed'] == 1
    assert facts['haul_distance_m'] == pytest.approx(moon.site.haul_distance_m, abs=1e-3)
    compact = site_facts(load_world('moon_south_pole'), 'compact')
    assert compact['site_seed'] is None and compact['haul_distance_m'] < 5.0


def test_a_sweep_mission_on_operational_sites_runs_its_own_seed_s_site():
    from mining_rover.runner.sweep_task import runner_argv
    job = {'world': 'vesta', 'seed': 4, 'duration_s': 10.0, 'out_dir': '/tmp/x', 'record': False,
           'params': []}
    assert '--site' not in runner_argv(job)
    argv = runner_argv({**job, 'site': 'operational'})
    assert argv[argv.index('--site') + 1] == 'operational' and argv[argv.index('--site-seed') + 1] == '4'


def test_every_site_has_a_base_pose_facing_the_dig_zone(sites):
    for w in (*sites.values(), load_world('moon_south_pole'), load_world('lunabotics_arena')):
        (bx, by, _), (dx, dy, _) = w.zones.berm_zone, w.zones.dig_zone
        x, y, yaw = w.site.base_xy_yaw
        assert (x, y) == pytest.approx((bx, by))
        assert yaw == pytest.approx(math.atan2(dy - by, dx - bx), abs=1e-4)


def test_sweep_all_worlds_on_operational_sites_means_those_with_one():
    from mining_rover import cli
    from mining_rover.runner.sweep import request_from_args
    args = cli._parser().parse_args(['sweep', '--worlds', 'all', '--site', 'operational', '--seeds', '2',
                                     '--duration', '10', '--out', '/tmp/never'])
    assert request_from_args(args).worlds == sorted(sl.HAZARD_MODELS)
