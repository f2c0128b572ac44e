"""Every bad input a user can make costs one line and exit code 2, never a traceback.

Each case edits one file of a temporary copy of config/ and worlds/ (found through
MINING_ROVER_SHARE), or passes one bad command-line value, runs the real command
(`python -m mining_rover.cli sim`) and asserts: exit code 2, exactly one line on stderr,
no traceback, and that the line names the file, the key and the value, and says what
is expected. No node is started for any of them (the runner checks everything first).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def share(tmp_path):
    """A copy of the package's data folders (config/, urdf/, worlds/*.sdf; the large
    world side files linked) that a case may edit."""
    root = tmp_path / 'share'
    root.mkdir()
    for d in ('config', 'urdf'):
        subprocess.run(['cp', '-r', str(REPO / d), str(root / d)], check=True)
    (root / 'worlds').mkdir()
    for sdf in (REPO / 'worlds').glob('*.sdf'):
        (root / 'worlds' / sdf.name).write_text(sdf.read_text())
    (root / 'worlds' / 'media').symlink_to(REPO / 'worlds' / 'media')
    (root / 'package.xml').write_text((REPO / 'package.xml').read_text())
    return root


def run_sim(share: Path, tmp_path: Path, *args, world='moon_south_pole') -> subprocess.CompletedProcess:
    env = {**os.environ, 'MINING_ROVER_SHARE': str(share), 'PYTHONPATH': str(REPO),
           'RCUTILS_COLORIZED_OUTPUT': '0'}
    argv = [sys.executable, '-m', 'mining_rover.cli', 'sim', '--world', world, '--duration', '5',
            '--out', str(tmp_path / 'out'), '--no-record', *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def edit(path: Path, old: str, new: str):
    text = path.read_text()
    assert old in text, f'{old!r} not in {path}: the case no longer edits anything'
    path.write_text(text.replace(old, new, 1))


def assert_one_line(res: subprocess.CompletedProcess, *needles):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert 'Traceback' not in res.stderr
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (Path(res.args[res.args.index('--out') + 1]) / 'logs' / 'sim_node.log').exists(), \
        'a node was started'
    return lines[0]


SDF = 'worlds/moon_south_pole.sdf'
GRAVITY = '<gravity>0 0 -1.62</gravity>'

#: (id, file, text to replace, replacement, words the one line must hold)
FILE_CASES = [
    # worlds/*.sdf
    ('sdf_syntax', SDF, '</world>', '</wrld>', ['moon_south_pole.sdf', 'malformed SDF', 'line']),
    ('gravity_zero', SDF, GRAVITY, '<gravity>0 0 0</gravity>',
     ['moon_south_pole.sdf', '<gravity> = 0 0 0', 'zero', 'expected', 'pointing down']),
    ('gravity_up', SDF, GRAVITY, '<gravity>0 0 1.62</gravity>',
     ['moon_south_pole.sdf', '<gravity> = 0 0 1.62', 'points up', 'expected']),
    ('gravity_sideways', SDF, GRAVITY, '<gravity>1.62 0 -0.1</gravity>',
     ['<gravity> = 1.62 0 -0.1', 'off vertical', 'expected']),
    ('gravity_too_strong', SDF, GRAVITY, '<gravity>0 0 -98.1</gravity>',
     ['<gravity> = 0 0 -98.1', 'magnitude 98.1', 'expected', '30']),
    ('gravity_too_weak', SDF, GRAVITY, '<gravity>0 0 -1e-9</gravity>',
     ['<gravity> = 0 0 -1e-09', 'outside the physical range', '1e-07']),
    ('gravity_nan', SDF, GRAVITY, '<gravity>0 0 nan</gravity>', ['<gravity>', 'finite', "'0 0 nan'"]),
    # config/rover.yaml
    ('rover_negative_mass', 'config/rover.yaml', 'mass: 50.5', 'mass: -50.5',
     ['rover.yaml', 'chassis.mass = -50.5', 'expected', 'kg', '(0, 1000]']),
    ('rover_zero_wheel_mass', 'config/rover.yaml', '  mass: 3.0', '  mass: 0',
     ['rover.yaml', 'wheel.mass = 0', 'expected', 'kg']),
    ('rover_negative_dimension', 'config/rover.yaml', 'wheelbase: 0.60', 'wheelbase: -0.6',
     ['rover.yaml', 'wheel.wheelbase = -0.6', 'expected', ' m, ']),
    ('rover_missing_wheel_radius', 'config/rover.yaml', '  radius: 0.20\n', '',
     ['rover.yaml', 'wheel.radius is missing', 'expected wheel radius, m']),
    ('rover_misspelt_key', 'config/rover.yaml', '  radius: 0.20\n', '  raduis: 0.20\n',
     ['wheel.radius is missing', 'wheel.raduis']),
    ('rover_text_for_number', 'config/rover.yaml', '  radius: 0.20\n', '  radius: big\n',
     ['wheel.radius = \'big\'', 'a number']),
    ('rover_angle_out_of_range', 'config/rover.yaml', 'pitch: 0.45', 'pitch: 2.5',
     ['rover.yaml', 'camera.pitch = 2.5', 'rad', '[-1.5708, 1.5708]']),
    ('rover_arm_limits_inverted', 'config/rover.yaml', 'lower_limit: -0.8', 'lower_limit: 0.7',
     ['arm.lower_limit = 0.7', 'upper_limit = 0.6', 'expected lower_limit < upper_limit']),
    ('rover_yaml_syntax', 'config/rover.yaml', '  width: 0.12', '  width: [0.12',
     ['rover.yaml', 'line 12', 'YAML syntax error', 'expected valid YAML']),
    ('rover_negative_thrust', 'config/rover.yaml', 'thrust_n: 4.0', 'thrust_n: -4.0',
     ['holddown.thrust_n = -4.0', 'expected', 'N']),
    # node parameter files
    ('stereo_disparities_63', 'config/stereo.yaml', 'num_disparities: 128', 'num_disparities: 63',
     ['stereo.yaml', 'stereo_node.num_disparities = 63', 'multiple of 16']),
    ('stereo_rate_zero', 'config/stereo.yaml', 'process_rate_hz: 30.0', 'process_rate_hz: 0.0',
     ['stereo.yaml', 'stereo_node.process_rate_hz = 0.0', 'Hz', '[0.1, 200]']),
    ('stereo_yaml_syntax', 'config/stereo.yaml', '    mode: sgbm_3way', '    mode: sgbm_3way: x',
     ['stereo.yaml', 'line 8', 'YAML syntax error']),
    ('stereo_unknown_mode', 'config/stereo.yaml', 'mode: sgbm_3way', 'mode: sgbm_4way',
     ['stereo_node.mode = \'sgbm_4way\'', 'one of']),
    ('mapping_rate_negative', 'config/mapping.yaml', 'publish_rate_hz: 1.0', 'publish_rate_hz: -1.0',
     ['mapping.yaml', 'mapping_node.publish_rate_hz = -1.0', 'Hz']),
    ('mapping_variances_crossed', 'config/mapping.yaml', 'min_variance_m2: 0.0001', 'min_variance_m2: 0.5',
     ['mapping.yaml', 'min_variance_m2 < max_variance_m2', '0.5']),
    ('drive_timeout_negative', 'config/drivers_sim.yaml', 'cmd_timeout_s: 0.5', 'cmd_timeout_s: -0.5',
     ['drivers_sim.yaml', 'drive_node.cmd_timeout_s = -0.5', ' s: ']),
    ('sim_rate_text', 'config/mission_sim.yaml', 'camera_rate_hz: 2.0', 'camera_rate_hz: fast',
     ['mission_sim.yaml', "sim_node.camera_rate_hz = 'fast'", 'a number']),
    ('sim_physics_rate_zero', 'config/sim.yaml', 'physics_rate_hz: 500.0', 'physics_rate_hz: 0',
     ['sim.yaml', 'sim_node.physics_rate_hz = 0', '[100, 5000]']),
    ('mission_rate_zero', 'config/mission.yaml', 'control_rate_hz: 10.0', 'control_rate_hz: 0.0',
     ['mission.yaml', 'mission_node.control_rate_hz = 0.0']),
    ('planner_mass_negative', 'config/planner.yaml', 'rover_mass_kg: 80.0', 'rover_mass_kg: -80.0',
     ['planner.yaml', 'planner_node.rover_mass_kg = -80.0', 'kg']),
    ('params_file_not_a_mapping', 'config/stereo.yaml', 'stereo_node:\n  ros__parameters:',
     'stereo_node: 3\nxx:\n  ros__parameters:', ['stereo.yaml', 'stereo_node = 3', 'ros__parameters']),
    ('contract_yaml_syntax', 'config/sim_contract.yaml', 'clock: /clock', 'clock: [',
     ['sim_contract.yaml', 'YAML syntax error']),
    ('regolith_negative_cohesion', 'config/regolith_nominal.yaml', 'cohesion_pa: 520.0',
     'cohesion_pa: -5', ['regolith_nominal.yaml', 'cohesion_pa', '-5']),
]


@pytest.mark.parametrize('case', FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file_costs_one_line_and_exit_2(share, tmp_path, case):
    _id, rel, old, new, needles = case
    edit(share / rel, old, new)
    assert_one_line(run_sim(share, tmp_path), *needles)


CLI_CASES = [
    ('duration_inf', ['--duration', 'inf'], ['--duration inf', 'expected a finite number']),
    ('duration_nan', ['--duration', 'nan'], ['--duration nan', 'expected a finite number']),
    ('duration_negative', ['--duration', '-5'], ['--duration -5', '> 0']),
    ('duration_zero', ['--duration', '0'], ['--duration 0', '> 0']),
    ('duration_text', ['--duration', 'abc'], ['--duration', "'abc'", '--help']),
    ('rtf_negative', ['--rtf', '-1'], ['--rtf -1', '>= 0']),
    ('rtf_nan', ['--rtf', 'nan'], ['--rtf nan', 'finite']),
    ('seed_negative', ['--seed', '-3'], ['--seed -3', '[0, 2147483647]']),
    ('unknown_world', ['--world', 'atlantis'], ["unknown world 'atlantis'", 'moon_south_pole']),
    ('unknown_option', ['--speed', '3'], ['unrecognized arguments: --speed 3']),
]


@pytest.mark.parametrize('case', CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_command_line_value_costs_one_line_and_exit_2(share, tmp_path, case):
    _id, args, needles = case
    assert_one_line(run_sim(share, tmp_path, *args), *needles)


def test_out_that_is_a_file_costs_one_line(share, tmp_path):
    (tmp_path / 'a_file').write_text('x')
    res = run_sim(share, tmp_path, '--out', str(tmp_path / 'a_file'))
    line = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(line) == 1 and 'a_file' in line[0], res.stderr


def test_world_path_with_bad_gravity_is_refused_by_the_simulator_too(share):
    """The check sits in load_world, so sim_node (and Gazebo users' site parameters) see it."""
    from mining_rover.sim.world import load_world
    edit(share / SDF, GRAVITY, '<gravity>0 0 1.62</gravity>')
    with pytest.raises(ValueError, match='points up'):
        load_world(share / SDF)
