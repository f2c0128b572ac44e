"""The real rover: description + autonomy stack on the CAN (ODrive) backend.

No simulator; use_sim_time is false. The cameras' driver topics are remapped onto
the names the stack expects (config/sim_contract.yaml) by argument.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, SetParameter, SetRemap
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    DeclareLaunchArgument('namespace', default_value='', description='ROS namespace'),
    DeclareLaunchArgument('world', default_value='moon_south_pole',
                          description='site description (gravity, zones, prior resource map)'),
    DeclareLaunchArgument('drivers_config', default_value='drivers_rover.yaml',
                          description='driver parameters in config/ (CAN interface, node ids, limits)'),
    DeclareLaunchArgument('left_image', default_value='/camera/left/image_raw',
                          description='left camera driver image topic'),
    DeclareLaunchArgument('left_info', default_value='/camera/left/camera_info',
                          description='left camera driver camera_info topic'),
    DeclareLaunchArgument('right_image', default_value='/camera/right/image_raw',
                          description='right camera driver image topic'),
    DeclareLaunchArgument('right_info', default_value='/camera/right/camera_info',
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


def _share(*parts):
    return PathJoinSubstitution([FindPackageShare('mining_rover'), *parts])


def generate_launch_description():
    return LaunchDescription(ARGUMENTS + [GroupAction([
        SetParameter(name='use_sim_time', value=False),
        SetRemap(src='/stereo/left/image_raw', dst=LaunchConfiguration('left_image')),
        SetRemap(src='/stereo/left/camera_info', dst=LaunchConfiguration('left_info')),
        SetRemap(src='/stereo/right/image_raw', dst=LaunchConfiguration('right_image')),
        SetRemap(src='/stereo/right/camera_info', dst=LaunchConfiguration('right_info')),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(_share('launch', 'description.launch.py')),
            launch_arguments={'namespace': LaunchConfiguration('namespace'), 'sim': 'false'}.items()),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(_share('launch', 'stack.launch.py')),
            launch_arguments={'namespace': LaunchConfiguration('namespace'),
                              'world': LaunchConfiguration('world'),
                              'drivers_config': LaunchConfiguration('drivers_config'),
                              'target_resource': LaunchConfiguration('target_resource'),
                              'params_file': LaunchConfiguration('params_file')}.items()),
        Node(package='mining_rover', executable='ground_link_node', name='ground_link_node',
             output='screen', parameters=[_share('config', 'ground_link.yaml')],
             condition=IfCondition(LaunchConfiguration('ground_link'))),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', _share('config', 'mining_rover.rviz')],
             condition=IfCondition(LaunchConfiguration('rviz'))),
    ])])
