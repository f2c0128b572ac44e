"""Parameters as rclpy enforces them (mining_rover/ros/params.py), through the real
parameter service: a SetParameters request from another node, as `ros2 param set`
sends it.

* a string for a float is refused by rclpy with the types named (no dynamic typing);
* a value outside the declared range is refused with the range;
* a parameter that cannot change while the node runs is read-only (plain nodes) or
  refused while configured (driver lifecycle nodes), and a cleanup + configure re-reads
  every parameter;
* a parameter marked runtime changes at once, validated.
"""
import pytest
from rcl_interfaces.srv import DescribeParameters, SetParameters
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Float64

from mining_rover.contract import load_contract
from mining_rover.nodes.drive_node import DriveNode
from mining_rover.nodes.ground_link_node import GroundLinkNode
from mining_rover.ros import qos
from mining_rover.ros.params import Param, ParameterError, declare_and_read

OK = TransitionCallbackReturn.SUCCESS


def _service(ros, helper, srv_type, name, request):
    client = helper.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=10.0), name
    future = client.call_async(request)
    assert ros.spin_until(future.done, 10.0), name
    return future.result()


def set_remote(ros, helper, node_name, name, value):
    """One SetParameters request to /<node_name>/set_parameters; its one result."""
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    return _service(ros, helper, SetParameters, f'/{node_name}/set_parameters', request).results[0]


@pytest.fixture
def drive(ros):
    node = ros.add(DriveNode(context=ros.context, parameter_overrides=[Parameter('backend', value='sim')]))
    helper = ros.node('param_test_client')
    try:
        yield node, helper
    finally:
        node.shutdown()


def test_a_string_for_a_float_is_refused_by_rclpy_naming_the_type(ros, drive):
    node, helper = drive
    result = set_remote(ros, helper, 'drive_node', 'control_rate_hz', 'hello')
    assert not result.successful
    assert 'DOUBLE' in result.reason and 'STRING' in result.reason, result.reason
    assert node.get_parameter('control_rate_hz').value == 50.0


def test_the_declared_range_is_published_and_enforced(ros, drive):
    node, helper = drive
    desc = _service(ros, helper, DescribeParameters, '/drive_node/describe_parameters',
                    DescribeParameters.Request(names=['control_rate_hz'])).descriptors[0]
    assert not desc.dynamic_typing
    assert (desc.floating_point_range[0].from_value, desc.floating_point_range[0].to_value) == (5.0, 500.0)
    result = set_remote(ros, helper, 'drive_node', 'max_linear_mps', 50.0)   # range 0.01..5
    assert not result.successful and 'out of range' in result.reason, result.reason


def test_runtime_parameter_changes_at_once_and_is_validated(ros, drive):
    node, helper = drive
    assert set_remote(ros, helper, 'drive_node', 'max_linear_mps', 0.3).successful
    assert node.cfg.max_linear_mps == 0.3 and node.limiter.linear.max_value == 0.3
    result = node.set_parameters([Parameter('max_linear_mps', value=float('nan'))])[0]
    assert not result.successful, result.reason
    result = node.set_parameters([Parameter('max_wheel_radps', value=3.0)])[0]   # not a runtime one
    assert not result.successful and 'configure' in result.reason, result.reason
    assert node.cfg.max_linear_mps == 0.3 and node.cfg.max_wheel_radps != 3.0


def test_a_configure_time_parameter_is_refused_while_configured_and_reread_after_cleanup(ros, drive):
    """cleanup + configure re-reads the parameters: the new watchdog timeout reaches the
    safety layer, and a wheel command topic stays single after a second configure."""
    node, helper = drive
    result = set_remote(ros, helper, 'drive_node', 'cmd_timeout_s', 0.9)
    assert not result.successful and 'configure' in result.reason, result.reason
    assert node.safety.watchdog.timeout_s == 0.5
    assert node.trigger_deactivate() == OK
    assert node.trigger_cleanup() == OK
    assert set_remote(ros, helper, 'drive_node', 'cmd_timeout_s', 0.9).successful
    assert set_remote(ros, helper, 'drive_node', 'arm_stow_rad', 0.0).successful
    assert node.trigger_configure() == OK
    assert node.cfg.cmd_timeout_s == 0.9 and node.safety.watchdog.timeout_s == 0.9
    assert node.cfg.drum_x_m == pytest.approx(node.cfg.arm_pivot_x_m + node.cfg.arm_length_m)
    topic = '/' + load_contract().joints_of('wheel')[0].topic.lstrip('/')
    assert node.count_publishers(topic) == 1
    assert node.trigger_activate() == OK


def test_a_plain_node_declares_what_it_cannot_apply_read_only(ros):
    ros.add(GroundLinkNode(context=ros.context))
    helper = ros.node('param_test_client')
    result = set_remote(ros, helper, 'ground_link_node', 'one_way_latency_s', 5.0)
    assert not result.successful and 'read-only' in result.reason, result.reason
    assert set_remote(ros, helper, 'ground_link_node', 'outage', True).successful
    result = set_remote(ros, helper, 'ground_link_node', 'outage', 'yes')
    assert not result.successful and 'BOOL' in result.reason, result.reason


def test_start_up_values_are_checked_naming_the_parameter(ros):
    # an integer for a float (control_rate_hz: 50 in a YAML file) is widened
    node = ros.add(DriveNode(context=ros.context, parameter_overrides=[
        Parameter('backend', value='sim'), Parameter('control_rate_hz', value=40)]))
    assert node.cfg.control_rate_hz == 40.0 and isinstance(node.cfg.control_rate_hz, float)
    node.shutdown()
    with pytest.raises(ParameterError, match=r"parameter 'control_rate_hz': expected float, got str"):
        DriveNode(context=ros.context, parameter_overrides=[Parameter('control_rate_hz', value='hello')])
    with pytest.raises(ParameterError, match=r"'control_rate_hz' = 900.0 is above its maximum 500"):
        DriveNode(context=ros.context, parameter_overrides=[Parameter('control_rate_hz', value=900.0)])


def test_declare_and_read_marks_read_only_unless_runtime_or_reconfigurable(ros):
    node = ros.node('param_policy_node')
    params = [Param('fixed_m', 1.0, 'd', 0.0, 2.0), Param('live_m', 1.0, 'd', 0.0, 2.0, runtime=True),
              Param('never', True, 'd', read_only=True)]
    declare_and_read(node, params)
    assert [node.describe_parameter(p.name).read_only for p in params] == [True, False, True]
    other = ros.node('param_policy_node_lifecycle')
    declare_and_read(other, params, reconfigurable=True)
    assert [other.describe_parameter(p.name).read_only for p in params] == [False, False, True]


def test_the_driver_files_give_the_drive_the_executives_stow_angle():
    """config/mission.yaml's arm_stow_rad places the drum loads for drive_node's turning
    pivot: the driver files carry the same key and value."""
    from mining_rover.paths import config_parameters
    mission = config_parameters('mission.yaml', 'mission_node')
    for name in ('drivers_sim.yaml', 'drivers_rover.yaml'):
        drive = config_parameters(name, 'drive_node')
        assert drive['arm_stow_rad'] == mission['arm_stow_rad'], name


def test_holddown_publisher_unused_without_thrust(ros, drive):
    """holddown_n 0 (the default): nothing is ever commanded on the hold-down topic."""
    node, helper = drive
    got = []
    helper.create_subscription(Float64, '/' + load_contract().holddown_topic.lstrip('/'),
                               lambda m: got.append(m.data), qos.COMMAND)
    ros.spin_for(0.5)
    assert got == []
