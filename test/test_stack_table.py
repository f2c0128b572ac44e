"""The stack table (mining_rover/stack_table.py): what `mining-rover sim` starts is what it
says, its frame parameters match the nodes' own, and bad launch arguments are refused
with one line naming the argument. No launch needed: this runs everywhere."""
import ast
import sys
import time
from pathlib import Path

import pytest
import yaml

from mining_rover import stack_table
from mining_rover.paths import param_sections
from mining_rover.runner.stack import mission_nodes, node_argv
from mining_rover.site import site_parameters

REPO = Path(__file__).resolve().parent.parent


def _console_scripts():
    tree = ast.parse((REPO / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == 'NODES' for t in node.targets):
            return {e.value for e in node.value.elts}
    raise AssertionError('setup.py has no NODES list')


def _runner_specs(tmp_path, world='moon_south_pole'):
    return mission_nodes(site_parameters(world), world=world, seed=3, rtf=0.5,
                         target_resource='platinum_group', state_file=tmp_path / 'state.sqlite')


def test_every_table_node_is_a_console_script_with_its_parameter_files():
    scripts = _console_scripts()
    for node in stack_table.STACK:
        assert node.executable in scripts, f'{node.name} is not a console script of setup.py'
        for f in node.param_files:
            name = stack_table.SIM_ARGUMENT_DEFAULTS[f.name] if isinstance(f, stack_table.Arg) else f
            doc = yaml.safe_load((REPO / 'config' / name).read_text())
            assert node.name in param_sections(doc, name), f'config/{name} has no section for {node.name}'


def test_the_runner_starts_the_table_less_the_optional_nodes(tmp_path):
    specs = _runner_specs(tmp_path)
    assert [s.name for s in specs] == [n.name for n in stack_table.STACK if n.enable_arg is None]
    assert 'ground_link_node' not in {s.name for s in specs}
    assert {s.name for s in specs if s.required} == {'sim_node'}


def test_the_runner_adds_mission_sim_yaml_to_every_node_after_its_own_file(tmp_path):
    by_name = {s.name: s for s in _runner_specs(tmp_path)}
    assert by_name['sim_node'].param_files == ('sim.yaml', 'mission_sim.yaml')
    assert by_name['drive_node'].param_files == ('drivers_sim.yaml', 'mission_sim.yaml')
    assert by_name['mapping_node'].param_files == ('mapping.yaml', 'mission_sim.yaml')


def test_the_runner_gives_each_node_its_arguments_site_and_frames(tmp_path):
    site = site_parameters('moon_south_pole')
    by_name = {s.name: s.overrides for s in _runner_specs(tmp_path)}
    assert by_name['sim_node'] == {'world': 'moon_south_pole', 'seed': 3, 'real_time_factor': 0.5,
                                   'frame_prefix': ''}
    assert by_name['planner_node'] == {**site['planner'], 'target_resource': 'platinum_group',
                                       'map_frame': 'map'}
    assert by_name['mission_node']['state_file'] == str(tmp_path / 'state.sqlite')
    assert by_name['drive_node']['initial_x_m'] == site['drive']['initial_x_m']
    assert by_name['description_node'] == {'sim': True, 'frame_prefix': '', 'camera_baseline': 0.2,
                                           'camera_height': 0.8, 'camera_pitch': 0.45}  # rover.yaml


def test_frames_get_the_prefix_and_the_prefix_reaches_the_nodes_that_take_it():
    args = dict(stack_table.SIM_ARGUMENT_DEFAULTS, **stack_table.camera_arguments(), sim='true')
    drive = stack_table.parameters(stack_table.entry('drive_node'), args, {'drive': {}}, 'r1/')
    assert drive == {'odom_frame': 'r1/odom', 'base_frame': 'r1/base_link'}
    sim = stack_table.parameters(stack_table.entry('sim_node'), args, {}, 'r1/')
    assert sim['frame_prefix'] == 'r1/' and sim['seed'] == 1 and sim['real_time_factor'] == 1.0
    assert stack_table.parameters(stack_table.entry('description_node'), args, {}, 'r1/')['sim'] is True


@pytest.mark.parametrize('name', [n.name for n in stack_table.STACK if n.frames])
def test_table_frames_are_the_nodes_own_defaults(name):
    """With no prefix the table sets each frame parameter to the node's own default (read
    from its declaration, ``Param('map_frame', 'map', ...)``), so one rover runs as before
    the table, and a renamed parameter is caught."""
    from mining_rover.contract import load_contract
    contract = load_contract()
    declared = {}
    tree = ast.parse((REPO / 'mining_rover' / 'nodes' / f'{name}.py').read_text())
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and len(call.args) >= 2 and isinstance(call.args[0], ast.Constant):
            default = call.args[1]
            if isinstance(default, ast.Constant):
                declared[call.args[0].value] = default.value
            elif ast.unparse(default) == 'contract.left.frame':
                declared[call.args[0].value] = contract.left.frame
    for param, frame in stack_table.entry(name).frames.items():
        assert param in declared, f'{name} declares no parameter {param!r} with a literal default'
        assert declared[param] == frame, f'{name}.{param}: node default {declared[param]!r}, table {frame!r}'


def test_generated_override_file_is_keyed_for_any_namespace(tmp_path):
    spec = next(s for s in _runner_specs(tmp_path) if s.name == 'planner_node')
    argv = node_argv(spec, tmp_path)
    generated = Path(argv[argv.index('--params-file', len(argv) - 5) + 1])
    doc = yaml.safe_load(generated.read_text())
    assert list(doc) == ['/**/planner_node']
    assert doc['/**/planner_node']['ros__parameters']['target_resource'] == 'platinum_group'


@pytest.mark.parametrize('path', sorted((REPO / 'config').glob('*.yaml')), ids=lambda p: p.name)
def test_config_parameter_files_apply_under_any_namespace(path):
    doc = yaml.safe_load(path.read_text())
    if not (isinstance(doc, dict) and any(isinstance(v, dict) and 'ros__parameters' in v
                                          for v in doc.values())):
        return  # not a ROS 2 parameters file (rover.yaml, sim_contract.yaml, ...)
    for key in doc:
        assert key.startswith('/**'), (f'{path.name}: root key {key!r} applies only with no '
                                       f"namespace; write '/**/{key.lstrip('/')}'")


def test_param_sections_reads_every_key_form_and_names_a_bad_section():
    doc = {'/**/a_node': {'ros__parameters': {'x': 1}}, 'b_node': {'ros__parameters': {'y': 2}},
           '/c_node': {'ros__parameters': {'z': 3}}, '/**': {'ros__parameters': {'w': 4}}}
    assert param_sections(doc) == {'a_node': {'x': 1}, 'b_node': {'y': 2}, 'c_node': {'z': 3},
                                   '/**': {'w': 4}}
    with pytest.raises(ValueError, match=r"f.yaml: section '/\*\*/a_node' must hold only 'ros__parameters'"):
        param_sections({'/**/a_node': {'x': 1}}, 'f.yaml')


# -- bad launch arguments ----------------------------------------------------------------
@pytest.mark.parametrize('namespace, expected', [
    ('', ''), ('/', ''), ('r1', 'r1'), ('/r1', 'r1'), ('fleet/r_2', 'fleet/r_2'), ('r1/', 'r1')])
def test_good_namespaces_are_normalised(namespace, expected):
    assert stack_table.check_namespace(namespace) == expected


@pytest.mark.parametrize('namespace', ['1r', 'r-1', 'r 1', 'r1//r2', 'rover.1', 'r1/~x', 'ü'])
def test_bad_namespace_is_refused_naming_the_argument(namespace):
    with pytest.raises(ValueError) as info:
        stack_table.check_launch_arguments(namespace=namespace)
    msg = str(info.value)
    assert msg.startswith("launch argument 'namespace': ") and repr(namespace) in msg and '\n' not in msg


@pytest.mark.parametrize('prefix', ['/r1/', 'r1', 'r 1/', 'r1//', '/', 'r1/#/'])
def test_bad_frame_prefix_is_refused_naming_the_argument(prefix):
    with pytest.raises(ValueError) as info:
        stack_table.check_launch_arguments(namespace='r1', frame_prefix=prefix)
    msg = str(info.value)
    assert msg.startswith("launch argument 'frame_prefix': ") and repr(prefix) in msg and '\n' not in msg


def test_unknown_simulator_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"^launch argument 'simulator': unknown value 'webots'; "
                                         r'expected one of embedded, gazebo$'):
        stack_table.check_launch_arguments(simulator='webots')


