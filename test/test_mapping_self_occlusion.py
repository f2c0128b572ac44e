"""The drums' shadow: points whose line of sight crosses a drum are dropped before fusing
(SGBM mismatches a lit drum onto the hidden ground behind it); ground beside and in
front of the drum is kept, and the node places the drums at the arm angle it is told."""
import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from hypothesis import given, settings
from hypothesis import strategies as st
from rclpy.parameter import Parameter

from mining_rover.description import T_LINK_OPTICAL, left_camera_xyz_rpy, xyzrpy_to_matrix
from mining_rover.mapping.elevation_map import MapParams
from mining_rover.mapping.self_occlusion import Drum, drum_on_arm, seen_through
from mining_rover.mapping.terrain_mapper import TerrainMapper
from mining_rover.nodes.mapping_node import MappingNode
from mining_rover.ros import qos

CAMERA = np.array([0.3, 0.1, 0.8])                       # left camera in base_link (URDF)
FRONT = drum_on_arm(0.45, 0.45, -0.2, 0.16, 0.45)        # rover.yaml arm and drum, arm raised 0.2 rad
GROUND_Z = -0.2                                          # wheel radius below base_link


def ground_behind(drum: Drum, y=0.0) -> np.ndarray:
    """The ground point the ray camera -> drum centre would hit if the drum were not there."""
    d = np.array([drum.x, y, drum.z]) - CAMERA
    t = (GROUND_Z - CAMERA[2]) / d[2]
    return CAMERA + t * d


def test_drum_on_arm_follows_the_urdf_convention():
    level = drum_on_arm(0.45, 0.45, 0.0, 0.16, 0.45)
    assert (level.x, level.z, level.radius, level.half_length) == pytest.approx((0.9, 0.0, 0.16, 0.225))
    lowered = drum_on_arm(0.45, 0.45, 0.3, 0.16, 0.45)
    assert lowered.z < 0.0 and lowered.x < level.x              # + lowers the drum
    rear = drum_on_arm(0.45, 0.45, 0.3, 0.16, 0.45, front=False, margin_m=0.03)
    assert rear.x == pytest.approx(-lowered.x) and rear.z == pytest.approx(lowered.z)
    assert (rear.radius, rear.half_length) == pytest.approx((0.19, 0.255))
    for bad in (dict(radius=0.0), dict(half_length=-1.0), dict(x=float('nan'))):
        with pytest.raises(ValueError):
            Drum(**{**dict(x=0.9, z=0.0, radius=0.16, half_length=0.225), **bad})


def test_points_behind_the_drum_are_shadowed_the_rest_is_not():
    behind = ground_behind(FRONT)
    pts = np.array([
        behind,                                  # hidden ground straight behind the drum
        behind + [0.3, 0.0, -0.3],               # deeper along about the same line: still hidden
        [FRONT.x, 0.0, FRONT.z + 0.1],           # on the drum itself
        [3.0, 0.0, GROUND_Z],                    # far ground: the ray passes over the drum
        [1.5, 1.2, GROUND_Z],                    # ground well beside the drum
        [0.6, 0.0, 0.6],                         # between the camera and the drum
    ])
    assert seen_through(pts, CAMERA, [FRONT]).tolist() == [True, True, True, False, False, False]
    assert seen_through(np.zeros((0, 3)), CAMERA, [FRONT]).shape == (0,)
    assert not seen_through(pts, CAMERA, []).any()
    # The rear drum is behind the camera: it shadows nothing ahead.
    rear = drum_on_arm(0.45, 0.45, -0.2, 0.16, 0.45, front=False)
    assert not seen_through(pts[3:], CAMERA, [rear]).any()


@settings(max_examples=200, deadline=None)
@given(x=st.floats(0.0, 6.0), y=st.floats(-3.0, 3.0), z=st.floats(-1.0, 1.0), s=st.floats(1.0, 4.0))
def test_a_shadow_never_ends_along_a_ray(x, y, z, s):
    """Whatever is behind a shadowed point on the same line of sight is shadowed too."""
    p = np.array([x, y, z])
    far = CAMERA + s * (p - CAMERA)
    hit = seen_through(np.array([p, far]), CAMERA, [FRONT])
    assert hit[1] or not hit[0]


