"""Online estimate of the regolith from what the rover measures while it cuts: drum
torque, travel and collected mass. Pure Python (numpy); planner_node feeds it.

``RegolithEstimator`` fits the soil (surface density, cohesion, friction angle) to
measured cuts with the planner's own drum model (planning/regolith.py drum_cut, i.e. the
shared physics of mining_rover/physics/), so with enough cuts its parameters are the ones
that make the planner's torque match the simulator's (or the hardware's).
``CutObserver`` turns the excavator's state stream into those measurements: it spots
cutting, averages the drum torque over whole drum turns (a bucket drum's torque comes in
pulses as buckets enter the face), integrates the travel from the speed, and books the
mass collected over the drum's swept volume.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mining_rover.planning.regolith import RegolithParams, Rover, drum_cut

#: Relative steps of the finite differences that linearise the torque in (density,
#: cohesion): the torque is linear in both at a fixed rupture angle, and stationary in the
#: rupture angle, so the step size hardly matters.
_REL_STEP = 0.05


@dataclass
class _Model:
    phi_deg: float
    theta: np.ndarray      # (surface density kg/m^3, cohesion Pa)
    cov: np.ndarray
    cost: float = 0.0      # negative log-likelihood of the innovations so far


class RegolithEstimator:
    """Estimates (surface density, cohesion, friction angle) from measured cuts.

    Given the friction angle, the drum torque is linear in density and cohesion (Reece's
    equation, per bucket, physics/soil.py) and the collected mass is linear in density.
    A bank of recursive-least-squares filters, one per friction angle on a grid (a
    multiple-model estimator), each starting from the nominal values with a broad prior,
    is updated with every measurement; the friction angle is the one whose filter
    explains the measurements best (least negative log-likelihood of its innovations
    plus a Gaussian prior on phi). Each torque regressor is the planner's drum model
    linearised at that filter's estimate. Nothing here knows the regolith it measures."""

    def __init__(self, nominal: RegolithParams, rover: Rover, gravity_mps2: float,
                 phi_range_deg=(20.0, 60.0), phi_step_deg: float = 2.0, sigma_phi_deg: float = 10.0,
                 sigma_density_kgm3: float = 600.0, sigma_cohesion_pa: float | None = None,
                 rel_noise: float = 0.05):
        self.nominal = nominal
        self.rover = rover
        self.g = float(gravity_mps2)
        self.sigma_phi = sigma_phi_deg
        self.rel_noise = rel_noise
        s_c = sigma_cohesion_pa if sigma_cohesion_pa is not None else max(2.0 * nominal.cohesion_pa, 300.0)
        cov0 = np.diag([sigma_density_kgm3 ** 2, s_c ** 2])
        theta0 = np.array([nominal.density_kgm3, nominal.cohesion_pa])
        self.models = [_Model(float(phi), theta0.copy(), cov0.copy())
                       for phi in np.arange(phi_range_deg[0], phi_range_deg[1] + 1e-9, phi_step_deg)]
        self.updates = 0

    def _params(self, m: _Model, theta=None) -> RegolithParams:
        th = m.theta if theta is None else theta
        ratio = self.nominal.density_deep_kgm3 / self.nominal.density_kgm3
        rho = float(max(th[0], 50.0))
        return replace(self.nominal, density_kgm3=rho, density_deep_kgm3=rho * ratio,
                       cohesion_pa=float(max(th[1], 0.0)), friction_deg=m.phi_deg)

    @property
    def best(self) -> _Model:
        return min(self.models, key=lambda m: m.cost + 0.5 * ((m.phi_deg - self.nominal.friction_deg)
                                                               / self.sigma_phi) ** 2)

    @property
    def params(self) -> RegolithParams:
        """The current estimate as RegolithParams (nominal until the first update)."""
        return self._params(self.best)

    def _update(self, m: _Model, x: np.ndarray, y: float, offset: float = 0.0):
        pred = float(x @ m.theta) + offset
        var = (self.rel_noise * max(abs(y), abs(pred), 1e-6)) ** 2
        S = float(x @ m.cov @ x) + var
        nu = y - pred
        m.cost += 0.5 * (nu * nu / S + math.log(S))
        K = m.cov @ x / S
        m.theta = m.theta + K * nu
        m.cov = m.cov - np.outer(K, x @ m.cov)

    def add_cut(self, depth_m: float, drum_radps: float, drive_mps: float, torque_nm: float):
        """One measured cutting torque (all digging drums, N m, averaged over whole drum
        turns) at these cut settings; non-finite or empty samples are ignored."""
        if (not all(map(math.isfinite, (depth_m, drum_radps, drive_mps, torque_nm)))
                or depth_m <= 0 or drive_mps <= 0 or drum_radps <= 0):
            return
        r = self.rover
        for m in self.models:
            # The torque is homogeneous of degree 1 in (density, cohesion) (every term of
            # Reece's equation carries one of them, the rupture angle depends on their
            # ratio only), so T = rho dT/drho + c dT/dc: one difference gives both.
            th = np.maximum(m.theta, [50.0, 1.0])
            step = max(_REL_STEP * th[1], 5.0)
            t0, t_c = (float(drum_cut(depth_m, drum_radps, drive_mps, r,
                                      self._params(m, c), self.g).torque_nm)
                       for c in (th, th + [0.0, step]))
            x_c = (t_c - t0) / step
            x = np.array([(t0 - th[1] * x_c) / th[0], x_c])
            self._update(m, x, float(torque_nm), t0 - float(x @ th))
        self.updates += 1

    def add_collected(self, depth_m: float, swept_volume_m3: float, mass_kg: float):
        """Mass collected (kg) from a cut of this depth over this swept volume (m^3)."""
        if not all(map(math.isfinite, (depth_m, swept_volume_m3, mass_kg))) or swept_volume_m3 <= 0:
            return
        for m in self.models:
            p = self._params(m)
            shape = float(p.density_at(depth_m)) / p.density_kgm3
            self._update(m, np.array([shape * swept_volume_m3, 0.0]), float(mass_kg))
        self.updates += 1

    def snapshot(self) -> dict:
        p = self.params
        return {'density_kgm3': p.density_kgm3, 'cohesion_pa': p.cohesion_pa,
                'friction_deg': p.friction_deg, 'updates': self.updates}


