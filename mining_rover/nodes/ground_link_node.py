"""ground_link_node: the Earth-rover link between the rover's topics and the operator's.

The rover runs autonomously; the operator on Earth sees it and steers it only through a
link 1.28 s away one way for the Moon, minutes for an asteroid (``mining_rover.comms.link``
has the model and its sources). This node stands for that link: one ``Link`` model in each
direction, carrying the serialized messages, so what reaches the other side is the same
bytes, late, thinned by bandwidth, or not at all.

Down (rover -> ground, downlink model):
  mission/status (DiagnosticStatus)  -> ground/mission_status   priority STATUS
  map/costmap (OccupancyGrid)        -> ground/costmap          COSTMAP, at most costmap_rate_hz,
                                        max-pooled to costmap_max_side_cells, latched
  stereo/left/image_raw (Image)      -> ground/thumbnail        THUMBNAIL, rgb8, at most
                                        thumbnail_rate_hz, longer side thumbnail_max_side_px
  a heartbeat every 1/status_rate_hz (so a silent link is told from a quiet rover)
Up (ground -> rover, uplink model):
  ground/estop (Bool)                -> estop/cmd               CRITICAL: never refused for
                                        bandwidth, retransmitted on loss, held through an
                                        outage; the drivers latch it
  ground/pause (Bool)                -> mission/pause           COMMAND
  ground/site_override (PoseStamped) -> mission/site_override   COMMAND; non-finite poses dropped
Ground side, not through the link:
  ground/link_status (DiagnosticStatus) every 1/status_rate_hz, keys: link_up (0/1: a
  downlink message arrived within link_timeout_s), outage (0/1), last_rx_age_s,
  one_way_latency_s, and for each of down_ and up_: sent, delivered, dropped_loss,
  dropped_bandwidth, dropped_outage, retransmissions, in_flight, mean_latency_s.

When the link drops (parameter ``outage``, settable at run time) the rover keeps going: the
relay only stops delivering. Times are the node clock, so use_sim_time works; a clock that
jumps back (a simulator restart) empties both links.
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid
from rclpy.node import Node
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from mining_rover.comms.link import (EARTH_MOON_LIGHT_TIME_S, Link, LinkConfig, Priority,
                                     downsample_costmap, make_thumbnail)
from mining_rover.ros import qos
from mining_rover.ros.conversions import (image_to_numpy, numpy_to_image,
                                          numpy_to_occupancy_grid, occupancy_grid_to_numpy)
from mining_rover.ros.params import Param, ParameterError, declare_and_read, make_set_callback
from mining_rover.ros.runtime import node_main

BITS_PER_BYTE = 8
#: Serialized size of an empty sensor_msgs/Image or OccupancyGrid is under this; used only
#: to check at start that the largest thumbnail and costmap can ever pass the bucket.
MESSAGE_OVERHEAD_BYTES = 256
#: A heartbeat is about the size of a std_msgs/Header on the wire.
HEARTBEAT_BYTES = 32
LOG_THROTTLE_S = 5.0
#: A clock that goes back more than this is a restart, not scheduling noise.
CLOCK_JUMP_BACK_S = 1.0


def _params() -> list:
    return [
        Param('one_way_latency_s', round(EARTH_MOON_LIGHT_TIME_S, 3),
              'one-way light time, s (Moon 1.28 s at 384 400 km; main-belt asteroid 9-36 min)',
              0.0, 7200.0),
        Param('jitter_s', 0.02, 'scale of the half-normal extra delay (truncated at 3 scales), s',
              0.0, 600.0),
        Param('loss_probability', 0.0, 'probability that one message is lost in transit', 0.0, 0.99),
        Param('downlink_bandwidth_bps', 1_000_000.0, 'rover -> Earth rate, bits per second',
              1e3, 1e10),
        Param('uplink_bandwidth_bps', 64_000.0, 'Earth -> rover rate, bits per second', 1e3, 1e10),
        Param('burst_s', 2.0, 'token bucket depth in seconds of bandwidth (send buffer)', 0.1, 60.0),
        Param('reorder', False, 'let jitter reorder messages (false: sequenced delivery)'),
        Param('thumbnail_rate_hz', 1.0, 'camera thumbnails sent per second (0 = none)', 0.0, 30.0),
        Param('thumbnail_max_side_px', 128, 'longer side of a thumbnail, px', 8, 1024),
        Param('costmap_rate_hz', 0.5, 'costmaps sent per second (0 = none)', 0.0, 10.0),
        Param('costmap_max_side_cells', 100, 'longer side of the downlinked costmap, cells', 8, 2000),
        Param('link_rate_hz', 50.0, 'how often due messages are delivered, Hz', 1.0, 1000.0),
        Param('status_rate_hz', 1.0, 'heartbeat and ground/link_status rate, Hz', 0.05, 50.0),
        Param('link_timeout_s', 3.0, 'link_up = 0 after this long without downlink traffic, s',
              0.01, 36000.0),
        Param('seed', 0, 'seed of the link models (uplink uses seed + 1)', 0, 2**31 - 1),
        Param('outage', False, 'the link is down (settable at run time to simulate a drop)', runtime=True),
    ]


class GroundLinkNode(Node):
    """Stands for the Earth-rover link: carries topics each way with the modelled latency, jitter and loss."""
    def __init__(self, **kwargs):
        super().__init__('ground_link_node', **kwargs)
        self._spec = _params()
        p = self.p = declare_and_read(self, self._spec)
        try:
            common = dict(latency_s=p['one_way_latency_s'], jitter_s=p['jitter_s'],
                          loss_probability=p['loss_probability'], burst_s=p['burst_s'],
                          reorder=p['reorder'])
            self.down = Link(LinkConfig(bandwidth_bytes_per_s=p['downlink_bandwidth_bps'] / BITS_PER_BYTE,
                                        seed=p['seed'], **common))
            self.up = Link(LinkConfig(bandwidth_bytes_per_s=p['uplink_bandwidth_bps'] / BITS_PER_BYTE,
                                      seed=p['seed'] + 1, **common))
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        self._check_sizes(p)
        now = self._now()
        self._last_now = now
        self._started = now
        self.down.set_outage(p['outage'], now)
        self.up.set_outage(p['outage'], now)

        # Ground side (what the operator sees). A link carries (publisher, serialized bytes).
        pub = self.create_publisher
        self._status_route = pub(DiagnosticStatus, 'ground/mission_status', qos.STATE)
        self._costmap_route = pub(OccupancyGrid, 'ground/costmap', qos.MAP)
        self._thumb_route = pub(Image, 'ground/thumbnail', qos.SENSOR)
        self._link_pub = pub(DiagnosticStatus, 'ground/link_status', qos.STATE)
        # Rover side (what the rover is told).
        self._estop_route = pub(Bool, 'estop/cmd', qos.COMMAND)
        self._pause_route = pub(Bool, 'mission/pause', qos.COMMAND)
        self._override_route = pub(PoseStamped, 'mission/site_override', qos.COMMAND)

        self._image = None     # latest camera image not yet thumbnailed
        self._costmap = None   # latest costmap not yet accepted by the downlink
        sub = self.create_subscription
        self._subs = [
            sub(DiagnosticStatus, 'mission/status', self._on_status, qos.STATE),
            sub(OccupancyGrid, 'map/costmap', self._on_costmap, qos.MAP),
            sub(Image, 'stereo/left/image_raw', self._on_image, qos.SENSOR),
            sub(Bool, 'ground/estop', self._on_estop, qos.COMMAND),
            sub(Bool, 'ground/pause', self._on_pause, qos.COMMAND),
            sub(PoseStamped, 'ground/site_override', self._on_override, qos.COMMAND),
        ]
        self._timers = [self.create_timer(1.0 / p['link_rate_hz'], self._deliver),
                        self.create_timer(1.0 / p['status_rate_hz'], self._heartbeat)]
        if p['thumbnail_rate_hz'] > 0:
            self._timers.append(self.create_timer(1.0 / p['thumbnail_rate_hz'], self._send_thumbnail))
        if p['costmap_rate_hz'] > 0:
            self._timers.append(self.create_timer(1.0 / p['costmap_rate_hz'], self._send_costmap))
        self.add_on_set_parameters_callback(
            make_set_callback(self._spec, self._apply))
        self.get_logger().info(
            f'link up: one-way {p["one_way_latency_s"]} s (+ jitter {p["jitter_s"]} s), loss '
            f'{p["loss_probability"]}, down {p["downlink_bandwidth_bps"]:.0f} bit/s, up '
            f'{p["uplink_bandwidth_bps"]:.0f} bit/s{", OUTAGE" if p["outage"] else ""}')

    def _check_sizes(self, p: dict):
        thumb = p['thumbnail_max_side_px'] ** 2 * 3 + MESSAGE_OVERHEAD_BYTES
        if p['thumbnail_rate_hz'] > 0 and thumb > self.down.max_size_bytes(Priority.THUMBNAIL):
            raise ParameterError(
                f"parameter 'thumbnail_max_side_px' = {p['thumbnail_max_side_px']}: a thumbnail of up to "
                f'{thumb} bytes can never pass the downlink (thumbnails may use '
                f'{self.down.max_size_bytes(Priority.THUMBNAIL):.0f} bytes of its bucket); raise '
                'downlink_bandwidth_bps or burst_s, or lower it')
        grid = p['costmap_max_side_cells'] ** 2 + MESSAGE_OVERHEAD_BYTES
        if p['costmap_rate_hz'] > 0 and grid > self.down.max_size_bytes(Priority.COSTMAP):
            raise ParameterError(
                f"parameter 'costmap_max_side_cells' = {p['costmap_max_side_cells']}: a costmap of up to "
                f'{grid} bytes can never pass the downlink (costmaps may use '
                f'{self.down.max_size_bytes(Priority.COSTMAP):.0f} bytes of its bucket)')
        if p['link_timeout_s'] <= 1.0 / p['status_rate_hz']:
            raise ParameterError(
                f"parameter 'link_timeout_s' = {p['link_timeout_s']} must exceed the heartbeat period "
                f"1/status_rate_hz = {1.0 / p['status_rate_hz']:.3g} s, or the link would flap")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _apply(self, changes: dict):
        if 'outage' in changes:
            down, now = changes['outage'], self._now()
            self.down.set_outage(down, now)
            self.up.set_outage(down, now)
            self.p = {**self.p, 'outage': down}
            self.get_logger().warning('link DOWN (outage)' if down else 'link restored')

    # -- sending ---------------------------------------------------------------------
    def _push(self, link: Link, route, msg, priority: Priority) -> bool:
        data = serialize_message(msg)
        return link.push((route, data), len(data), self._now(), priority)

    def _on_status(self, msg: DiagnosticStatus):
        self._push(self.down, self._status_route, msg, Priority.STATUS)

    def _on_costmap(self, msg: OccupancyGrid):
        self._costmap = msg

    def _on_image(self, msg: Image):
        self._image = msg

    def _send_costmap(self):
        msg, self._costmap = self._costmap, None
        if msg is None:
            return
        try:
            grid, resolution, origin, yaw = occupancy_grid_to_numpy(msg)
            coarse, factor = downsample_costmap(grid, self.p['costmap_max_side_cells'])
            out = numpy_to_occupancy_grid(coarse, resolution * factor, origin, msg.header.frame_id,
                                          msg.header.stamp, yaw)
        except ValueError as exc:
            self.get_logger().warning(f'costmap dropped: {exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        if not self._push(self.down, self._costmap_route, out, Priority.COSTMAP) and self._costmap is None:
            self._costmap = msg  # refused (bandwidth or outage): offer it again next period

    def _send_thumbnail(self):
        msg, self._image = self._image, None
        if msg is None:
            return
        try:
            rgb = make_thumbnail(image_to_numpy(msg), self.p['thumbnail_max_side_px'],
                                 bgr=msg.encoding.startswith('bgr'))
            out = numpy_to_image(rgb, 'rgb8', msg.header.frame_id, msg.header.stamp)
        except ValueError as exc:
            self.get_logger().warning(f'camera image dropped ({msg.encoding!r} {msg.width}x{msg.height}): '
                                      f'{exc}', throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._push(self.down, self._thumb_route, out, Priority.THUMBNAIL)

    def _on_estop(self, msg: Bool):
        self._push(self.up, self._estop_route, msg, Priority.CRITICAL)
        self.get_logger().info(f'operator e-stop {msg.data} sent up')

    def _on_pause(self, msg: Bool):
        self._push(self.up, self._pause_route, msg, Priority.COMMAND)

    def _on_override(self, msg: PoseStamped):
        p, q = msg.pose.position, msg.pose.orientation
        if not all(math.isfinite(v) for v in (p.x, p.y, p.z, q.x, q.y, q.z, q.w)):
            self.get_logger().warning(f'site override with a non-finite pose dropped: ({p.x}, {p.y}, {p.z})',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._push(self.up, self._override_route, msg, Priority.COMMAND)

    def _heartbeat(self):
        self.down.push((None, b''), HEARTBEAT_BYTES, self._now(), Priority.STATUS)
        self._publish_link_status()

    # -- receiving -------------------------------------------------------------------
    def _deliver(self):
        now = self._now()
        if now < self._last_now - CLOCK_JUMP_BACK_S:
            self.get_logger().warning(f'clock jumped back {self._last_now - now:.1f} s: link emptied')
            self.down.reset()
            self.up.reset()
            self.down.set_outage(self.p['outage'], now)
            self.up.set_outage(self.p['outage'], now)
            self._started = now
        self._last_now = now
        for link in (self.down, self.up):
            for publisher, data in link.pop_due(now):
                if publisher is not None:  # None: a heartbeat, counted by the link
                    publisher.publish(data)  # the bytes that went in, published raw

    def _publish_link_status(self):
        now = self._now()
        last = self.down.last_delivery_s
        age = now - last if last is not None else now - self._started
        up = last is not None and age <= self.p['link_timeout_s']
        if self.p['outage']:
            level, text = DiagnosticStatus.WARN, 'link down (outage); rover continues autonomously'
        elif not up:
            level, text = DiagnosticStatus.WARN, f'no downlink traffic for {age:.1f} s'
        else:
            level, text = DiagnosticStatus.OK, 'link up'
        values = {'link_up': int(up), 'outage': int(self.p['outage']), 'last_rx_age_s': f'{age:.3f}',
                  'one_way_latency_s': self.p['one_way_latency_s']}
        for prefix, link in (('down_', self.down), ('up_', self.up)):
            s = link.stats
            values.update({prefix + 'sent': s.sent, prefix + 'delivered': s.delivered,
                           prefix + 'dropped_loss': s.dropped_loss,
                           prefix + 'dropped_bandwidth': s.dropped_bandwidth,
                           prefix + 'dropped_outage': s.dropped_outage,
                           prefix + 'retransmissions': s.retransmissions,
                           prefix + 'in_flight': link.in_flight,
                           prefix + 'mean_latency_s': f'{s.mean_latency_s:.3f}'})
        self._link_pub.publish(DiagnosticStatus(
            level=level, name='ground_link', hardware_id='earth_link', message=text,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()]))


def main(args=None):
    """Run the ground link node until shut down."""
    node_main(GroundLinkNode, args)


if __name__ == '__main__':
    main()
