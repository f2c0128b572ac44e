"""mapping_node over real DDS: a cloud + odometry in, costmap / elevation / hazards out;
malformed and stale input dropped with the map intact."""
import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, PointCloud2
from visualization_msgs.msg import MarkerArray

from mining_rover.contract import load_contract
from mining_rover.nodes.mapping_node import MappingNode
from mining_rover.ros import qos
from mining_rover.ros.conversions import (image_to_float_grid, matrix_to_odometry,
                                          occupancy_grid_to_numpy, seconds_to_stamp,
                                          xyz_to_pointcloud2)
from mining_rover.ros.params import ParameterError

C = load_contract()
ROCK = (3.0, 0.3, 0.3, 0.2)   # x, y, height, radius in map


def ground_cloud(T_base_cam, rng, n=40000):
    """Points of a level ground (z = 0) with one rock, expressed in the camera frame."""
    x = rng.uniform(1.5, 5.0, n)
    y = rng.uniform(-1.5, 1.5, n)
    z = np.zeros(n)
    d2 = (x - ROCK[0]) ** 2 + (y - ROCK[1]) ** 2
    z = np.where(d2 < ROCK[3] ** 2, ROCK[2], z)
    pts_map = np.column_stack([x, y, z])
    T_cam_base = np.linalg.inv(T_base_cam)
    return (pts_map @ T_cam_base[:3, :3].T + T_cam_base[:3, 3]).astype(np.float32)


class Rig:
    def __init__(self, ros, **params):
        overrides = [Parameter(k, value=v) for k, v in {'publish_rate_hz': 5.0, **params}.items()]
        self.node = ros.add(MappingNode(context=ros.context, parameter_overrides=overrides))
        self.io = ros.node('mapping_test_io')
        self.cloud_pub = self.io.create_publisher(PointCloud2, 'stereo/points', qos.SENSOR)
        self.odom_pub = self.io.create_publisher(Odometry, 'odom', qos.STATE)
        self.got = {'cost': [], 'elev': [], 'var': [], 'haz': [], 'timing': [], 'cloud': []}
        sub = lambda t, topic, key, q=qos.MAP: self.io.create_subscription(t, topic, self.got[key].append, q)
        sub(OccupancyGrid, 'map/costmap', 'cost')
        sub(Image, 'map/elevation', 'elev')
        sub(Image, 'map/elevation_variance', 'var')
        sub(MarkerArray, 'map/hazards', 'haz')
        sub(PointCloud2, 'map/elevation_cloud', 'cloud')
        sub(DiagnosticStatus, 'map/timing', 'timing', qos.STATE)
        self.ros = ros
        self.t = 50.0
        ros.spin_for(0.3)

    def odom(self, stamp_s, x=0.0):
        T = np.eye(4)
        T[0, 3] = x
        self.odom_pub.publish(matrix_to_odometry(T, 'odom', 'base_link', seconds_to_stamp(stamp_s)))

    def cloud(self, pts, stamp_s, frame=C.left.frame):
        self.cloud_pub.publish(xyz_to_pointcloud2(pts, frame, seconds_to_stamp(stamp_s)))


def test_cloud_and_odometry_give_costmap_elevation_and_hazards(ros):
    rig = Rig(ros)
    rng = np.random.default_rng(0)
    pts = ground_cloud(rig.node.T_base_cam, rng)
    for i in range(3):
        rig.odom(rig.t + i)
        ros.spin_for(0.05)
        rig.cloud(pts, rig.t + i)
        ros.spin_for(0.1)
    assert ros.spin_until(lambda: rig.node.clouds_fused >= 3, 5.0)
    n_cost = len(rig.got['cost'])
    assert ros.spin_until(lambda: len(rig.got['cost']) > n_cost and rig.got['haz'] and rig.got['timing'], 5.0)
    grid, res, origin, yaw = occupancy_grid_to_numpy(rig.got['cost'][-1])
    elev = image_to_float_grid(rig.got['elev'][-1])
    var = image_to_float_grid(rig.got['var'][-1])
    assert elev.shape == grid.shape == var.shape == (400, 400) and res == pytest.approx(0.05)
    assert ((grid == -1) == np.isnan(elev)).all()          # unknown exactly where no height
    assert set(np.unique(grid)) <= set(range(-1, 101))
    col = lambda x: int((x - origin[0]) / res)
    row = lambda y: int((y - origin[1]) / res)
    assert abs(elev[row(0.0), col(4.0)]) < 0.01           # level ground at z = 0
    assert grid[row(0.0), col(4.0)] < 50
    assert grid[row(ROCK[1]), col(ROCK[0])] == 100          # the rock is lethal
    assert np.nanmax(var) < 0.01
    rocks = [m for m in rig.got['haz'][-1].markers if m.ns == 'rocks']
    assert len(rocks) == 1
    assert math.hypot(rocks[0].pose.position.x - ROCK[0], rocks[0].pose.position.y - ROCK[1]) < 0.1
    assert rocks[0].scale.z == pytest.approx(ROCK[2], abs=0.03)
    keys = {kv.key for kv in rig.got['timing'][-1].values}
    assert {'update_ms', 'cells_known'} <= keys


