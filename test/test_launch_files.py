"""Launch files, checked two ways.

Everywhere (no launch needed), from each file's syntax tree: every DeclareLaunchArgument
has a default and a description; every executable is a console script of setup.py or a
stack-table entry's; every file it names exists; the namespace is pushed once and every
included launch file of ours gets namespace:=''; remaps and topic defaults are relative;
no OpaqueFunction hides the node list; every node of ours says what happens when it exits.
fleet.launch.py pushes no namespace itself: it includes each rover's files with that
rover's namespace (they push it) and frame prefix.

Where launch_ros imports (a ROS 2 machine): each file builds its description and the
Node actions in it are the stack table's, with on_exit Shutdown for the required ones and
respawn for the others (test_launch_graph.py runs them under a real LaunchService).
"""
import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAUNCH_FILES = sorted((REPO / 'launch').glob('*.launch.py'))
DATA_DIRS = ('config', 'urdf', 'worlds', 'launch')
FILE_SUFFIXES = ('.yaml', '.rviz', '.xacro', '.sdf', '.launch.py', '.dbc')
#: Several rovers: a rover list instead of one namespace (see test_fleet_launch.py).
FLEET = 'fleet.launch.py'


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
    one = 'rovers' if path.name == FLEET else 'namespace'
    assert one in names, f'{path.name}: no {one} argument'


def _table_names(tree):
    """{variable: table node} for module-level ``X = stack_table.entry('name')``."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and ast.unparse(node.value.func) == 'stack_table.entry':
            out[node.targets[0].id] = node.value.args[0].value
    return out


def _mining_rover_nodes(tree):
    """Node(...) calls of this package: package='mining_rover' or X.package / node.package."""
    for call in _calls(tree, 'Node'):
        pkg = _kw(call, 'package')
        if (isinstance(pkg, ast.Constant) and pkg.value == 'mining_rover') or \
                (isinstance(pkg, ast.Attribute) and pkg.attr == 'package'):
            yield call


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_executable_is_a_console_script(path):
    from mining_rover import stack_table
    tree = ast.parse(path.read_text())
    scripts = _console_scripts()
    table = _table_names(tree)
    assert all(n.executable in scripts for n in stack_table.STACK)
    for call in _mining_rover_nodes(tree):
        exe = _kw(call, 'executable')
        if isinstance(exe, ast.Constant):
            assert exe.value in scripts, f'{path.name}: {exe.value!r} is not a console script'
        else:
            assert isinstance(exe, ast.Attribute) and exe.attr == 'executable', \
                f'{path.name}: executable {ast.unparse(exe)} is neither a literal nor a table entry\'s'
            owner = ast.unparse(exe.value)
            assert owner in table or owner == 'node', f'{path.name}: {owner} is not a stack table entry'


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


def test_stack_launch_starts_the_stack_group_of_the_table():
    """stack.launch.py's nodes come from a comprehension over the table's 'stack' group."""
    tree = ast.parse((REPO / 'launch' / 'stack.launch.py').read_text())
    loops = [g for c in ast.walk(tree) if isinstance(c, ast.ListComp)
             for g in c.generators if ast.unparse(g.iter) == "stack_table.entries('stack')"]
    assert loops, "stack.launch.py does not iterate over stack_table.entries('stack')"
    nodes = [c for c in ast.walk(tree) if isinstance(c, ast.ListComp)
             and isinstance(c.elt, ast.Call) and ast.unparse(c.elt.func) == 'Node']
    assert nodes, 'the loop over the stack table makes no Node'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_namespace_is_pushed_once_and_includes_do_not_push_again(path):
    tree = ast.parse(path.read_text())
    pushes = list(_calls(tree, 'PushRosNamespace'))
    if path.name == FLEET:
        _check_fleet_includes(tree)
        return
    assert len(pushes) == 1, f'{path.name}: {len(pushes)} PushRosNamespace, expected 1'
    assert ast.unparse(pushes[0].args[0]) == "LaunchConfiguration('namespace')", \
        f'{path.name}: pushes {ast.unparse(pushes[0].args[0])}, not the namespace argument'
    for inc in _calls(tree, 'IncludeLaunchDescription'):
        target = ast.unparse(inc.args[0])
        if 'mining_rover' not in target and "share('launch'" not in target:
            continue  # another package's launch file (ros_gz_sim)
        args = _kw(inc, 'launch_arguments')
        mapping = args.func.value if isinstance(args, ast.Call) else None
        assert isinstance(mapping, ast.Dict), f'{path.name}: include of {target} passes no arguments'
        given = {k.value: v for k, v in zip(mapping.keys, mapping.values)}
        assert 'namespace' in given and isinstance(given['namespace'], ast.Constant) \
            and given['namespace'].value == '', \
            f"{path.name}: include of {target} must get namespace:='' (this file pushed it)"
        assert 'frame_prefix' in given, f'{path.name}: include of {target} does not get frame_prefix'


def _check_fleet_includes(tree):
    """fleet.launch.py pushes nothing itself; each include of ours gets its slot's
    namespace and frame prefix (the included file pushes it, once)."""
    assert not list(_calls(tree, 'PushRosNamespace')), f'{FLEET} pushes a namespace itself'
    includes = list(_calls(tree, 'IncludeLaunchDescription'))
    assert len(includes) == 2, f'{FLEET}: expected the description and stack includes per slot'
    for inc in includes:
        mapping = _kw(inc, 'launch_arguments').func.value
        given = {k.value: ast.unparse(v) for k, v in zip(mapping.keys, mapping.values)}
        assert given.get('namespace') == 'namespace' and given.get('frame_prefix') == 'prefix', given
    facts = {ast.unparse(c) for c in _calls(tree, 'FleetFact')}
    assert {"FleetFact(slot, 'namespace')", "FleetFact(slot, 'frame_prefix')"} <= facts, facts


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_no_opaque_function_hides_the_node_list(path):
    tree = ast.parse(path.read_text())
    assert not list(_calls(tree, 'OpaqueFunction')), f'{path.name} uses OpaqueFunction'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_remaps_and_topic_defaults_are_relative(path):
    """An absolute name does not follow the namespace (/clock is the one global topic)."""
    tree = ast.parse(path.read_text())
    literals = []
    for call in _calls(tree, 'SetRemap'):
        literals += [_kw(call, 'src'), _kw(call, 'dst')]
    for call in _calls(tree, 'Node'):
        remaps = _kw(call, 'remappings')
        if remaps is not None:
            literals += [e for pair in remaps.elts for e in pair.elts]
    for call in _calls(tree, 'DeclareLaunchArgument'):
        if _name(call).endswith(('_image', '_info', '_topic')):
            literals.append(_kw(call, 'default_value'))
    for node in literals:
        if isinstance(node, ast.Constant):
            assert not node.value.startswith('/') or node.value == '/clock', \
                f'{path.name}: absolute name {node.value!r} will not follow the namespace'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_of_ours_says_what_happens_when_it_exits(path):
    """No orphans: a required node ends the launch (on_exit Shutdown), the others respawn;
    both come from launch_support.lifecycle(entry), which reads the table's flag."""
    tree = ast.parse(path.read_text())
    for call in _mining_rover_nodes(tree):
        spread = [k.value for k in call.keywords if k.arg is None]
        assert any(isinstance(v, ast.Call) and ast.unparse(v.func) == 'lifecycle' for v in spread), \
            f'{path.name}: Node({ast.unparse(_kw(call, "name"))}) has no **lifecycle(entry)'


