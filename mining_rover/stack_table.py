"""The one definition of the rover's ROS 2 graph: which nodes run, from which executable,
with which parameter files, which launch arguments feed which parameters, which frames
they name and whether the rest of the graph can live without them.

Two readers, one table: ``mining_rover.runner.stack.mission_nodes`` (``make sim``) and
``launch/*.launch.py`` (``ros2 launch mining_rover sim.launch.py``), so both start the
same graph with the same parameters. Pure Python: no launch, no rclpy; the launch files
turn entries into ``launch_ros`` Nodes with ``mining_rover.launch_support``.

Names under a namespace: parameter files are keyed ``/**/<node>`` (rcl's wildcard for
"this node name in any namespace"), topics are relative, and every frame a node names
is ``<frame_prefix><frame>`` (``r1/base_link``), as robot_state_publisher's
``frame_prefix`` does, so two rovers can share one world and one /tf.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Launch arguments (and their values in ``make sim``) that feed node parameters; the
#: camera's xacro arguments are ``camera_arguments()``, read from config/rover.yaml.
SIM_ARGUMENT_DEFAULTS = {
    'world': 'moon_south_pole',
    'seed': '1',
    'real_time_factor': '1.0',
    'target_resource': 'helium3',
    'state_file': '/tmp/mining_rover_mission.sqlite',
    'drivers_config': 'drivers_sim.yaml',
}


def camera_arguments() -> dict:
    """The stereo mount's xacro arguments from config/rover.yaml (the xacro's own defaults),
    as launch-argument text: description.launch.py's defaults and the runner's values."""
    from mining_rover.paths import rover_config
    rover = rover_config()
    return {'camera_baseline': str(float(rover['camera']['baseline'])),
            'camera_height': str(float(rover['mast']['height'])),
            'camera_pitch': str(float(rover['camera']['pitch']))}

#: Parameter file every node gets in simulation, after its own: the embedded mission's
#: camera size, map size and stereo scale (see the file's comments).
SIM_PARAM_FILE = 'mission_sim.yaml'

#: ``simulator:=`` values sim.launch.py knows.
SIMULATORS = ('embedded', 'gazebo')


@dataclass(frozen=True)
class Arg:
    """A launch argument whose value becomes a parameter (or names a parameter file).

    ``type`` converts the argument's string in the runner; in launch files the same
    type becomes launch_ros's ``ParameterValue(value_type=...)``."""
    name: str
    type: type = str


@dataclass(frozen=True)
class StackNode:
    """One node of the graph.

    name          node name, console script and the key of its parameter-file section
    group         'simulator', 'description', 'stack' (the autonomy nodes stack.launch.py
                  starts) or 'extra' (optional, behind the launch argument ``enable_arg``)
    param_files   files in config/, in load order; an ``Arg`` names the file by argument
    arguments     {parameter: Arg}: launch arguments the node takes as parameters
    site          key of ``mining_rover.site.site_parameters(world)`` whose dict it gets
    frames        {parameter: frame}: frame-id parameters, set to ``frame_prefix + frame``
    frame_prefix  True: the node takes the prefix itself (a ``frame_prefix`` parameter)
    required      True: the graph is useless without it, so its exit ends the launch (and
                  the runner's mission); False: it is respawned. Only the simulator is
                  required: the drivers are respawned, because a killed driver must be
                  survivable (the fault-injected missions kill each node in turn) and while
                  one is down the motor controllers' own command watchdogs stop its motors
                  (ODrive axis watchdog on the rover, ``motor_watchdog_s`` in the simulator)
    enable_arg    launch argument (true/false) that starts it; None: always started
    """
    name: str
    group: str
    param_files: tuple = ()
    arguments: dict = field(default_factory=dict)
    site: str | None = None
    frames: dict = field(default_factory=dict)
    frame_prefix: bool = False
    required: bool = False
    enable_arg: str | None = None
    package: str = 'mining_rover'

    @property
    def executable(self) -> str:
        return self.name


_MAP, _ODOM, _BASE = 'map', 'odom', 'base_link'
_LEFT_OPTICAL = 'left_camera_optical_frame'

