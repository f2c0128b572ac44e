"""Launch files, checked two ways.

Everywhere (no launch needed): each launch file parses; every DeclareLaunchArgument has
a default and a description; every mining_rover executable it names is a console script
of setup.py; every file it names exists in the package.

Where launch_ros imports (a ROS 2 machine): each launch file builds its description, and
launch_pytest starts description.launch.py and sees /robot_description.
"""
import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAUNCH_FILES = sorted((REPO / 'launch').glob('*.launch.py'))
DATA_DIRS = ('config', 'urdf', 'worlds', 'launch')
FILE_SUFFIXES = ('.yaml', '.rviz', '.xacro', '.sdf', '.launch.py', '.dbc')


def _console_scripts():
    tree = ast.parse((REPO / 'setup.py').read_text())
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == 'NODES' for t in node.targets):
            nodes = [e.value for e in node.value.elts]
    return set(nodes) | {'mining-rover'}


def _calls(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else getattr(f, 'attr', None)
            if called == name:
                yield node


def _kw(call, key):
    for k in call.keywords:
        if k.arg == key:
            return k.value
    return None


def _name(call):
    """The first positional argument of a call when it is a string literal, else None."""
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def test_there_are_the_four_launch_files():
    names = {p.name for p in LAUNCH_FILES}
    assert {'description.launch.py', 'stack.launch.py', 'sim.launch.py', 'rover.launch.py'} <= names


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_argument_has_a_default_and_a_description(path):
    tree = ast.parse(path.read_text())
    args = list(_calls(tree, 'DeclareLaunchArgument'))
    assert args, f'{path.name} declares no arguments'
    for call in args:
        name = call.args[0].value if call.args else _kw(call, 'name').value
        default, desc = _kw(call, 'default_value'), _kw(call, 'description')
        assert default is not None, f'{path.name}: argument {name!r} has no default_value'
        assert isinstance(desc, ast.Constant) and desc.value.strip(), \
            f'{path.name}: argument {name!r} has no description'
    names = [c.args[0].value for c in args]
    assert 'namespace' in names, f'{path.name}: no namespace argument'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_executable_is_a_console_script(path):
    tree = ast.parse(path.read_text())
    scripts = _console_scripts()
    named = []
    for call in _calls(tree, 'Node'):
        pkg, exe = _kw(call, 'package'), _kw(call, 'executable')
        if isinstance(pkg, ast.Constant) and pkg.value == 'mining_rover':
            named.append(exe)
    # helper functions of the form node('stereo_node', params)
    for call in _calls(tree, 'node'):
        named.append(call.args[0])
    for exe in named:
        if isinstance(exe, ast.Constant):
            assert exe.value in scripts, f'{path.name}: {exe.value!r} is not a console script'
        else:
            assert isinstance(exe, ast.Name), f'{path.name}: executable is not a literal'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_named_file_exists(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.endswith(FILE_SUFFIXES) and '/' not in node.value \
                and ' ' not in node.value:
            if node.value in ('gz_sim.launch.py',):  # ros_gz_sim's own launch file
                continue
            hits = [d for d in DATA_DIRS if (REPO / d / node.value).is_file()]
            assert hits, f'{path.name} names {node.value!r}, which is in none of {DATA_DIRS}'


def test_stack_names_every_autonomy_node():
    text = (REPO / 'launch' / 'stack.launch.py').read_text()
    for exe in ('stereo_node', 'mapping_node', 'planner_node', 'mission_node', 'drive_node',
                'excavator_node'):
        assert f"'{exe}'" in text


HAVE_LAUNCH_ROS = importlib.util.find_spec('launch_ros') is not None
NEEDS_LAUNCH = pytest.mark.skipif(
    not HAVE_LAUNCH_ROS,
    reason='launch_ros is not installed (it is not on PyPI); these tests run on a ROS 2 machine')


@NEEDS_LAUNCH
@pytest.mark.needs_launch_ros
@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ld = module.generate_launch_description()
    assert ld.entities


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_configuration_is_declared(path):
    """A LaunchConfiguration('x') with no DeclareLaunchArgument('x') in the same file fails
    at launch time (or silently needs a caller to pass it): catch it here."""
    tree = ast.parse(path.read_text())
    declared = {_name(call) for call in _calls(tree, 'DeclareLaunchArgument')}
    used = {_name(call) for call in _calls(tree, 'LaunchConfiguration')} - {None}
    assert used <= declared, f'{path.name}: used but not declared: {sorted(used - declared)}'
