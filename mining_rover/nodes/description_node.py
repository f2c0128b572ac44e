"""description_node: publishes the expanded rover URDF on /robot_description.

Latched (RELIABLE + TRANSIENT_LOCAL), so late subscribers (rviz, the simulator's
tools) get it. xacro arguments are parameters. Where tf2_ros is installed it also
broadcasts the static transforms of the fixed joints (sensor frames); without tf2 it
still publishes the description.
"""
from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import String

from mining_rover.description import load_rover
from mining_rover.paths import rover_config, urdf_path
from mining_rover.ros import qos
from mining_rover.ros.params import Param, ParameterError, declare_and_read
from mining_rover.ros.runtime import node_main


def _rover_defaults() -> dict:
    return rover_config()


def _params() -> list:
    r = _rover_defaults()
    return [
        Param('xacro_file', '', 'xacro file to expand; empty = the installed urdf/rover.urdf.xacro'),
        Param('sim', False, 'add Gazebo sensors and joint-controller plugins (xacro arg sim)'),
        Param('camera_baseline', float(r['camera']['baseline']), 'stereo baseline, m', 0.05, 1.0),
        Param('camera_height', float(r['mast']['height']), 'optical centre height above base_link, m',
              0.4, 2.5),
        Param('camera_pitch', float(r['camera']['pitch']), 'downward camera pitch, rad', -0.2, 1.3),
        Param('publish_static_tf', True, 'broadcast fixed-joint transforms where tf2_ros exists'),
        Param('frame_prefix', '', "prepended to every frame id (e.g. 'r1/'), as robot_state_publisher's"),
    ]


class DescriptionNode(Node):
    """Publishes the rover's URDF, xacro expanded with this node's parameters, latched on
    /robot_description."""
    def __init__(self, **kwargs):
        super().__init__('description_node', **kwargs)
        self._spec = _params()
        p = declare_and_read(self, self._spec)
        mappings = {
            'sim': 'true' if p['sim'] else 'false',
            'camera_baseline': p['camera_baseline'],
            'camera_height': p['camera_height'],
            'camera_pitch': p['camera_pitch'],
        }
        path = p['xacro_file'] or str(urdf_path())
        try:
            self.urdf, self.model = load_rover(mappings, path)
        except ValueError as exc:
            raise ParameterError(f"parameter 'xacro_file': {exc}") from exc
        self._pub = self.create_publisher(String, 'robot_description', qos.LATCHED)
        self._pub.publish(String(data=self.urdf))
        self.get_logger().info(
            f'published {self._pub.topic_name} from {path}: {len(self.model.links)} links, '
            f'{len(self.model.joints)} joints, {self.model.total_mass:.1f} kg')
        self._tf = None
        self._frame_prefix = p['frame_prefix']
        if p['publish_static_tf']:
            self._publish_static_tf()

    def _publish_static_tf(self):
        try:
            from mining_rover.ros.tf import make_tf_broadcaster, make_transform_stamped, tf_available
        except ImportError as exc:
            self.get_logger().warning(f'no TF helpers ({exc}); static transforms not broadcast')
            return
        if not tf_available():
            self.get_logger().info('tf2_ros not installed: static transforms not broadcast '
                                   '(nodes read extrinsics from /robot_description)')
            return
        self._tf = make_tf_broadcaster(self, static=True)
        stamp = self.get_clock().now().to_msg()
        prefix = self._frame_prefix
        msgs = [make_transform_stamped(j.origin, prefix + j.parent, prefix + j.child, stamp)
                for j in self.model.joints.values() if j.type == 'fixed']
        self._tf.send(msgs)
        self.get_logger().info(f'broadcast {len(msgs)} static transforms')


def main(args=None):
    """Run the description node until shut down."""
    node_main(DescriptionNode, args)


if __name__ == '__main__':
    main()