#: The graph, in start order of the runner (the simulator is started last by the runner,
#: once the others are in the graph; launch starts them together).
STACK = (
    StackNode('sim_node', 'simulator', ('sim.yaml',),
              arguments={'world': Arg('world'), 'seed': Arg('seed', int),
                         'real_time_factor': Arg('real_time_factor', float)},
              frame_prefix=True, required=True),
    StackNode('description_node', 'description', (),
              arguments={'sim': Arg('sim', bool), 'camera_baseline': Arg('camera_baseline', float),
                         'camera_height': Arg('camera_height', float),
                         'camera_pitch': Arg('camera_pitch', float)},
              frame_prefix=True),
    StackNode('drive_node', 'stack', (Arg('drivers_config'),), site='drive',
              frames={'odom_frame': _ODOM, 'base_frame': _BASE}),
    StackNode('excavator_node', 'stack', (Arg('drivers_config'),), site='excavator'),
    StackNode('stereo_node', 'stack', ('stereo.yaml',),
              frames={'vo_frame': 'vo_odom', 'base_frame': _BASE}),
    StackNode('localization_node', 'stack', (), arguments={'world': Arg('world')},
              frames={'map_frame': _MAP, 'odom_frame': _ODOM, 'base_frame': _BASE}),
    StackNode('mapping_node', 'stack', ('mapping.yaml',),
              frames={'map_frame': _MAP, 'odom_frame': _ODOM, 'cloud_frame': _LEFT_OPTICAL}),
    StackNode('planner_node', 'stack', ('planner.yaml',), site='planner',
              arguments={'target_resource': Arg('target_resource')}, frames={'map_frame': _MAP}),
    StackNode('mission_node', 'stack', ('mission.yaml',), site='mission',
              arguments={'target_resource': Arg('target_resource'),
                         'state_file': Arg('state_file')},
              frames={'map_frame': _MAP}),
    StackNode('ground_link_node', 'extra', ('ground_link.yaml',), enable_arg='ground_link'),
)


def entries(group: str) -> list[StackNode]:
    """The table's nodes of one group, in table order."""
    if group not in {n.group for n in STACK}:
        raise ValueError(f'no stack group {group!r}; groups: {sorted({n.group for n in STACK})}')
    return [n for n in STACK if n.group == group]


def entry(name: str) -> StackNode:
    """The stack table's node ``name``; KeyError listing the nodes if there is none."""
    for n in STACK:
        if n.name == name:
            return n
    raise KeyError(f'no node {name!r} in the stack table; nodes: {[n.name for n in STACK]}')


# -- what the runner needs: the table resolved with concrete argument values ----------
def param_file_names(node: StackNode, args: dict, sim: bool) -> list[str]:
    """The node's parameter files (names in config/), arguments resolved; in simulation
    SIM_PARAM_FILE last."""
    names = [args[f.name] if isinstance(f, Arg) else f for f in node.param_files]
    return names + ([SIM_PARAM_FILE] if sim else [])


def parameters(node: StackNode, args: dict, site: dict | None, frame_prefix: str = '') -> dict:
    """The parameters the launch files set on the node besides its files: the site's
    section, the typed launch arguments, the prefixed frames and the frame prefix."""
    out = dict((site or {}).get(node.site, {})) if node.site else {}
    for param, arg in node.arguments.items():
        value = args[arg.name]
        if arg.type is bool and isinstance(value, str):
            value = value.strip().lower() == 'true'
        out[param] = arg.type(value)
    out.update({param: frame_prefix + frame for param, frame in node.frames.items()})
    if node.frame_prefix:
        out['frame_prefix'] = frame_prefix
    return out


# -- parameter files keyed for any namespace --------------------------------------------
def section_key(node_name: str) -> str:
    """The root key of a node's section in a parameters file, valid under any namespace."""
    return f'/**/{node_name}'


# -- launch arguments that would give invalid names -------------------------------------
_NAME_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_FRAME_TOKEN = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.\-]*$')


def check_namespace(namespace: str) -> str:
    """The namespace as ROS will resolve it ('' or 'r1' or 'fleet/r1', no leading or
    trailing '/'); ValueError naming the argument when rcl would refuse it: tokens of
    letters, digits and '_', not starting with a digit, separated by single '/'."""
    ns = namespace.strip()
    body = ns.strip('/')
    if body == '':
        return ''
    for token in body.split('/'):
        if not _NAME_TOKEN.match(token):
            raise ValueError(f"launch argument 'namespace': {namespace!r} is not a ROS namespace "
                             "(tokens of letters, digits and '_', not starting with a digit, "
                             "separated by '/')")
    return body


def default_frame_prefix(namespace: str) -> str:
    """'r1/' for namespace 'r1' ('fleet/r1/' for 'fleet/r1'), '' for none."""
    ns = check_namespace(namespace)
    return f'{ns}/' if ns else ''


def gz_model_name(namespace: str) -> str:
    """The Gazebo model name of the rover in ``namespace``: 'rover' without one, else the
    namespace with '/' as '_' ('fleet/r1' -> 'fleet_r1'), so rovers in one world differ."""
    ns = check_namespace(namespace)
    return ns.replace('/', '_') if ns else 'rover'


