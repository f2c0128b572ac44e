"""The sim backend's controller faults (drivers/backend.py CallbackBackend.update_fault), as
the simulator reports them on /sim/motors: the safety layer stops every motor at once,
keeps the fault latched, and clears it only once no controller reports it any more."""
from __future__ import annotations

from mining_rover.control.limits import ActuatorLimits
from mining_rover.drivers.backend import CallbackBackend, JointConfig
from mining_rover.drivers.safety import SafetyLayer

WHEELS = ['left_wheel', 'right_wheel']


def make():
    sent = []
    backend = CallbackBackend([JointConfig(n, 'wheel') for n in WHEELS], lambda j, v: sent.append((j, v)))
    safety = SafetyLayer(backend, {n: ActuatorLimits(n, 5.0) for n in WHEELS}, 0.5)
    safety.activate()
    return backend, safety, sent


def test_a_controller_error_stops_every_wheel_and_stays_latched_until_cleared():
    backend, safety, sent = make()
    assert safety.command_velocities({n: 2.0 for n in WHEELS})
    sent.clear()
    backend.update_fault('left_wheel', 'motor error: DRV fault')
    assert {v for _, v in sent} == {0.0} and {j for j, _ in sent} == set(WHEELS)
    assert not safety.command_velocities({n: 2.0 for n in WHEELS})
    assert safety.clear_faults()[0] is False          # the controller still reports it
    backend.update_fault('left_wheel', '')
    assert safety.status().faults                      # latched in the safety layer
    assert safety.clear_faults()[0] is True
    assert safety.command_velocities({n: 2.0 for n in WHEELS})


def test_a_bus_fault_counts_for_every_joint_and_unknown_joints_are_ignored():
    backend, safety, sent = make()
    backend.update_fault('front_drum_joint', 'not mine')
    assert backend.faults() == {}
    backend.update_fault('bus', 'CAN bus-off')
    assert backend.faults() == {'bus': 'CAN bus-off'} and safety.status().faults == {'bus': 'CAN bus-off'}
    assert backend.clear_errors() is False
    backend.update_fault('bus', '')
    assert backend.clear_errors() is True
