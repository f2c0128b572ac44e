"""The embedded simulator: gravity, ballistics, driving, terrain, rendering, regolith, inputs."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')
mujoco = pytest.importorskip('mujoco')

from mining_rover.physics.soil import layer_mass_per_area  # noqa: E402
from mining_rover.physics.world_soil import world_soil  # noqa: E402
from mining_rover.sim.simulator import Simulator  # noqa: E402
from mining_rover.sim.world import list_worlds  # noqa: E402

WHEELS = ['front_left_wheel_joint', 'front_right_wheel_joint', 'rear_left_wheel_joint',
          'rear_right_wheel_joint']


def measure_g(sim: Simulator, duration_s: float = 0.5) -> float:
    """Free fall with contacts off: g from the base's vertical velocity change."""
    sim.set_contacts(False)
    v0, t0 = float(sim.data.qvel[2]), sim.time
    sim.step(int(round(duration_s / sim.dt)))
    return -(float(sim.data.qvel[2]) - v0) / (sim.time - t0)


@pytest.mark.parametrize('world', sorted(list_worlds()))
def test_free_fall_matches_world_gravity(world):
    sim = Simulator(world=world, camera_width=64, camera_height=48)
    g = measure_g(sim)
    assert g == pytest.approx(sim.world.gravity_mps2, rel=0.01)
    # position too: z(t) = z0 - g t^2 / 2
    sim.reset()
    sim.set_contacts(False)
    drag_density = float(sim.model.opt.density)
    sim.model.opt.density = 0.0   # air drag off: gravity alone
    z0 = sim.ground_truth_pose()[2, 3]
    sim.step(500)
    dz = z0 - sim.ground_truth_pose()[2, 3]
    assert dz == pytest.approx(0.5 * sim.world.gravity_mps2 * sim.time ** 2, rel=0.01)
    if not sim.world.vacuum:   # with air on, the fall is (slightly) slower
        assert drag_density > 0.0
        sim.reset()
        sim.set_contacts(False)
        sim.model.opt.density = drag_density
        sim.step(500)
        assert z0 - sim.ground_truth_pose()[2, 3] < dz


def test_thrown_body_follows_the_parabola_in_vacuum():
    sim = Simulator(world='moon_south_pole', camera_width=64, camera_height=48)
    assert sim.world.vacuum
    sim.set_contacts(False)
    p0 = sim.ground_truth_pose()[:3, 3].copy()
    vx, vz, g = 1.5, 2.0, sim.world.gravity_mps2
    sim.set_base_state(lin_vel=[vx, 0.0, vz])
    for _ in range(4):
        sim.step(250)
        t = sim.time
        p = sim.ground_truth_pose()[:3, 3] - p0
        assert p[0] == pytest.approx(vx * t, rel=0.01)
        assert p[2] == pytest.approx(vz * t - 0.5 * g * t * t, rel=0.01)
        assert abs(p[1]) < 1e-6


def test_rover_drives_at_commanded_wheel_speed_on_flat_ground():
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    assert np.all(sim.heights == 0.0)
    sim.step(250)  # settle
    for j in WHEELS:
        sim.set_command(j, 2.0)
    sim.step(1000)
    x0, t0 = sim.ground_truth_pose()[:3, 3].copy(), sim.time
    sim.step(1000)
    speed = np.linalg.norm(sim.ground_truth_pose()[:2, 3] - x0[:2]) / (sim.time - t0)
    r = float(sim.rover['wheel']['radius'])
    assert speed == pytest.approx(2.0 * r, rel=0.05)
    for j in WHEELS:
        assert sim.joint_state()[j][1] == pytest.approx(2.0, rel=0.05)
    assert sim.ground_truth_twist()[0] == pytest.approx(2.0 * r, rel=0.05)
    imu = sim.imu()
    assert imu['linear_acceleration'][2] == pytest.approx(sim.world.gravity_mps2, abs=0.3)
    assert sim.regolith_telemetry()['hazard_contacts'] == 0
    motors = sim.motor_state()
    assert set(motors) == set(sim.joint_state())
    assert all(m['temperature_c'] > -50 and m['current_a'] >= 0 for m in motors.values())