def test_bad_clouds_are_dropped_and_map_stays(ros):
    rig = Rig(ros)
    rng = np.random.default_rng(1)
    pts = ground_cloud(rig.node.T_base_cam, rng, 5000)
    rig.odom(rig.t)
    ros.spin_for(0.05)
    rig.cloud(pts, rig.t)
    assert ros.spin_until(lambda: rig.node.clouds_fused == 1, 5.0)
    before = rig.node.mapper.map.height.copy()

    rig.cloud(pts + 5.0, rig.t, frame='base_link')                  # unknown frame
    rig.cloud(pts + 5.0, rig.t + 10.0)                              # stale pose
    bad = pts.copy()
    bad[::2] = np.nan
    bad[1::2, 2] = np.inf                                           # NaN/inf points only
    rig.cloud(bad, rig.t)
    broken = xyz_to_pointcloud2(pts, C.left.frame, seconds_to_stamp(rig.t))
    broken.data = broken.data[:-7]                                  # truncated
    rig.cloud_pub.publish(broken)
    broken2 = xyz_to_pointcloud2(pts, C.left.frame, seconds_to_stamp(rig.t))
    broken2.fields = broken2.fields[:2]                             # no z field
    rig.cloud_pub.publish(broken2)
    ros.spin_until(lambda: rig.node.clouds_dropped >= 4, 5.0)
    assert rig.node.clouds_dropped >= 4
    np.testing.assert_array_equal(np.isnan(before), np.isnan(rig.node.mapper.map.height))
    np.testing.assert_allclose(before, rig.node.mapper.map.height, equal_nan=True)
    # and it still works
    rig.odom(rig.t + 1.0)
    ros.spin_for(0.05)
    rig.cloud(pts, rig.t + 1.0)
    assert ros.spin_until(lambda: rig.node.clouds_fused == 3, 5.0)   # the NaN one counted, fused nothing


def test_bad_parameters_refuse_start(ros):
    with pytest.raises(ParameterError, match='camera_xyz'):
        MappingNode(context=ros.context, parameter_overrides=[Parameter('camera_xyz', value=[1.0, 2.0])])
    with pytest.raises(ParameterError, match='resolution_m'):
        MappingNode(context=ros.context, parameter_overrides=[Parameter('resolution_m', value=0.0)])


