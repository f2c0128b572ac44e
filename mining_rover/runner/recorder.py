"""An MCAP recorder of raw (CDR-serialised) ROS 2 messages, with per-topic rate limits.

Messages arrive already serialised (rclpy raw subscriptions), so recording costs no
decode and no re-encode: the bytes that crossed DDS are the bytes in the file. Schemas
are the ros2msg texts from ``msgdefs``; ``ros2 bag``, Foxglove and ``mcap_ros2.reader``
read the result. No rclpy here: ``write`` takes bytes and a time stamp; ``write_message``
encodes a message given as nested dicts from its schema text alone (mcap_ros2), for the
messages the recorder makes itself (``/tf`` where the tf2_msgs package is absent).

``ros2 bag play`` needs to know what each topic's publishers offered, or a latched topic
(``/robot_description``, ``/tf_static``, maps) is replayed volatile and a late subscriber
never gets it: every channel carries rosbag2's ``offered_qos_profiles`` metadata, and the
file carries the ``rosbag2`` metadata record (bag metadata version 8, whose QoS policies
are integers: the form Humble writes and Jazzy still reads).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType, Writer

from mining_rover.runner import msgdefs

#: rmw policy values (rmw/types.h), as rosbag2 metadata version <= 8 stores them.
HISTORY_KEEP_LAST, HISTORY_UNKNOWN = 1, 3
RELIABILITY_RELIABLE, RELIABILITY_BEST_EFFORT = 1, 2
DURABILITY_TRANSIENT_LOCAL, DURABILITY_VOLATILE = 1, 2
LIVELINESS_AUTOMATIC = 1
#: RMW_DURATION_INFINITE (rmw/time.h): what an unset deadline/lifespan/lease reports.
INFINITE_NS = 0x7FFFFFFFFFFFFFFF
#: rosbag2 bag metadata version written (8: QoS policies as integers, ros_distro present).
ROSBAG2_METADATA_VERSION = 8


@dataclass(frozen=True)
class OfferedQos:
    """One publisher's offered QoS, in rmw's integer policy values; durations in ns."""
    reliability: int = RELIABILITY_RELIABLE
    durability: int = DURABILITY_VOLATILE
    history: int = HISTORY_UNKNOWN     # DDS does not tell subscribers a writer's history
    depth: int = 0
    deadline_ns: int = INFINITE_NS
    lifespan_ns: int = INFINITE_NS
    liveliness: int = LIVELINESS_AUTOMATIC
    liveliness_lease_ns: int = INFINITE_NS

    def as_rosbag2(self) -> dict:
        def duration(ns):
            sec, nsec = divmod(int(ns), 1_000_000_000)
            return {'sec': sec, 'nsec': nsec}
        return {'history': int(self.history), 'depth': int(self.depth),
                'reliability': int(self.reliability), 'durability': int(self.durability),
                'deadline': duration(self.deadline_ns), 'lifespan': duration(self.lifespan_ns),
                'liveliness': int(self.liveliness),
                'liveliness_lease_duration': duration(self.liveliness_lease_ns),
                'avoid_ros_namespace_conventions': False}


#: What a latched publisher offers (ros/qos.py LATCHED: RELIABLE, TRANSIENT_LOCAL, depth 1).
LATCHED = OfferedQos(durability=DURABILITY_TRANSIENT_LOCAL, history=HISTORY_KEEP_LAST, depth=1)
#: What tf2_ros's TransformBroadcaster offers (RELIABLE, VOLATILE, depth 100).
TF = OfferedQos(history=HISTORY_KEEP_LAST, depth=100)


def offered_qos_yaml(profiles) -> str:
    """rosbag2's ``offered_qos_profiles`` string: a YAML list, one map per publisher."""
    return yaml.safe_dump([p.as_rosbag2() for p in profiles], sort_keys=False,
                          default_flow_style=False)


@dataclass
class TopicStats:
    """Per-topic recording counts: messages received and written, bytes, last write time (ns)."""
    datatype: str
    received: int = 0
    written: int = 0
    bytes_written: int = 0
    last_written_ns: int | None = None
    offered_qos: str = ''


@dataclass
class RecorderPolicy:
    """What to keep. ``min_period_s[topic]``: at most one message per that many seconds of
    log time (images, clouds); ``exclude``: topics never written."""
    min_period_s: dict = field(default_factory=dict)
    exclude: frozenset = frozenset()

    def period_ns(self, topic: str) -> int:
        return int(self.min_period_s.get(topic, 0.0) * 1e9)


