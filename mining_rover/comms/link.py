"""A deterministic, seedable model of one direction of an Earth-rover link.

What it models (one ``Link`` per direction):

* **Light time.** The one-way latency ``latency_s`` is a hard floor: nothing arrives
  earlier than light allows. Earth-Moon is 1.28 s at the mean distance (384 400 km,
  NASA Moon Fact Sheet; c = 299 792 458 m/s exactly, SI); a main-belt asteroid is
  about 1.1-4.3 AU from Earth, 9-36 minutes one way (1 AU = 149 597 870 700 m, IAU 2012
  Resolution B2). See ``light_time_s``.
* **Jitter** (ground-network and relay queueing) only ever *adds* delay: a half-normal
  draw of scale ``jitter_s``, truncated at ``JITTER_TRUNCATION`` scales (resampled, so the
  distribution is a true truncated normal), so latency lies in
  ``[latency_s, latency_s + 3 * jitter_s]`` plus serialisation and queueing time.
* **Ordering.** By default the link is *sequenced*, like a CCSDS sequence-controlled
  service: a message is never delivered before one sent earlier on the same channel
  (its delivery time is held back to the previous one's), so jitter delays but never
  reorders. ``reorder=True`` drops that hold and lets jitter reorder messages.
* **Bandwidth.** A serial transmitter of ``bandwidth_bytes_per_s``: each message waits
  for the ones before it, then takes ``size / bandwidth`` to clock out. Admission is a
  token bucket of ``burst_s`` seconds of bandwidth; each priority may only use the
  tokens above its reserve (``RESERVE_FRACTION``), so as the bucket empties thumbnails are
  refused first, then costmaps, then commands, then status. Refused messages are
  counted (``dropped_bandwidth`` and per priority); ``push`` returns False for them.
* **Loss.** Each transmitted message is lost with ``loss_probability`` (independent
  draws from the seeded generator). A lost message is silent to the sender: ``push``
  returned True, the message just never comes out of ``pop_due``.
* **Outages** (loss of signal: antenna handover, Earth below the horizon, a fault), either
  scheduled as ``(start_s, end_s)`` windows or toggled with ``set_outage``. A message
  offered while the link is down is dropped and counted (``dropped_outage``). Messages
  already in flight when an outage starts still arrive (they are already on their way).
* **Critical messages** (``Priority.CRITICAL``, the e-stop) travel as on an acknowledged
  expedited channel: they bypass the bandwidth bucket and the transmit queue, a loss
  costs a retransmission one round trip later (counted in ``retransmissions``) instead of
  the message, and one offered during an outage is held and sent when the link returns.
  They are therefore always delivered, however late; ordering holds among them but they
  may overtake ordinary traffic.

Time is whatever the caller passes as ``now`` (seconds, non-decreasing): the node passes
its ROS clock, so ``use_sim_time`` works, and tests pass plain numbers.
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import cv2
import numpy as np

#: Speed of light in vacuum, m/s (exact by the SI definition of the metre).
SPEED_OF_LIGHT_MPS = 299_792_458.0
#: Earth-Moon mean distance, m (semi-major axis, NASA Moon Fact Sheet: 384 400 km).
EARTH_MOON_MEAN_DISTANCE_M = 384_400e3
#: Astronomical unit, m (IAU 2012 Resolution B2).
ASTRONOMICAL_UNIT_M = 149_597_870_700.0
#: Jitter draws beyond this many scales are resampled (truncated normal).
JITTER_TRUNCATION = 3.0
#: Retransmissions of one critical message before the model gives up trying more
#: (reached only for loss probabilities near 1; the message is still delivered).
MAX_RETRANSMISSIONS = 1000


def light_time_s(distance_m: float) -> float:
    """One-way light time in seconds over ``distance_m`` metres of vacuum."""
    d = float(distance_m)
    if not math.isfinite(d) or d < 0.0:
        raise ValueError(f'distance must be finite and >= 0 m, got {distance_m}')
    return d / SPEED_OF_LIGHT_MPS


#: One-way Earth-Moon light time at the mean distance, s (about 1.282 s).
EARTH_MOON_LIGHT_TIME_S = light_time_s(EARTH_MOON_MEAN_DISTANCE_M)


class Priority(IntEnum):
    """Traffic classes, lowest first. Under bandwidth pressure lower ones go first."""
    THUMBNAIL = 0
    COSTMAP = 1
    COMMAND = 2
    STATUS = 3
    CRITICAL = 4  # e-stop: never refused for bandwidth, retransmitted on loss


#: Share of the token bucket a priority must leave untouched for the ones above it.
RESERVE_FRACTION = {
    Priority.THUMBNAIL: 0.5,
    Priority.COSTMAP: 0.25,
    Priority.COMMAND: 0.1,
    Priority.STATUS: 0.0,
}


@dataclass(frozen=True)
class LinkConfig:
    """Parameters of one direction. Seconds, bytes per second, probabilities in [0, 1)."""
    latency_s: float = EARTH_MOON_LIGHT_TIME_S
    jitter_s: float = 0.0
    loss_probability: float = 0.0
    bandwidth_bytes_per_s: float = 125_000.0
    burst_s: float = 2.0
    reorder: bool = False
    outages: tuple = ()  # ((start_s, end_s), ...) scheduled loss of signal
    seed: int = 0

    def __post_init__(self):
        def finite(name, lo, hi=math.inf, lo_open=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < lo or (lo_open and v == lo) or v > hi:
                bound = f'> {lo}' if lo_open else f'>= {lo}'
                raise ValueError(f'LinkConfig.{name} must be finite, {bound} and <= {hi}, got {v!r}')
        finite('latency_s', 0.0)
        finite('jitter_s', 0.0)
        finite('bandwidth_bytes_per_s', 0.0, lo_open=True)
        finite('burst_s', 0.0, lo_open=True)
        v = self.loss_probability
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
            raise ValueError(f'LinkConfig.loss_probability must be in [0, 1), got {v!r}')
        windows = []
        for w in self.outages:
            try:
                start, end = (float(x) for x in w)
            except (TypeError, ValueError):
                raise ValueError(f'LinkConfig.outages: each window is (start_s, end_s), got {w!r}') from None
            if not (math.isfinite(start) and math.isfinite(end) and start < end):
                raise ValueError(f'LinkConfig.outages: window {w!r} needs finite start < end')
            windows.append((start, end))
        object.__setattr__(self, 'outages', tuple(sorted(windows)))

    @property
    def bucket_bytes(self) -> float:
        return self.bandwidth_bytes_per_s * self.burst_s


@dataclass
class LinkStats:
    """Counters of one direction since the last reset. Latency is push -> delivery time."""
    offered: int = 0            # push() calls
    sent: int = 0               # transmitted (includes the ones lost on the way)
    delivered: int = 0          # came out of pop_due
    dropped_loss: int = 0
    dropped_bandwidth: int = 0
    dropped_outage: int = 0
    retransmissions: int = 0    # critical messages re-sent after a loss
    held_outage: int = 0        # critical messages held through an outage
    latency_sum_s: float = 0.0
    max_latency_s: float = 0.0
    dropped_bandwidth_by_priority: dict = field(
        default_factory=lambda: {p.name.lower(): 0 for p in Priority})

    @property
    def mean_latency_s(self) -> float:
        """Mean push-to-delivery time of delivered messages, s (NaN before the first)."""
        return self.latency_sum_s / self.delivered if self.delivered else math.nan

    @property
    def dropped(self) -> int:
        return self.dropped_loss + self.dropped_bandwidth + self.dropped_outage


class Link:
    """One direction of the link: ``push`` at the sender, ``pop_due`` at the receiver."""

    def __init__(self, config: LinkConfig):
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget everything in flight, refill the bucket, restart the generator."""
        self._rng = random.Random(self.config.seed)
        self._tokens = self.config.bucket_bytes
        self._last_t = None
        self._busy_until = -math.inf
        self._last_delivery = {False: -math.inf, True: -math.inf}  # per channel: critical?
        self._in_flight = []  # heap of (delivery_s, seq, push_s, payload)
        self._held = []       # critical messages waiting for the link: (push_s, payload, size)
        self._seq = 0
        self._toggled_down = False
        self._toggled_up_at = -math.inf
        self.last_delivery_s = None
        self.stats = LinkStats()

    # -- outages ---------------------------------------------------------------------
    def set_outage(self, down: bool, now: float) -> None:
        """Take the link down (True) or bring it back (False) at ``now``."""
        down = bool(down)
        if self._toggled_down and not down:
            self._toggled_up_at = float(now)
        self._toggled_down = down

    def is_up(self, now: float) -> bool:
        if self._toggled_down:
            return False
        return not any(start <= now < end for start, end in self.config.outages)

    def _up_since(self, now: float) -> float:
        """When the link last came back up (for flushing held critical messages)."""
        ends = [end for _start, end in self.config.outages if end <= now]
        return max([self._toggled_up_at, *ends])

    # -- sender side -----------------------------------------------------------------
    def max_size_bytes(self, priority: Priority) -> float:
        """The largest message of this priority the bucket can ever admit, bytes."""
        if Priority(priority) == Priority.CRITICAL:
            return math.inf
        return self.config.bucket_bytes * (1.0 - RESERVE_FRACTION[Priority(priority)])

    @property
    def tokens(self) -> float:
        return self._tokens

    def push(self, payload: Any, size_bytes: int, now: float,
             priority: Priority = Priority.STATUS) -> bool:
        """Offer a message of ``size_bytes`` at time ``now`` (s).

        Returns False when it was refused (link down, or not enough bandwidth left for its
        priority) and True when it was transmitted; a transmitted message may still be
        lost on the way, which the sender cannot see. Critical messages always return True.
        """
        priority = Priority(priority)
        size = float(size_bytes)
        if not math.isfinite(size) or size < 0:
            raise ValueError(f'size_bytes must be finite and >= 0, got {size_bytes!r}')
        now = float(now)
        self._advance(now)
        self.stats.offered += 1
        if priority == Priority.CRITICAL:
            if not self.is_up(now):
                self._held.append((now, payload, size))
                self.stats.held_outage += 1
            else:
                self._transmit_critical(payload, size, now, now)
            return True
        if not self.is_up(now):
            self.stats.dropped_outage += 1
            return False
        reserve = self.config.bucket_bytes * RESERVE_FRACTION[priority]
        if self._tokens - size < reserve:
            self.stats.dropped_bandwidth += 1
            self.stats.dropped_bandwidth_by_priority[priority.name.lower()] += 1
            return False
        self._tokens -= size
        start = max(now, self._busy_until)
        self._busy_until = start + size / self.config.bandwidth_bytes_per_s
        self.stats.sent += 1
        arrival = self._busy_until + self.config.latency_s + self._jitter()
        if self._rng.random() < self.config.loss_probability:
            self.stats.dropped_loss += 1
            return True
        self._schedule(arrival, now, payload, critical=False)
        return True

    def _transmit_critical(self, payload, size: float, push_t: float, send_t: float) -> None:
        serialise = size / self.config.bandwidth_bytes_per_s
        round_trip = 2.0 * self.config.latency_s + serialise
        retries = 0
        while retries < MAX_RETRANSMISSIONS and self._rng.random() < self.config.loss_probability:
            retries += 1
        self.stats.sent += 1 + retries
        self.stats.retransmissions += retries
        arrival = send_t + retries * round_trip + serialise + self.config.latency_s + self._jitter()
        self._schedule(arrival, push_t, payload, critical=True)

    def _schedule(self, arrival: float, push_t: float, payload, critical: bool) -> None:
        if not self.config.reorder:
            arrival = max(arrival, self._last_delivery[critical])
            self._last_delivery[critical] = arrival
        heapq.heappush(self._in_flight, (arrival, self._seq, push_t, payload))
        self._seq += 1

    def _jitter(self) -> float:
        scale = self.config.jitter_s
        if scale <= 0.0:
            return 0.0
        while True:
            j = abs(self._rng.gauss(0.0, scale))
            if j <= JITTER_TRUNCATION * scale:
                return j

    def _advance(self, now: float) -> None:
        """Refill the bucket up to ``now`` and send held critical messages if the link is up."""
        if self._last_t is not None and now > self._last_t:
            self._tokens = min(self.config.bucket_bytes,
                               self._tokens + (now - self._last_t) * self.config.bandwidth_bytes_per_s)
        if self._last_t is None or now > self._last_t:
            self._last_t = now
        if self._held and self.is_up(now):
            up = self._up_since(now)
            held, self._held = self._held, []
            for push_t, payload, size in held:
                self._transmit_critical(payload, size, push_t, max(push_t, up))

    # -- receiver side ---------------------------------------------------------------
    def pop_due(self, now: float) -> list:
        """Payloads whose delivery time is <= ``now``, in delivery order."""
        now = float(now)
        self._advance(now)
        out = []
        while self._in_flight and self._in_flight[0][0] <= now:
            arrival, _seq, push_t, payload = heapq.heappop(self._in_flight)
            latency = arrival - push_t
            self.stats.delivered += 1
            self.stats.latency_sum_s += latency
            self.stats.max_latency_s = max(self.stats.max_latency_s, latency)
            self.last_delivery_s = arrival
            out.append(payload)
        return out

    @property
    def in_flight(self) -> int:
        return len(self._in_flight) + len(self._held)


