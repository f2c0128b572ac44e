"""The rover's autonomy stack: perception, mapping, planning, executive, drivers.

Shared by sim.launch.py and rover.launch.py. The nodes, their parameter files, the
launch arguments they take and the frames they name are the 'stack' group of
mining_rover/stack_table.py, the table `mining-rover sim` starts too. World/site facts
(gravity, dig and berm zones, the prior resource map) come from the world file named by
`world` through mining_rover.site.site_parameters. use_sim_time is not set here: the
including launch file sets it once with SetParameter. An including file pushes the
namespace itself and passes namespace:='' here, so it is pushed once.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

from mining_rover import stack_table
from mining_rover.launch_support import CheckLaunchArguments, FramePrefixOf, lifecycle, node_parameters

ARGUMENTS = [
    DeclareLaunchArgument('namespace', default_value='',
                          description='ROS namespace of the stack (e.g. r1); an including '
                                      'launch file that pushed it passes an empty one'),
    DeclareLaunchArgument('frame_prefix', default_value=[FramePrefixOf(LaunchConfiguration('namespace'))],
                          description="prepended to every frame id (e.g. 'r1/'); default: "
                                      "the namespace and '/', or nothing"),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='world (simulation) or site (hardware) whose gravity, zones '
                                      'and prior resource map the planner and executive use'),
    DeclareLaunchArgument('site', default_value='compact',
                          description="compact (the world's clearing) or operational (a 64 m "
                                      'site, dig zone 25-40 m from the base)'),
    DeclareLaunchArgument('drivers_config', default_value='drivers_sim.yaml',
                          description='driver parameters in config/: drivers_sim.yaml or drivers_rover.yaml'),
    DeclareLaunchArgument('sim', default_value='false',
                          description='true: add config/mission_sim.yaml (simulated mission sizes) '
                                      'after each node\'s own file, as `mining-rover sim` does'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='resource to mine for: rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('state_file', default_value='/tmp/mining_rover_mission.sqlite',
                          description='where the executive persists its tally and state'),
    DeclareLaunchArgument('log_level', default_value='info', description='log level of every node'),
    DeclareLaunchArgument('params_file', default_value='',
                          description='extra parameters file applied last to every node (e.g. '
                                      'config/jetson.yaml); empty: none'),
]


def generate_launch_description():
    log_level = ['--ros-args', '--log-level', LaunchConfiguration('log_level')]
    return LaunchDescription(ARGUMENTS + [
        CheckLaunchArguments(),
        GroupAction([PushRosNamespace(LaunchConfiguration('namespace'))] + [
            Node(package=node.package, executable=node.executable, name=node.name,
                 output='screen', arguments=log_level,
                 parameters=node_parameters(node, sim=None, extra_params_file='params_file'),
                 **lifecycle(node))
            for node in stack_table.entries('stack')
        ]),
    ])
