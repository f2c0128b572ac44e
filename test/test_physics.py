"""Shared regolith physics: published numbers, per-bucket drum loads, the world soil
table and its range check (mining_rover/physics/)."""
import math

import numpy as np
import pytest

from mining_rover.physics.drum import DrumGeometry, bucket_loads, drum_load_mean
from mining_rover.physics.soil import (BETA_COARSE, RegolithParams, blade_force, coulomb_passive_kp,
                                       layer_mass_per_area, n_factors_all, soil_field_problem)
from mining_rover.physics.world_soil import WORLD_SOIL, soil_for

VERTICAL = math.pi / 2 - 1e-9
DRUM = DrumGeometry()
LUNAR = RegolithParams()


def test_coulomb_kp_for_phi_30_delta_20_is_6_105():
    """Das, Principles of Geotechnical Engineering, Coulomb K_p table: 6.105."""
    assert coulomb_passive_kp(math.radians(30), math.radians(20)) == pytest.approx(6.105, abs=5e-4)
    p = RegolithParams(cohesion_pa=0.0, friction_deg=30.0, wall_friction_ratio=20.0 / 30.0,
                       density_deep_kgm3=1500.0)
    f = float(blade_force(1.0, 1.0, p, 1.0, rake_rad=VERTICAL, density_kgm3=1.0).total_n)
    assert 2.0 * f == pytest.approx(6.105, rel=1e-3)


def test_inertia_factor_limits():
    """N_v > 0 where the wedge is admissible; the inertia term is rho v^2 d N_v w: zero at
    rest, x4 at twice the speed (cohesionless, weightless soil)."""
    nv = n_factors_all(math.radians(60), math.radians(25), math.radians(40), BETA_COARSE)[4]
    assert np.all((nv > 0) | np.isinf(nv))
    p = RegolithParams(cohesion_pa=0.0)
    f = [float(blade_force(0.01, 0.45, p, 0.0, speed_mps=v).total_n) for v in (0.0, 1.0, 2.0)]
    assert f[0] == 0.0 and f[2] == pytest.approx(4.0 * f[1], rel=1e-9)


def test_coarse_rupture_grid_is_within_1e4_of_the_fine_one():
    a = blade_force(np.array([0.002, 0.02]), 0.45, LUNAR, 1.62, speed_mps=1.0)
    b = blade_force(np.array([0.002, 0.02]), 0.45, LUNAR, 1.62, speed_mps=1.0, beta_grid=BETA_COARSE)
    assert np.allclose(b.total_n, a.total_n, rtol=1e-4)


def test_layer_mass_is_the_integral_of_the_density_profile():
    z = np.linspace(0.02, 0.07, 20001)
    rho = LUNAR.density_point(z)
    numeric = float(np.sum(0.5 * (rho[1:] + rho[:-1]) * np.diff(z)))
    exact = layer_mass_per_area(LUNAR.density_kgm3, LUNAR.density_deep_kgm3 / LUNAR.density_kgm3,
                                LUNAR.density_scale_m, 0.02, 0.07)
    assert float(exact) == pytest.approx(numeric, rel=1e-9)


def test_torque_is_the_sum_of_bucket_moments():
    """Each engaged bucket's draft, from its own blade_force call, times the radius; and
    the moment of the summed force vectors about the axle is -sign(omega) x torque."""
    d, vx, w, phase = 0.06, 0.08, -3.0, 0.3
    load = bucket_loads(d, vx, 0.0, w, phase, DRUM, LUNAR, 1.62)
    R, n = DRUM.radius_m, DRUM.bucket_rows
    f_pass = vx * 2 * math.pi / (abs(w) * n)
    torque, moment = 0.0, 0.0
    for k in range(n):
        psi = (phase + 2 * math.pi * k / n + math.pi) % (2 * math.pi) - math.pi
        above = d - R * (1 - math.cos(psi))
        h = min(f_pass * math.sin(psi), above)
        if h <= 1e-9 or above <= 0:
            continue
        bf = blade_force(h, DRUM.length_m, LUNAR, 1.62, rake_rad=DRUM.rake_rad,
                         density_kgm3=float(LUNAR.density_point(above - h / 2)), speed_mps=abs(w) * R,
                         beta_grid=BETA_COARSE)
        D, N = float(bf.draft_n), float(bf.normal_n)
        t = np.sign(w) * np.array([math.cos(psi), math.sin(psi)])
        r = np.array([math.sin(psi), -math.cos(psi)])
        F = -D * t + N * r
        torque += D * R
        moment += R * (r[0] * F[1] - r[1] * F[0])
    assert load.engaged >= 1
    assert float(load.torque_nm) == pytest.approx(torque, rel=1e-9)
    assert moment == pytest.approx(-np.sign(w) * torque, rel=1e-9)


