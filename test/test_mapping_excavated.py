"""The rover's own trench: ground its drums have cut is marked excavated, and a
depression there is neither a crater nor lethal ground; a real crater still is."""
import math

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter

from mining_rover.mapping.elevation_map import ElevationMap, MapParams
from mining_rover.mapping.hazards import Crater
from mining_rover.mapping.terrain_mapper import TerrainMapper
from mining_rover.mapping.traversability import LETHAL, MAX_GRADED
from mining_rover.nodes.mapping_node import MappingNode
from mining_rover.ros import qos
from mining_rover.ros.conversions import matrix_to_odometry, seconds_to_stamp

TRENCH = dict(x0=-1.0, x1=1.0, half_width=0.225, depth=0.12)   # along x at y = 0
CRATER = Crater(4.0, 3.0, 0.8, 0.3)


def mapper_with_trench(seed=0) -> TerrainMapper:
    m = TerrainMapper(MapParams(size_m=12.0, follow_robot=False))
    xs, ys = m.map.cell_centres()
    X, Y = np.meshgrid(xs, ys)
    h = np.random.default_rng(seed).normal(0.0, 0.004, X.shape)
    trench = (X >= TRENCH['x0']) & (X <= TRENCH['x1']) & (np.abs(Y) <= TRENCH['half_width'])
    h = np.where(trench, h - TRENCH['depth'], h)
    r = np.hypot(X - CRATER.x, Y - CRATER.y) / CRATER.radius
    h += np.where(r < 1.0, -CRATER.depth * (1.0 - r ** 2), 0.0)
    m.map.height[:] = h
    m.map.variance[:] = 1e-4
    return m


def trench_cells(m: TerrainMapper) -> np.ndarray:
    xs, ys = m.map.cell_centres()
    X, Y = np.meshgrid(xs, ys)
    return (X >= TRENCH['x0']) & (X <= TRENCH['x1']) & (np.abs(Y) <= TRENCH['half_width'] + 0.1)


def near(craters, x, y, tol=0.6):
    return [c for c in craters if math.hypot(c.x - x, c.y - y) < tol]


def cut_along_trench(m: TerrainMapper, reach=0.85):
    """The front drum (0.85 m ahead of base_link) cuts from x0 to x1 driving along +x."""
    for bx in np.arange(TRENCH['x0'] - reach, TRENCH['x1'] - reach + 1e-9, 0.05):
        T = np.eye(4)
        T[0, 3] = bx
        m.mark_tool(T, (reach, 0.0), 0.16, 0.225)


def test_an_unmarked_trench_is_a_hazard():
    m = mapper_with_trench()
    hz = m.hazards()
    cost = m.costmap()
    assert near(hz.craters, 0.0, 0.0, tol=1.0) or (cost[trench_cells(m)] == LETHAL).any()
    assert near(hz.craters, CRATER.x, CRATER.y)


def test_the_rovers_own_trench_is_no_crater_and_not_lethal():
    m = mapper_with_trench()
    cut_along_trench(m)
    assert m.map.excavated[trench_cells(m) & (np.abs(np.meshgrid(*m.map.cell_centres())[1]) < 0.2)].all()
    hz = m.hazards()
    cost = m.costmap()
    assert not near(hz.craters, 0.0, 0.0, tol=1.2), hz.craters
    assert (cost[trench_cells(m)] <= MAX_GRADED).all()
    assert near(hz.craters, CRATER.x, CRATER.y), 'a real crater is still a crater'
    xs, ys = m.map.cell_centres()
    col, row = np.searchsorted(xs, CRATER.x), np.searchsorted(ys, CRATER.y)
    assert cost[row, col] == LETHAL


def test_mark_excavated_rotated_rectangle_and_recentre():
    em = ElevationMap(MapParams(size_m=6.0, resolution_m=0.05, follow_robot=True, recentre_distance_m=1.0))
    n = em.mark_excavated(1.0, 1.0, math.pi / 2, 0.5, 0.1)   # long axis along y
    assert n == int(np.count_nonzero(em.excavated)) and 60 <= n <= 100   # ~1.0 m x 0.2 m of 5 cm cells
    r, c, _ = em.cell_index(1.0, 1.4)
    assert em.excavated[r, c]
    r, c, _ = em.cell_index(1.4, 1.0)
    assert not em.excavated[r, c]
    assert em.mark_excavated(1.0, 1.0, math.pi / 2, 0.5, 0.1) == 0          # already marked
    assert em.mark_excavated(float('nan'), 1.0, 0.0, 0.5, 0.1) == 0        # bad input: nothing
    assert em.mark_excavated(50.0, 50.0, 0.0, 0.5, 0.1) == 0               # off the map
    assert em.move_to(2.0, 0.0)
    r, c, inside = em.cell_index(1.0, 1.4)
    assert inside and em.excavated[r, c] and np.count_nonzero(em.excavated) == n


def _state(arm, drum):
    return DiagnosticStatus(name='excavator', values=[
        KeyValue(key='arm_position_rad', value=f'{arm}'), KeyValue(key='drum_speed_radps', value=f'{drum}')])


def test_mapping_node_marks_where_the_drums_dig(ros):
    node = ros.add(MappingNode(context=ros.context, parameter_overrides=[
        Parameter('publish_rate_hz', value=5.0)]))
    io = ros.node('excavated_test_io')
    odom = io.create_publisher(Odometry, 'odom', qos.STATE)
    state = io.create_publisher(DiagnosticStatus, 'excavator/state', qos.STATE)
    ros.spin_for(0.3)
    T = np.eye(4)
    odom.publish(matrix_to_odometry(T, 'odom', 'base_link', seconds_to_stamp(10.0)))
    assert ros.spin_until(lambda: len(node._poses) > 0, 5.0)
    em = node.mapper.map
    for arm, drum in ((-0.3, 4.0), (0.25, 0.0), (0.25, -4.0), (float('nan'),
                                                               4.0)):   # raised / stopped / dumping / NaN
        state.publish(_state(arm, drum))
    state.publish(DiagnosticStatus(name='excavator', values=[KeyValue(key='arm_position_rad', value='x')]))
    ros.spin_for(0.5)
    assert not em.excavated.any()
    state.publish(_state(0.25, 4.0))
    assert ros.spin_until(lambda: em.excavated.any(), 5.0)
    reach = node.cfg['drum_reach_m'] + node.cfg['arm_length_m'] * math.cos(0.25)
    for x in (reach, -reach):   # front and rear drum
        r, c, _ = em.cell_index(x, 0.0)
        assert em.excavated[r, c]
    r, c, _ = em.cell_index(0.0, 0.0)
    assert not em.excavated[r, c]   # under the chassis: not cut
