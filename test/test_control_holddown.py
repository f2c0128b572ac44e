"""Hold-down thrust: where it is needed, what it costs, how it loads the wheels, and that
the simulator applies and books it (control/holddown.py, site.py, sim/simulator.py)."""
import math

import pytest

from mining_rover.control.holddown import (STANDARD_GRAVITY_MPS2, HoldDown, effective_gravity,
                                           fills_in_time, thrust_for_site)
from mining_rover.control.excavator import ExcavatorConfig
from mining_rover.paths import config_path, rover_config, rover_mass_kg
from mining_rover.planning.regolith import CutPlan, Rover, load_params, plan_cut, traction
from mining_rover.site import site_parameters

RUBBLE_G = 5e-5   # worlds/rubble_pile.sdf


def _plan(feasible=True, mass=36.0, rate=1.0):
    return CutPlan(feasible, 0.01 if feasible else 0.0, 4.0, 0.01, 0.0, 0.0, 1.0, 1.0, 0.0, rate, mass)


def test_rover_yaml_hold_down_and_its_propellant_flow():
    h = HoldDown.from_rover(rover_config())
    cos30 = math.cos(math.radians(30.0))
    # four 4 N thrusters canted 30 deg: 13.9 N net
    assert (h.thrusters, h.max_thrust_n) == (4, pytest.approx(16.0 * cos30))
    # F / (cos(cant) Isp g0): 13.9 N net at 220 s is 7.4 g/s, 26.7 kg an hour; 10 kg last 22 min
    assert h.propellant_rate_kgps(12.0) == pytest.approx(12.0 / (cos30 * 220.0 * STANDARD_GRAVITY_MPS2))
    assert h.propellant_rate_kgps(h.max_thrust_n) * 3600 == pytest.approx(26.7, abs=0.05)
    assert h.endurance_s(h.max_thrust_n) == pytest.approx(10.0 / h.propellant_rate_kgps(h.max_thrust_n))
    assert h.endurance_s(h.max_thrust_n) == pytest.approx(1349.0, abs=1.0)
    assert h.endurance_s(0.0) == math.inf and h.propellant_rate_kgps(-1.0) == 0.0
    assert HoldDown.from_rover({}).max_thrust_n == 0.0


@pytest.mark.parametrize('bad', [dict(thrusters=-1), dict(thrusters=2.5), dict(isp_s=0.0),
                                 dict(thrust_n=math.nan), dict(propellant_kg=-1.0), dict(cant_rad=1.6)])
def test_bad_hold_down_hardware_is_refused(bad):
    with pytest.raises(ValueError):
        HoldDown(**bad)


def test_effective_gravity_adds_thrust_over_mass():
    assert effective_gravity(RUBBLE_G, 4.0, 80.0) == pytest.approx(0.05005)
    assert effective_gravity(1.62, 0.0, 80.0) == 1.62
    for bad in ((math.nan, 1.0, 80.0), (1.0, -1.0, 80.0), (1.0, 1.0, 0.0)):
        with pytest.raises(ValueError):
            effective_gravity(*bad)


def test_fewest_thrusters_that_fill_the_drums_in_time():
    h = HoldDown(thrusters=4, thrust_n=1.0, cant_rad=0.0)
    # fills in 36 s from 2 N on: two thrusters, not four
    asked = []

    def plan(thrust):
        asked.append(thrust)
        return _plan(thrust >= 2.0, rate=1.0)
    assert thrust_for_site(h, RUBBLE_G, plan) == 2.0
    assert asked == [0.0, 1.0, 2.0]
    # gravity enough: none
    assert thrust_for_site(h, 1.62, lambda t: _plan(True)) == 0.0
    # nothing fills in time: all of them (the best there is), and a rover without any: 0
    assert thrust_for_site(h, RUBBLE_G, lambda t: _plan(True, rate=0.1)) == 4.0
    assert thrust_for_site(HoldDown(thrusters=0), RUBBLE_G, lambda t: _plan(False)) == 0.0
    with pytest.raises(ValueError):
        thrust_for_site(h, 0.0, plan)


def test_fills_in_time_judges_the_fill_time():
    assert fills_in_time(_plan(True, mass=36.0, rate=0.6))         # 60 s
    assert not fills_in_time(_plan(True, mass=36.0, rate=0.5))     # 72 s
    assert not fills_in_time(_plan(False))


def test_thrust_loads_the_wheels_like_weight():
    nominal = load_params(config_path('regolith_nominal.yaml'))
    bare = traction(Rover(mass_kg=80.0), nominal, RUBBLE_G)
    held = traction(Rover(mass_kg=80.0, holddown_n=4.0), nominal, RUBBLE_G)
    heavy = traction(Rover(mass_kg=80.0 * effective_gravity(RUBBLE_G, 4.0, 80.0) / RUBBLE_G), nominal,
                     RUBBLE_G)
    assert bare.weight_n == pytest.approx(0.004)
    assert held.weight_n == pytest.approx(4.004)
    assert held.limit_n == pytest.approx(heavy.limit_n, rel=1e-9)
    # the rubble pile: no cut without thrust, a drum-filling cut with it
    assert not plan_cut(Rover(mass_kg=80.0), nominal, RUBBLE_G).feasible
    with_thrust = plan_cut(Rover(mass_kg=80.0, holddown_n=4.0), nominal, RUBBLE_G)
    assert with_thrust.feasible and with_thrust.depth_of_cut_m > 0.0
    assert with_thrust.vertical_force_n <= 0.7 * held.weight_n


