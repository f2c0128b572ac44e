"""Pair left and right camera frames by timestamp (an approximate-time synchroniser for
two streams, as message_filters' ApproximateTimeSynchronizer does, without ROS).

Items are anything; stamps are float seconds. ``add`` returns a (left, right) pair as
soon as the newest frame on one side has a partner on the other within ``slop_s``;
frames older than a pair are dropped (a stereo node wants the newest pair, never a
backlog).
"""
from __future__ import annotations

from collections import deque


class StampPairer:
    """Pairs left and right items whose stamps differ by at most ``slop_s`` seconds."""
    def __init__(self, slop_s: float = 0.01, queue_size: int = 5):
        if not slop_s >= 0.0 or queue_size < 1:
            raise ValueError(f'need slop_s >= 0 and queue_size >= 1, got {slop_s}, {queue_size}')
        self.slop_s = float(slop_s)
        self._queues = {'left': deque(maxlen=queue_size), 'right': deque(maxlen=queue_size)}
        self.last_gap_s = None   # smallest stamp gap seen when no partner was within slop

    def add(self, side: str, stamp_s: float, item):
        """Queue a frame; return (left_item, right_item, stamp_left_s) or None."""
        other = 'right' if side == 'left' else 'left'
        if side not in self._queues:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        candidates = self._queues[other]
        best = min(candidates, key=lambda e: abs(e[0] - stamp_s), default=None)
        if best is not None and abs(best[0] - stamp_s) <= self.slop_s:
            # drop everything up to the partner on the other side, and this side's queue
            while candidates and candidates[0] is not best:
                candidates.popleft()
            candidates.popleft()
            self._queues[side].clear()
            self.last_gap_s = None
            pair = {side: (stamp_s, item), other: best}
            return pair['left'][1], pair['right'][1], pair['left'][0]
        if best is not None:
            self.last_gap_s = abs(best[0] - stamp_s)
        self._queues[side].append((stamp_s, item))
        return None

    def clear(self) -> None:
        for q in self._queues.values():
            q.clear()