def test_error_model_uses_the_matched_image_focal_length(ros):
    """stereo_node matches a pair shrunk by its downscale: the map's sigma is that of the
    shrunk pair (sigma_z ~ 1 / f), first from camera_info / stereo_downscale, then from
    the disparity image's own f (issue #18: it was the full-size focal length)."""
    from sensor_msgs.msg import CameraInfo
    from stereo_msgs.msg import DisparityImage

    from mining_rover.ros.camera_info import ideal_camera_model, model_to_camera_info
    from mining_rover.ros.conversions import disparity_to_msg
    rig = Rig(ros, stereo_downscale=2)
    fx = 467.0
    info_pub = rig.io.create_publisher(CameraInfo, C.right.info, qos.SENSOR)
    disp_pub = rig.io.create_publisher(DisparityImage, 'stereo/disparity', qos.SENSOR)
    right = ideal_camera_model(640, 480, fx, fx, 319.5, 239.5, baseline_m=0.2)
    sd = rig.node.mapper.error.sigma_disparity_px
    full = 9.0 * sd / (fx * 0.2)      # sigma_z at 3 m of the full-size pair, m
    for _ in range(20):
        info_pub.publish(model_to_camera_info(right, seconds_to_stamp(1.0)))
        if ros.spin_until(lambda: rig.node.mapper.error.focal_px == pytest.approx(fx / 2.0), 0.1):
            break
    assert rig.node.mapper.error.focal_px == pytest.approx(fx / 2.0)
    assert rig.node.mapper.error.baseline_m == pytest.approx(0.2)
    sigma_half = rig.node.mapper.error.sigma_z(np.array([3.0]))[0]
    # matched at a quarter size (the disparity image says so): sigma grows 2x again
    disp = np.full((120, 160), 5.0, np.float32)
    for _ in range(20):
        disp_pub.publish(disparity_to_msg(disp, fx / 4.0, 0.2, 0.0, 32.0, 1.0 / 16, C.left.frame,
                                          seconds_to_stamp(1.0)))
        if ros.spin_until(lambda: rig.node.mapper.error.focal_px == pytest.approx(fx / 4.0), 0.1):
            break
    assert rig.node.mapper.error.focal_px == pytest.approx(fx / 4.0)
    assert rig.node.mapper.error.sigma_z(np.array([3.0]))[0] == pytest.approx(2.0 * sigma_half)
    assert sigma_half == pytest.approx(2.0 * full)   # half-size pair: sigma 2x, variance 4x


def test_site_map_keeps_what_the_fine_map_forgot(ros):
    """The fine map (10 m here) follows the rover 30 m on and forgets the rock; the site
    map published on map/global_costmap keeps it lethal, with its height and variance."""
    rig = Rig(ros, size_m=10.0, global_publish_period_s=0.3, global_size_m=80.0)
    got = {'gcost': [], 'gelev': [], 'gvar': []}
    for key, topic, kind in (('gcost', 'map/global_costmap', OccupancyGrid),
                             ('gelev', 'map/global_elevation', Image),
                             ('gvar', 'map/global_elevation_variance', Image)):
        rig.io.create_subscription(kind, topic, got[key].append, qos.MAP)
    pts = ground_cloud(rig.node.T_base_cam, np.random.default_rng(2))
    rig.odom(rig.t)
    assert ros.spin_until(lambda: len(rig.node._poses) >= 1, 5.0)
    rig.cloud(pts, rig.t)
    assert ros.spin_until(lambda: rig.node.clouds_fused == 1, 5.0)
    n = len(rig.got['cost'])
    assert ros.spin_until(lambda: len(rig.got['cost']) > n, 5.0)      # absorbed at the publish rate
    rig.odom(rig.t + 1.0, x=30.0)
    assert ros.spin_until(lambda: len(rig.node._poses) >= 2, 5.0)
    rig.cloud(pts, rig.t + 1.0)
    assert ros.spin_until(lambda: rig.node.clouds_fused == 2, 5.0)
    assert np.isnan(rig.node.mapper.map.height_at(ROCK[0], ROCK[1]))      # the fine map forgot it
    n = len(got['gcost'])
    assert ros.spin_until(lambda: len(got['gcost']) > n + 1 and got['gelev'] and got['gvar'], 5.0)
    grid, res, origin, _ = occupancy_grid_to_numpy(got['gcost'][-1])
    elev = image_to_float_grid(got['gelev'][-1])
    var = image_to_float_grid(got['gvar'][-1])
    assert grid.shape == elev.shape == var.shape == (320, 320) and res == pytest.approx(0.25)
    at = lambda x, y: (int((y - origin[1]) / res), int((x - origin[0]) / res))
    assert grid[at(ROCK[0], ROCK[1])] == 100
    assert grid[at(ROCK[0] + 30.0, ROCK[1])] == 100                      # and the new one
    assert 0 <= grid[at(4.5, -1.0)] < 50 and abs(elev[at(4.5, -1.0)]) < 0.02
    assert 0.0 < var[at(4.5, -1.0)] < 0.01
    assert grid[at(-20.0, -20.0)] == -1                                  # never seen
    assert any(kv.key == 'global_absorb_ms' for kv in rig.got['timing'][-1].values)