def test_hfield_heights_equal_world_heights():
    sim = Simulator(world='moon_south_pole', camera_width=64, camera_height=48)
    m = sim.model
    H, W = sim.world.heights.shape
    assert (m.hfield_nrow[0], m.hfield_ncol[0]) == (H, W)
    adr = m.hfield_adr[0]
    z0, z1 = sim._z_range()
    hf = m.hfield_data[adr:adr + H * W].reshape(H, W) * (z1 - z0) + z0
    np.testing.assert_allclose(hf, sim.world.heights, atol=1e-5)
    # and MuJoCo's collision surface is there: rays down onto grid vertices (row 0 = lowest y)
    rng = np.random.default_rng(0)
    for _ in range(10):
        r, c = rng.integers(1, H - 1), rng.integers(1, W - 1)
        x = sim.world.origin_xy[0] + c * sim.world.resolution_m
        y = sim.world.origin_xy[1] + r * sim.world.resolution_m
        gid = np.zeros(1, np.int32)
        dist = mujoco.mj_ray(m, sim.data, np.array([x, y, 10.0]),
                             np.array([0.0, 0.0, -1.0]), None, 1, -1, gid)
        if m.geom_bodyid[gid[0]] != 0:
            continue  # hit the rover
        assert 10.0 - dist == pytest.approx(float(sim.world.heights[r, c]), abs=2e-3)
    assert sim.true_height(x, y) == pytest.approx(float(sim.world.heights[r, c]), abs=1e-6)


def test_stereo_is_textured_and_has_parallax():
    sim = Simulator(world='moon_south_pole', camera_width=320, camera_height=240, radiation_rate=200.0)
    sim.step(100)
    left, right = sim.render_stereo()
    for img in (left, right):
        assert img.shape == (240, 320, 3) and img.dtype == np.uint8
        grey = img.mean(axis=2)
        lower = grey[120:]   # the ground in front of the rover
        assert lower.std() > 8.0
        lap = np.abs(np.diff(lower, 2, axis=1)).mean()
        assert lap > 1.0, 'no texture for stereo to match'
    assert not np.array_equal(left, right)
    k = sim.camera_intrinsics()
    assert k['baseline_m'] == pytest.approx(float(sim.rover['camera']['baseline']), rel=1e-6)
    assert k['fx'] == pytest.approx(160.0 / math.tan(0.6))
    T = sim.camera_pose('left')
    assert T[:3, 2][2] < 0.0   # optical z looks forward and down
    assert T[:3, 1][2] < 0.0   # y points down
    sim.radiation_rate = 0.0
    sim.close()


def test_dig_and_dump_conserve_mass():
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    res2 = sim.world.resolution_m ** 2
    dens = sim.world.regolith['density_kgpm3'].astype(float)
    sim.step(200)
    h0 = sim.heights.copy()
    sim.set_command('front_arm_joint', 0.25)
    sim.set_command('front_drum_joint', 4.0)
    for j in WHEELS:
        sim.set_command(j, 0.5)
    sim.step(2500)
    tel = sim.regolith_telemetry()
    assert tel['excavated_kg'] > 5.0
    t = world_soil('moon_south_pole')
    removed = float((layer_mass_per_area(dens, t.deep_ratio.value, t.density_scale_m, 0.0,
                                         (h0 - sim.heights).clip(min=0)) * res2).sum())
    assert removed == pytest.approx(tel['excavated_kg'], rel=1e-6)
    assert tel['rover_mass_kg'] == pytest.approx(sim.robot.total_mass + tel['carried_kg'] + 0.05, rel=1e-3)
    for j in WHEELS:
        sim.set_command(j, 0.0)
    sim.set_command('front_arm_joint', -0.7)
    sim.set_command('front_drum_joint', -4.0)
    sim.step(3000)
    tel = sim.regolith_telemetry()
    assert tel['dumped_kg'] > 5.0 and tel['carried_kg'] == pytest.approx(0.0, abs=1e-9)
    total = tel['carried_kg'] + tel['dumped_kg'] + tel['spilled_kg']
    assert abs(tel['excavated_kg'] - total) <= 1e-6 * tel['excavated_kg']
    # a dump in the berm zone counts as berm and raises the terrain by its volume
    bx, by, _ = sim.world.zones.berm_zone
    h1 = sim.heights.copy()
    sim._deposit(bx, by, 10.0)
    tel = sim.regolith_telemetry()
    assert tel['berm_mass_kg'] == pytest.approx(10.0)
    added = float((sim.heights - h1).clip(min=0).sum() * res2)
    assert added == pytest.approx(tel['berm_volume_m3'], rel=0.01)
    sim.reset()
    assert sim.regolith_telemetry()['excavated_kg'] == 0.0 and np.array_equal(sim.heights, h0 * 0)