class McapRecorder:
    """Write raw CDR messages to an MCAP file; call ``close()`` (or use ``with``)."""

    def __init__(self, path: str | Path, policy: RecorderPolicy | None = None,
                 compression: CompressionType = CompressionType.ZSTD):
        self.path = Path(path)
        self.policy = policy or RecorderPolicy()
        self._file = open(self.path, 'wb')
        self._writer = Writer(self._file, compression=compression)
        self._writer.start(profile='ros2', library='mining_rover mission recorder')
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.stats: dict[str, TopicStats] = {}
        self._encoders: dict[str, object] = {}
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._closed = False

    def add_topic(self, topic: str, datatype: str, offered_qos=()) -> bool:
        """Register a topic; False (and nothing written for it) when its type has no
        .msg definition on this machine or the policy excludes it. ``offered_qos``: an
        OfferedQos per publisher (what ``ros2 bag play`` offers again)."""
        if topic in self._channels or topic in self.policy.exclude:
            return topic in self._channels
        datatype = msgdefs.normalise(datatype)
        if datatype not in self._schemas:
            try:
                text = msgdefs.definition(datatype)
            except FileNotFoundError:
                return False
            self._schemas[datatype] = self._writer.register_schema(
                name=datatype, encoding=SchemaEncoding.ROS2, data=text.encode())
        qos_text = offered_qos_yaml(offered_qos) if offered_qos else ''
        self._channels[topic] = self._writer.register_channel(
            topic=topic, message_encoding=MessageEncoding.CDR, schema_id=self._schemas[datatype],
            metadata={'offered_qos_profiles': qos_text} if qos_text else {})
        self.stats[topic] = TopicStats(datatype, offered_qos=qos_text)
        return True

    def encode(self, datatype: str, message) -> bytes:
        """CDR bytes of a message given as nested dicts (or objects with the fields), from
        its schema text alone: no Python message package needed. KeyError-free: a field
        left out gets its default."""
        datatype = msgdefs.normalise(datatype)
        encoder = self._encoders.get(datatype)
        if encoder is None:
            from mcap_ros2._dynamic import serialize_dynamic
            encoder = serialize_dynamic(datatype, msgdefs.definition(datatype))[datatype]
            self._encoders[datatype] = encoder
        return encoder(message)

    def write_message(self, topic: str, message, log_time_ns: int) -> bool:
        """Encode (``encode``) and write a message the recorder made itself."""
        st = self.stats.get(topic)
        if st is None or not self.wants(topic, log_time_ns):
            return False
        return self.write(topic, self.encode(st.datatype, message), log_time_ns)

    def wants(self, topic: str, log_time_ns: int) -> bool:
        """Whether a message on topic at this time would be written (rate limit)."""
        st = self.stats.get(topic)
        if st is None:
            return False
        period = self.policy.period_ns(topic)
        return (period <= 0 or st.last_written_ns is None
                or log_time_ns - st.last_written_ns >= period or log_time_ns < st.last_written_ns)

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> bool:
        """Write one serialised message; returns whether it was kept."""
        if self._closed:
            return False
        st = self.stats.get(topic)
        if st is None:
            return False
        st.received += 1
        if not self.wants(topic, log_time_ns):
            return False
        self._writer.add_message(channel_id=self._channels[topic], log_time=int(log_time_ns),
                                 publish_time=int(publish_time_ns if publish_time_ns is not None
                                                  else log_time_ns),
                                 data=bytes(data), sequence=st.written)
        st.written += 1
        st.bytes_written += len(data)
        st.last_written_ns = int(log_time_ns)
        self._first_ns = int(log_time_ns) if self._first_ns is None else min(self._first_ns, int(log_time_ns))
        self._last_ns = int(log_time_ns) if self._last_ns is None else max(self._last_ns, int(log_time_ns))
        return True

    def add_metadata(self, name: str, data: dict):
        self._writer.add_metadata(name, {str(k): str(v) for k, v in data.items()})

    def rosbag2_metadata(self) -> dict:
        """The ``rosbag2`` metadata record rosbag2's MCAP plugin writes and reads back:
        its bag metadata version tells ``ros2 bag`` how to read ``offered_qos_profiles``."""
        start = self._first_ns or 0
        duration = (self._last_ns or start) - start
        count = sum(st.written for st in self.stats.values())
        distro = os.environ.get('ROS_DISTRO', '')
        meta = {
            'version': ROSBAG2_METADATA_VERSION,
            'storage_identifier': 'mcap',
            'duration': {'nanoseconds': duration},
            'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': count,
            'topics_with_message_count': [
                {'topic_metadata': {'name': topic, 'type': st.datatype, 'serialization_format': 'cdr',
                                    'offered_qos_profiles': st.offered_qos, 'type_description_hash': ''},
                 'message_count': st.written}
                for topic, st in self.stats.items()],
            'compression_format': '',
            'compression_mode': '',
            'relative_file_paths': [self.path.name],
            'files': [{'path': self.path.name, 'starting_time': {'nanoseconds_since_epoch': start},
                       'duration': {'nanoseconds': duration}, 'message_count': count}],
            'custom_data': {},
            'ros_distro': distro,
        }
        return {'serialized_metadata': yaml.safe_dump(meta, sort_keys=False), 'ROS_DISTRO': distro}

    def close(self):
        if not self._closed:
            self._closed = True
            self._writer.add_metadata('rosbag2', self.rosbag2_metadata())
            self._writer.finish()
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_messages(path: str | Path, topics: list | None = None):
    """Yield (topic, log_time_ns, decoded message) from an MCAP written by any ROS 2 tool."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    with open(path, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _schema, channel, message, decoded in reader.iter_decoded_messages(topics=topics):
            yield channel.topic, message.log_time, decoded
