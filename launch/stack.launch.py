"""The rover's autonomy stack: perception, mapping, planning, executive, drivers.

Shared by sim.launch.py and rover.launch.py. World/site facts (gravity, dig and berm
zones, the prior resource map) are read from the world file named by `world` with
mining_rover.site.site_parameters, the same function `mining-rover sim` uses, so
nothing is typed twice. use_sim_time is not set here: the including launch file sets
it once with SetParameter.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    DeclareLaunchArgument('namespace', default_value='', description='ROS namespace for the stack'),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='world (simulation) or site (hardware) whose gravity, zones '
                                      'and prior resource map the planner and executive use'),
    DeclareLaunchArgument('drivers_config', default_value='drivers_sim.yaml',
                          description='driver parameters in config/: drivers_sim.yaml or drivers_rover.yaml'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='resource to mine for: rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('state_file', default_value='/tmp/mining_rover_mission.sqlite',
                          description='where the executive persists its tally and state'),
    DeclareLaunchArgument('log_level', default_value='info', description='log level of every node'),
    DeclareLaunchArgument('params_file', default_value='',
                          description='extra parameters file applied last to every node (e.g. '
                                      'config/jetson.yaml); empty: none'),
]


def _config(name):
    return PathJoinSubstitution([FindPackageShare('mining_rover'), 'config', name])


def _nodes(context):
    from mining_rover.site import site_parameters
    site = site_parameters(LaunchConfiguration('world').perform(context))
    resource = LaunchConfiguration('target_resource').perform(context)
    args = ['--ros-args', '--log-level', LaunchConfiguration('log_level').perform(context)]
    drivers = _config(LaunchConfiguration('drivers_config').perform(context))

    extra = LaunchConfiguration('params_file').perform(context)

    def node(executable, params):
        return Node(package='mining_rover', executable=executable, name=executable,
                    output='screen', arguments=args, parameters=params + ([extra] if extra else []))

    return [
        node('stereo_node', [_config('stereo.yaml')]),
        node('mapping_node', [_config('mapping.yaml')]),
        node('planner_node', [_config('planner.yaml'), site['planner'],
                              {'target_resource': resource}]),
        node('mission_node', [_config('mission.yaml'), site['mission'],
                              {'target_resource': resource,
                               'state_file': LaunchConfiguration('state_file')}]),
        node('drive_node', [drivers, site['drive']]),
        node('excavator_node', [drivers, site['excavator']]),
    ]


def generate_launch_description():
    return LaunchDescription(ARGUMENTS + [GroupAction([
        PushRosNamespace(LaunchConfiguration('namespace')),
        OpaqueFunction(function=_nodes),
    ])])
