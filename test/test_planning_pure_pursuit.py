"""Regulated pure pursuit on a kinematic unicycle: converges, regulates, rotates in place."""
import math

import numpy as np
import pytest

from mining_rover.control.pure_pursuit import PursuitConfig, RegulatedPurePursuit


def _drive(rpp, pose, dt=0.05, steps=4000):
    x, y, yaw = pose
    trace = []
    for _ in range(steps):
        v, w = rpp.compute((x, y, yaw))
        trace.append((x, y, v, w))
        if rpp.done:
            break
        x += v * math.cos(yaw) * dt
        y += v * math.sin(yaw) * dt
        yaw += w * dt
    return np.array(trace), (x, y, yaw)


def _deviation(path, trace):
    return max(float(np.min(np.hypot(path[:, 0] - x, path[:, 1] - y))) for x, y, _, _ in trace)


@pytest.mark.parametrize('start', [(0.0, -0.3, math.pi / 2), (0.2, 0.2, 0.0)])
def test_follows_an_arc_to_the_goal(start):
    t = np.linspace(math.pi, 0.0, 60)
    path = np.column_stack([3 * np.cos(t) + 3, 3 * np.sin(t)])
    cfg = PursuitConfig()
    rpp = RegulatedPurePursuit(path, cfg)
    trace, end = _drive(rpp, start)
    assert rpp.done
    assert math.hypot(end[0] - 6.0, end[1]) <= cfg.goal_tolerance_m + 0.02
    assert _deviation(path, trace) < 0.35
    assert np.all(np.abs(trace[:, 2]) <= cfg.max_linear_mps + 1e-9)
    assert np.all(np.abs(trace[:, 3]) <= cfg.max_angular_radps + 1e-9)


def test_rotates_in_place_when_facing_away():
    rpp = RegulatedPurePursuit([[0, 0], [5, 0]])
    v, w = rpp.compute((0.0, 0.0, math.pi))
    assert v == 0.0 and abs(w) > 0


def test_slows_near_the_goal_and_on_tight_turns():
    cfg = PursuitConfig()
    straight = RegulatedPurePursuit([[0, 0], [10, 0]], cfg)
    assert straight.compute((0.0, 0.0, 0.0))[0] == pytest.approx(cfg.max_linear_mps)
    near = RegulatedPurePursuit([[0, 0], [0.5, 0]], cfg)
    assert near.compute((0.0, 0.0, 0.0))[0] < cfg.max_linear_mps
    tight = RegulatedPurePursuit([[0, 0], [0.3, 0.0], [0.3, 3.0]], cfg)
    v, w = tight.compute((0.2, 0.0, 0.6))
    assert v < cfg.max_linear_mps


def test_bad_paths_are_refused():
    for bad in ([], [[np.nan, 0]], np.zeros((3,))):
        with pytest.raises(ValueError):
            RegulatedPurePursuit(bad)


def test_within_an_executive_it_arrives_inside_its_tolerance_and_never_crawls():
    """PursuitConfig.within: the follower stops inside the executive's arrival distance
    (not short of it, where the executive would wait for ever) and approaches a goal no
    slower than the stuck detector's progress allows."""
    cfg = PursuitConfig.within(max_linear_mps=0.3, max_angular_radps=0.5, arrival_tolerance_m=0.35,
                               stuck_distance_m=0.05, stuck_time_s=10.0)
    assert (cfg.max_linear_mps, cfg.max_angular_radps) == (0.3, 0.5)
    rpp = RegulatedPurePursuit([[0, 0], [3, 0]], cfg)
    trace, end = _drive(rpp, (0.0, 0.0, 0.0))
    assert rpp.done and math.hypot(end[0] - 3.0, end[1]) <= 0.35 / 2 + 1e-9
    moving = trace[trace[:, 2] > 0, 2]
    assert moving.min() >= 0.1 - 1e-9                     # 4 x 0.05 m / 10 s is less: 0.1 floor
    fast = PursuitConfig.within(0.3, 0.5, 0.35, stuck_distance_m=0.5, stuck_time_s=5.0)
    assert fast.min_approach_mps == pytest.approx(0.4)
