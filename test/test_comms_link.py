"""The Earth-rover link model: latency, jitter, loss, bandwidth priorities, ordering, outages.

Pure Python: time is the number each call passes, so nothing here depends on the machine.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from mining_rover.comms.link import (ASTRONOMICAL_UNIT_M, EARTH_MOON_LIGHT_TIME_S,
                                     JITTER_TRUNCATION, Link, LinkConfig, Priority,
                                     downsample_costmap, light_time_s, make_thumbnail)

FAST = 1e9  # bytes/s: bandwidth that never binds


def drain(link, until_s, step_s=0.01, start_s=0.0):
    """Pop every step from start to until; return [(pop time, payload)]."""
    out = []
    t = start_s
    while t <= until_s + 1e-12:
        out.extend((t, p) for p in link.pop_due(t))
        t += step_s
    return out


def test_light_time_of_the_moon_and_an_asteroid():
    # 384 400 km / c = 1.2822 s (NASA Moon Fact Sheet mean distance).
    assert EARTH_MOON_LIGHT_TIME_S == pytest.approx(1.2822, abs=1e-4)
    # 1 AU is 499.005 s of light time (IAU 2012 au): a main-belt asteroid is minutes away.
    assert light_time_s(ASTRONOMICAL_UNIT_M) == pytest.approx(499.005, abs=1e-3)
    with pytest.raises(ValueError):
        light_time_s(-1.0)


def test_fixed_latency_without_jitter_is_exact():
    link = Link(LinkConfig(latency_s=1.28, bandwidth_bytes_per_s=FAST))
    assert link.push('a', 100, now=10.0)
    assert link.pop_due(11.279) == []
    assert link.pop_due(11.281) == ['a']
    assert link.stats.mean_latency_s == pytest.approx(1.28, abs=1e-6)


def test_jittered_latency_stays_within_the_truncated_bounds():
    latency, jitter = 1.28, 0.05
    link = Link(LinkConfig(latency_s=latency, jitter_s=jitter, bandwidth_bytes_per_s=FAST,
                           reorder=True, seed=3))
    for i in range(2000):
        link.push(i, 10, now=i * 0.01)
    drain(link, 30.0, step_s=0.5)
    s = link.stats
    assert s.delivered == 2000
    # Light time is a floor; jitter adds at most JITTER_TRUNCATION scales (+ tiny serialisation).
    lo = s.latency_sum_s / s.delivered
    assert latency < lo < latency + JITTER_TRUNCATION * jitter
    assert s.max_latency_s <= latency + JITTER_TRUNCATION * jitter + 1e-6
    # Half-normal mean is sigma * sqrt(2/pi) = 0.0399 s; 2000 draws: std error ~0.0007 s.
    assert s.mean_latency_s - latency == pytest.approx(jitter * math.sqrt(2 / math.pi), abs=0.004)


def test_loss_rate_matches_the_parameter_and_is_reproducible():
    def run(seed):
        link = Link(LinkConfig(latency_s=0.1, loss_probability=0.2, bandwidth_bytes_per_s=FAST,
                               seed=seed))
        for i in range(10_000):
            assert link.push(i, 10, now=i * 1e-3)  # loss is silent to the sender
        return [p for _t, p in drain(link, 11.0, step_s=1.0)], link.stats

    got, stats = run(seed=7)
    # Binomial(10 000, 0.2): std 40 messages, so +-200 is five standard deviations.
    assert abs(stats.dropped_loss - 2000) < 200
    assert stats.delivered + stats.dropped_loss == 10_000 == stats.sent
    assert run(seed=7)[0] == got                  # same seed, same messages lost
    assert run(seed=8)[0] != got                  # another seed, another pattern


def test_fifo_order_is_kept_under_jitter_unless_reordering_is_allowed():
    def delivered(reorder):
        link = Link(LinkConfig(latency_s=0.5, jitter_s=0.2, bandwidth_bytes_per_s=FAST,
                               reorder=reorder, seed=1))
        for i in range(500):
            link.push(i, 10, now=i * 0.005)   # far closer together than the jitter
        return [p for _t, p in drain(link, 5.0)]

    sequenced = delivered(reorder=False)
    assert sequenced == list(range(500))
    free = delivered(reorder=True)
    assert sorted(free) == list(range(500)) and free != sequenced


def test_serialisation_delay_and_bucket_drop_low_priority_first():
    # 10 kB/s, bucket of 1 s = 10 kB. Thumbnails may use tokens above 5 kB, costmaps above
    # 2.5 kB, commands above 1 kB, status down to 0.
    link = Link(LinkConfig(latency_s=1.0, bandwidth_bytes_per_s=10_000, burst_s=1.0))
    assert link.push('thumb1', 4000, 0.0, Priority.THUMBNAIL)       # tokens 10k -> 6k
    assert not link.push('thumb2', 4000, 0.0, Priority.THUMBNAIL)   # 6k-4k < 5k reserve
    assert link.push('costmap', 3000, 0.0, Priority.COSTMAP)        # 6k -> 3k
    assert not link.push('thumb3', 10, 0.0, Priority.THUMBNAIL)
    assert link.push('cmd', 1500, 0.0, Priority.COMMAND)            # 3k -> 1.5k
    assert not link.push('costmap2', 600, 0.0, Priority.COSTMAP)
    assert link.push('status', 1500, 0.0, Priority.STATUS)          # 1.5k -> 0
    assert not link.push('status2', 1, 0.0, Priority.STATUS)
    assert link.push('estop', 50, 0.0, Priority.CRITICAL)           # never refused
    s = link.stats
    assert s.dropped_bandwidth == 4
    assert s.dropped_bandwidth_by_priority == {'thumbnail': 2, 'costmap': 1, 'command': 0,
                                               'status': 1, 'critical': 0}
    # The transmitter is serial: 10 kB of accepted traffic takes 1 s to clock out, and
    # the e-stop, on its own expedited channel, does not wait behind it.
    out = drain(link, 3.0, step_s=0.001)
    when = {p: t for t, p in out}
    assert when['thumb1'] == pytest.approx(1.4, abs=0.002)
    assert when['status'] == pytest.approx(2.0, abs=0.002)
    assert when['estop'] == pytest.approx(1.005, abs=0.002)
    assert [p for _t, p in out if p != 'estop'] == ['thumb1', 'costmap', 'cmd', 'status']
    # The bucket refills at the link rate.
    assert link.push('thumb4', 4000, 10.0, Priority.THUMBNAIL)


def test_estop_is_never_lost_but_pays_a_round_trip_per_loss():
    link = Link(LinkConfig(latency_s=1.0, loss_probability=0.5, bandwidth_bytes_per_s=FAST, seed=2))
    for i in range(200):
        # 100 s apart, so no e-stop waits behind the retransmissions of the one before.
        assert link.push(('estop', i), 10, now=100.0 * i, priority=Priority.CRITICAL)
    out = drain(link, 20_100.0, step_s=1.0)
    assert [p for _t, p in out] == [('estop', i) for i in range(200)]
    s = link.stats
    assert s.dropped == 0 and s.delivered == 200
    # Geometric retries, mean p/(1-p) = 1 per message: 200 expected, std ~20.
    assert 100 < s.retransmissions < 300
    assert s.mean_latency_s == pytest.approx(1.0 + 2.0 * s.retransmissions / 200, rel=1e-6)


def test_toggled_outage_drops_traffic_and_holds_the_estop():
    link = Link(LinkConfig(latency_s=1.0, bandwidth_bytes_per_s=FAST))
    assert link.push('before', 10, 0.0)
    link.set_outage(True, now=0.5)
    assert not link.is_up(0.6)
    assert not link.push('during', 10, 0.6)
    assert link.push('estop', 10, 0.7, Priority.CRITICAL)   # held, not refused
    # In flight before the drop: already on its way, still arrives.
    assert link.pop_due(1.1) == ['before']
    assert link.pop_due(5.0) == []
    link.set_outage(False, now=6.0)
    assert link.pop_due(6.5) == []
    assert link.pop_due(7.01) == ['estop']                   # sent when the link came back
    assert link.stats.dropped_outage == 1 and link.stats.held_outage == 1
    assert link.stats.max_latency_s == pytest.approx(7.0 - 0.7, abs=1e-6)


def test_scheduled_outage_window():
    link = Link(LinkConfig(latency_s=0.2, bandwidth_bytes_per_s=FAST, outages=((2.0, 3.0),)))
    accepted = [link.push(i, 10, now=i * 0.5) for i in range(10)]   # t = 0 .. 4.5 s
    assert accepted == [True] * 4 + [False] * 2 + [True] * 4        # 2.0 and 2.5 fall in the gap
    assert [p for _t, p in drain(link, 6.0)] == [0, 1, 2, 3, 6, 7, 8, 9]


def test_reset_forgets_in_flight_traffic():
    link = Link(LinkConfig(latency_s=1.0, bandwidth_bytes_per_s=FAST))
    link.push('x', 10, 0.0)
    link.reset()
    assert link.pop_due(5.0) == [] and link.stats.offered == 0 and link.in_flight == 0


@pytest.mark.parametrize('bad', [dict(latency_s=-1.0), dict(jitter_s=math.nan),
                                 dict(loss_probability=1.0), dict(bandwidth_bytes_per_s=0.0),
                                 dict(outages=((3.0, 2.0),))])
def test_bad_config_names_the_field(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        LinkConfig(**bad)


def test_thumbnail_keeps_aspect_and_colours():
    img = np.zeros((480, 640, 3), np.uint8)
    img[:, :320] = (255, 0, 0)       # left half red in RGB
    th = make_thumbnail(img, 160)
    assert th.shape == (120, 160, 3) and th.dtype == np.uint8
    assert tuple(th[60, 10]) == (255, 0, 0) and tuple(th[60, 150]) == (0, 0, 0)
    assert tuple(make_thumbnail(img, 160, bgr=True)[60, 10]) == (0, 0, 255)
    # Area averaging: a 2x2 checkerboard of 0/200 becomes a flat 100.
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 200).astype(np.uint8)
    grey = make_thumbnail(checker, 32)
    assert grey.shape == (32, 32, 3) and np.all(grey == 100)
    assert make_thumbnail(np.zeros((10, 20, 4), np.uint8), 100).shape == (10, 20, 3)  # never enlarged
    for bad in (np.zeros((10, 10), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5), np.uint8)):
        with pytest.raises(ValueError):
            make_thumbnail(bad, 8)


def test_costmap_downsampling_keeps_lethal_cells_and_unknown_blocks():
    g = np.zeros((250, 180), np.int8)
    g[:, 100:] = -1
    g[7, 13] = 100
    g[240:, :] = -1
    g[249, 0] = 40
    coarse, factor = downsample_costmap(g, 100)
    assert factor == 3 and coarse.shape == (84, 60)
    assert coarse[7 // 3, 13 // 3] == 100          # lethal survives
    assert coarse[0, 40] == -1                     # all-unknown block stays unknown
    assert coarse[83, 0] == 40                     # partial edge block: known max
    assert coarse[0, 33] == 0                      # block mixing free (cols 99) and unknown
    same, f1 = downsample_costmap(g, 500)
    assert f1 == 1 and np.array_equal(same, g)
