"""Regolith force model against published values, and cut sizing against traction in
every world.

max_rel_error: the McKyes-Ali wedge (planning/regolith.py) for a vertical blade against
Rankine's passive factors (N_gamma = K_p/2, N_c = 2 sqrt K_p, N_q = K_p; Terzaghi 1943) and
Coulomb's passive coefficients with wall friction (Das, Principles of Geotechnical
Engineering, table of Coulomb K_p: phi 30 deg, delta 0/15/20 deg -> 3.000/4.977/6.105).
cuts_over_traction: over every world's gravity and 50 random regolith/rover draws each,
the planned cut recomputed with the force model exceeds (1 - margin) x traction or
weight. Context: each world's planned depth and traction, and the online estimator's
worst relative error after 12 simulated cuts on hidden regolith. The drum model against
the simulator, per world with its own soil: bench/drum_model.py.
"""
from __future__ import annotations

import math

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.planning.regolith import (RegolithParams, Rover, blade_force, drum_cut,
                                            n_factors_at_minimum, plan_cut)
from mining_rover.planning.soil_estimator import RegolithEstimator

NAME = 'regolith_force'
DESCRIPTION = ('McKyes-Ali/Reece cutting force vs published passive-pressure values; '
               'cuts vs traction per world')
WORLDS = {'earth': 9.81, 'mars': 3.72, 'moon': 1.62, 'ceres': 0.28, 'vesta': 0.25, 'psyche': 0.144,
          'rubble_pile_1e-4': 1e-4, 'rubble_pile_1e-5': 1e-5}
VERTICAL = math.pi / 2 - 1e-9
COULOMB = [(30.0, 0.0, 3.000), (30.0, 15.0, 4.977), (30.0, 20.0, 6.105)]


def published_errors() -> list:
    errors = []
    for phi in (20.0, 30.0, 42.0):
        kp = math.tan(math.radians(45.0 + phi / 2.0)) ** 2
        n = n_factors_at_minimum(VERTICAL, 0.0, math.radians(phi))
        errors += [abs(n['n_gamma'] / (kp / 2) - 1), abs(n['n_c'] / (2 * math.sqrt(kp)) - 1),
                   abs(n['n_q'] / kp - 1)]
    for phi, delta, kp in COULOMB:
        p = RegolithParams(cohesion_pa=0.0, friction_deg=phi, wall_friction_ratio=delta / phi)
        f = float(blade_force(1.0, 1.0, p, 1.0, rake_rad=VERTICAL, density_kgm3=1.0).total_n)
        errors.append(abs(2 * f / kp - 1))
    return errors


def cuts_over_traction(draws: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    over, plans = 0, 0
    for g in WORLDS.values():
        for _ in range(draws):
            rho = rng.uniform(1200, 2000)
            p = RegolithParams(density_kgm3=rho, density_deep_kgm3=rho * 1.16,
                               cohesion_pa=rng.uniform(0, 3000), friction_deg=rng.uniform(25, 55))
            rover = Rover(mass_kg=rng.uniform(30, 300), drums_digging=int(rng.integers(1, 3)))
            margin = rng.uniform(0.1, 0.5)
            plan = plan_cut(rover, p, g, safety_margin=margin)
            plans += 1
            if not plan.feasible:
                continue
            cut = drum_cut(plan.depth_of_cut_m, plan.drum_speed_radps, plan.drive_speed_mps, rover, p, g)
            tol = 1 + 1e-9
            if (float(cut.horizontal_n) > (1 - margin) * plan.traction_limit_n * tol
                    or float(cut.vertical_n) > (1 - margin) * plan.weight_n * tol):
                over += 1
    return over, plans


def estimator_error(seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    rover, g = Rover(), 1.62
    hidden = RegolithParams(density_kgm3=1650.0, density_deep_kgm3=1914.0, cohesion_pa=900.0,
                            friction_deg=38.0)
    est = RegolithEstimator(RegolithParams(), rover, g)
    for d in (0.01, 0.03, 0.06):
        for w, v in ((2.0, 0.05), (4.0, 0.1), (1.5, 0.2), (3.0, 0.02)):
            cut = drum_cut(d, w, v, rover, hidden, g)
            est.add_cut(d, w, v, float(cut.torque_nm) * (1 + 0.02 * rng.standard_normal()))
            vol = rover.drums_digging * d * rover.drum_length_m * v * 10.0
            est.add_collected(d, vol, float(hidden.density_at(d)) * vol * (1 + 0.02 * rng.standard_normal()))
    e = est.params
    return max(abs(e.density_kgm3 / hidden.density_kgm3 - 1), abs(e.cohesion_pa / hidden.cohesion_pa - 1),
               abs(e.friction_deg / hidden.friction_deg - 1))


def run(quick: bool = False) -> dict:
    over, plans = cuts_over_traction(10 if quick else 50)
    out = {
        'max_rel_error': metric(max(published_errors()), '', '<= 0.05'),
        'cuts_over_traction': metric(over, 'cuts', '== 0'),
        'cuts_checked': metric(plans, 'plans'),
        'estimator_max_rel_error': metric(estimator_error(), '', '<= 0.2'),
    }
    rover, nominal = Rover(), RegolithParams()
    for name, g in WORLDS.items():
        plan = plan_cut(rover, nominal, g)
        out[f'{name}_depth_mm'] = metric(plan.depth_of_cut_m * 1000.0, 'mm')
        out[f'{name}_traction_n'] = metric(plan.traction_limit_n, 'N')
    return out


if __name__ == '__main__':
    for k, m in run().items():
        print(f'{k:28s} {m.value:10.4g} {m.unit:5s} {m.goal:8s} {m.met}')
