"""The rover in simulation: simulator + description + autonomy stack (+ rviz).

simulator:=embedded  our MuJoCo simulator (sim_node), same worlds, same topic contract
simulator:=gazebo    Gazebo Harmonic through ros_gz_sim, spawned from /robot_description,
                     topics bridged by config/gz_bridge.yaml
use_sim_time is set once, here, for every node.
"""
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, LogInfo,
                            OpaqueFunction)
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace, SetParameter
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    DeclareLaunchArgument('simulator', default_value='embedded', choices=['embedded', 'gazebo'],
                          description='embedded MuJoCo simulator or Gazebo Harmonic'),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='world name: worlds/<world>.sdf'),
    DeclareLaunchArgument('rviz', default_value='true', description='start rviz2'),
    DeclareLaunchArgument('namespace', default_value='', description='ROS namespace'),
    DeclareLaunchArgument('seed', default_value='1', description='embedded simulator random seed'),
    DeclareLaunchArgument('real_time_factor', default_value='1.0',
                          description='embedded simulator pace (0 = as fast as possible)'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('ground_link', default_value='false',
                          description='start the Earth link relay (latency, loss, bandwidth '
                                      'from config/ground_link.yaml)'),
]


def _share(*parts):
    return PathJoinSubstitution([FindPackageShare('mining_rover'), *parts])


def _simulator(context):
    world = LaunchConfiguration('world').perform(context)
    if LaunchConfiguration('simulator').perform(context) == 'embedded':
        return [Node(package='mining_rover', executable='sim_node', name='sim_node', output='screen',
                     parameters=[{
                         'world': world,
                         'seed': int(LaunchConfiguration('seed').perform(context)),
                         'real_time_factor': float(LaunchConfiguration('real_time_factor').perform(context)),
                     }])]
    from mining_rover.sim.world import load_world
    sdf = str(load_world(world).sdf_path)
    start = load_world(world).zones.start_xy_yaw
    gz = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])),
        launch_arguments={'gz_args': f'-r {sdf}', 'on_exit_shutdown': 'true'}.items())
    spawn = Node(package='ros_gz_sim', executable='create', output='screen',
                 arguments=['-topic', 'robot_description', '-name', 'rover',
                            '-x', str(start[0]), '-y', str(start[1]), '-z', '0.6',
                            '-Y', str(start[2])])
    bridge = Node(package='ros_gz_bridge', executable='parameter_bridge', output='screen',
                  parameters=[{'config_file': _share('config', 'gz_bridge.yaml')}])
    from mining_rover.site import site_parameters
    warn = []
    if site_parameters(world)['holddown_n'] > 0.0:
        warn = [LogInfo(msg=f'WARNING: {world} needs hold-down thrust (control/holddown.py), which '
                            'only the embedded simulator models: in Gazebo the planned cuts will '
                            'shove the rover; use simulator:=embedded')]
    return warn + [gz, spawn, bridge]


def generate_launch_description():
    description = _share("launch", "description.launch.py")
    return LaunchDescription(ARGUMENTS + [GroupAction([
        SetParameter(name='use_sim_time', value=True),
        PushRosNamespace(LaunchConfiguration('namespace')),
        OpaqueFunction(function=_simulator),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(description),
                                 launch_arguments={'sim': 'true'}.items()),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(_share('launch', 'stack.launch.py')),
            launch_arguments={'world': LaunchConfiguration('world'),
                              'drivers_config': 'drivers_sim.yaml',
                              'target_resource': LaunchConfiguration('target_resource')}.items()),
        Node(package='mining_rover', executable='ground_link_node', name='ground_link_node',
             output='screen', parameters=[_share('config', 'ground_link.yaml')],
             condition=IfCondition(LaunchConfiguration('ground_link'))),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', _share('config', 'mining_rover.rviz')],
             condition=IfCondition(LaunchConfiguration('rviz'))),
    ])])