@pytest.mark.parametrize('d, w, v', [(0.001, 4.0, 0.05), (0.03, 4.0, 0.05), (0.08, 4.0, 0.05),
                                     (0.039, 7.56, 0.035), (0.074, 7.57, 0.049), (0.03, 2.0, 0.005)])
def test_phase_mean_matches_a_dense_phase_average(d, w, v):
    """The planner's phase mean is the simulator's bucket-by-bucket load averaged over the
    phase, to 1 % (12 midpoints were 6 % off at 7.5 rad/s: the engaged half-arc's kink)."""
    mean = drum_load_mean(d, v, 0.0, w, DRUM, LUNAR, 1.62)
    ph = np.linspace(0, 2 * math.pi / DRUM.bucket_rows, 2000, endpoint=False)
    dense = bucket_loads(d, v, 0.0, w, ph, DRUM, LUNAR, 1.62)
    assert float(mean.torque_nm) == pytest.approx(float(dense.torque_nm.mean()), rel=0.01)
    assert float(mean.fx_n) == pytest.approx(float(dense.fx_n.mean()), rel=0.01)


def test_counter_rotating_drums_cancel_their_drafts():
    """Down-cut (front) is pushed forwards and up, up-cut (rear) backwards and down; the
    horizontal sum is what the normal forces leave, far below either drum's."""
    front = drum_load_mean(0.05, 0.05, 0.0, -4.0, DRUM, LUNAR, 1.62)
    rear = drum_load_mean(0.05, 0.05, 0.0, 4.0, DRUM, LUNAR, 1.62)
    assert front.fx_n > 0 and front.fz_n > 0 and rear.fx_n < 0 and rear.fz_n < 0
    assert abs(front.fx_n + rear.fx_n) < 0.1 * front.fx_n


@pytest.mark.parametrize('case',
                         ['zero depth', 'drum stopped', 'no feed', 'nan', 'inf', 'deeper than the drum'])
def test_edges_give_finite_loads(case):
    args = dict(depth_m=0.05, feed_x_mps=0.05, feed_z_mps=0.0, drum_radps=4.0, phase_rad=0.2)
    args.update({'zero depth': dict(depth_m=0.0), 'drum stopped': dict(drum_radps=0.0),
                 'no feed': dict(feed_x_mps=0.0), 'nan': dict(depth_m=math.nan, drum_radps=math.nan),
                 'inf': dict(feed_x_mps=math.inf), 'deeper than the drum': dict(depth_m=5.0)}[case])
    load = bucket_loads(**args, drum=DRUM, soil=LUNAR, gravity_mps2=1.62)
    vals = [float(load.fx_n), float(load.fz_n), float(load.torque_nm)]
    assert all(map(math.isfinite, vals))
    if case != 'deeper than the drum':
        assert vals == [0.0, 0.0, 0.0]


@pytest.mark.parametrize('key,value,expect', [
    ('cohesion_pa', -1.0, 'cohesion_pa: -1 outside'), ('friction_deg', 61.0, 'friction_deg: 61 outside'),
    ('friction_deg', -2.0, 'friction_deg'), ('density_kgpm3', 499.0, 'density_kgpm3: 499 outside'),
    ('density_kgpm3', 4001.0, 'density_kgpm3'), ('wall_friction_deg', math.nan, 'wall_friction_deg: nan')])
def test_soil_out_of_range_is_named(key, value, expect):
    fields = {'density_kgpm3': np.full((3, 3), 1500.0), 'cohesion_pa': np.full((3, 3), 500.0),
              'friction_deg': np.full((3, 3), 40.0), 'wall_friction_deg': np.full((3, 3), 25.0)}
    assert soil_field_problem(fields) == ''
    fields[key][1, 2] = value
    problem = soil_field_problem(fields)
    assert problem.startswith(expect) and '(1, 2)' in problem


