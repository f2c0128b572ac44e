"""sim.launch.py under a real LaunchService: the graph it starts is `mining-rover sim`'s.

The launch files run unchanged; only the executables are probes: a temporary install
prefix (ament index entry, share/ links to this checkout, lib/mining_rover/<node>) whose
"nodes" print the name, namespace and merged parameters rcl would give them, then wait
for a signal. So the test sees exactly what launch passes, with no simulator to wait for.

Runs where launch and launch_ros import (a ROS 2 machine); skips, saying so, elsewhere.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mining_rover import stack_table

REPO = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.needs_launch_ros,
    pytest.mark.skipif(importlib.util.find_spec('launch_ros') is None,
                       reason='launch_ros is not installed (it is not on PyPI); runs on a ROS 2 machine'),
]

#: The probe every "node" runs: what rcl would resolve from its command line.
PROBE = textwrap.dedent('''
    import json, os, signal, sys, time
    import yaml
    from mining_rover.paths import param_sections

    def graph_of(exe, argv):
        """name, namespace, parameter files and merged parameters of one command line."""
        name, ns, files, params, remaps = exe, '/', [], {}, {}
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == '-r' and argv[i + 1].startswith('__node:='):
                name = argv[i + 1].split(':=', 1)[1]
            elif a == '-r' and argv[i + 1].startswith('__ns:='):
                ns = argv[i + 1].split(':=', 1)[1]
            elif a == '-r' and not argv[i + 1].startswith('__'):
                src, dst = argv[i + 1].split(':=', 1)
                remaps[src] = dst
            elif a == '--params-file':
                files.append(argv[i + 1])
            elif a == '-p':
                key, value = argv[i + 1].split(':=', 1)
                params[key] = yaml.safe_load(value)
            i += 1 if a.startswith('__') else (2 if a in ('-r', '--params-file', '-p', '--log-level') else 1)
        merged = {}
        for path in files:
            sections = param_sections(yaml.safe_load(open(path).read()), path)
            merged.update(sections.get('/**', {}))
            merged.update(sections.get(name, {}))
        merged.update(params)
        return {'node': name, 'ns': ns, 'files': [os.path.basename(f) for f in files], 'params': merged,
                'remaps': remaps}

    if __name__ == '__main__':
        exe = os.path.basename(sys.argv[0])
        print('GRAPH ' + json.dumps({**graph_of(exe, sys.argv[1:]), 'pid': os.getpid()}), flush=True)
        if exe == os.environ.get('PROBE_EXIT'):
            sys.exit(3)
        signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        while True:
            time.sleep(1.0)
''')

LAUNCHER = textwrap.dedent('''
    import sys
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    path, args = sys.argv[1], dict(a.split(':=', 1) for a in sys.argv[2:])
    service = LaunchService()
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(path), launch_arguments=args.items())]))
    sys.exit(service.run())
''')

SIM_ARGS = {'rviz': 'false', 'use_robot_state_publisher': 'false'}


@pytest.fixture
def install(tmp_path):
    """A fake install prefix: the package's share files are this checkout's, its
    executables (and robot_state_publisher's) are the probe; xacro is this Python's."""
    prefix = tmp_path / 'install'
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'mining_rover').touch()
    share = prefix / 'share' / 'mining_rover'
    share.mkdir()
    for d in ('launch', 'config', 'urdf', 'worlds', 'package.xml'):
        (share / d).symlink_to(REPO / d)
    lib = prefix / 'lib' / 'mining_rover'
    lib.mkdir(parents=True)
    for node in stack_table.STACK:
        exe = lib / node.executable
        exe.write_text(f'#!{sys.executable}\n{PROBE}')
        exe.chmod(0o755)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'robot_state_publisher').touch()
    (prefix / 'share' / 'robot_state_publisher').mkdir()
    (prefix / 'lib' / 'robot_state_publisher').mkdir()
    rsp = prefix / 'lib' / 'robot_state_publisher' / 'robot_state_publisher'
    rsp.write_text(f'#!{sys.executable}\n{PROBE}')
    rsp.chmod(0o755)
    return prefix


def _launch(install, args: dict, env_extra=None, expect: int | None = None, timeout_s=120.0,
            launch_file='sim.launch.py'):
    """Run a launch file of ours (sim.launch.py); once ``expect`` probes reported (or the launch
    ended), SIGINT to its process group, as a terminal's Ctrl-C. Returns (exit code, probes, output)."""
    env = {**os.environ, 'AMENT_PREFIX_PATH': str(install), 'PYTHONUNBUFFERED': '1',
           'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]),
           'PATH': os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]),
           **(env_extra or {})}
    env.pop('MINING_ROVER_SHARE', None)
    argv = [sys.executable, '-c', LAUNCHER, str(install / 'share/mining_rover/launch' / launch_file)]
    proc = subprocess.Popen(argv + [f'{k}:={v}' for k, v in args.items()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, '')), daemon=True)
    reader.start()

    def probes_now():
        return [json.loads(line.split('GRAPH ', 1)[1]) for line in list(lines) if 'GRAPH {' in line]
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if expect is not None and len(probes_now()) >= expect:
                time.sleep(1.0)
                os.killpg(proc.pid, signal.SIGINT)
                break
            time.sleep(0.2)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(timeout=10)
    out = ''.join(lines)
    probes = probes_now()
    return rc, probes, out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _runner_graph(tmp_path, state_file):
    """What `mining-rover sim` gives each node, through the same probe."""
    from mining_rover.runner.stack import mission_nodes, node_argv
    from mining_rover.site import site_parameters
    (tmp_path / 'probe.py').write_text(PROBE)
    spec = importlib.util.spec_from_file_location('probe', tmp_path / 'probe.py')
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    specs = mission_nodes(site_parameters('moon_south_pole'), world='moon_south_pole', seed=1, rtf=1.0,
                          target_resource='helium3', state_file=state_file)
    (tmp_path / 'params').mkdir()
    return {s.name: probe.graph_of(s.name, node_argv(s, tmp_path / 'params')[1:]) for s in specs}


