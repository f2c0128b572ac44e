"""Excavator model: fill from cutting torque, static weigh, stall back-off, dump sequence."""
import math
import os
from pathlib import Path

import pytest
import yaml

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


# -- static weigh ---------------------------------------------------------------------------
G_MOON = 1.62          # m/s^2, NASA NSSDCA Moon Fact Sheet
ARMS = {'front_drum_joint': 'front_arm_joint', 'rear_drum_joint': 'rear_arm_joint'}


def weigher(**kw):
    for key, value in dict(gravity_mps2=G_MOON, weigh_max_kg=25.0, arm_length_m=0.45, arm_mass_kg=2.5,
                           drum_mass_kg=5.5, weigh_window_s=0.6, weigh_max_arm_rad=0.05,
                           weigh_steady_nm=0.1).items():
        kw.setdefault(key, value)
    return model(**kw)


def holding_torque(fill_kg, arm_rad, g=G_MOON, length_m=0.45, arm_kg=2.5, drum_kg=5.5):
    """The arm torque that holds a drum still (negative: + lowers), moment balance."""
    return -g * math.cos(arm_rad) * (arm_kg * length_m / 2 + (drum_kg + fill_kg) * length_m)


def hold(m, seconds, fills, arm_rad=-0.4, arm_radps=0.0, drum_radps=0.0, wobble_nm=0.0, dt=0.02):
    """Feed ``seconds`` of still arms holding ``fills`` {drum: kg}; torque +- wobble_nm."""
    for k in range(int(round(seconds / dt))):
        sign = 1.0 if k % 2 else -1.0
        arms = {d: (arm_rad, arm_radps, holding_torque(f, arm_rad) + sign * wobble_nm)
                for d, f in fills.items()}
        m.update(dt, {d: drum_radps for d in DRUMS}, {d: 0.0 for d in DRUMS}, arms)


def test_weigh_recovers_each_drums_mass_from_arm_torque():
    m = weigher()
    assert m.weigh_age_s == math.inf and math.isnan(m.weighed_fill_kg)
    fills = {'front_drum_joint': 12.3, 'rear_drum_joint': 4.56}
    for arm_rad in (0.0, -0.4, -0.6):
        hold(m, 0.7, fills, arm_rad=arm_rad)
        # exact torques in, so only float rounding: 1e-9 relative
        assert m.fill_kg == pytest.approx(fills, rel=1e-9)
        assert m.last_weigh['front_drum_joint'].arm_rad == pytest.approx(arm_rad)
    assert m.weighed_fill_kg == pytest.approx(sum(fills.values()))
    assert m.weigh_rounds == 3 and m.weigh_age_s < 0.7


def test_weigh_replaces_the_energy_estimate_then_cutting_adds_to_it():
    m = weigher(specific_cutting_energy_j_per_kg=500.0)
    m.request(drum_radps=4.0)
    for _ in range(100):   # 1 s cutting: 0.08 kg per drum by energy
        m.update(0.01, {d: 4.0 for d in DRUMS}, {d: 11.0 for d in DRUMS})
    assert m.weigh_count == {d: 0 for d in DRUMS}
    hold(m, 0.7, {d: 9.0 for d in DRUMS})
    assert m.fill_kg == pytest.approx({d: 9.0 for d in DRUMS})
    m.request(drum_radps=4.0)
    for _ in range(100):
        m.update(0.01, {d: 4.0 for d in DRUMS}, {d: 11.0 for d in DRUMS})
    assert m.fill_kg == pytest.approx({d: 9.08 for d in DRUMS})


def test_weigh_above_capacity_is_kept_and_clipped_at_weigh_max():
    m = weigher(weigh_max_kg=22.0)            # capacity 18 kg at 1500 kg/m^3
    hold(m, 0.7, {'front_drum_joint': 19.5, 'rear_drum_joint': 30.0})
    assert m.fill_kg == pytest.approx({'front_drum_joint': 19.5, 'rear_drum_joint': 22.0})
    m.request(drum_radps=4.0)                 # the energy estimate must not cut it back to 18
    m.update(0.01, {d: 4.0 for d in DRUMS}, {d: 11.0 for d in DRUMS})
    assert m.fill_kg['front_drum_joint'] == pytest.approx(19.5)


