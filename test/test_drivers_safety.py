"""Safety layer above a backend: watchdog, e-stop latch, faults, thermal stop, NaN commands."""
import math

import pytest

from mining_rover.control.limits import ActuatorLimits, ThermalDerate
from mining_rover.drivers.backend import CallbackBackend, JointConfig
from mining_rover.drivers.safety import EStopLatch, SafetyLayer, Watchdog

WHEELS = ['front_left_wheel_joint', 'rear_left_wheel_joint']


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def make(clock, thermal=None):
    sent = []
    backend = CallbackBackend([JointConfig(w, 'wheel') for w in WHEELS] +
                              [JointConfig('front_arm_joint', 'arm')],
                              lambda j, v: sent.append((j, v)), clock=clock)
    limits = {w: ActuatorLimits(w, 6.0) for w in WHEELS}
    limits['front_arm_joint'] = ActuatorLimits('front_arm_joint', 1.0, -0.8, 0.6)
    layer = SafetyLayer(backend, limits, watchdog_timeout_s=0.5, thermal=thermal, clock=clock)
    return layer, backend, sent


def test_watchdog_unit():
    c = Clock()
    wd = Watchdog(0.5, c)
    assert wd.expired()            # nothing moves before the first command
    wd.feed()
    c.t = 0.4
    assert not wd.expired()
    c.t = 0.51
    assert wd.expired()
    with pytest.raises(ValueError):
        Watchdog(0.0)


def test_estop_latch_needs_explicit_clear_and_respects_holds():
    e = EStopLatch()
    assert e.engage('button') and not e.engage('again') and e.engaged and e.events == 1
    e.hold('hw_input', True)
    ok, msg = e.request_clear()
    assert not ok and 'hw_input' in msg and e.engaged
    e.hold('hw_input', False)
    assert e.request_clear()[0] and not e.engaged


def test_commands_ignored_until_active_and_zeroed_on_watchdog():
    c = Clock()
    layer, backend, sent = make(c)
    assert not layer.command_velocities({WHEELS[0]: 1.0})      # inactive: ignored
    assert layer.status().ignored_commands == 1
    layer.activate()
    assert layer.command_velocities({WHEELS[0]: 1.0, WHEELS[1]: 9.0})
    assert backend.setpoints()[WHEELS[1]] == 6.0              # clamped to the limit
    c.t = 0.4
    layer.tick()
    assert backend.setpoints()[WHEELS[0]] == 1.0
    c.t = 0.6
    layer.tick()
    assert backend.setpoints()[WHEELS[0]] == 0.0 and backend.setpoints()[WHEELS[1]] == 0.0
    assert layer.command_velocities({WHEELS[0]: 2.0})          # a new command resumes
    assert backend.setpoints()[WHEELS[0]] == 2.0


def test_estop_stops_and_blocks_until_cleared():
    c = Clock()
    layer, backend, _ = make(c)
    layer.activate()
    layer.command_velocities({WHEELS[0]: 3.0})
    layer.set_estop(True)
    assert backend.setpoints()[WHEELS[0]] == 0.0
    assert not layer.command_velocities({WHEELS[0]: 3.0})
    assert not layer.command_positions({'front_arm_joint': 0.2})
    assert backend.setpoints()[WHEELS[0]] == 0.0
    assert layer.set_estop(False)[0]
    assert layer.command_velocities({WHEELS[0]: 3.0})


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf, 1e308])
def test_non_finite_or_huge_velocity_is_safe(bad):
    c = Clock()
    layer, backend, _ = make(c)
    layer.activate()
    layer.command_velocities({WHEELS[0]: bad})
    v = backend.setpoints()[WHEELS[0]]
    assert math.isfinite(v) and abs(v) <= 6.0
    assert v == (6.0 if bad == 1e308 else 0.0)


def test_arm_position_clamped_and_nan_dropped_arm_holds_on_stop():
    c = Clock()
    layer, backend, _ = make(c)
    layer.activate()
    layer.command_positions({'front_arm_joint': 2.0})
    assert backend.setpoints()['front_arm_joint'] == 0.6
    layer.command_positions({'front_arm_joint': math.nan})
    assert backend.setpoints()['front_arm_joint'] == 0.6
    backend.update_joint('front_arm_joint', 0.3, 0.0, 0.0)
    layer.set_estop(True)
    assert backend.setpoints()['front_arm_joint'] == 0.3       # holds where it is


def test_backend_fault_latches_safe_state_until_cleared():
    c = Clock()
    layer, backend, _ = make(c)
    layer.activate()
    layer.command_velocities({WHEELS[0]: 2.0})
    backend._notify_fault(WHEELS[0], 'axis error: DRV_FAULT')
    assert backend.setpoints()[WHEELS[0]] == 0.0
    assert layer.status().faults == {WHEELS[0]: 'axis error: DRV_FAULT'}
    assert not layer.command_velocities({WHEELS[0]: 2.0})
    assert layer.clear_faults()[0]
    assert layer.command_velocities({WHEELS[0]: 2.0})


def test_thermal_derate_and_stop():
    c = Clock()
    layer, backend, _ = make(c, thermal=ThermalDerate(100, 130, 155, 10))
    layer.activate()
    backend.update_motor(WHEELS[0], temperature_c=115.0)
    layer.tick()
    assert layer.thermal_scale(WHEELS[0]) == pytest.approx(0.5)
    layer.command_velocities({WHEELS[0]: 6.0})
    assert backend.setpoints()[WHEELS[0]] == pytest.approx(3.0)   # half the 6 rad/s limit
    backend.update_motor(WHEELS[0], temperature_c=131.0)
    layer.tick()
    assert backend.setpoints()[WHEELS[0]] == 0.0
    layer.command_velocities({WHEELS[0]: 6.0})
    assert backend.setpoints()[WHEELS[0]] == 0.0