def test_ros2_launch_starts_the_graph_and_parameters_of_make_sim(install, tmp_path):
    state = tmp_path / 'state.sqlite'
    want = _runner_graph(tmp_path, state)
    rc, probes, out = _launch(install, {**SIM_ARGS, 'state_file': str(state)}, expect=len(want))
    got = {p['node']: p for p in probes}
    assert set(got) == set(want), out[-3000:]
    for name, runner in want.items():
        launched = got[name]
        assert launched['ns'] == '/', f'{name} in {launched["ns"]}'
        assert launched['params'] == runner['params'], f'{name}: launch and runner parameters differ'
        def config_files(files):
            return [f for f in files if (REPO / 'config' / f).is_file()]
        assert config_files(launched['files']) == config_files(runner['files']), name
    assert rc == 0, out[-3000:]
    assert not [p['node'] for p in probes if _alive(p['pid'])], 'processes left after Ctrl-C'


def test_namespace_r1_is_pushed_once_and_every_frame_is_prefixed(install, tmp_path):
    expected = [n for n in stack_table.STACK if n.enable_arg is None]
    rc, probes, out = _launch(install, {**SIM_ARGS, 'namespace': 'r1',
                                        'state_file': str(tmp_path / 's.sqlite')},
                              expect=len(expected))
    got = {p['node']: p for p in probes}
    assert set(got) == {n.name for n in expected}, out[-3000:]
    for node in expected:
        p = got[node.name]
        assert p['ns'] == '/r1', f'{node.name} in {p["ns"]!r}, not /r1'
        for param, frame in node.frames.items():
            assert p['params'][param] == f'r1/{frame}', f'{node.name}.{param} = {p["params"][param]!r}'
        if node.frame_prefix:
            assert p['params']['frame_prefix'] == 'r1/'
        assert p['params']['use_sim_time'] is True
    assert got['mapping_node']['params']['size_m'] == 32.0  # mission_sim.yaml's, under /r1 too
    assert rc == 0, out[-3000:]


