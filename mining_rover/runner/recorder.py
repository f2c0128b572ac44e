"""An MCAP recorder of raw (CDR-serialised) ROS 2 messages, with per-topic rate limits.

Messages arrive already serialised (rclpy raw subscriptions), so recording costs no
decode and no re-encode: the bytes that crossed DDS are the bytes in the file. Schemas
are the ros2msg texts from ``msgdefs``; ``ros2 bag``, Foxglove and ``mcap_ros2.reader``
read the result. No rclpy here: ``write`` takes bytes and a time stamp.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType, Writer

from mining_rover.runner import msgdefs


@dataclass
class TopicStats:
    datatype: str
    received: int = 0
    written: int = 0
    bytes_written: int = 0
    last_written_ns: int | None = None


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
        self._closed = False

    def add_topic(self, topic: str, datatype: str) -> bool:
        """Register a topic; False (and nothing written for it) when its type has no
        .msg definition on this machine or the policy excludes it."""
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
        self._channels[topic] = self._writer.register_channel(
            topic=topic, message_encoding=MessageEncoding.CDR, schema_id=self._schemas[datatype])
        self.stats[topic] = TopicStats(datatype)
        return True

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
        return True

    def add_metadata(self, name: str, data: dict):
        self._writer.add_metadata(name, {str(k): str(v) for k, v in data.items()})

    def close(self):
        if not self._closed:
            self._closed = True
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