def test_sites_fire_the_thrusters_only_on_the_rubble_pile():
    rubble = site_parameters('rubble_pile')
    net = 8.0 * math.cos(math.radians(30.0))     # two of the four 4 N thrusters, canted 30 deg
    g_eff = effective_gravity(RUBBLE_G, net, rover_mass_kg())
    assert rubble['holddown_n'] == pytest.approx(net)
    for node in ('planner', 'drive', 'excavator'):
        assert rubble[node]['holddown_n'] == pytest.approx(net), node
    # speed and acceleration from the effective gravity (Fr 0.25, mu 0.5), not 5e-5 m/s^2
    assert rubble['mission']['max_linear_mps'] == pytest.approx(math.sqrt(0.25 * g_eff * 0.6), rel=1e-3)
    assert rubble['drive']['max_linear_accel'] == pytest.approx(0.5 * g_eff, rel=1e-3)
    for world in ('moon_south_pole', 'psyche', 'vesta', 'mars', 'lunabotics_arena'):
        s = site_parameters(world)
        assert s['holddown_n'] == 0.0
        assert all('holddown_n' not in s[node] for node in ('planner', 'drive', 'excavator')), world


def test_weigh_off_where_gravity_cannot_resolve_it():
    def cfg(g):
        return ExcavatorConfig(capacity_kg=18.0, max_drum_radps=8.0, drum_max_torque_nm=60.0, gravity_mps2=g)
    assert cfg(0.144).weigh_enabled            # Psyche: 1.5 kg per 0.1 N m
    assert cfg(0.144).weigh_resolution_kg == pytest.approx(0.1 / (0.144 * 0.45))
    assert not cfg(RUBBLE_G).weigh_enabled     # 4400 kg per 0.1 N m
    assert not cfg(0.0).weigh_enabled and cfg(0.0).weigh_resolution_kg == math.inf


def test_simulator_pushes_the_rover_down_and_books_propellant():
    from mining_rover.sim.simulator import Simulator
    sim = Simulator(world='rubble_pile', camera_width=64, camera_height=48)
    mass = sim.regolith_telemetry()['rover_mass_kg']
    sim.set_contacts(False)
    sim.set_holddown(4.0)
    sim.step(10)                  # the force is set with the first regolith update
    v0, t0 = float(sim.data.qvel[2]), sim.time
    sim.step(500)
    accel = -(float(sim.data.qvel[2]) - v0) / (sim.time - t0)
    assert accel == pytest.approx(RUBBLE_G + 4.0 / mass, rel=0.02)
    tel = sim.regolith_telemetry()
    assert tel['holddown_n'] == 4.0
    assert tel['propellant_used_kg'] == pytest.approx(sim.holddown.propellant_rate_kgps(4.0) * sim.time,
                                                      rel=0.05)
    for bad in (math.nan, -0.1, 14.0, 'x'):
        with pytest.raises(ValueError, match='hold-down'):
            sim.set_holddown(bad)
    # the tank runs dry: no more thrust, no more propellant than was loaded
    sim.holddown = HoldDown(thrusters=4, thrust_n=4.0, isp_s=220.0,
                            propellant_kg=tel['propellant_used_kg'] + 1e-6)
    sim.step(200)
    tel = sim.regolith_telemetry()
    assert tel['holddown_n'] == 0.0
    assert tel['propellant_used_kg'] == pytest.approx(sim.holddown.propellant_kg)
    sim.reset()
    assert sim.regolith_telemetry()['propellant_used_kg'] == 0.0
    sim.close()


@pytest.mark.parametrize('tilt_deg', [20.0, 60.0])
def test_canted_thrusters_push_vertically_up_to_the_cant(tilt_deg):
    """Tilted within the 30 deg cant the net thrust stays vertical; tilted 60 deg the best
    is 30 deg off the vertical, so the rover is pushed sideways by F sin(30 deg)."""
    from mining_rover.sim.simulator import Simulator
    sim = Simulator(world='rubble_pile', camera_width=64, camera_height=48)
    mass = sim.regolith_telemetry()['rover_mass_kg']
    sim.set_contacts(False)
    half = math.radians(tilt_deg) / 2.0
    sim.data.qpos[3:7] = [math.cos(half), math.sin(half), 0.0, 0.0]    # roll about x
    sim.set_base_state(lin_vel=[0.0, 0.0, 0.0])
    sim.set_holddown(10.0)
    sim.step(10)
    v0, t0 = sim.data.qvel[0:3].copy(), sim.time
    sim.step(100)
    a = (sim.data.qvel[0:3] - v0) / (sim.time - t0)
    off_vertical = math.radians(max(0.0, tilt_deg - 30.0))
    assert -a[2] == pytest.approx(RUBBLE_G + 10.0 * math.cos(off_vertical) / mass, rel=0.03)
    assert abs(math.hypot(a[0], a[1])) == pytest.approx(10.0 * math.sin(off_vertical) / mass, abs=2e-3)
    sim.close()
