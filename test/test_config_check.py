"""config_check and world_check as plain functions: the shipped files pass without a
warning, unknown keys are warned about with the nearest known key, and the physical
ranges hold at their edges."""
from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from mining_rover.config_check import (ConfigError, check_params_file, check_rover, load_yaml,
                                       nearest)
from mining_rover.sim.world_check import GRAVITY_MAX_MPS2, GRAVITY_MIN_MPS2, WorldError, check_gravity

REPO = Path(__file__).resolve().parent.parent
ROVER = yaml.safe_load((REPO / 'config' / 'rover.yaml').read_text())


def test_the_shipped_rover_file_passes_without_warnings():
    assert check_rover(copy.deepcopy(ROVER), 'config/rover.yaml') == []


def test_every_shipped_world_passes():
    from mining_rover.sim.world import list_worlds, load_world
    worlds = list_worlds()
    assert len(worlds) >= 7
    for name in worlds:
        load_world(name)


def test_unknown_rover_keys_are_warned_with_the_nearest_known_key():
    r = copy.deepcopy(ROVER)
    r['wheel']['max_velocty'] = 5.0
    r['camra'] = {'baseline': 0.2}
    warnings = check_rover(r, 'config/rover.yaml')
    assert any('unknown key wheel.max_velocty (did you mean wheel.max_velocity?)' in w for w in warnings)
    assert any('unknown key camra (did you mean camera?)' in w for w in warnings)
    assert all(w.count('\n') == 0 for w in warnings)


def test_a_far_off_key_gets_no_guess():
    assert nearest('zzzz', ['radius', 'width']) is None
    r = copy.deepcopy(ROVER)
    r['wheel']['colour'] = 'grey'
    (w,) = check_rover(r, 'rover.yaml')
    assert 'did you mean' not in w and 'wheel.colour' in w


def test_holddown_section_is_optional_but_checked_when_present():
    r = copy.deepcopy(ROVER)
    del r['holddown']
    assert check_rover(r) == []
    r = copy.deepcopy(ROVER)
    r['holddown']['thrusters'] = 2.5
    with pytest.raises(ConfigError, match=r'holddown.thrusters = 2.5: expected .*an integer'):
        check_rover(r)


@pytest.mark.parametrize('value', [0, -1.0, math.nan, math.inf, True, None, '0.2', 11.0])
def test_a_length_must_be_a_finite_positive_number(value):
    r = copy.deepcopy(ROVER)
    r['drum']['radius'] = value
    with pytest.raises(ConfigError, match=r'drum.radius = .*: expected drum radius, m'):
        check_rover(r)


def test_yaml_syntax_error_is_one_line_with_its_position(tmp_path):
    p = tmp_path / 'x.yaml'
    p.write_text('a:\n  b: [1, 2\n  c: 3\n')
    with pytest.raises(ConfigError) as exc:
        load_yaml(p)
    msg = str(exc.value)
    assert '\n' not in msg and 'x.yaml' in msg and 'line 3' in msg and 'YAML syntax error' in msg


class _P(SimpleNamespace):
    """A declared parameter, as mining_rover.ros.params.Param gives the checks."""

    def validate(self, v):
        if not isinstance(v, type(self.default)) or not self.min <= v <= self.max:
            raise ValueError('bad')
        return v


TABLES = {'stereo_node': [_P(name='num_disparities', default=128, min=16, max=256, choices=(),
                             description='disparities, px'),
                          _P(name='process_rate_hz', default=30.0, min=0.1, max=200.0, choices=(),
                             description='rate, Hz')]}


def test_params_file_unknown_key_and_unknown_node_are_warned():
    data = {'stereo_node': {'ros__parameters': {'num_disparity': 64, 'process_rate_hz': 5.0,
                                                'use_sim_time': True}},
            'stereo_nod': {'ros__parameters': {}}}
    warnings = check_params_file('stereo.yaml', data, TABLES)
    assert any('unknown key stereo_node.num_disparity (did you mean stereo_node.num_disparities?)' in w
               for w in warnings)
    assert any('unknown node stereo_nod (did you mean stereo_node?)' in w for w in warnings)
    assert len(warnings) == 2, warnings   # use_sim_time is every node's


