"""What launch/*.launch.py need to start the stack table's nodes (ROS 2 launch only).

Imports launch and launch_ros, so only launch files import this module (they are not on
PyPI; a bare machine never loads it). Everything here is a description-time helper or a
substitution evaluated at launch time, so the launch files stay plain descriptions: their
node lists are visible, and no OpaqueFunction hides what starts.
"""
from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml
from launch import Action, Substitution
from launch.actions import Shutdown
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from mining_rover import stack_table
from mining_rover.stack_table import Arg, StackNode

#: Wait before a respawn, s: long enough that a node failing at start does not spin.
RESPAWN_DELAY_S = 2.0

_SCRATCH = None


def _scratch_dir() -> Path:
    """Where generated parameter files go; removed when launch exits (its nodes are gone
    by then, and they read their files when they start)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = Path(tempfile.mkdtemp(prefix='mining_rover_launch_'))
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


def share(*parts):
    """A path in the installed mining_rover share directory."""
    return PathJoinSubstitution([FindPackageShare('mining_rover'), *parts])


def config(name):
    """config/<name>; ``name`` a string or a substitution."""
    return share('config', name)


def argument_is(name: str, value: str) -> IfCondition:
    """Condition: launch argument ``name`` equals ``value`` (works on Humble and Jazzy,
    where LaunchConfigurationEquals is deprecated and EqualsSubstitution does not exist
    on Humble). Arguments reach it only after CheckLaunchArguments accepted them."""
    return IfCondition(PythonExpression(['"', LaunchConfiguration(name), f'" == "{value}"']))


class CheckLaunchArguments(Action):
    """First action of a launch file: ``stack_table.check_launch_arguments`` on the
    namespace, frame_prefix (and simulator) arguments, or with ``fleet`` the rover list
    (``stack_table.fleet_plan``); a bad value ends the launch with its one-line reason
    (launch prints it as ``Caught exception in launch``)."""

    def __init__(self, simulator: bool = False, fleet: bool = False, **kwargs):
        super().__init__(**kwargs)
        self._simulator, self._fleet = simulator, fleet

    def execute(self, context):
        def arg(name):
            return LaunchConfiguration(name).perform(context)
        if self._fleet:   # fleet.launch.py: the rover list (and the base frame prefix)
            stack_table.fleet_plan(arg('rovers'), arg('world'), arg('frame_prefix'), arg('state_dir'))
            return
        stack_table.check_launch_arguments(
            arg('namespace'), arg('frame_prefix'),
            arg('simulator') if self._simulator else None)


class FramePrefixOf(Substitution):
    """``frame_prefix``'s default: 'r1/' for namespace 'r1', '' without a namespace."""

    def __init__(self, namespace):
        super().__init__()
        self._namespace = namespace

    def describe(self):
        return 'FramePrefixOf(namespace)'

    def perform(self, context):
        from launch.utilities import perform_substitutions
        ns = perform_substitutions(context, [self._namespace])
        return stack_table.default_frame_prefix(ns)


class WorldRef(Substitution):
    """What load_world reads for the launch arguments ``world`` and ``site`` (compact:
    the world's name; operational: its site's SDF path, mining_rover.sim.sites)."""

    def describe(self):
        return 'WorldRef(world, site)'

    def perform(self, context):
        from mining_rover.sim.sites import world_ref
        world = LaunchConfiguration('world').perform(context)
        site = LaunchConfiguration('site', default='compact').perform(context)
        return world_ref(world, site)


class SiteParametersFile(Substitution):
    """Path of a generated parameters file with one node's section of
    ``site_parameters(world)`` (zones, gravity limits, start pose), keyed ``/**/<node>``:
    the world-derived values ``make sim`` writes into its own override file."""

    def __init__(self, node: str, section: str, world=None):
        super().__init__()
        self._node, self._section = node, section
        self._world = world if world is not None else WorldRef()

    def describe(self):
        return f'SiteParametersFile({self._node}, {self._section})'

    def perform(self, context):
        from mining_rover.site import site_parameters
        world = self._world.perform(context)
        site = site_parameters(world)
        path = _scratch_dir() / f"{self._node}.{re.sub(r'[^A-Za-z0-9_.-]', '_', world)[-80:]}.site.yaml"
        path.write_text(yaml.safe_dump(
            {stack_table.section_key(self._node): {'ros__parameters': dict(site[self._section])}},
            sort_keys=True))
        return str(path)


def world_facts(world: str) -> dict:
    """What the Gazebo branch of sim.launch.py needs from a world, as launch text: its SDF
    path, the start pose and whether the site needs hold-down thrust (Gazebo has none)."""
    from mining_rover.sim.world import load_world
    from mining_rover.site import site_parameters
    spec, site = load_world(world), site_parameters(world)
    x, y, yaw = site['start_xy_yaw']
    return {'sdf_path': str(spec.sdf_path), 'start_x': str(x), 'start_y': str(y),
            'start_yaw': str(yaw), 'needs_holddown': str(site['holddown_n'] > 0.0).lower()}


class GzModelName(Substitution):
    """``stack_table.gz_model_name`` of a namespace substitution (sim.launch.py's Gazebo spawn)."""

    def __init__(self, namespace):
        super().__init__()
        self._namespace = namespace

    def describe(self):
        return 'GzModelName(namespace)'

    def perform(self, context):
        from launch.utilities import perform_substitutions
        return stack_table.gz_model_name(perform_substitutions(context, [self._namespace]))