def test_bad_inputs_raise_naming_the_joint():
    sim = Simulator(world='vesta', camera_width=64, camera_height=48)
    sim.set_command('front_arm_joint', 0.2)
    for bad in (float('nan'), float('inf'), 5.0, 'abc'):
        with pytest.raises(ValueError, match='front_arm_joint'):
            sim.set_command('front_arm_joint', bad)
    assert sim._cmd['front_arm_joint'] == 0.2
    with pytest.raises(ValueError, match='front_left_wheel_joint'):
        sim.set_command('front_left_wheel_joint', 100.0)
    with pytest.raises(KeyError, match='nope'):
        sim.set_command('nope', 1.0)
    with pytest.raises(ValueError, match='worlds'):
        Simulator(world='atlantis')
    with pytest.raises(ValueError, match='timestep'):
        Simulator(world='vesta', timestep=0.0)
    with pytest.raises(KeyError):
        sim.camera_pose('middle')


def _cut(sim, arm, drum, wheel, steps, drums=('front', 'rear')):
    for side in drums:
        sim.set_command(f'{side}_arm_joint', arm)
        sim.set_command(f'{side}_drum_joint', drum)
    for j in WHEELS:
        sim.set_command(j, wheel)
    sim.step(steps)


@pytest.mark.parametrize('case', ['zero depth', 'full drum', 'drum reversed', 'rover lifted'])
def test_digging_edges_never_hand_mujoco_a_nan(case):
    """The bucket model at its edges: a drum skimming (no depth), full (spilling), reversed
    in the ground (spilling where it is), and the rover lifted off the ground."""
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    sim.step(200)
    if case == 'zero depth':
        _cut(sim, 0.089, 4.0, 0.3, 600)           # drum bottom at the surface
    elif case == 'full drum':
        _cut(sim, 0.3, 8.0, 0.5, 3000)
        assert sim.regolith_telemetry()['spilled_kg'] > 0.0
    elif case == 'drum reversed':
        _cut(sim, 0.25, 4.0, 0.3, 1000)
        _cut(sim, 0.25, -4.0, 0.0, 1000)
        assert sim.regolith_telemetry()['spilled_kg'] > 0.0
    else:
        _cut(sim, 0.25, 4.0, 0.3, 400)
        sim.set_base_state(pos=sim.data.qpos[0:3] + [0.0, 0.0, 0.5], lin_vel=[0.0, 0.0, 2.0])
        sim.step(300)
        assert all(v == (0.0, 0.0, 0.0) for v in sim.drum_loads().values())
    tel = sim.regolith_telemetry()
    assert np.all(np.isfinite(sim.data.xfrc_applied)) and np.all(np.isfinite(sim.data.qacc))
    assert tel['nonfinite_loads'] == 0
    total = tel['carried_kg'] + tel['dumped_kg'] + tel['spilled_kg']
    assert abs(tel['excavated_kg'] - total) <= 1e-6 * max(tel['excavated_kg'], 1.0)


def test_drum_motor_reacts_the_bucket_torque():
    """The cutting torque of the bucket model is what the drum motor's torque carries:
    over a cut, mean motor torque minus its free-spinning mean ~ mean bucket torque."""
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    sim.step(200)
    _cut(sim, -0.3, 4.0, 0.0, 500, drums=('front',))         # free spinning, in the air
    free = np.mean([abs(sim.motor_state()['front_drum_joint']['torque_nm'])
                    for _ in range(50) if not sim.step(5)])
    _cut(sim, 0.2, 4.0, 0.4, 1500, drums=('front',))
    motor, model = [], []
    for _ in range(400):
        sim.step(5)
        motor.append(abs(sim.motor_state()['front_drum_joint']['torque_nm']) - free)
        model.append(sim.drum_loads()['front_drum_joint'][2])
    assert np.mean(model) > 0.05
    assert np.mean(motor) == pytest.approx(np.mean(model), rel=0.2)