def check_frame_prefix(frame_prefix: str) -> str:
    """The prefix unchanged when ``prefix + 'base_link'`` is a valid tf2 frame id ('' or
    tokens ending in '/', no leading '/', no spaces); ValueError naming the argument."""
    if frame_prefix == '':
        return ''
    bad = (frame_prefix.startswith('/') or not frame_prefix.endswith('/')
           or not all(_FRAME_TOKEN.match(t) for t in frame_prefix[:-1].split('/')))
    if bad:
        raise ValueError(f"launch argument 'frame_prefix': {frame_prefix!r} would give frame ids "
                         f"like {frame_prefix + _BASE!r}; expected '' or names of letters, "
                         "digits, '_', '-', '.' each ending in '/', e.g. 'r1/'")
    return frame_prefix


def check_simulator(simulator: str) -> str:
    """``simulator`` if it is a known launch value, else ValueError naming the choices."""
    if simulator not in SIMULATORS:
        raise ValueError(f"launch argument 'simulator': unknown value {simulator!r}; "
                         f"expected one of {', '.join(SIMULATORS)}")
    return simulator


def check_launch_arguments(namespace: str = '', frame_prefix: str | None = None,
                           simulator: str | None = None) -> dict:
    """Every check above at once: {'namespace', 'frame_prefix'[, 'simulator']} as they
    will be used (frame_prefix None: derived from the namespace). The launch files call
    this first; ValueError's one line names the argument."""
    out = {'namespace': check_namespace(namespace)}
    out['frame_prefix'] = (default_frame_prefix(namespace) if frame_prefix is None
                           else check_frame_prefix(frame_prefix))
    if simulator is not None:
        out['simulator'] = check_simulator(simulator)
    return out


# -- several rovers in one simulated world (launch/fleet.launch.py) ----------------------
#: Most rovers fleet.launch.py starts: its description holds one group per slot (started
#: only when ``rovers`` names that many), so a reader and ``ros2 launch -s`` see them all.
FLEET_SLOTS = 8


@functools.lru_cache(maxsize=8)
def _world_start(world: str) -> tuple:
    """(the world's start pose (x, y, yaw), the discs fleet rovers keep clear of); launch
    asks for it once per substitution."""
    from mining_rover.sim.fleet import world_keep_clear
    from mining_rover.sim.world import load_world
    spec = load_world(world)
    return tuple(spec.zones.start_xy_yaw), world_keep_clear(spec)


def fleet_plan(rovers: str, world: str, frame_prefix: str = '', state_dir: str = '/tmp') -> list[dict]:
    """The rovers fleet.launch.py starts, from its ``rovers`` argument ('r1,r2'): for each,
    {'namespace', 'frame_prefix' (``frame_prefix`` + namespace + '/'), 'start_xy_yaw' (where
    the embedded simulator puts it: side by side from the world's start pose,
    sim/fleet.py fleet_specs), 'state_file' (its executive's own)}. ValueError naming the
    argument for an empty list, a bad or repeated name, or more than FLEET_SLOTS rovers."""
    from mining_rover.sim.fleet import fleet_specs

    names = [n.strip() for n in rovers.split(',') if n.strip()]
    if not names:
        raise ValueError(f"launch argument 'rovers': {rovers!r} names no rover; expected e.g. 'r1,r2'")
    if len(names) > FLEET_SLOTS:
        raise ValueError(f"launch argument 'rovers': {len(names)} rovers; fleet.launch.py starts at most "
                         f'{FLEET_SLOTS}')
    namespaces = []
    for name in names:
        try:
            ns = check_namespace(name)
        except ValueError:
            raise ValueError(f"launch argument 'rovers': {name!r} is not a ROS namespace (tokens of letters, "
                             "digits and '_', not starting with a digit, separated by '/')") from None
        if ns in namespaces:
            raise ValueError(f"launch argument 'rovers': {ns!r} appears twice in {rovers!r}")
        namespaces.append(ns)
    prefix = check_frame_prefix(frame_prefix)
    start, keep_clear = _world_start(world)
    starts = fleet_specs(namespaces, start, keep_clear=keep_clear)
    return [{'namespace': ns, 'frame_prefix': f'{prefix}{ns}/', 'start_xy_yaw': spec.start_xy_yaw,
             'state_file': str(Path(state_dir) / f"mining_rover_mission_{ns.replace('/', '_')}.sqlite")}
            for ns, spec in zip(namespaces, starts)]
