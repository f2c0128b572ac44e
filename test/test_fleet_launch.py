"""fleet.launch.py's rovers: everywhere, the plan it is built from (namespaces, frame
prefixes, start poses where the simulator puts each rover, own state files, bad lists
refused naming the argument); where launch_ros imports, the description itself."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mining_rover import stack_table

REPO = Path(__file__).resolve().parent.parent
HAVE_LAUNCH_ROS = importlib.util.find_spec('launch_ros') is not None
NEEDS_LAUNCH = pytest.mark.skipif(
    not HAVE_LAUNCH_ROS,
    reason='launch_ros is not installed (it is not on PyPI); these tests run on a ROS 2 machine')


def test_the_plan_names_prefixes_and_separates_each_rover():
    plan = stack_table.fleet_plan('r1, r2', 'moon_south_pole', '', '/var/lib/rovers')
    assert [r['namespace'] for r in plan] == ['r1', 'r2']
    assert [r['frame_prefix'] for r in plan] == ['r1/', 'r2/']
    assert [r['state_file'] for r in plan] == ['/var/lib/rovers/mining_rover_mission_r1.sqlite',
                                               '/var/lib/rovers/mining_rover_mission_r2.sqlite']
    site = stack_table.fleet_plan('fleet/a', 'moon_south_pole', 'site1/')[0]
    assert site['frame_prefix'] == 'site1/fleet/a/'
    assert site['state_file'].endswith('mining_rover_mission_fleet_a.sqlite')


def test_each_rovers_odometry_starts_where_the_simulator_puts_it():
    from mining_rover.sim.simulator import Simulator
    plan = stack_table.fleet_plan('r1,r2,r3', 'moon_south_pole')
    sim = Simulator(world='moon_south_pole', camera_width=64, camera_height=48, rovers=['r1', 'r2', 'r3'])
    try:
        for rover in plan:
            x, y, yaw = rover['start_xy_yaw']
            T = sim.rover_view(rover['namespace']).ground_truth_pose()
            assert T[:2, 3] == pytest.approx([x, y], abs=1e-6)
            assert np.arctan2(T[1, 0], T[0, 0]) == pytest.approx(yaw, abs=1e-3)
    finally:
        sim.close()
    starts = np.array([r['start_xy_yaw'][:2] for r in plan])
    assert min(np.linalg.norm(starts[0] - starts[1:], axis=1)) > 3.0   # apart


@pytest.mark.parametrize('rovers, message', [
    ('', 'names no rover'),
    ('r1,r1', "'r1' appears twice"),
    ('r1,2x', "'2x' is not a ROS namespace"),
    (','.join(f'r{i}' for i in range(stack_table.FLEET_SLOTS + 1)), 'at most'),
])
def test_a_bad_rover_list_is_refused_naming_the_argument(rovers, message):
    with pytest.raises(ValueError, match="launch argument 'rovers': .*" + message):
        stack_table.fleet_plan(rovers, 'moon_south_pole')


def test_a_bad_frame_prefix_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="launch argument 'frame_prefix'"):
        stack_table.fleet_plan('r1', 'moon_south_pole', '/abs/')


def _context(**arguments):
    from launch import LaunchContext
    ctx = LaunchContext()
    ctx.launch_configurations.update({'rovers': 'r1,r2', 'world': 'moon_south_pole', 'frame_prefix': '',
                                      'state_dir': '/tmp', **arguments})
    return ctx


@NEEDS_LAUNCH
@pytest.mark.needs_launch_ros
def test_the_description_has_the_simulator_and_a_group_per_slot():
    from launch.actions import GroupAction, Shutdown
    from launch_ros.actions import Node
    spec = importlib.util.spec_from_file_location('fleet_launch', REPO / 'launch' / 'fleet.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    top = [e for e in description.entities if isinstance(e, GroupAction)][0]
    inner = top.get_sub_entities()
    sims = [e for e in inner if isinstance(e, Node)]
    assert [n.node_executable for n in sims] == ['sim_node']
    assert isinstance(sims[0]._ExecuteLocal__on_exit, Shutdown)
    slots = [e for e in inner if isinstance(e, GroupAction)]
    assert len(slots) == stack_table.FLEET_SLOTS
    ctx = _context()
    started = [s.condition.evaluate(ctx) for s in slots]
    assert started == [True, True] + [False] * (stack_table.FLEET_SLOTS - 2)


@NEEDS_LAUNCH
@pytest.mark.needs_launch_ros
def test_fleet_substitutions_give_each_slot_its_rover():
    import yaml

    from mining_rover.launch_support import FleetFact, FleetRovers, FleetStartFile
    ctx = _context(rovers='r1,r2')
    assert yaml.safe_load(FleetRovers().perform(ctx)) == ['r1', 'r2']
    assert [FleetFact(i, 'namespace').perform(ctx) for i in range(3)] == ['r1', 'r2', '']
    assert FleetFact(1, 'frame_prefix').perform(ctx) == 'r2/'
    start = yaml.safe_load(Path(FleetStartFile(1).perform(ctx)).read_text())
    x, y, yaw = stack_table.fleet_plan('r1,r2', 'moon_south_pole')[1]['start_xy_yaw']
    assert start == {'/**/drive_node': {'ros__parameters': {
        'initial_x_m': x, 'initial_y_m': y, 'initial_yaw_rad': yaw}}}