def test_rover_launch_in_r1_namespaces_every_node_its_remaps_and_frames(install):
    """The real rover: ground_link_node and robot_state_publisher in /r1 too, the camera
    remaps relative, no simulation file, wall time."""
    expected = {n.name for n in stack_table.entries('stack')} | {'ground_link_node', 'robot_state_publisher'}
    rc, probes, out = _launch(install, {'namespace': 'r1'}, expect=len(expected),
                              launch_file='rover.launch.py')
    got = {p['node']: p for p in probes}
    assert set(got) == expected, out[-3000:]
    assert {p['ns'] for p in probes} == {'/r1'}
    assert got['robot_state_publisher']['params']['frame_prefix'] == 'r1/'
    assert got['stereo_node']['remaps']['stereo/left/image_raw'] == 'camera/left/image_raw'
    assert all(stack_table.SIM_PARAM_FILE not in p['files'] and p['params']['use_sim_time'] is False
               for p in probes)
    assert rc == 0, out[-3000:]


def test_a_required_node_that_exits_ends_the_launch_and_everything_in_it(install, tmp_path):
    _, probes, out = _launch(install, {**SIM_ARGS, 'state_file': str(tmp_path / 's.sqlite')},
                             env_extra={'PROBE_EXIT': 'sim_node'}, expect=None, timeout_s=90.0)
    assert 'sim_node' in {p['node'] for p in probes}
    assert re.search(r'process\[sim_node-\d+\] was required: shutting down launched system', out), \
        out[-3000:]   # _launch sent no signal (expect=None): the launch ended by itself
    time.sleep(1.0)
    assert not [p['node'] for p in probes if _alive(p['pid'])], 'orphans after a required node exited'


@pytest.mark.parametrize('arg, value', [('namespace', 'r-1'), ('frame_prefix', '/r1/'),
                                        ('simulator', 'webots')])
def test_bad_argument_is_refused_at_launch_naming_it(install, arg, value):
    rc, probes, out = _launch(install, {**SIM_ARGS, arg: value}, timeout_s=60.0)
    assert rc != 0 and not probes
    lines = [line for line in out.splitlines() if f"launch argument '{arg}'" in line]
    assert len(lines) == 1 and repr(value) in lines[0], out[-2000:]


def test_fleet_launch_starts_one_simulator_and_each_rovers_stack_in_its_namespace(install, tmp_path):
    """fleet.launch.py rovers:=r1,r2: sim_node once, at /, simulating both; each rover's
    description and stack nodes in its namespace with its frames, its own state file and
    its odometry starting where the simulator puts it (stack_table.fleet_plan)."""
    per_rover = [n for n in stack_table.STACK if n.group in ('description', 'stack')]
    rc, probes, out = _launch(install, {'rovers': 'r1,r2', 'use_robot_state_publisher': 'false',
                                        'state_dir': str(tmp_path)},
                              expect=1 + 2 * len(per_rover), launch_file='fleet.launch.py')
    got = {(p['ns'], p['node']): p['params'] for p in probes}
    assert set(got) == {('/', 'sim_node')} | {(f'/{r}', n.name) for r in ('r1', 'r2') for n in per_rover}, \
        out[-3000:]
    sim = got[('/', 'sim_node')]
    assert sim['rovers'] == ['r1', 'r2'] and sim['frame_prefix'] == '' and sim['use_sim_time'] is True
    for rover in stack_table.fleet_plan('r1,r2', 'moon_south_pole', '', str(tmp_path)):
        ns = '/' + rover['namespace']
        for node in per_rover:
            params = got[(ns, node.name)]
            for param, frame in node.frames.items():
                assert params[param] == rover['frame_prefix'] + frame, f'{ns}/{node.name}.{param}'
            if node.frame_prefix:
                assert params['frame_prefix'] == rover['frame_prefix']
            assert params['use_sim_time'] is True
        drive = got[(ns, 'drive_node')]
        assert [drive['initial_x_m'], drive['initial_y_m'], drive['initial_yaw_rad']] == \
            pytest.approx(list(rover['start_xy_yaw']))
        assert got[(ns, 'mission_node')]['state_file'] == rover['state_file']
    assert rc == 0, out[-3000:]
    assert not [p['node'] for p in probes if _alive(p['pid'])], 'processes left after Ctrl-C'


def test_fleet_launch_refuses_a_bad_rover_list_naming_it(install):
    rc, probes, out = _launch(install, {'rovers': 'r1,r1'}, timeout_s=60.0, launch_file='fleet.launch.py')
    assert rc != 0 and not probes
    lines = [line for line in out.splitlines() if "launch argument 'rovers'" in line]
    assert len(lines) == 1 and 'appears twice' in lines[0], out[-2000:]
