"""The stuck monitor alone (planning/executive/stuck.py): wheel travel against visual
odometry over the camera's own interval, with scripted inputs (10 Hz ticks, camera
frames at 2 Hz, the rate of the embedded mission's stereo)."""
from __future__ import annotations

import math

import pytest

from mining_rover.planning.executive.stuck import StuckMonitor

WINDOW_S = 6.0


def monitor() -> StuckMonitor:
    return StuckMonitor(window_s=WINDOW_S, min_travel_m=0.2, max_progress_share=0.2)


def _arc(s, yaw_rate):
    """Position after ``s`` metres along an arc starting along x, turning at yaw_rate per m."""
    if abs(yaw_rate) < 1e-12:
        return s, 0.0
    return math.sin(yaw_rate * s) / yaw_rate, (1.0 - math.cos(yaw_rate * s)) / yaw_rate


def run(m, seconds, wheel_mps, ground_mps, yaw_rate=0.0, camera_hz=2.0, camera_lag_s=0.0,
        t0=0.0, x0=0.0, camera=True):
    """Tick ``m`` for ``seconds``: the wheels roll at ``wheel_mps``, the rover moves at
    ``ground_mps`` (along x, or along an arc while the gyro reads ``yaw_rate``); the
    camera's frames are ``camera_lag_s`` old when they arrive. Returns the verdicts and
    the end time and x position."""
    verdicts, t, frame = [], t0, None
    period = 1.0 / camera_hz
    per_m = yaw_rate / ground_mps if ground_mps else 0.0
    while t < t0 + seconds - 1e-9:
        t = round(t + 0.1, 6)
        shot = t - camera_lag_s
        if camera and shot >= t0 and math.isclose((shot / period) % 1.0, 0.0, abs_tol=1e-6):
            x, y = _arc(ground_mps * (shot - t0), per_m)
            frame = (shot, x0 + x, y)
        verdicts.append(m.update(t, wheel_mps, frame, yaw_rate))
    return verdicts, t, x0 + _arc(ground_mps * (t - t0), per_m)[0]


def test_wheels_turning_while_the_camera_sees_the_rover_still_is_stuck():
    m = monitor()
    verdicts, _, _ = run(m, 2 * WINDOW_S, wheel_mps=0.3, ground_mps=0.0)
    assert verdicts[-1].stuck
    first = next(i for i, v in enumerate(verdicts) if v.stuck)
    # the camera must have covered most of a window first
    assert 0.6 * WINDOW_S <= (first + 1) * 0.1 <= WINDOW_S + 0.6
    v = verdicts[-1]
    assert v.wheel_travel_m == pytest.approx(0.3 * WINDOW_S, rel=0.05)
    assert v.visual_progress_m == 0.0 and 'wheels rolled' in v.reason()


@pytest.mark.parametrize('ground_mps', [0.3, 0.24, 0.1])
def test_driving_or_cutting_with_ordinary_slip_is_not_stuck(ground_mps):
    # 0 %, 20 % (the planner's design slip) and 67 % slip
    verdicts, _, _ = run(monitor(), 3 * WINDOW_S, wheel_mps=0.3, ground_mps=ground_mps)
    assert not any(v.stuck for v in verdicts)


def test_slip_of_more_than_80_percent_is_stuck():
    verdicts, _, _ = run(monitor(), 3 * WINDOW_S, wheel_mps=0.3, ground_mps=0.03)
    assert verdicts[-1].stuck


def test_standing_turning_in_place_and_driving_round_a_tight_circle_are_not_stuck():
    verdicts, _, _ = run(monitor(), 2 * WINDOW_S, wheel_mps=0.0, ground_mps=0.0)
    assert not any(v.stuck for v in verdicts)
    # a skid-steer turning in place: its wheels' mean rim speed is zero
    verdicts, _, _ = run(monitor(), 2 * WINDOW_S, wheel_mps=0.0, ground_mps=0.0, yaw_rate=0.5)
    assert not any(v.stuck for v in verdicts)
    # round a 0.3 m circle: after 6 s the rover is back near where it was, but the gyro's
    # turn says the chord is short
    verdicts, _, _ = run(monitor(), 3 * WINDOW_S, wheel_mps=0.3, ground_mps=0.3, yaw_rate=1.0)
    assert not any(v.stuck for v in verdicts)


def test_pinned_but_swung_round_by_its_steering_is_stuck():
    # the wheels push on while the rover turns on the spot towards its route
    verdicts, _, _ = run(monitor(), 2 * WINDOW_S, wheel_mps=0.3, ground_mps=0.0, yaw_rate=0.3)
    assert verdicts[-1].stuck


def test_without_camera_frames_it_says_nothing():
    verdicts, _, _ = run(monitor(), 3 * WINDOW_S, wheel_mps=0.3, ground_mps=0.0, camera=False)
    assert not any(v.stuck for v in verdicts)
    # frames that stop coming (tracking lost) leave it silent once they are a window old
    m = monitor()
    run(m, WINDOW_S / 2, wheel_mps=0.3, ground_mps=0.3)
    verdicts, _, _ = run(m, 3 * WINDOW_S, wheel_mps=0.3, ground_mps=0.0, camera=False,
                         t0=WINDOW_S / 2)
    assert not any(v.stuck for v in verdicts)


def test_a_camera_that_lags_the_wheels_is_never_mistaken_for_stuck():
    # standing, then driving off: frames arrive 1.5 s late (a loaded stereo node); the
    # wheels' travel is compared only with the interval the frames cover
    m = monitor()
    _, t, x = run(m, WINDOW_S, wheel_mps=0.0, ground_mps=0.0, camera_lag_s=1.5)
    verdicts, _, _ = run(m, 2 * WINDOW_S, wheel_mps=0.3, ground_mps=0.3, camera_lag_s=1.5, t0=t,
                         x0=x)
    assert not any(v.stuck for v in verdicts)


def test_reset_forgets_the_window():
    m = monitor()
    verdicts, t, _ = run(m, 2 * WINDOW_S, wheel_mps=0.3, ground_mps=0.0)
    assert verdicts[-1].stuck
    m.reset()
    verdicts, _, _ = run(m, 1.0, wheel_mps=0.3, ground_mps=0.0, t0=t)
    assert not any(v.stuck for v in verdicts)
