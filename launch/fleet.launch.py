"""Several rovers in one embedded simulator world: one simulator, and for each rover its
description and autonomy stack in its own namespace.

    ros2 launch mining_rover fleet.launch.py rovers:=r1,r2

The stack table's sim_node (at the root namespace) simulates every rover in one MuJoCo
world with one /clock, and publishes each rover's topics under its namespace with its
frames prefixed (`/r1/stereo/left/image_raw`, `r1/base_link`). For each rover,
description.launch.py and stack.launch.py are included with namespace:=<rover> (they push
it, once) and frame_prefix:=<frame_prefix><rover>/; its drive's odometry starts where the
simulator puts that rover (side by side from the world's start pose,
mining_rover/sim/fleet.py) and its executive keeps its own state file. use_sim_time is
set once, here. The description holds one group per slot (stack_table.FLEET_SLOTS), each
started only when `rovers` names that many rovers, so no OpaqueFunction hides what starts.
"""
from typing import List

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, SetParameter
from launch_ros.parameter_descriptions import ParameterValue

from mining_rover import stack_table
from mining_rover.launch_support import (CheckLaunchArguments, FleetFact, FleetRovers, FleetStartFile,
                                         lifecycle, node_parameters, share)

ARGUMENTS = [
    DeclareLaunchArgument('rovers', default_value='r1,r2',
                          description='the rovers, comma-separated, each a ROS namespace (at most '
                                      'stack_table.FLEET_SLOTS of them)'),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='world name: worlds/<world>.sdf'),
    DeclareLaunchArgument('frame_prefix', default_value='',
                          description="put before each rover's own prefix '<rover>/' (e.g. 'site1/'); "
                                      'default: nothing'),
    DeclareLaunchArgument('seed', default_value='1', description='embedded simulator random seed'),
    DeclareLaunchArgument('real_time_factor', default_value='1.0',
                          description='embedded simulator pace (0 = as fast as possible)'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('state_dir', default_value='/tmp',
                          description="where each rover's executive persists its tally and state "
                                      '(mining_rover_mission_<rover>.sqlite)'),
    DeclareLaunchArgument('use_robot_state_publisher', default_value='true',
                          description='true: robot_state_publisher; false: description_node'),
]

SIM = stack_table.entry('sim_node')


def _rover(slot: int) -> GroupAction:
    """Fleet slot ``slot``: the rover's description and stack, each include scoped so the
    next one (and the next slot) sees this file's arguments unchanged."""
    namespace, prefix = FleetFact(slot, 'namespace'), FleetFact(slot, 'frame_prefix')
    return GroupAction([
        GroupAction([IncludeLaunchDescription(
            PythonLaunchDescriptionSource(share('launch', 'description.launch.py')),
            launch_arguments={'namespace': namespace, 'frame_prefix': prefix, 'sim': 'true',
                              'use_robot_state_publisher':
                                  LaunchConfiguration('use_robot_state_publisher')}.items())]),
        GroupAction([IncludeLaunchDescription(
            PythonLaunchDescriptionSource(share('launch', 'stack.launch.py')),
            launch_arguments={'namespace': namespace, 'frame_prefix': prefix, 'sim': 'true',
                              'world': LaunchConfiguration('world'),
                              'drivers_config': 'drivers_sim.yaml',
                              'target_resource': LaunchConfiguration('target_resource'),
                              'state_file': FleetFact(slot, 'state_file'),
                              'params_file': FleetStartFile(slot)}.items())]),
    ], condition=IfCondition(FleetFact(slot, 'present')))


def generate_launch_description():
    return LaunchDescription(ARGUMENTS + [
        CheckLaunchArguments(fleet=True),
        GroupAction([
            SetParameter(name='use_sim_time', value=True),
            Node(package=SIM.package, executable=SIM.executable, name=SIM.name, output='screen',
                 parameters=node_parameters(SIM, sim=True)
                 + [{'rovers': ParameterValue(FleetRovers(), value_type=List[str])}],
                 **lifecycle(SIM)),
            *[_rover(slot) for slot in range(stack_table.FLEET_SLOTS)],
        ]),
    ])
