"""Worlds: generation is deterministic, every SDF is valid, load_world names what is wrong."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from mining_rover.sim import worldgen
from mining_rover.sim.terrain import TerrainParams, generate
from mining_rover.sim.world import list_worlds, load_world

EXPECTED_G = {'moon_south_pole': 1.62, 'psyche': 0.144, 'vesta': 0.25, 'ceres': 0.28,
              'rubble_pile': 5e-5, 'mars': 3.72, 'lunabotics_arena': 9.81}


def test_every_world_is_listed_and_loads():
    assert set(EXPECTED_G) <= set(list_worlds())
    for name, g in EXPECTED_G.items():
        w = load_world(name)
        assert w.gravity_mps2 == pytest.approx(g, rel=1e-6)
        assert w.heights.dtype == np.float32 and w.heights.shape[0] in (129, 257)
        assert w.vacuum == (name not in ('mars', 'lunabotics_arena'))
        for zone in (w.zones.dig_zone, w.zones.berm_zone):
            assert abs(zone[0]) < w.size_xy[0] / 2 and abs(zone[1]) < w.size_xy[1] / 2
        for key in ('density_kgpm3', 'cohesion_pa', 'friction_deg', 'wall_friction_deg', 'region'):
            assert w.regolith[key].shape == w.heights.shape
        assert w.prior_map_path.is_file()
        size = sum(p.stat().st_size for p in w.prior_map_path.parent.iterdir()) + w.sdf_path.stat().st_size
        assert size < 1_000_000
    moon = load_world('moon_south_pole')
    assert moon.size_xy == (24.0, 24.0)
    assert moon.sun_direction[2] == pytest.approx(-np.sin(np.radians(5.0)), abs=1e-3)
    assert load_world('mars').atmosphere_pressure_pa == pytest.approx(600.0)


def test_start_and_berm_zones_are_clear_of_hazards():
    for name in EXPECTED_G:
        w = load_world(name)
        for zx, zy, zr in ((*w.zones.start_xy_yaw[:2], 1.0), w.zones.berm_zone):
            for c in w.hazards.craters:
                assert np.hypot(c['x'] - zx, c['y'] - zy) > c['radius'] + zr, (name, c)
            for r in w.hazards.rocks:
                assert np.hypot(r['x'] - zx, r['y'] - zy) > r['radius'] + zr, (name, r)


def test_terrain_is_seeded_and_has_craters_and_rocks():
    p = TerrainParams(n=65, size_x=12, size_y=12, crater_count=8, rock_count=5)
    a, b, c = generate(p, seed=3), generate(p, seed=3), generate(p, seed=4)
    assert np.array_equal(a['heights'], b['heights']) and not np.array_equal(a['heights'], c['heights'])
    assert a['craters'] and a['rocks']
    for r in a['rocks']:
        assert 0.15 <= r['height'] <= 0.4


def test_worldgen_is_deterministic(tmp_path):
    worldgen.main(['--out', str(tmp_path), 'vesta'])
    first = {p.name: p.read_bytes() for p in (tmp_path / 'media' / 'vesta').iterdir()}
    first['sdf'] = (tmp_path / 'vesta.sdf').read_bytes()
    worldgen.main(['--out', str(tmp_path), 'vesta'])
    second = {p.name: p.read_bytes() for p in (tmp_path / 'media' / 'vesta').iterdir()}
    second['sdf'] = (tmp_path / 'vesta.sdf').read_bytes()
    assert first == second
    installed = load_world('vesta')
    assert (tmp_path / 'vesta.sdf').read_text() == installed.sdf_path.read_text()


@pytest.mark.skipif(shutil.which('ign') is None,
                    reason='`ign` (Ignition/Gazebo sdformat tools) not installed')
def test_every_world_passes_ign_sdf_check():
    from mining_rover.sim.site_layout import HAZARD_MODELS
    from mining_rover.sim.sites import world_ref
    paths = [load_world(name).sdf_path for name in EXPECTED_G]
    paths += [world_ref(name, 'operational') for name in HAZARD_MODELS]   # the operational sites
    for path in paths:
        out = subprocess.run(['ign', 'sdf', '-k', str(path)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and 'Valid' in out.stdout, f'{path}: {out.stdout}{out.stderr}'


def test_bad_worlds_name_file_and_element(tmp_path):
    with pytest.raises(ValueError, match='moon_south_pole'):
        load_world('no_such_world')
    src = load_world('ceres').sdf_path
    bad = tmp_path / 'bad.sdf'
    bad.write_text('<sdf><world>')
    with pytest.raises(ValueError, match='bad.sdf'):
        load_world(bad)
    text = src.read_text()
    nograv = tmp_path / 'nograv.sdf'
    nograv.write_text(text.replace('<gravity>0 0 -0.28</gravity>', ''))
    with pytest.raises(ValueError, match=r'nograv.sdf.*<gravity>'):
        load_world(nograv)
    missing = tmp_path / 'missing.sdf'
    missing.write_text(text)  # side files are relative to the SDF: absent here
    with pytest.raises(ValueError, match=r'missing.sdf.*mining:truth'):
        load_world(missing)
    nozone = tmp_path / 'nozone.sdf'
    nozone.write_text(text.replace('<mining:berm_zone', '<mining:other'))
    with pytest.raises(ValueError, match=r'nozone.sdf.*berm_zone'):
        load_world(nozone)
