"""localization_node over real DDS: parameters and topic names, odometry in -> map-frame
pose and odometry out (the start pose from the world file composed with odom), a status
whose position sd grows while no fix arrives, a fix from rendered stereo images that
pulls the pose; bad parameters refuse the start with a message naming them."""
import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseWithCovarianceStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image

from mining_rover.contract import load_contract
from mining_rover.nodes.localization_node import LocalizationNode
from mining_rover.ros import qos
from mining_rover.ros.conversions import make_camera_info, numpy_to_image, seconds_to_stamp
from mining_rover.ros.geometry import matrix_to_odometry
from mining_rover.ros.params import ParameterError
from mining_rover.sim.world import load_world

C = load_contract()
START = load_world('moon_south_pole').zones.start_xy_yaw


def _odom(x, y, yaw, t):
    T = np.eye(4)
    T[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    T[0, 3], T[1, 3] = x, y
    return matrix_to_odometry(T, 'odom', 'base_link', seconds_to_stamp(t))


class Rig:
    def __init__(self, ros, **params):
        from rclpy.parameter import Parameter
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.node = ros.add(LocalizationNode(context=ros.context, parameter_overrides=overrides))
        self.io = ros.node('loc_test_io')
        self.odom_pub = self.io.create_publisher(Odometry, 'odom', qos.STATE)
        self.img = {s: self.io.create_publisher(Image, getattr(C, s).image, qos.SENSOR)
                    for s in ('left', 'right')}
        self.info = {s: self.io.create_publisher(CameraInfo, getattr(C, s).info, qos.SENSOR)
                     for s in ('left', 'right')}
        self.poses, self.odoms, self.status = [], [], []
        self.io.create_subscription(PoseWithCovarianceStamped, 'localization/pose', self.poses.append,
                                    qos.STATE)
        self.io.create_subscription(Odometry, 'localization/odometry', self.odoms.append, qos.STATE)
        self.io.create_subscription(DiagnosticStatus, 'localization/status', self.status.append, qos.STATE)
        self.ros = ros
        ros.spin_until(lambda: self.node.count_publishers('odom') > 0, 5.0)


def test_topics_and_frames(ros):
    rig = Rig(ros)
    names = {n for n, _ in rig.node.get_topic_names_and_types()}
    assert {'/localization/pose', '/localization/odometry', '/localization/status', '/odom',
            *('/' + t.lstrip('/') for t in (C.left.image, C.right.image, C.left.info, C.right.info))} <= names
    assert rig.node.get_parameter('tag_family').value == 'apriltag_36h11'
    assert rig.node.get_parameter('map_frame').value == 'map'


def test_odometry_moves_the_map_pose_and_the_sd_grows(ros):
    rig = Rig(ros)
    x0, y0, yaw0 = START
    # odom starts at the start pose (drive_node's initial_*), then drives 2 m ahead
    for i in range(41):
        d = 0.05 * i
        rig.odom_pub.publish(_odom(x0 + d * math.cos(yaw0), y0 + d * math.sin(yaw0), yaw0, 0.1 * i))
        ros.spin_for(0.01)
    assert ros.spin_until(lambda: len(rig.poses) >= 30, 10.0)
    ros.spin_for(0.3)
    p = rig.poses[-1]
    assert p.header.frame_id == 'map'
    assert (p.pose.pose.position.x, p.pose.pose.position.y) == pytest.approx(
        (x0 + 2.0 * math.cos(yaw0), y0 + 2.0 * math.sin(yaw0)), abs=1e-6)
    assert rig.odoms[-1].header.frame_id == 'map' and rig.odoms[-1].child_frame_id == 'base_link'
    var = [m.pose.covariance[0] + m.pose.covariance[7] for m in rig.poses]
    assert var[-1] > var[0]
    assert ros.spin_until(lambda: rig.status, 5.0)
    keys = {kv.key for kv in rig.status[-1].values}
    assert {'sigma_xy_m', 'sigma_yaw_rad', 'since_fix_s', 'since_fix_m', 'fixes_accepted',
            'fixes_rejected', 'last_fix_reason'} <= keys


def test_rendered_fix_pulls_the_pose(ros):
    """The rover sees the boards from 3 m; odometry says it is 0.15 m off: the fix from
    the rendered pair brings the published pose within 5 cm of the truth."""
    from mining_rover.sim.simulator import Simulator
    sim = Simulator('moon_south_pole', camera_width=320, camera_height=240)
    try:
        b = sim.fiducials.boards[1]
        x, y = b.x + 3.0 * math.cos(b.yaw_rad), b.y + 3.0 * math.sin(b.yaw_rad)
        yaw = b.yaw_rad + math.pi
        sim.set_base_state(pos=[x, y, sim.true_height(x, y) + 0.25], yaw=yaw)
        left, right = sim.render_stereo()
        intr = sim.camera_intrinsics()
        T = sim.ground_truth_pose()
    finally:
        sim.close()
    truth = (T[0, 3], T[1, 3])
    rig = Rig(ros)
    t = 50.0
    # odometry starts at the start pose and believes it drove to 0.12 m, 0.08 m off the truth
    rig.odom_pub.publish(_odom(*START, t - 1.0))
    ros.spin_for(0.2)
    rig.odom_pub.publish(_odom(truth[0] + 0.12, truth[1] - 0.08, yaw, t))
    ros.spin_for(0.2)
    stamp = seconds_to_stamp(t)
    for _ in range(20):
        for s, img in (('left', left), ('right', right)):
            base = intr['baseline_m'] if s == 'right' else 0.0
            rig.info[s].publish(make_camera_info(320, 240, intr['fx'], intr['fy'], intr['cx'], intr['cy'],
                                                 getattr(C, s).frame, base, stamp))
            rig.img[s].publish(numpy_to_image(img, 'rgb8', getattr(C, s).frame, stamp))
        rig.odom_pub.publish(_odom(truth[0] + 0.12, truth[1] - 0.08, yaw, t))
        ros.spin_for(0.6)
        if rig.node.filter.accepted:
            break
    assert rig.node.filter.accepted >= 1, rig.node.last_fix_reason
    rig.odom_pub.publish(_odom(truth[0] + 0.12, truth[1] - 0.08, yaw, t + 0.1))
    n = len(rig.poses)
    assert ros.spin_until(lambda: len(rig.poses) > n, 5.0)
    p = rig.poses[-1].pose.pose.position
    assert math.hypot(p.x - truth[0], p.y - truth[1]) < 0.05


@pytest.mark.parametrize('params, words', [
    ({'tag_family': 'aruco_4x4'}, ['tag_family', 'aruco_4x4']),
    ({'world': 'no_such_world'}, ['no_such_world', 'worlds']),
    ({'fix_max_range_m': 0.0}, ['fix_max_range_m']),
])
def test_bad_parameters_refuse_start(ros, params, words):
    with pytest.raises(ParameterError) as exc:
        Rig(ros, **params)
    assert all(w in str(exc.value) for w in words), str(exc.value)
