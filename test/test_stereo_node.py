"""stereo_node over real DDS: images + camera_info in, disparity + cloud out; malformed
input is dropped and the node still answers afterwards."""
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from mining_rover.contract import load_contract
from mining_rover.nodes.stereo_node import StereoNode
from mining_rover.ros import qos
from mining_rover.ros.conversions import (make_camera_info, msg_to_disparity, numpy_to_image,
                                          pointcloud2_to_xyz, seconds_to_stamp)
from mining_rover.ros.params import ParameterError
from test_perception_stereo import B, CX, CY, F, H, W, shifted_pair

C = load_contract()
D_PX = 20.0


class Rig:
    """Publishes a synthetic stereo pair (a plane at d = 20 px); collects the outputs."""

    def __init__(self, ros):
        self.ros = ros
        self.node = ros.add(StereoNode(context=ros.context))
        self.io = ros.node('stereo_test_io')
        pub = lambda t, topic: self.io.create_publisher(t, topic, qos.SENSOR)
        self.pub = {'li': pub(Image, C.left.image), 'ri': pub(Image, C.right.image),
                    'lc': pub(CameraInfo, C.left.info), 'rc': pub(CameraInfo, C.right.info)}
        self.clouds, self.disps = [], []
        self.io.create_subscription(PointCloud2, 'stereo/points', self.clouds.append, qos.SENSOR)
        self.io.create_subscription(DisparityImage, 'stereo/disparity', self.disps.append, qos.SENSOR)
        gray_l, gray_r = shifted_pair(lambda v: np.full_like(v, D_PX))
        self.left = np.repeat(gray_l[..., None], 3, axis=2)
        self.right = np.repeat(gray_r[..., None], 3, axis=2)
        self.t = 100.0
        ros.spin_until(lambda: self.io.count_subscribers('stereo/points') >= 0 and
                       self.node.count_publishers(C.left.image) > 0, 5.0)

    def send(self, left=None, right=None, enc_l='rgb8', enc_r='rgb8', dt=0.0, info_l=None, info_r=None):
        self.t += 0.2
        stamp_l, stamp_r = seconds_to_stamp(self.t), seconds_to_stamp(self.t + dt)
        frame = C.left.frame
        self.pub['lc'].publish(info_l or make_camera_info(W, H, F, F, CX, CY, frame, 0.0, stamp_l))
        self.pub['rc'].publish(info_r or make_camera_info(W, H, F, F, CX, CY, C.right.frame, B, stamp_r))
        self.pub['li'].publish(numpy_to_image(self.left if left is None else left, enc_l, frame, stamp_l))
        self.pub['ri'].publish(numpy_to_image(self.right if right is None else right, enc_r,
                                              C.right.frame, stamp_r))

    def expect_cloud(self, timeout_s=10.0):
        n = len(self.clouds)
        for _ in range(int(timeout_s / 0.5)):
            self.send()
            if self.ros.spin_until(lambda: len(self.clouds) > n, 0.5):
                return self.clouds[-1]
        pytest.fail('no cloud from stereo_node')


def test_pair_gives_disparity_and_cloud(ros):
    rig = Rig(ros)
    cloud = rig.expect_cloud()
    assert ros.spin_until(lambda: rig.disps, 5.0)
    assert cloud.header.frame_id == C.left.frame
    pts = pointcloud2_to_xyz(cloud)
    assert len(pts) > 0.5 * W * H
    # depth f B / d; SGBM sub-pixel error < 0.05 px on this texture -> 0.25 % in depth
    assert np.median(pts[:, 2]) == pytest.approx(F * B / D_PX, rel=0.005)
    disp, meta = msg_to_disparity(rig.disps[-1])
    assert disp.shape == (H, W)
    assert np.nanmedian(disp) == pytest.approx(D_PX, abs=0.05)
    assert meta['f'] == pytest.approx(F) and meta['T'] == pytest.approx(B)
    assert rig.disps[-1].header.stamp == cloud.header.stamp


def test_malformed_input_is_dropped_and_node_keeps_answering(ros):
    rig = Rig(ros)
    bad_info = CameraInfo()           # all zeros: K = 0
    bad_info.header.frame_id = C.left.frame
    for _ in range(3):                # no valid calibration yet: nothing to triangulate with
        rig.send(info_l=bad_info, info_r=bad_info)
        ros.spin_for(0.3)
    assert rig.clouds == []
    rig.expect_cloud()
    cases = [
        dict(right=rig.right[:, :-8]),                          # sizes differ
        dict(enc_r='bgr8'),                                     # encodings differ
        dict(left=np.zeros((H, W), np.uint16), right=np.zeros((H, W), np.uint16),
             enc_l='mono16', enc_r='mono16'),                   # unsupported encoding
        dict(dt=0.5),                                           # further apart than the slop
        dict(info_l=bad_info, left=rig.left[:, :-8]),          # zero camera_info (ignored: the
        #                                                         last good one stays) + bad pair
        dict(left=rig.left[:240, :320], right=rig.right[:240, :320]),  # not the camera's size
    ]
    for case in cases:
        before = len(rig.clouds)
        rig.send(**case)
        ros.spin_for(0.3)
        assert len(rig.clouds) == before, case
    # a message whose data does not match its size
    broken = numpy_to_image(rig.left, 'rgb8', C.left.frame, seconds_to_stamp(rig.t + 0.1))
    broken.data = broken.data[:100]
    rig.pub['li'].publish(broken)
    ros.spin_for(0.3)
    assert rig.node.frames_dropped >= len(cases)
    cloud = rig.expect_cloud()      # recovers as soon as the input is good again
    assert np.median(pointcloud2_to_xyz(cloud)[:, 2]) == pytest.approx(F * B / D_PX, rel=0.005)


def test_bad_parameter_refuses_start(ros):
    from rclpy.parameter import Parameter
    with pytest.raises(ParameterError, match='num_disparities'):
        StereoNode(context=ros.context, parameter_overrides=[Parameter('num_disparities', value=50)])
    with pytest.raises(ParameterError, match='mode'):
        StereoNode(context=ros.context, parameter_overrides=[Parameter('mode', value='fast')])


def test_visual_odometry_of_a_standing_camera_is_still(ros):
    """The same textured plane (4.7 m away) again and again: the first frame measures
    nothing (covariance[0] = -1), every later one a motion of ~zero, stamped like the images."""
    from nav_msgs.msg import Odometry
    from mining_rover.ros.geometry import odometry_to_matrix
    rig = Rig(ros)
    odoms = []
    rig.io.create_subscription(Odometry, 'stereo/odometry', odoms.append, qos.STATE)
    for _ in range(20):
        rig.send()
        ros.spin_until(lambda: len(odoms) >= 3, 0.5)
        if len(odoms) >= 3:
            break
    assert len(odoms) >= 3, 'no visual odometry from stereo_node'
    assert odoms[0].pose.covariance[0] == -1.0
    assert odoms[0].header.frame_id == 'vo_odom' and odoms[0].child_frame_id == 'base_link'
    for m in odoms[1:]:
        assert m.pose.covariance[0] >= 0.0
        T = odometry_to_matrix(m)
        assert np.linalg.norm(T[:3, 3]) < 0.01
    assert rig.node.vo_frames >= 2 and rig.node.vo_failures == 0
    stamps = {(c.header.stamp.sec, c.header.stamp.nanosec) for c in rig.clouds}
    assert (odoms[-1].header.stamp.sec, odoms[-1].header.stamp.nanosec) in stamps
