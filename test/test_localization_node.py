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
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

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


def test_map_relocalization_pulls_a_drifted_pose(ros):
    """The rover stands at the start (pose known to 1 cm) and its cloud of the ground
    ahead is laid into the reference; then odometry says it drove 1.5 m while it drove
    1.25 m: the cloud seen from there, matched against the reference, brings the published
    pose within 5 cm of the truth (from 25 cm) and is published on localization/map_fix."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from test_localization_relocalization import _cloud

    from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
    from mining_rover.ros.pointcloud import xyz_to_pointcloud2
    T_cam_base = np.linalg.inv(xyzrpy_to_matrix(*left_camera_xyz_rpy()) @ T_LINK_OPTICAL)
    x0, y0, yaw0 = START
    terrain_at = (x0, y0, yaw0)       # the synthetic ground is laid out about the start pose

    def cloud_msg(true_pose, t, seed):
        # the ground seen from true_pose, in the left optical frame
        d = np.array(true_pose) - terrain_at
        c, s = math.cos(yaw0), math.sin(yaw0)
        local = (c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2])   # pose in the terrain's frame
        lv = _cloud(local, seed=seed)
        p = np.c_[lv, np.ones(len(lv))] @ T_cam_base.T
        return xyz_to_pointcloud2(p[:, :3].astype(np.float32), C.left.frame, seconds_to_stamp(t))

    # odometry this poor (17 % of the distance) is what the filter is told to expect, so
    # that the match is inside its gate
    rig = Rig(ros, filter_initial_sd_m=0.01, filter_initial_sd_rad=0.002, filter_along_track_m_per_sqrt_m=0.1,
              filter_cross_track_m_per_sqrt_m=0.1)
    fixes = []
    rig.io.create_subscription(PoseWithCovarianceStamped, 'localization/map_fix', fixes.append, qos.STATE)
    cloud_pub = rig.io.create_publisher(PointCloud2, 'stereo/points', qos.SENSOR)
    t = 10.0
    for k in range(6):                               # standing at the start: laid down
        rig.odom_pub.publish(_odom(x0, y0, yaw0, t))
        ros.spin_for(0.05)
        cloud_pub.publish(cloud_msg((x0, y0, yaw0), t, k))
        ros.spin_for(0.6)
        t += 0.6
        if rig.node.reloc_counts['map_absorbed'] >= 2:
            break
    assert rig.node.reloc_counts['map_absorbed'] >= 1
    for i in range(1, 31):                           # odometry: 1.5 m ahead; truth: 1.25 m
        d = 0.05 * i
        rig.odom_pub.publish(_odom(x0 + d * math.cos(yaw0), y0 + d * math.sin(yaw0), yaw0, t + 0.1 * i))
        ros.spin_for(0.01)
    t += 3.0
    truth = (x0 + 1.25 * math.cos(yaw0), y0 + 1.25 * math.sin(yaw0), yaw0)
    for k in range(10):
        rig.odom_pub.publish(_odom(x0 + 1.5 * math.cos(yaw0), y0 + 1.5 * math.sin(yaw0), yaw0, t))
        ros.spin_for(0.05)
        cloud_pub.publish(cloud_msg(truth, t, 10 + k))
        ros.spin_for(0.6)
        t += 0.6
        if rig.node.reloc_counts['map_fixes']:
            break
    assert rig.node.reloc_counts['map_fixes'] >= 1, rig.node.last_map_reason
    assert ros.spin_until(lambda: fixes, 5.0)
    f = fixes[-1].pose.pose.position
    assert math.hypot(f.x - truth[0], f.y - truth[1]) < 0.05
    rig.odom_pub.publish(_odom(x0 + 1.5 * math.cos(yaw0), y0 + 1.5 * math.sin(yaw0), yaw0, t + 0.1))
    n = len(rig.poses)
    assert ros.spin_until(lambda: len(rig.poses) > n, 5.0)
    p = rig.poses[-1].pose.pose.position
    assert math.hypot(p.x - truth[0], p.y - truth[1]) < 0.05
    assert ros.spin_until(lambda: any(kv.key == 'map_fixes' and kv.value != '0'
                                      for kv in rig.status[-1].values) if rig.status else False, 5.0)


def test_map_relocalization_off_subscribes_no_cloud(ros):
    rig = Rig(ros, map_relocalization=False)
    assert rig.node.reloc is None
    assert rig.node.count_subscribers('stereo/points') == 0
