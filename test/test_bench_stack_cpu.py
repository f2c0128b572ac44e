"""bench/stack_cpu.py's Jetson run applies config/jetson.yaml to nodes the runner starts."""
from __future__ import annotations

import yaml
from bench_modules import REPO, load_bench


def _bench():
    return load_bench('stack_cpu')


def test_jetson_overrides_are_the_jetson_file_plus_the_camera_at_the_stereo_rate():
    over = _bench().jetson_overrides()
    from mining_rover.paths import param_sections
    doc = yaml.safe_load((REPO / 'config' / 'jetson.yaml').read_text())
    assert len(doc) >= 4
    for key, section in doc.items():
        assert over[key.rsplit('/', 1)[-1]] == section['ros__parameters']
    assert over['sim_node']['camera_rate_hz'] == \
        param_sections(doc)['stereo_node']['process_rate_hz']


def test_jetson_overrides_name_only_nodes_the_runner_starts(tmp_path):
    from mining_rover.runner.stack import mission_nodes
    site = {'planner': {}, 'mission': {}}
    started = {s.name for s in mission_nodes(site, world='moon_south_pole', seed=1, rtf=0.0,
                                             target_resource='helium3', state_file=tmp_path / 's')}
    assert set(_bench().jetson_overrides()) <= started   # else the run would not measure them
