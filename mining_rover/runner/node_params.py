"""Node parameters by name, checked before a mission starts: ``NODE.PARAM=VALUE``.

`mining-rover sim --param` and `mining-rover sweep --param` reach any parameter that a
node of the mission declares (its ``Param`` list in mining_rover/nodes/<node>.py), the
simulator's included (``sim_node.physics_rate_hz``). The lists come from the node
modules themselves, imported without ``rclpy.init`` and without ROS running, so a name
the node does not declare, a value of the wrong type or outside the declared range is
refused with one line before any process starts; the node applies the same
``Param.validate`` when it starts, so what passes here is what the node accepts (checks
that span two parameters stay with the node).

A value is written as YAML reads it: ``4`` is an int (widened to float where the
parameter is a float), ``4.0`` a float, ``true`` a bool, anything else a string.
"""
from __future__ import annotations

import importlib

import yaml


class ParamSpecError(ValueError):
    """A ``--param`` argument names no declared parameter or has a bad value: exit 2."""


def _rover():
    from mining_rover.paths import rover_config
    return rover_config()


def _contract():
    from mining_rover.contract import load_contract
    return load_contract()


#: node name (as in the mission's node table, runner/stack.py) -> (module, function
#: returning its Param list, argument maker or None). Each function is the one the
#: node's __init__ calls to declare its parameters.
NODE_PARAM_LISTS = {
    'sim_node': ('mining_rover.nodes.sim_node', '_params', None),
    'description_node': ('mining_rover.nodes.description_node', '_params', None),
    'drive_node': ('mining_rover.nodes.drive_node', '_params', _rover),
    'excavator_node': ('mining_rover.nodes.excavator_node', '_params', _rover),
    'stereo_node': ('mining_rover.nodes.stereo_node', '_params', None),
    'mapping_node': ('mining_rover.nodes.mapping_node', '_params', _contract),
    'planner_node': ('mining_rover.nodes.planner_node', 'planner_params', None),
    'mission_node': ('mining_rover.nodes.mission_node', 'mission_params', None),
    'localization_node': ('mining_rover.nodes.localization_node', '_params', None),
}

#: Parameters the runner sets from its own options: (node, param) -> the option.
RUNNER_SET = {('sim_node', 'world'): '--world (sweep: --worlds)',
              ('sim_node', 'seed'): '--seed (sweep: --seeds)',
              ('sim_node', 'real_time_factor'): '--rtf',
              ('localization_node', 'world'): '--world (sweep: --worlds)'}

_CACHE: dict = {}


def declared_params(node: str) -> dict:
    """{param name: Param} that ``node`` declares; ParamSpecError for an unknown node."""
    if node not in NODE_PARAM_LISTS:
        raise ParamSpecError(f"unknown node {node!r}; nodes: {', '.join(sorted(NODE_PARAM_LISTS))}")
    if node not in _CACHE:
        module, func, arg = NODE_PARAM_LISTS[node]
        make = getattr(importlib.import_module(module), func)
        params = make(arg()) if arg else make()
        _CACHE[node] = {p.name: p for p in params}
    return _CACHE[node]


def parse_value(text: str):
    """A command-line value as YAML reads it (int, float, bool, string)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None or isinstance(value, (dict, list)) else value


def split_name(name: str) -> tuple[str, str]:
    """Split ``NODE.PARAM`` into (node, param); ParamSpecError when either part is missing."""
    node, dot, param = name.strip().partition('.')
    if not dot or not node or not param:
        raise ParamSpecError(f'--param {name!r}: expected NODE.PARAM (e.g. '
                             f'planner_node.drum_max_speed_radps)')
    return node, param


def check(node: str, param: str, value):
    """The value as the node will read it (ints widened to float where declared float);
    ParamSpecError naming node, parameter and value when the node would refuse it."""
    from mining_rover.ros.params import ParameterError

    if (node, param) in RUNNER_SET:
        raise ParamSpecError(f'--param {node}.{param}: set it with {RUNNER_SET[node, param]}')
    try:
        declared = declared_params(node)
    except ParamSpecError as exc:
        raise ParamSpecError(f'--param {node}.{param}: {exc}') from None
    if param not in declared:
        raise ParamSpecError(f'--param {node}.{param}: {node} declares no parameter {param!r} '
                             f'({len(declared)} parameters: mining-rover sim --list-params {node})')
    if declared[param].read_only:
        raise ParamSpecError(f'--param {node}.{param}: read-only (the runner sets it per mission)')
    try:
        return declared[param].validate(value)
    except ParameterError as exc:
        raise ParamSpecError(f'--param {node}.{param}={value!r}: {exc}') from None


def parse_assignments(args: list[str], *, several: bool) -> dict:
    """``['node.p=v', ...]`` -> {'node.p': [values]} (a list per name; one value each unless
    ``several``, where ``v1,v2`` gives a sweep axis). Every value is checked."""
    out: dict = {}
    for arg in args or []:
        name, eq, values = arg.partition('=')
        if not eq or not values.strip():
            raise ParamSpecError(f'--param {arg!r}: expected NODE.PARAM=VALUE'
                                 + (' or NODE.PARAM=V1,V2,...' if several else ''))
        node, param = split_name(name)
        texts = [v.strip() for v in values.split(',')] if several else [values.strip()]
        if any(not t for t in texts):
            raise ParamSpecError(f'--param {arg!r}: an empty value')
        key = f'{node}.{param}'
        if key in out:
            raise ParamSpecError(f'--param {key} given twice')
        checked = [check(node, param, parse_value(t)) for t in texts]
        if len(set(map(repr, checked))) != len(checked):
            raise ParamSpecError(f'--param {arg!r}: a value is repeated')
        out[key] = checked
    return out


def as_overrides(assignment: dict) -> dict:
    """{'node.p': value} -> {node: {p: value}} (what MissionOptions.param_overrides takes)."""
    out: dict = {}
    for key, value in assignment.items():
        node, param = split_name(key)
        out.setdefault(node, {})[param] = value
    return out


def describe(node: str) -> list[str]:
    """One line per declared parameter: name, default, range, description."""
    lines = []
    for p in declared_params(node).values():
        rng = f' [{p.min:g}, {p.max:g}]' if p.min is not None and p.max is not None else ''
        choices = f" one of {list(p.choices)}" if p.choices else ''
        lines.append(f'{node}.{p.name} = {p.default!r}{rng}{choices}: {p.description}')
    return lines