def test_frame_prefix_defaults_to_the_namespace():
    assert stack_table.check_launch_arguments('r1') == {'namespace': 'r1', 'frame_prefix': 'r1/'}
    assert stack_table.check_launch_arguments('/fleet/r2/')['frame_prefix'] == 'fleet/r2/'
    assert stack_table.check_launch_arguments('')['frame_prefix'] == ''
    assert stack_table.check_launch_arguments('r1', 'a.b-c/', 'embedded') == {
        'namespace': 'r1', 'frame_prefix': 'a.b-c/', 'simulator': 'embedded'}


def test_the_runner_reports_a_required_node_that_exited_and_stops_the_rest(tmp_path, monkeypatch):
    """mission_runner ends the mission on ``failed_required()`` and stops every process."""
    from mining_rover.runner import stack as stack_mod
    scripts = {'quits': 'import sys; sys.exit(3)', 'lingers': 'import time; time.sleep(60)'}
    monkeypatch.setattr(stack_mod, 'console_script', lambda name: None)
    monkeypatch.setattr(stack_mod, 'node_argv',
                        lambda spec, d: [sys.executable, '-c', scripts[spec.name.split('_')[0]]])
    specs = [stack_mod.NodeSpec('quits_required', required=True), stack_mod.NodeSpec('lingers_a'),
             stack_mod.NodeSpec('quits_optional')]
    stack = stack_mod.Stack(specs, tmp_path)
    stack.start()
    deadline = time.monotonic() + 30
    while not stack.failed_required() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.failed_required() == ['quits_required']   # the optional one that quit is not
    assert stack.procs['lingers_a'].alive()
    codes = stack.stop(timeout_s=5.0)
    assert codes['quits_required'] == 3 and not any(p.alive() for p in stack.procs.values())