def make_thumbnail(image: np.ndarray, max_side_px: int, bgr: bool = False) -> np.ndarray:
    """A small RGB copy of an 8-bit image for the downlink.

    ``image`` is HxW (grey), HxWx1, HxWx3 or HxWx4 uint8 (RGB(A), or BGR(A) with
    ``bgr=True``). Returns HxWx3 uint8 RGB whose longer side is at most ``max_side_px``
    (aspect ratio kept, never enlarged), resized with area averaging (cv2.INTER_AREA,
    which does not alias when shrinking). ValueError on any other input.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f'thumbnail input must be uint8, got {arr.dtype}')
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f'thumbnail input must be HxW, HxWx3 or HxWx4, got shape {arr.shape}')
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f'thumbnail input is empty, shape {arr.shape}')
    if isinstance(max_side_px, bool) or int(max_side_px) != max_side_px or max_side_px < 1:
        raise ValueError(f'max_side_px must be a positive integer, got {max_side_px!r}')
    h, w = arr.shape[:2]
    scale = min(1.0, max_side_px / max(h, w))
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    if size != (w, h):
        arr = cv2.resize(np.ascontiguousarray(arr), size, interpolation=cv2.INTER_AREA)
    if arr.ndim == 2:
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))
    rgb = arr[:, :, :3]
    if bgr:
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb)


def downsample_costmap(grid: np.ndarray, max_side_cells: int) -> tuple[np.ndarray, int]:
    """Shrink an occupancy grid (Nav2 costs 0..100, -1 unknown) for the downlink.

    Returns ``(coarse, factor)``: each coarse cell covers ``factor`` x ``factor`` cells
    (the smallest integer factor that brings the longer side to ``max_side_cells`` or
    less; edge blocks may be partial) and holds the *highest* known cost among them, so a
    lethal cell is never averaged away; a block with no known cell stays -1. The coarse
    grid keeps the fine grid's origin, with resolution ``factor`` times the fine one.
    """
    g = np.asarray(grid)
    if g.ndim != 2 or g.dtype.kind not in 'iu' or g.size == 0:
        raise ValueError(f'costmap must be a non-empty 2-D integer grid, got shape {g.shape} dtype {g.dtype}')
    if isinstance(max_side_cells, bool) or int(max_side_cells) != max_side_cells or max_side_cells < 1:
        raise ValueError(f'max_side_cells must be a positive integer, got {max_side_cells!r}')
    h, w = g.shape
    factor = max(1, math.ceil(max(h, w) / max_side_cells))
    if factor == 1:
        return g.astype(np.int8, copy=True), 1
    ch, cw = math.ceil(h / factor), math.ceil(w / factor)
    padded = np.full((ch * factor, cw * factor), -1, dtype=np.int16)
    padded[:h, :w] = g
    blocks = padded.reshape(ch, factor, cw, factor)
    return blocks.max(axis=(1, 3)).astype(np.int8), factor