def test_world_loader_refuses_bad_soil_naming_file_and_key(tmp_path):
    import shutil
    from mining_rover.paths import worlds_dir
    from mining_rover.sim.world import load_world
    src = worlds_dir()
    shutil.copy(src / 'vesta.sdf', tmp_path / 'vesta.sdf')
    shutil.copytree(src / 'media' / 'vesta', tmp_path / 'media' / 'vesta')
    truth = tmp_path / 'media' / 'vesta' / 'truth.npz'
    data = dict(np.load(truth))
    data['cohesion_pa'] = data['cohesion_pa'].copy()
    data['cohesion_pa'][5, 7] = -3.0
    np.savez(truth, **data)
    with pytest.raises(ValueError) as exc:
        load_world(tmp_path / 'vesta.sdf')
    assert str(exc.value).startswith(f'{truth}: soil cohesion_pa: -3 outside') and '\n' not in str(exc.value)


@pytest.mark.parametrize('world', sorted(WORLD_SOIL))
def test_world_cells_lie_in_the_table_ranges(world):
    """Every cell of every world's truth lies inside its table row, and the table's
    nominal value inside its range."""
    from mining_rover.sim.world import load_world
    w, t = load_world(world), WORLD_SOIL[world]
    for key, row in (('density_kgpm3', t.density_kgm3), ('cohesion_pa', t.cohesion_pa),
                     ('friction_deg', t.friction_deg)):
        a = w.regolith[key]
        assert row.lo <= row.value <= row.hi and row.source
        assert row.lo - 1e-3 <= float(a.min()) and float(a.max()) <= row.hi + 1e-3, key
    ratio = w.regolith['wall_friction_deg'] / w.regolith['friction_deg']
    lo, hi = t.wall_friction_ratio.lo - 0.01, t.wall_friction_ratio.hi + 0.01
    assert lo <= float(ratio.min()) <= float(ratio.max()) <= hi
    p = soil_for(world, 1500.0, 300.0, 35.0, 21.0)
    assert p.wall_friction_ratio == pytest.approx(0.6)
    assert p.density_deep_kgm3 == pytest.approx(1500.0 * t.deep_ratio.value)


def test_pass_feed_is_the_advance_over_a_pitch_not_the_bob():
    """A drum advancing at 5 cm/s while it bobs 3 mm up and down at the bucket frequency
    (what a compliant arm does as each bucket bites): the feed over one bucket pitch is
    the advance alone (a chip is the soil between two buckets' paths). The instantaneous
    velocity x pass time, what the simulator used, swings the vertical feed by
    +-2 pi x 3 mm = +-19 mm per pass, thicker than the chip itself."""
    from mining_rover.physics.drum import PassFeed
    omega, rows, u, amp = 4.0, 4, 0.05, 0.003
    pitch_s = 2.0 * math.pi / (omega * rows)
    feed = PassFeed(rows)
    got = []
    for t in np.arange(0.0, 3.0, 0.02):
        bob = amp * math.sin(2.0 * math.pi * t / pitch_s)
        moved = feed.update(omega * t, (u * t, 0.0, bob))
        if t > pitch_s:
            got.append(moved)
    got = np.array(got)
    assert np.allclose(got[:, 0], u * pitch_s, rtol=1e-6)
    # linear interpolation between 20 samples a period: amp (pi / 20)^2 / 2 ~ 4e-5 m
    assert np.abs(got[:, 2]).max() < 5e-3 * u * pitch_s


def test_pass_feed_scales_a_short_history_and_clears_on_reversal():
    from mining_rover.physics.drum import PassFeed
    feed = PassFeed(4)
    assert feed.update(0.0, (0.0, 0.0, 0.0)) is None
    half = feed.update(math.pi / 4, (0.01, 0.0, 0.0))     # half a pitch: scaled to a pitch
    assert half[0] == pytest.approx(0.02)
    feed.update(math.pi / 2, (0.02, 0.0, 0.0))
    assert feed.update(math.pi / 4, (0.03, 0.0, 0.0)) is None      # turned back: history gone