def test_params_file_extra_rule_names_the_multiple_of_16():
    data = {'stereo_node': {'ros__parameters': {'num_disparities': 63}}}
    with pytest.raises(ConfigError, match=r'stereo.yaml: stereo_node.num_disparities = 63: expected '
                                          r'disparities, px: an integer in \[16, 256\] and a multiple of 16'):
        check_params_file('stereo.yaml', data, TABLES)
    data['stereo_node']['ros__parameters']['num_disparities'] = 64
    assert check_params_file('stereo.yaml', data, TABLES) == []


@pytest.mark.parametrize('g', [(0, 0, -GRAVITY_MIN_MPS2), (0, 0, -GRAVITY_MAX_MPS2), (0, 0, -1.62),
                               (0.5, 0, -1.0)])
def test_physical_gravity_passes(g):
    check_gravity('w.sdf', np.array(g))


@pytest.mark.parametrize('g, words', [((0, 0, 0), 'zero'), ((0, 0, 9.81), 'points up'),
                                      ((0, 9.81, 0), 'points up or sideways'),
                                      ((1.2, 0, -1.0), 'off vertical'),
                                      ((0, 0, -GRAVITY_MIN_MPS2 / 2), 'outside the physical range'),
                                      ((0, 0, -GRAVITY_MAX_MPS2 * 1.01), 'outside the physical range')])
def test_unphysical_gravity_is_refused(g, words):
    with pytest.raises(WorldError, match=words) as exc:
        check_gravity('w.sdf', np.array(g, dtype=float))
    assert str(exc.value).startswith('w.sdf: <gravity> = ') and '\n' not in str(exc.value)


@pytest.mark.parametrize('node', ['drive_node', 'stereo_node'])
def test_nodes_reading_a_bad_rover_file_refuse_in_one_line(tmp_path, node):
    """The helper every node uses (paths.rover_config, also run before the xacro is
    expanded) raises ConfigError, which run_node turns into one FATAL line and exit 2
    (a missing wheel.radius gave 76 lines of tracebacks from six nodes)."""
    pytest.importorskip('rclpy')
    import os
    share = tmp_path / 'share'
    share.mkdir()
    subprocess.run(['cp', '-r', str(REPO / 'config'), str(REPO / 'urdf'), str(share)], check=True)
    text = (share / 'config' / 'rover.yaml').read_text()
    (share / 'config' / 'rover.yaml').write_text(text.replace('  radius: 0.20\n', ''))
    env = {**os.environ, 'MINING_ROVER_SHARE': str(share), 'PYTHONPATH': str(REPO),
           'RCUTILS_COLORIZED_OUTPUT': '0'}
    res = subprocess.run([sys.executable, '-c', f'import sys; from mining_rover.nodes.{node} import main; '
                          f'sys.exit(main())'], capture_output=True, text=True, env=env, timeout=120)
    out = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(out) == 1 and 'refusing to start' in out[0] and 'wheel.radius is missing' in out[0], out


def test_every_shipped_parameter_file_passes_without_warnings():
    """drivers_rover.yaml, jetson.yaml, ground_link.yaml and the sim's files: every key is
    one the node declares, every value in its range."""
    pytest.importorskip('rclpy')
    from mining_rover.runner.preflight import check_param_files
    assert check_param_files(REPO / 'config') == []


def test_a_bad_rover_driver_file_is_caught_too(tmp_path):
    pytest.importorskip('rclpy')
    from mining_rover.runner.preflight import PreflightError, check_param_files
    subprocess.run(['cp', '-r', str(REPO / 'config'), str(tmp_path / 'config')], check=True)
    f = tmp_path / 'config' / 'drivers_rover.yaml'
    f.write_text(f.read_text().replace('heartbeat_timeout_s: 0.25     #', 'heartbeat_timout_s: 0.25     #')
                 .replace('drum_gear_ratio: 20.0', 'drum_gear_ratio: -20.0'))
    with pytest.raises(PreflightError, match=r'drivers_rover.yaml: excavator_node.drum_gear_ratio = -20.0: '
                                             r'expected motor turns per drum turn'):
        check_param_files(tmp_path / 'config')
