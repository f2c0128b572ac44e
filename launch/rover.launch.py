"""The real rover: description + autonomy stack on the CAN (ODrive) backend.

No simulator; use_sim_time is false. The cameras' driver topics are remapped onto the
names the stack expects (config/sim_contract.yaml) by argument; every remap is relative,
so it follows the namespace, which is pushed once, here (the included files get
namespace:='').
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace, SetParameter, SetRemap

from mining_rover import stack_table
from mining_rover.launch_support import (CheckLaunchArguments, FramePrefixOf, lifecycle, node_parameters,
                                         share)

ARGUMENTS = [
    DeclareLaunchArgument('namespace', default_value='',
                          description='ROS namespace of this rover (e.g. r1), pushed once for every node'),
    DeclareLaunchArgument('frame_prefix', default_value=[FramePrefixOf(LaunchConfiguration('namespace'))],
                          description="prepended to every frame id (e.g. 'r1/'); default: "
                                      "the namespace and '/', or nothing"),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='site description (gravity, zones, prior resource map)'),
    DeclareLaunchArgument('drivers_config', default_value='drivers_rover.yaml',
                          description='driver parameters in config/ (CAN interface, node ids, limits)'),
    DeclareLaunchArgument('left_image', default_value='camera/left/image_raw',
                          description='left camera driver image topic (relative: follows the namespace)'),
    DeclareLaunchArgument('left_info', default_value='camera/left/camera_info',
                          description='left camera driver camera_info topic'),
    DeclareLaunchArgument('right_image', default_value='camera/right/image_raw',
                          description='right camera driver image topic'),
    DeclareLaunchArgument('right_info', default_value='camera/right/camera_info',
                          description='right camera driver camera_info topic'),
    DeclareLaunchArgument('target_resource', default_value='helium3',
                          description='rare_earth, platinum_group or helium3'),
    DeclareLaunchArgument('rviz', default_value='false', description='start rviz2 on the rover'),
    DeclareLaunchArgument('ground_link', default_value='true',
                          description='start the ground_link relay to Earth (config/ground_link.yaml)'),
    DeclareLaunchArgument('params_file', default_value='',
                          description='extra parameters file applied last to every stack node '
                                      '(e.g. the installed config/jetson.yaml); empty: none'),
]

GROUND_LINK = stack_table.entry('ground_link_node')


def generate_launch_description():
    prefix = LaunchConfiguration('frame_prefix')
    return LaunchDescription(ARGUMENTS + [
        CheckLaunchArguments(),
        GroupAction([
            SetParameter(name='use_sim_time', value=False),
            PushRosNamespace(LaunchConfiguration('namespace')),
            SetRemap(src='stereo/left/image_raw', dst=LaunchConfiguration('left_image')),
            SetRemap(src='stereo/left/camera_info', dst=LaunchConfiguration('left_info')),
            SetRemap(src='stereo/right/image_raw', dst=LaunchConfiguration('right_image')),
            SetRemap(src='stereo/right/camera_info', dst=LaunchConfiguration('right_info')),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(share('launch', 'description.launch.py')),
                launch_arguments={'namespace': '', 'frame_prefix': prefix, 'sim': 'false'}.items()),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(share('launch', 'stack.launch.py')),
                launch_arguments={'namespace': '', 'frame_prefix': prefix, 'sim': 'false',
                                  'world': LaunchConfiguration('world'),
                                  'drivers_config': LaunchConfiguration('drivers_config'),
                                  'target_resource': LaunchConfiguration('target_resource'),
                                  'params_file': LaunchConfiguration('params_file')}.items()),
            Node(package=GROUND_LINK.package, executable=GROUND_LINK.executable,
                 name=GROUND_LINK.name, output='screen',
                 parameters=node_parameters(GROUND_LINK, sim=False), **lifecycle(GROUND_LINK),
                 condition=IfCondition(LaunchConfiguration(GROUND_LINK.enable_arg))),
            Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                 arguments=['-d', share('config', 'mining_rover.rviz')],
                 condition=IfCondition(LaunchConfiguration('rviz'))),
        ]),
    ])