class CutObserver:
    """Feeds a RegolithEstimator from the excavator's state stream (planner_node's
    ``excavator/state`` callback): ``observe`` once per message.

    A sample is cutting while the plan is feasible, the drums turn forwards, neither
    dumping nor stalled, and the cutting torque is positive. Over a cutting stretch it
    averages the torque and drum speed, integrates the distance as speed x dt, and once
    the stretch covers at least ``min_window_s`` and one drum turn (2 pi / omega: every
    bucket has passed the face) it hands the estimator one cut (depth from the plan,
    advance = distance / time) and, when the fill grew, the mass over the swept volume
    drums x depth x drum length x distance."""

    def __init__(self, estimator: RegolithEstimator, min_window_s: float = 1.0):
        self.estimator = estimator
        self.min_window_s = float(min_window_s)
        self._reset(None, math.nan)
        self.cuts = 0

    def _reset(self, now, fill):
        self._t0, self._last_t, self._fill0 = now, now, fill
        self._torque_s = self._drum_s = self._dist = 0.0

    def observe(self, now_s: float, torque_nm: float, drum_radps: float, fill_kg: float, speed_mps: float,
                depth_m: float, feasible: bool = True, dumping: bool = False, stalled: bool = False) -> bool:
        """One excavator state at node time now_s; True when it completed a cut sample."""
        vals = (now_s, torque_nm, drum_radps, fill_kg, speed_mps, depth_m)
        cutting = (feasible and not dumping and not stalled and all(map(math.isfinite, vals))
                   and drum_radps > 0.1 and torque_nm > 0.0 and depth_m > 0.0)
        if not cutting or self._t0 is None:
            self._reset(now_s if cutting else None, fill_kg)
            return False
        dt = now_s - self._last_t
        if dt <= 0.0:
            return False
        self._torque_s += torque_nm * dt
        self._drum_s += drum_radps * dt
        self._dist += max(speed_mps, 0.0) * dt
        self._last_t = now_s
        span = now_s - self._t0
        if span < max(self.min_window_s, 2.0 * math.pi / drum_radps):
            return False
        torque, drum, advance = self._torque_s / span, self._drum_s / span, self._dist / span
        est, r = self.estimator, self.estimator.rover
        est.add_cut(depth_m, drum, advance, torque)
        volume = r.drums_digging * depth_m * r.drum_length_m * self._dist
        if volume > 0.0 and math.isfinite(self._fill0) and fill_kg > self._fill0:
            est.add_collected(depth_m, volume, fill_kg - self._fill0)
        self.cuts += 1
        self._reset(now_s, fill_kg)
        return True
