"""Excavator model: fill from cutting torque, stall back-off, dump sequence."""
import pytest

from mining_rover.control.excavator import Excavator, ExcavatorConfig

DRUMS = ['front_drum_joint', 'rear_drum_joint']


def model(**kw):
    cfg = ExcavatorConfig(capacity_kg=18.0, max_drum_radps=8.0, drum_max_torque_nm=60.0, **kw)
    return Excavator(cfg, DRUMS)


def test_fill_from_cutting_power():
    m = model(free_torque_nm=1.0, specific_cutting_energy_j_per_kg=500.0)
    m.request(drum_radps=4.0, arm_rad=0.3)
    for _ in range(100):   # 1 s at 11 N m measured = 10 N m cutting, 4 rad/s -> 40 W per drum
        cmd = m.update(0.01, {d: 4.0 for d in DRUMS}, {d: 11.0 for d in DRUMS})
    assert m.cutting_torque_nm == pytest.approx(20.0)
    assert m.total_fill_kg == pytest.approx(2 * 40.0 / 500.0, rel=1e-6)   # 0.16 kg
    assert (cmd.drum_radps, cmd.arm_rad) == (4.0, 0.3)


def test_fill_saturates_at_capacity():
    m = model(specific_cutting_energy_j_per_kg=1.0)
    m.request(drum_radps=8.0)
    for _ in range(1000):
        m.update(0.01, {d: 8.0 for d in DRUMS}, {d: 50.0 for d in DRUMS})
    assert m.total_fill_kg == pytest.approx(36.0)


def test_stall_backs_off_then_resumes():
    m = model(stall_time_s=0.5, backoff_time_s=1.0, backoff_raise_rad=0.15, backoff_speed_scale=0.5)
    m.request(drum_radps=6.0, arm_rad=0.4)
    for _ in range(40):   # 0.4 s stalled: not yet
        cmd = m.update(0.01, {d: 0.2 for d in DRUMS}, {d: 58.0 for d in DRUMS})
    assert not m.stalled and cmd.drum_radps == 6.0
    for _ in range(20):
        cmd = m.update(0.01, {d: 0.2 for d in DRUMS}, {d: 58.0 for d in DRUMS})
    assert m.stalled
    assert cmd.drum_radps == pytest.approx(3.0) and cmd.arm_rad == pytest.approx(0.25)
    for _ in range(120):
        cmd = m.update(0.01, {d: 6.0 for d in DRUMS}, {d: 5.0 for d in DRUMS})
    assert not m.stalled and cmd.drum_radps == 6.0 and cmd.arm_rad == 0.4


def dug_model():
    """A model whose drums have cut for 1 s (dump: raise 1 s, reverse 4 rad/s for 2 s)."""
    m = model(dump_arm_rad=-0.6, dump_drum_radps=4.0, dump_time_s=2.0, dump_raise_time_s=1.0,
              specific_cutting_energy_j_per_kg=10.0)
    m.request(drum_radps=5.0, arm_rad=0.4)
    for _ in range(100):
        m.update(0.01, {d: 5.0 for d in DRUMS}, {d: 20.0 for d in DRUMS})
    return m


def test_dump_sequence_raises_reverses_and_empties():
    m = dug_model()
    assert m.total_fill_kg > 1.0
    assert m.start_dump() and not m.start_dump()
    cmd = m.update(0.5, {}, {})
    assert (cmd.drum_radps, cmd.arm_rad) == (0.0, -0.6)          # raise first
    cmd = m.update(0.6, {}, {})
    assert (cmd.drum_radps, cmd.arm_rad) == (-4.0, -0.6)         # then reverse
    for _ in range(30):
        cmd = m.update(0.1, {}, {})
    assert not m.dumping and m.total_fill_kg == 0.0 and cmd.drum_radps == 0.0


def test_one_drum_dumps_the_other_keeps_its_load():
    m = dug_model()
    rear = m.fill_kg['rear_drum_joint']
    assert rear > 1.0
    with pytest.raises(ValueError, match='no such drum'):
        m.start_dump(['middle_drum_joint'])
    assert m.start_dump(['front_drum_joint'])
    cmd = m.update(1.5, {}, {})
    assert cmd.applies_to('front_drum_joint') and not cmd.applies_to('rear_drum_joint')
    assert (cmd.drum_radps, cmd.arm_rad) == (-4.0, -0.6)
    for _ in range(30):
        m.update(0.1, {}, {})
    assert not m.dumping
    assert m.fill_kg['front_drum_joint'] == 0.0 and m.fill_kg['rear_drum_joint'] == pytest.approx(rear)
    assert m.requested.drum_radps == 0.0 and m.requested.arm_rad == 0.4   # stopped; the rear arm stays
