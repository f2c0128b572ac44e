"""config/jetson.yaml only sets parameters the nodes declare, to values they accept.

A ROS 2 parameters file is silent about a key no node declares (a misspelt
``proces_rate_hz`` would leave the Jetson at the desktop rate), so two checks:

* pure, no node started: every section is a node of rover.launch.py, every key is one of
  that node's ``Param`` entries and its value passes ``Param.validate`` (the code
  ``declare_and_read`` runs at start);
* the node itself: constructed with its own config file plus the Jetson overrides, as
  the launch file would layer them, so the checks that span several parameters
  (StereoParams, planner radii, thermal order) run too.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
import yaml

from mining_rover.ros.params import ParameterError

REPO = Path(__file__).resolve().parent.parent
JETSON = REPO / 'config' / 'jetson.yaml'


class NodeSpec(NamedTuple):
    module: str
    cls: str
    params: Callable   # module -> list[Param], the list the node declares
    config: str        # the node's own file in config/, loaded before jetson.yaml


#: The nodes rover.launch.py starts (sim_node and description_node have no place on the Jetson file).
NODES = {
    'stereo_node': NodeSpec('mining_rover.nodes.stereo_node', 'StereoNode',
                            lambda m: m._params(), 'stereo.yaml'),
    'mapping_node': NodeSpec('mining_rover.nodes.mapping_node', 'MappingNode',
                             lambda m: m._params(m.load_contract()), 'mapping.yaml'),
    'planner_node': NodeSpec('mining_rover.nodes.planner_node', 'PlannerNode',
                             lambda m: m.planner_params(), 'planner.yaml'),
    'mission_node': NodeSpec('mining_rover.nodes.mission_node', 'MissionNode',
                             lambda m: m.mission_params(), 'mission.yaml'),
    'drive_node': NodeSpec('mining_rover.nodes.drive_node', 'DriveNode',
                           lambda m: m._params(m.rover_config()), 'drivers_rover.yaml'),
    'excavator_node': NodeSpec('mining_rover.nodes.excavator_node', 'ExcavatorNode',
                               lambda m: m._params(m.rover_config()), 'drivers_rover.yaml'),
    'ground_link_node': NodeSpec('mining_rover.nodes.ground_link_node', 'GroundLinkNode',
                                 lambda m: m._params(), 'ground_link.yaml'),
}


def _sections(path: Path) -> dict:
    """{node name: {parameter: value}} of a ROS 2 parameters file."""
    from mining_rover.paths import param_sections
    return param_sections(yaml.safe_load(path.read_text()), path.name)


def check_section(node: str, values: dict) -> None:
    """Raise ParameterError unless every key is declared by the node and its value passes."""
    if node not in NODES:
        raise ParameterError(f'section {node!r} is not a node the rover runs: one of {sorted(NODES)}')
    spec = NODES[node]
    declared = {p.name: p for p in spec.params(importlib.import_module(spec.module))}
    for key, value in values.items():
        if key not in declared:
            raise ParameterError(f"{node}: parameter '{key}' is not declared by the node")
        declared[key].validate(value)


JETSON_SECTIONS = _sections(JETSON)


def test_jetson_file_sets_what_the_jetson_needs():
    """The rates and sizes the file exists for are there (guards against a section lost in an edit)."""
    s = JETSON_SECTIONS
    assert s['stereo_node']['process_rate_hz'] == 5.0
    assert s['mapping_node']['publish_rate_hz'] == 1.0
    assert s['mapping_node']['resolution_m'] == 0.05
    assert 20.0 <= s['mapping_node']['size_m'] <= 32.0
    assert 'sites_period_s' in s['planner_node']
    assert s['drive_node']['control_rate_hz'] == 50.0


@pytest.mark.parametrize('node', sorted(JETSON_SECTIONS))
def test_every_key_is_declared_and_valid(node):
    check_section(node, JETSON_SECTIONS[node])


@pytest.mark.parametrize('node, values, match', [
    ('stereo_node', {'proces_rate_hz': 5.0}, "'proces_rate_hz' is not declared"),
    ('stereo_node', {'process_rate_hz': 500.0}, 'above its maximum'),
    ('mapping_node', {'size_m': '32'}, 'expected float'),
    ('drive_node', {'control_rate_hz': 1.0}, 'below its minimum'),
    ('stero_node', {'process_rate_hz': 5.0}, 'not a node the rover runs'),
])
def test_the_check_catches_bad_entries(node, values, match):
    with pytest.raises(ParameterError, match=match):
        check_section(node, values)


@pytest.mark.parametrize('node', sorted(n for n in JETSON_SECTIONS if n in NODES))
def test_node_starts_with_its_config_and_the_jetson_overrides(ros, tmp_path, node):
    from rclpy.parameter import Parameter
    spec = NODES[node]
    values = {**_sections(REPO / 'config' / spec.config).get(node, {}), **JETSON_SECTIONS[node]}
    # Test-only: do not open can0 (drivers) or the rover's state file (mission).
    values.update({'autostart': False} if 'autostart' in values else {})
    values.update({'state_file': str(tmp_path / 'mission.sqlite')} if node == 'mission_node' else {})
    cls = getattr(importlib.import_module(spec.module), spec.cls)
    started = ros.add(cls(context=ros.context,
                          parameter_overrides=[Parameter(k, value=v) for k, v in values.items()]))
    for key, value in JETSON_SECTIONS[node].items():
        assert started.get_parameter(key).value == value
