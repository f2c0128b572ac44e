"""launch_pytest: description.launch.py starts and /robot_description appears.

Skipped, with the reason, where launch_pytest / launch_ros are absent (they are not on
PyPI, so only a ROS 2 machine runs this).
"""
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installed (not on PyPI): runs on a ROS 2 machine')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (not on PyPI)')
if pytest.version_tuple >= (8, 4):
    pytest.skip(f'launch_pytest (Jazzy) cannot collect its fixtures under pytest {pytest.__version__} '
                '(>= 8.4 wraps fixtures in FixtureFunctionDefinition); run with pytest 7.4, as '
                '`colcon test` on a ROS 2 Jazzy machine does', allow_module_level=True)

from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

LAUNCH = Path(__file__).resolve().parent.parent / 'launch' / 'description.launch.py'


@launch_pytest.fixture
def description_launch():
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH)),
                                 launch_arguments={'use_robot_state_publisher': 'false'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=description_launch)
def test_robot_description_is_published(ros):
    from std_msgs.msg import String
    from mining_rover.ros import qos
    got = []
    ros.node('listener').create_subscription(String, '/robot_description', got.append, qos.LATCHED)
    assert ros.spin_until(lambda: got, timeout_s=30.0)
    assert '<robot name="rover"' in got[-1].data