class WorldFact(Substitution):
    """One entry of ``world_facts`` for the launch argument ``world``."""

    def __init__(self, key: str):
        super().__init__()
        self._key = key

    def describe(self):
        return f'WorldFact({self._key})'

    def perform(self, context):
        return world_facts(WorldRef().perform(context))[self._key]


def _fleet_plan(context) -> list:
    """fleet.launch.py's rovers (``stack_table.fleet_plan``) from its launch arguments."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)
    return stack_table.fleet_plan(arg('rovers'), arg('world'), arg('frame_prefix'), arg('state_dir'))


class FleetFact(Substitution):
    """One entry of fleet.launch.py's rover slot ``index`` (``stack_table.fleet_plan``):
    'namespace', 'frame_prefix', 'state_file', or 'present' ('true' when ``rovers``
    names that many rovers; the other entries are then '')."""

    def __init__(self, index: int, key: str):
        super().__init__()
        self._index, self._key = index, key

    def describe(self):
        return f'FleetFact({self._index}, {self._key})'

    def perform(self, context):
        plan = _fleet_plan(context)
        if self._key == 'present':
            return str(self._index < len(plan)).lower()
        return str(plan[self._index][self._key]) if self._index < len(plan) else ''


class FleetRovers(Substitution):
    """sim_node's ``rovers`` parameter for fleet.launch.py: the namespaces as a YAML list."""

    def describe(self):
        return 'FleetRovers()'

    def perform(self, context):
        # JSON is YAML whose strings stay strings (a rover named 'yes' or 'null' included)
        return json.dumps([r['namespace'] for r in _fleet_plan(context)])


class FleetStartFile(Substitution):
    """Path of a generated parameters file that starts the drive's odometry of fleet slot
    ``index`` at that rover's start pose (``/**/drive_node``: initial_x_m, initial_y_m,
    initial_yaw_rad), applied after the site's (which hold the world's start pose)."""

    def __init__(self, index: int):
        super().__init__()
        self._index = index

    def describe(self):
        return f'FleetStartFile({self._index})'

    def perform(self, context):
        plan = _fleet_plan(context)
        if self._index >= len(plan):
            return _empty_params_file()
        rover = plan[self._index]
        x, y, yaw = rover['start_xy_yaw']
        path = _scratch_dir() / f"drive_node.{rover['namespace'].replace('/', '_')}.start.yaml"
        path.write_text(yaml.safe_dump({stack_table.section_key('drive_node'): {'ros__parameters': {
            'initial_x_m': float(x), 'initial_y_m': float(y), 'initial_yaw_rad': float(yaw)}}}))
        return str(path)


def _empty_params_file() -> str:
    """A parameters file that sets nothing: what an absent optional file becomes (a
    Node's parameter list cannot hold an absent entry)."""
    path = _scratch_dir() / 'empty.yaml'
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': {}}}))
    return str(path)


class OptionalParamsFile(Substitution):
    """The file named by a launch argument, or one that sets nothing when it is ''."""

    def __init__(self, argument: str):
        super().__init__()
        self._argument = argument

    def describe(self):
        return f'OptionalParamsFile({self._argument})'

    def perform(self, context):
        return LaunchConfiguration(self._argument).perform(context) or _empty_params_file()


class SimParamsFile(Substitution):
    """config/mission_sim.yaml when the launch argument ``sim`` is true (the simulated
    mission's camera, map and stereo sizes), else a file that sets nothing."""

    def describe(self):
        return 'SimParamsFile(sim)'

    def perform(self, context):
        if LaunchConfiguration('sim').perform(context).strip().lower() != 'true':
            return _empty_params_file()
        return str(Path(FindPackageShare('mining_rover').perform(context)) / 'config'
                   / stack_table.SIM_PARAM_FILE)


def node_parameters(node: StackNode, sim: bool | None, extra_params_file: str | None = None) -> list:
    """launch_ros ``parameters=`` of one stack-table node: its config files, in simulation
    config/mission_sim.yaml after them (sim True: always; None: when the launch argument
    ``sim`` is true), its site section, its launch arguments (typed), its frames with
    ``frame_prefix`` in front, then the optional extra file (the launch argument named
    ``extra_params_file``): the order ``runner.stack.node_argv`` loads them in."""
    files = [config(LaunchConfiguration(f.name) if isinstance(f, Arg) else f)
             for f in node.param_files]
    if sim is True:
        files.append(config(stack_table.SIM_PARAM_FILE))
    elif sim is None:
        files.append(SimParamsFile())
    if node.site:
        files.append(SiteParametersFile(node.name, node.site))
    prefix = LaunchConfiguration('frame_prefix')
    values = {param: ParameterValue(WorldRef() if arg.name == 'world' else LaunchConfiguration(arg.name),
                                    value_type=arg.type)
              for param, arg in node.arguments.items()}
    values.update({param: ParameterValue([prefix, frame], value_type=str)
                   for param, frame in node.frames.items()})
    if node.frame_prefix:
        values['frame_prefix'] = ParameterValue(prefix, value_type=str)
    out = files + ([values] if values else [])
    if extra_params_file:
        out.append(OptionalParamsFile(extra_params_file))
    return out


def shutdown_on_exit(name: str) -> Shutdown:
    """``on_exit`` of a required process: its exit ends the whole launch, so nothing is
    left running (parented to init) without it."""
    return Shutdown(reason=f'{name} exited and the graph cannot run without it')


def lifecycle(node: StackNode) -> dict:
    """Node keyword arguments for what happens when it exits: a required node ends the
    launch; the others are respawned."""
    if node.required:
        return {'on_exit': shutdown_on_exit(node.name)}
    return {'respawn': True, 'respawn_delay': RESPAWN_DELAY_S}