HAVE_LAUNCH_ROS = importlib.util.find_spec('launch_ros') is not None
NEEDS_LAUNCH = pytest.mark.skipif(
    not HAVE_LAUNCH_ROS,
    reason='launch_ros is not installed (it is not on PyPI); these tests run on a ROS 2 machine')


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _walk(entities):
    """Every entity of a description, into GroupActions (not into included files)."""
    from launch.actions import GroupAction
    for e in entities:
        yield e
        if isinstance(e, GroupAction):
            yield from _walk(e.get_sub_entities())


@NEEDS_LAUNCH
@pytest.mark.needs_launch_ros
@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds(path):
    assert _load(path).entities


@NEEDS_LAUNCH
@pytest.mark.needs_launch_ros
@pytest.mark.parametrize('path, group', [('stack.launch.py', 'stack'), ('sim.launch.py', 'simulator'),
                                         ('description.launch.py', 'description'),
                                         ('sim.launch.py', 'extra'), ('rover.launch.py', 'extra')])
def test_described_nodes_are_the_tables_with_their_exit_policy(path, group):
    from launch.actions import Shutdown
    from launch_ros.actions import Node

    from mining_rover import stack_table
    nodes = {n.node_executable: n for n in _walk(_load(REPO / 'launch' / path).entities)
             if isinstance(n, Node) and n.node_package == 'mining_rover'}
    for entry in stack_table.entries(group):
        assert entry.executable in nodes, f'{path} does not start {entry.name}'
        node = nodes[entry.executable]
        respawn, on_exit = node._ExecuteLocal__respawn, node._ExecuteLocal__on_exit
        if entry.required:
            assert isinstance(on_exit, Shutdown), f'{path}: required {entry.name} has no on_exit Shutdown'
        else:
            assert respawn == [True] or respawn is True, f'{path}: {entry.name} is not respawned'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_configuration_is_declared(path):
    """A LaunchConfiguration('x') with no DeclareLaunchArgument('x') in the same file fails
    at launch time (or silently needs a caller to pass it): catch it here."""
    tree = ast.parse(path.read_text())
    declared = {_name(call) for call in _calls(tree, 'DeclareLaunchArgument')}
    used = {_name(call) for call in _calls(tree, 'LaunchConfiguration')} - {None}
    assert used <= declared, f'{path.name}: used but not declared: {sorted(used - declared)}'