@pytest.mark.parametrize('case, kw', [
    ('drum spinning', dict(drum_radps=1.0)),
    ('arm moving', dict(arm_radps=0.2)),
    ('arm lowered: drum in the ground', dict(arm_rad=0.2)),
    ('torque unsteady', dict(wobble_nm=0.1)),     # +-0.1 N m: 0.2 N m spread
])
def test_no_weigh_unless_still_raised_and_steady(case, kw):
    m = weigher()
    hold(m, 2.0, {d: 10.0 for d in DRUMS}, **kw)
    assert m.weigh_count == {d: 0 for d in DRUMS}, case
    assert m.fill_kg == {d: 0.0 for d in DRUMS}, case


def test_weigh_needs_the_whole_window():
    m = weigher(weigh_window_s=0.6)
    hold(m, 0.5, {d: 10.0 for d in DRUMS})
    assert m.weigh_count == {d: 0 for d in DRUMS}
    hold(m, 0.04, {d: 10.0 for d in DRUMS}, arm_radps=0.2)   # a twitch restarts the window
    hold(m, 0.5, {d: 10.0 for d in DRUMS})
    assert m.weigh_count == {d: 0 for d in DRUMS}
    hold(m, 0.12, {d: 10.0 for d in DRUMS})
    assert m.weigh_count == {d: 1 for d in DRUMS}


def test_weigh_tolerates_torque_noise_within_the_steady_band():
    m = weigher()
    hold(m, 0.7, {d: 10.0 for d in DRUMS}, wobble_nm=0.04)   # 0.08 N m spread, zero mean
    assert m.fill_kg == pytest.approx({d: 10.0 for d in DRUMS}, abs=0.01)


@pytest.mark.parametrize('g', [0.0, -1.0, None])
def test_weigh_disabled_without_gravity(g):
    m = weigher(gravity_mps2=g)
    hold(m, 2.0, {d: 10.0 for d in DRUMS})
    assert m.weigh_count == {d: 0 for d in DRUMS} and m.fill_kg == {d: 0.0 for d in DRUMS}
    assert math.isnan(m.weigh_age_s)


def test_weigh_ignores_missing_and_nan_arm_states():
    m = weigher()
    for _ in range(100):   # no arm data at all: the old call
        m.update(0.02, {d: 0.0 for d in DRUMS}, {d: 0.0 for d in DRUMS})
    bad = {'front_drum_joint': (-0.4, 0.0, math.nan), 'rear_drum_joint': (math.nan, 0.0, -20.0)}
    for _ in range(100):
        m.update(0.02, {d: 0.0 for d in DRUMS}, {d: 0.0 for d in DRUMS}, bad)
    assert m.weigh_count == {d: 0 for d in DRUMS}
    # one NaN sample inside a window restarts it rather than poisoning the mean
    hold(m, 0.4, {d: 10.0 for d in DRUMS})
    m.update(0.02, {d: 0.0 for d in DRUMS}, {d: 0.0 for d in DRUMS}, bad)
    hold(m, 0.66, {d: 10.0 for d in DRUMS})
    assert m.fill_kg == pytest.approx({d: 10.0 for d in DRUMS}, rel=1e-9)


def test_no_weigh_while_the_torque_pushes_down():
    """A drum resting on the ground or a berm: the arm no longer holds it up."""
    m = weigher()
    arms = {d: (-0.4, 0.0, +3.0) for d in DRUMS}
    for _ in range(100):
        m.update(0.02, {d: 0.0 for d in DRUMS}, {d: 0.0 for d in DRUMS}, arms)
    assert m.weigh_count == {d: 0 for d in DRUMS}


