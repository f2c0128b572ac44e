"""Everything `mining-rover sim` reads, checked before any process starts.

A mission whose configuration cannot work should cost the user one line and exit code 2,
not a minute of start-up and a screen of tracebacks from several nodes. ``check_inputs``
reads the world file (mining_rover.sim.world + world_check), config/rover.yaml
(mining_rover.config_check.check_rover), the nominal regolith and the sim contract;
``check_nodes`` every parameter file and override the mission gives each node, judged by
that node's own parameter declarations (name, type, range, choices) plus the rules a
range cannot state (config_check.EXTRA_RULES) and the domain's own dataclass checks
(stereo). Both raise ``PreflightError`` (one line) and return the warnings (unknown keys,
with the nearest known one).

This module imports the node modules (for their parameter tables), so it lives in the
runner, which imports rclpy anyway; the checks themselves are in the pure modules.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from mining_rover.config_check import (ROS_BUILTIN, ConfigError, check_param_value,
                                       check_params_file, check_rover, load_yaml, node_sections,
                                       one_line, show_path, unknown_key_warning)


class PreflightError(ValueError):
    """One line: the file, the key, the value and what is expected."""


#: Where each node declares its parameters: (module, function, arguments it takes).
#: A node missing here (or whose table cannot be built) is still checked when it starts.
PARAM_TABLES = {
    'sim_node': ('_params', ()),
    'description_node': ('_params', ()),
    'drive_node': ('_params', ('rover',)),
    'excavator_node': ('_params', ('rover',)),
    'stereo_node': ('_params', ()),
    'mapping_node': ('_params', ('contract',)),
    'planner_node': ('planner_params', ()),
    'mission_node': ('mission_params', ()),
    'localization_node': ('_params', ()),
    'ground_link_node': ('_params', ()),
}


def param_table(node: str, rover: dict, contract) -> list | None:
    """The node's declared parameters (mining_rover.ros.params.Param), or None where this
    build does not say."""
    entry = PARAM_TABLES.get(node)
    if entry is None:
        return None
    func_name, arg_names = entry
    try:
        module = importlib.import_module(f'mining_rover.nodes.{node}')
    except ImportError:
        return None
    func = getattr(module, func_name, None)
    if func is None:
        return None
    args = [{'rover': rover, 'contract': contract}[a] for a in arg_names]
    return list(func(*args))


def _domain_classes(node: str) -> list:
    """The domain dataclasses a node builds from its parameters (their __post_init__ checks
    relations between parameters: disparities per downscale, min < max variance)."""
    if node == 'stereo_node':
        from mining_rover.perception.stereo import StereoParams
        return [StereoParams]
    if node == 'mapping_node':
        from mining_rover.mapping.elevation_map import MapParams
        from mining_rover.mapping.hazards import HazardParams
        from mining_rover.mapping.traversability import TraversabilityParams
        return [MapParams, TraversabilityParams, HazardParams]
    return []


def _domain_check(node: str, values: dict, sources: str) -> None:
    for cls in _domain_classes(node):
        try:
            cls.from_dict(values)
        except (ValueError, TypeError) as exc:
            raise PreflightError(f'{sources}: {node}: {one_line(exc)}') from None


def check_inputs(world: str) -> list[str]:
    """Check the world and the shared configuration (rover, contract, nominal regolith);
    PreflightError on the first problem, else the warnings."""
    from mining_rover.paths import config_path
    try:
        from mining_rover.sim.world import load_world
        load_world(world)
        rover_file = config_path('rover.yaml')
        warnings = check_rover(load_yaml(rover_file), rover_file)
        for name in ('sim_contract.yaml', 'regolith_nominal.yaml'):
            load_yaml(config_path(name))
        from mining_rover.contract import load_contract
        load_contract()
        from mining_rover.planning.regolith import load_params
        load_params(config_path('regolith_nominal.yaml'))
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        raise PreflightError(one_line(exc)) from None
    return warnings


def check_nodes(specs: list, config_dir: Path | None = None) -> list[str]:
    """Check every parameter file and override the node specs (runner.stack.NodeSpec) of a
    mission give their nodes; PreflightError on the first problem (its ``warnings`` hold
    those found before it: a misspelt section often explains the error), else the
    warnings. Call after check_inputs (the tables read rover.yaml and the contract)."""
    warnings: list[str] = []
    try:
        _check_nodes(specs, Path(config_dir) if config_dir else None, warnings)
    except (ConfigError, PreflightError) as exc:
        err = PreflightError(str(exc))
        err.warnings = list(dict.fromkeys(warnings))
        raise err from None
    return list(dict.fromkeys(warnings))


def _check_nodes(specs: list, config_dir: Path | None, warnings: list) -> None:
    from mining_rover.contract import load_contract
    from mining_rover.paths import config_path, share_dir

    config_dir = config_dir or share_dir() / 'config'
    rover = load_yaml(config_path('rover.yaml'))
    contract = load_contract()
    tables = {}
    for spec in specs:
        table = param_table(spec.name, rover, contract)
        if table is not None:
            tables[spec.name] = table
    parsed = {}
    for spec in specs:
        for fname in spec.param_files:
            path = config_dir / fname
            if path.is_file() and path not in parsed:
                parsed[path] = load_yaml(path)
    for spec in specs:
        merged, sources = {}, []
        for fname in spec.param_files:
            path = config_dir / fname
            if path not in parsed:
                continue
            warnings += check_params_file(path, parsed[path], tables, only=[spec.name],
                                          known_nodes=PARAM_TABLES)
            section = node_sections(parsed[path], path).get(spec.name)
            if section:
                merged.update(section)
                sources.append(show_path(path))
        table = {p.name: p for p in tables.get(spec.name, [])}
        for key, value in spec.overrides.items():
            if key in table:
                check_param_value(f'the {spec.name} override (from the world or --param)',
                                  spec.name, table[key], value)
            elif table and key not in ROS_BUILTIN:
                warnings.append(unknown_key_warning(f'the {spec.name} override', str(key), table,
                                                    f'{spec.name}.'))
            merged[key] = value
        if spec.name in tables:
            defaults = {p.name: p.default for p in tables[spec.name]}
            _domain_check(spec.name, {**defaults, **merged}, ' + '.join(sources) or spec.name)


def check_param_files(config_dir: Path | None = None) -> list[str]:
    """Check every ROS 2 parameters file in config/ (the rover's drivers_rover.yaml and
    jetson.yaml included, which `mining-rover sim` does not load) against the declarations
    of every node it names; PreflightError on the first bad value, else the warnings."""
    from mining_rover.contract import load_contract
    from mining_rover.paths import config_path, share_dir

    config_dir = Path(config_dir) if config_dir else share_dir() / 'config'
    warnings: list[str] = []
    try:
        rover = load_yaml(config_path('rover.yaml'))
        contract = load_contract()
        tables = {n: t for n in PARAM_TABLES if (t := param_table(n, rover, contract)) is not None}
        for path in sorted(config_dir.glob('*.yaml')):
            data = load_yaml(path)
            if isinstance(data, dict) and data and all(
                    isinstance(v, dict) and 'ros__parameters' in v for v in data.values()):
                warnings += check_params_file(path, data, tables, known_nodes=PARAM_TABLES)
    except (ConfigError, ValueError) as exc:
        raise PreflightError(one_line(exc)) from None
    return list(dict.fromkeys(warnings))
