"""The rover in simulation: simulator + description + autonomy stack (+ rviz).

simulator:=embedded  our MuJoCo simulator (sim_node), same worlds, same topic contract
simulator:=gazebo    Gazebo Harmonic through ros_gz_sim, spawned from robot_description
                     (model 'rover', or the namespace's name), topics bridged by
                     config/gz_bridge.yaml in the namespace (Gazebo topics under /<namespace>)
The nodes and their parameters are mining_rover/stack_table.py's, the table
`mining-rover sim` starts, with config/mission_sim.yaml after each node's own file, so
`make sim` and this file run the same graph. use_sim_time is set once, here, for every
node; the namespace is pushed once, here (the included files get namespace:='').
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, LogInfo
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace, SetParameter
from launch_ros.substitutions import FindPackageShare

from mining_rover import stack_table
from mining_rover.launch_support import (CheckLaunchArguments, FramePrefixOf, GzModelName, WorldFact,
                                         argument_is, lifecycle, node_parameters, share, shutdown_on_exit)

ARGUMENTS = [
    DeclareLaunchArgument('simulator', default_value='embedded',
                          description='embedded (MuJoCo, sim_node) or gazebo (Gazebo Harmonic)'),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='world name: worlds/<world>.sdf'),
    DeclareLaunchArgument('site', default_value='compact',
                          description="compact (the world's clearing) or operational (a 64 m "
                                      'site, dig zone 25-40 m from the base)'),
    DeclareLaunchArgument('rviz', default_value='true', description='start rviz2'),
    DeclareLaunchArgument('namespace', default_value='',
                          description='ROS namespace of this rover (e.g. r1), pushed once for every node'),
    DeclareLaunchArgument('frame_prefix', default_value=[FramePrefixOf(LaunchConfiguration('namespace'))],
                          description="prepended to every frame id (e.g. 'r1/'); default: "
                                      "the namespace and '/', or nothing"),
    DeclareLaunchArgument('seed', default_value='1', description='embedded simulator random seed'),
    DeclareLaunchArgument('real_time_factor', default_value='1.0',
                          description='embedded simulator pace (0 = as fast as possible)'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('state_file', default_value='/tmp/mining_rover_mission.sqlite',
                          description='where the executive persists its tally and state'),
    DeclareLaunchArgument('use_robot_state_publisher', default_value='true',
                          description='true: robot_state_publisher; false: description_node '
                                      '(what `mining-rover sim` starts)'),
    DeclareLaunchArgument('ground_link', default_value='false',
                          description='start the Earth link relay (latency, loss, bandwidth '
                                      'from config/ground_link.yaml)'),
]

SIM = stack_table.entry('sim_node')
HOLDDOWN_WARNING = (' needs hold-down thrust (control/holddown.py), which only the embedded simulator '
                    'models: in Gazebo the planned cuts will shove the rover; use simulator:=embedded')
GROUND_LINK = stack_table.entry('ground_link_node')


def _gazebo():
    """Gazebo Harmonic: world, spawn at the world's start pose, the bridge."""
    return [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution(
                [FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])),
            launch_arguments={'gz_args': ['-r ', WorldFact('sdf_path')],
                              'on_exit_shutdown': 'true'}.items()),
        Node(package='ros_gz_sim', executable='create', output='screen',
             arguments=['-topic', 'robot_description', '-name', GzModelName(LaunchConfiguration('namespace')),
                        '-x', WorldFact('start_x'), '-y', WorldFact('start_y'),
                        '-z', '0.6', '-Y', WorldFact('start_yaw')]),
        Node(package='ros_gz_bridge', executable='parameter_bridge', output='screen',
             parameters=[{'config_file': share('config', 'gz_bridge.yaml'),
                          # the file's relative Gazebo names follow this namespace too
                          'expand_gz_topic_names': True}],
             on_exit=shutdown_on_exit('parameter_bridge')),
        LogInfo(condition=IfCondition(WorldFact('needs_holddown')),
                msg=['WARNING: ', LaunchConfiguration('world'), HOLDDOWN_WARNING]),
    ]


def generate_launch_description():
    prefix = LaunchConfiguration('frame_prefix')
    return LaunchDescription(ARGUMENTS + [
        CheckLaunchArguments(simulator=True),
        GroupAction([
            SetParameter(name='use_sim_time', value=True),
            PushRosNamespace(LaunchConfiguration('namespace')),
            Node(package=SIM.package, executable=SIM.executable, name=SIM.name, output='screen',
                 parameters=node_parameters(SIM, sim=True), **lifecycle(SIM),
                 condition=argument_is('simulator', 'embedded')),
            GroupAction(_gazebo(), condition=argument_is('simulator', 'gazebo')),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(share('launch', 'description.launch.py')),
                # topic_namespace first: it reads the namespace this file pushed
                launch_arguments={'topic_namespace': LaunchConfiguration('namespace'),
                                  'namespace': '', 'frame_prefix': prefix, 'sim': 'true',
                                  'use_robot_state_publisher':
                                      LaunchConfiguration('use_robot_state_publisher')}.items()),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(share('launch', 'stack.launch.py')),
                launch_arguments={'namespace': '', 'frame_prefix': prefix, 'sim': 'true',
                                  'world': LaunchConfiguration('world'),
                                  'site': LaunchConfiguration('site'),
                                  'drivers_config': 'drivers_sim.yaml',
                                  'target_resource': LaunchConfiguration('target_resource'),
                                  'state_file': LaunchConfiguration('state_file')}.items()),
            Node(package=GROUND_LINK.package, executable=GROUND_LINK.executable,
                 name=GROUND_LINK.name, output='screen',
                 parameters=node_parameters(GROUND_LINK, sim=False), **lifecycle(GROUND_LINK),
                 condition=IfCondition(LaunchConfiguration(GROUND_LINK.enable_arg))),
            Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                 arguments=['-d', share('config', 'mining_rover.rviz')],
                 condition=IfCondition(LaunchConfiguration('rviz'))),
        ]),
    ])