def test_the_mapper_drops_what_it_sees_through_a_drum():
    """A frame of level ground plus the SGBM mismatch on the drum (its pixels put 0.3 m under
    the ground 1.5 m ahead): with the drum known, the map has no hole there."""
    xyz, rpy = left_camera_xyz_rpy()
    T_base_cam = xyzrpy_to_matrix(xyz, rpy) @ T_LINK_OPTICAL
    xs, ys = np.meshgrid(np.arange(1.0, 4.0, 0.02), np.arange(-1.0, 1.0, 0.02))
    ground = np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, GROUND_Z)])
    camera = T_base_cam[:3, 3]
    visible = ~seen_through(ground, camera, [FRONT])
    behind = ground_behind(FRONT)
    patch = np.array([behind + [dx, dy, -0.3] for dx in np.arange(-0.05, 0.06, 0.02)
                      for dy in np.arange(-0.1, 0.11, 0.02)])
    assert seen_through(patch, camera, [FRONT]).all()
    cloud_base = np.vstack([ground[visible], patch])
    inv = np.linalg.inv(T_base_cam)
    cloud_cam = cloud_base @ inv[:3, :3].T + inv[:3, 3]

    def lowest_near_patch(occluders):
        m = TerrainMapper(MapParams(size_m=12.0, follow_robot=False), T_base_cam=T_base_cam)
        m.occluders = occluders
        m.integrate(cloud_cam, np.eye(4))
        r, c, _ = m.map.cell_index(behind[0], behind[1])
        block = m.map.height[r - 2:r + 3, c - 2:c + 3]
        known = block[np.isfinite(block)]
        return (known.min() if known.size else np.nan), m.last_occluded

    low, dropped = lowest_near_patch(())
    assert low < GROUND_Z - 0.2 and dropped == 0             # without it: a hole in the map
    low, dropped = lowest_near_patch((FRONT,))
    assert dropped == len(patch)
    assert not np.isfinite(low) or low > GROUND_Z - 0.02


def _state(arm):
    return DiagnosticStatus(name='excavator', values=[
        KeyValue(key='arm_position_rad', value=f'{arm}'), KeyValue(key='drum_speed_radps', value='0.0')])


def test_mapping_node_places_the_drums_at_the_arm_angle(ros):
    node = ros.add(MappingNode(context=ros.context, parameter_overrides=[
        Parameter('publish_rate_hz', value=5.0)]))
    io = ros.node('self_shadow_test_io')
    state = io.create_publisher(DiagnosticStatus, 'excavator/state', qos.STATE)
    ros.spin_for(0.3)
    assert node.mapper.occluders == ()                       # no arm angle yet: no shadow
    state.publish(_state(float('nan')))
    ros.spin_for(0.3)
    assert node.mapper.occluders == ()                       # NaN: ignored
    state.publish(_state(0.25))
    assert ros.spin_until(lambda: len(node.mapper.occluders) == 2, 5.0)
    front, rear = node.mapper.occluders
    c = node.cfg
    assert front.x == pytest.approx(c['drum_reach_m'] + c['arm_length_m'] * math.cos(0.25))
    assert front.z == pytest.approx(-c['arm_length_m'] * math.sin(0.25))
    assert rear.x == pytest.approx(-front.x)
    assert front.radius == pytest.approx(c['drum_footprint_m'][0] / 2 + c['self_shadow_margin_m'])


def test_mapping_node_self_shadow_can_be_switched_off(ros):
    node = ros.add(MappingNode(context=ros.context, parameter_overrides=[
        Parameter('self_shadow', value=False), Parameter('publish_rate_hz', value=5.0)]))
    io = ros.node('self_shadow_off_test_io')
    state = io.create_publisher(DiagnosticStatus, 'excavator/state', qos.STATE)
    ros.spin_for(0.3)
    state.publish(_state(0.25))
    ros.spin_for(0.5)
    assert node.mapper.occluders == ()
