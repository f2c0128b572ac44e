"""Robot description: xacro expanded at launch, published on robot_description.

With robot_state_publisher (a ROS machine) it also publishes TF for every link from
joint_states; without it (use_robot_state_publisher:=false) our description_node (the
stack table's, as `mining-rover sim` starts it) publishes the description and, where
tf2_ros exists, the static transforms. Both put frame_prefix in front of every frame.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from mining_rover import stack_table
from mining_rover.launch_support import (RESPAWN_DELAY_S, CheckLaunchArguments, FramePrefixOf, lifecycle,
                                         node_parameters)

CAMERA = stack_table.camera_arguments()
ARGUMENTS = [
    DeclareLaunchArgument('namespace', default_value='',
                          description='ROS namespace for the description nodes; an including '
                                      'launch file that pushed it passes an empty one'),
    DeclareLaunchArgument('frame_prefix', default_value=[FramePrefixOf(LaunchConfiguration('namespace'))],
                          description="prepended to every frame id (e.g. 'r1/'); default: "
                                      "the namespace and '/', or nothing"),
    DeclareLaunchArgument('sim', default_value='false',
                          description='add Gazebo sensors and joint controllers to the URDF'),
    DeclareLaunchArgument('camera_baseline', default_value=CAMERA['camera_baseline'],
                          description='stereo baseline, m (xacro arg; default config/rover.yaml)'),
    DeclareLaunchArgument('camera_height', default_value=CAMERA['camera_height'],
                          description='stereo optical centre height above base_link, m (xacro arg; '
                                      'default config/rover.yaml)'),
    DeclareLaunchArgument('camera_pitch', default_value=CAMERA['camera_pitch'],
                          description='downward pitch of the stereo pair, rad (xacro arg; default '
                                      'config/rover.yaml)'),
    DeclareLaunchArgument('topic_namespace', default_value='',
                          description='sim: the Gazebo plugins publish and subscribe under '
                                      '/<topic_namespace> (an including file passes the namespace it '
                                      'pushed), so the bridge in that namespace finds them'),
    DeclareLaunchArgument('use_robot_state_publisher', default_value='true',
                          description='true: robot_state_publisher (TF for all links); '
                                      'false: mining_rover description_node only'),
]

DESCRIPTION = stack_table.entry('description_node')


def generate_launch_description():
    xacro_file = PathJoinSubstitution([FindPackageShare('mining_rover'), 'urdf', 'rover.urdf.xacro'])
    robot_description = ParameterValue(Command([
        'xacro ', xacro_file,
        ' sim:=', LaunchConfiguration('sim'),
        ' camera_baseline:=', LaunchConfiguration('camera_baseline'),
        ' camera_height:=', LaunchConfiguration('camera_height'),
        ' camera_pitch:=', LaunchConfiguration('camera_pitch'),
        ' frame_prefix:=', LaunchConfiguration('frame_prefix'),
        ' topic_namespace:=', LaunchConfiguration('topic_namespace'),
    ]), value_type=str)
    use_rsp = LaunchConfiguration('use_robot_state_publisher')
    return LaunchDescription(ARGUMENTS + [
        CheckLaunchArguments(),
        GroupAction([
            PushRosNamespace(LaunchConfiguration('namespace')),
            Node(package='robot_state_publisher', executable='robot_state_publisher',
                 name='robot_state_publisher', output='screen', respawn=True, respawn_delay=RESPAWN_DELAY_S,
                 parameters=[{'robot_description': robot_description,
                              'frame_prefix': ParameterValue(LaunchConfiguration('frame_prefix'),
                                                             value_type=str)}],
                 condition=IfCondition(use_rsp)),
            Node(package=DESCRIPTION.package, executable=DESCRIPTION.executable,
                 name=DESCRIPTION.name, output='screen', condition=UnlessCondition(use_rsp),
                 parameters=node_parameters(DESCRIPTION, sim=None),
                 **lifecycle(DESCRIPTION)),
        ]),
    ])