def test_planner_refuses_a_cut_that_outpulls_the_wheels_in_the_simulator():
    """Psyche (0.144 m/s^2), its true soil: the rear (up-cutting) drum alone taking 8 cm at
    0.2 m/s and 1 rad/s slips the wheels more than 30 % in the simulator, and the planner,
    which checks either drum alone, refuses it; the cut it plans instead slips less."""
    from mining_rover.paths import rover_mass_kg
    from mining_rover.physics.world_soil import WORLD_SOIL
    from mining_rover.planning.regolith import Rover, cut_fits, drum_cut, plan_cut, traction
    from mining_rover.sim.digtrial import cut_trial
    soil, g = WORLD_SOIL['psyche'].nominal(), 0.144
    rover = Rover(mass_kg=rover_mass_kg())
    sim = Simulator(world='psyche', flat=True, camera_width=64, camera_height=48)
    bad = cut_trial('psyche', 0.08, 1.0, 0.2, drums=('rear',), soil=soil, sim=sim)
    assert bad.slip > 0.3
    assert not bool(cut_fits(drum_cut(0.08, 1.0, 0.2, rover, soil, g), rover, traction(rover, soil, g), 0.3))
    plan = plan_cut(rover, soil, g)
    assert plan.feasible
    good = cut_trial('psyche', plan.depth_of_cut_m, plan.drum_speed_radps, plan.drive_speed_mps,
                     soil=soil, sim=sim)
    assert good.slip < 0.3 and not good.lifted


@pytest.fixture(scope='module')
def moon_flat():
    sim = Simulator(world='moon_south_pole', flat=True, camera_width=64, camera_height=48)
    yield sim
    sim.close()


def test_simulated_drum_torque_is_the_planners_on_the_cut_it_realised(moon_flat):
    """Lunar soil, 5 cm at 4 rad/s and 5 cm/s, both drums: each drum's torque, averaged
    over whole bucket pitches, is within 15 % of the planner's phase-averaged model at
    the depth, feed and spin the simulator realised (issue 19's target). With the chip
    taken from the drum's instantaneous velocity (its bobbing on the arm fed back into
    the chip) the front drum read 0.64 N m against 0.93 predicted."""
    from mining_rover.physics.drum import drum_load_mean
    from mining_rover.physics.world_soil import WORLD_SOIL
    from mining_rover.planning.regolith import Rover
    from mining_rover.sim.digtrial import cut_trial
    soil = WORLD_SOIL['moon_south_pole'].nominal()
    trial = cut_trial('moon_south_pole', 0.05, 4.0, 0.05, soil=soil, sim=moon_flat, settle_s=1.5)
    for name, c in trial.drums.items():
        model = drum_load_mean(c['depth_m'], c['feed_x_mps'], c['feed_z_mps'], c['radps'], Rover().drum, soil,
                               1.62, face_depth_m=c['face_m'])
        assert c['torque_nm'] > 0.1, name
        assert float(model.torque_nm) == pytest.approx(c['torque_nm'], rel=0.15), name
    # the trims held the depth asked for (the wheels sink ~1 cm into the compliant contact)
    assert all(abs(c['depth_m'] - 0.05) < 0.005 for c in trial.drums.values())


def test_cut_depth_is_steady_on_cells_as_wide_as_the_drum():
    """Mars' terrain cells are 19 cm, wider than the drum's 16 cm radius: a steady 5 cm
    cut must still hand the bucket model a steady depth (the face ahead), not one that
    drops to nothing whenever the cells inside the drum circle are already cut (it
    ranged 0-10 cm)."""
    from mining_rover.physics.world_soil import WORLD_SOIL
    from mining_rover.sim.digtrial import cut_trial
    sim = Simulator(world='mars', flat=True, camera_width=64, camera_height=48)
    trial = cut_trial('mars', 0.05, 3.0, 0.05, soil=WORLD_SOIL['mars'].nominal(), sim=sim, settle_s=1.5)
    sim.close()
    for name, c in trial.drums.items():
        depth = c['samples'][:, 0]
        assert c['engaged_share'] == 1.0, name
        assert depth.min() > 0.6 * depth.mean(), name


def test_cut_trial_ground_speed_is_along_the_heading(moon_flat):
    """Drums clear of the ground, wheels at 5 cm/s: the trial's slip is ~0. Measured on the
    world x axis it read 13 % on every world (cos of the start zone's yaw)."""
    from mining_rover.physics.world_soil import WORLD_SOIL
    from mining_rover.sim.digtrial import cut_trial
    trial = cut_trial('moon_south_pole', -0.05, 4.0, 0.05, soil=WORLD_SOIL['moon_south_pole'].nominal(),
                      sim=moon_flat, settle_s=1.0, hold_depth=False)
    assert abs(trial.slip) < 0.03
    assert trial.excavated_kg == 0.0