def test_dump_leaves_the_fill_to_the_next_weigh():
    m = weigher(dump_arm_rad=-0.6, dump_drum_radps=4.0, dump_time_s=2.0, dump_raise_time_s=1.0)
    hold(m, 0.7, {d: 20.0 for d in DRUMS})
    assert m.total_fill_kg == pytest.approx(40.0)
    assert m.start_dump()
    for _ in range(200):
        m.update(0.02, {d: -4.0 for d in DRUMS}, {}, None)
    assert not m.dumping
    # the drain model takes a capacity (18 kg) in the dump time (+- one 0.02 s step),
    # and the end no longer zeroes what it did not drain
    assert m.fill_kg == pytest.approx({d: 2.0 for d in DRUMS}, abs=0.2)
    hold(m, 0.7, {d: 1.25 for d in DRUMS}, arm_rad=-0.6)     # what the weigh finds left
    assert m.fill_kg == pytest.approx({d: 1.25 for d in DRUMS})


def test_dump_zeroes_the_fill_without_a_weigh():
    m = weigher(gravity_mps2=0.0, dump_time_s=1.0, dump_raise_time_s=0.5,
                specific_cutting_energy_j_per_kg=1.0)
    m.request(drum_radps=8.0)
    for _ in range(1000):
        m.update(0.01, {d: 8.0 for d in DRUMS}, {d: 50.0 for d in DRUMS})
    assert m.start_dump()
    for _ in range(20):
        m.update(0.1, {}, {})
    assert m.total_fill_kg == 0.0


def test_weigh_in_the_simulator_matches_the_carried_mass():
    """Dig with the front drum in the embedded simulator, stow the arm, weigh from
    Simulator.joint_state() at a 50 Hz control rate. Tolerance 5 %: the moment balance
    ignores the drum's and the regolith's extent (both are point masses at the drum axis)
    and the rover's pitch; measured 0.1-0.5 % (module docstring)."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    pytest.importorskip('mujoco')
    from mining_rover.sim.simulator import Simulator
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    rover = yaml.safe_load((Path(__file__).resolve().parent.parent / 'config' / 'rover.yaml').read_text())
    m = Excavator(ExcavatorConfig(
        capacity_kg=18.0, max_drum_radps=8.0, drum_max_torque_nm=60.0,
        gravity_mps2=sim.world.gravity_mps2, arm_length_m=rover['arm']['length'],
        arm_mass_kg=rover['arm']['mass'], drum_mass_kg=rover['drum']['mass'],
        weigh_max_kg=0.012 * 1900.0), DRUMS)
    wheels = [j for j in sim.joint_state() if 'wheel' in j]
    steps = 10   # 0.02 s at the 2 ms physics step

    def run(seconds):
        weighs = []
        for _ in range(int(round(seconds / (steps * sim.dt)))):
            sim.step(steps)
            js = sim.joint_state()
            n = m.weigh_count['front_drum_joint']
            m.update(steps * sim.dt, {d: js[d][1] for d in DRUMS}, {d: js[d][2] for d in DRUMS},
                     {d: js[a] for d, a in ARMS.items()})
            if m.weigh_count['front_drum_joint'] != n:
                weighs.append(m.fill_kg['front_drum_joint'])
        return weighs

    run(1.0)
    assert m.fill_kg == pytest.approx({d: 0.0 for d in DRUMS}, abs=0.1)   # empty, arms level
    sim.set_command('front_arm_joint', 0.25)
    run(2.0)
    sim.set_command('front_drum_joint', 4.0)
    m.request(drum_radps=4.0)
    for j in wheels:
        sim.set_command(j, 0.3)
    assert run(3.0) == []                    # no weigh while digging
    for j in wheels:
        sim.set_command(j, 0.0)
    sim.set_command('front_drum_joint', 0.0)
    m.request(drum_radps=0.0)
    run(0.2)
    sim.set_command('front_arm_joint', -0.4)   # the mission's stow: a step, the rover rocks
    weighs = run(6.0)
    carried = sim.regolith_telemetry()['carried_kg']
    assert carried > 5.0
    assert weighs, 'no weigh within 6 s of stowing the arm'
    assert weighs == pytest.approx([carried] * len(weighs), rel=0.05)   # none taken while rocking
    assert m.fill_kg['front_drum_joint'] == pytest.approx(carried, rel=0.05)
    assert m.fill_kg['rear_drum_joint'] == pytest.approx(0.0, abs=0.1)
