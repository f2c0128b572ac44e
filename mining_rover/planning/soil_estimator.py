"""Online estimate of the regolith from what the rover measures while it cuts: drum
torque, travel and collected mass. Pure Python (numpy, scipy); planner_node feeds it.

``RegolithEstimator`` fits the soil (surface density, cohesion, friction angle) to
measured cuts with the planner's own drum model (planning/regolith.py drum_cut, i.e. the
shared physics of mining_rover/physics/) by nonlinear least squares, so its parameters
are the ones that make the planner's torque match the simulator's (or the hardware's).
``CutObserver`` turns the excavator's state stream into those measurements: it spots
cutting, averages the drum torque over whole drum turns (a bucket drum's torque comes in
pulses as buckets enter the face), integrates the travel from the speed, and books the
mass collected over the drum's swept volume.

What the measurements identify. Per bucket, Reece's equation is ``P = (rho g h^2 N_g +
c h N_c + rho v^2 h N_v) w`` (physics/soil.py): in the low gravity of every world here the
weight term is small beside cohesion and the soil's inertia (tip speed ~1 m/s), so the
torque over a set of cuts varies as ``k_c x (chip area) + k_v x (chip area x tip speed^2)``
and fixes only two strengths: the cohesive one ``k_c = c N_c sin(alpha + delta)`` and the
inertial one ``k_v = rho N_v sin(alpha + delta)`` (``cutting_strengths``). The mass
collected over the swept volume (travel x depth x drum length) fixes the density. Cohesion
and friction angle apart, and the soil-tool friction ratio delta / phi, are not
identifiable from torque and travel: along one direction of (log rho, log c, log phi) the
log torque of cuts across the planner's whole envelope changes by ~2 % rms for a unit step
(0.3 % over three cuts; test_planning_regolith.py), less than the model's own error
against the simulator; a prior on phi (the nominal value) pins that direction, and the
benchmark reports the error of (density, k_c, k_v) only.

Three cuts are enough when they are designed for it (``probe_cuts``: the drum speed at
2, 5 and 8 rad/s, so k_v's share of the torque changes 16x), when each drum's torque is
fitted over the samples it was measured on at the drum's angle (``add_drum_samples``: a
drum bobs on its arm with its buckets, and an arm sags as its drum fills, so a mean depth
or a phase average is off by up to 19 %), and when the weigh gives the density (without
it the fit slides along the weak direction, which moves k_v by 7-12 %). The benchmark
(bench/drum_model.py) measures that after the three probe cuts.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import replace

import numpy as np

from mining_rover.physics.drum import bucket_loads, drum_load_mean
from mining_rover.physics.soil import blade_force
from mining_rover.planning.regolith import RegolithParams, Rover, drum_cut, plan_cut

#: Chip (m) and tip speed (m/s) at which cutting_strengths evaluates the law: a bucket's
#: typical chip at the planned creep and a drum's tip speed (R omega ~ 0.16 m x 6 rad/s).
_REF_CHIP_M, _REF_TIP_MPS = 0.005, 1.0
#: Friction-angle bounds of the fit, deg (physics/soil.py SOIL_RANGES, less the extremes
#: where the wedge is inadmissible at the bucket rake).
_PHI_BOUNDS_DEG = (10.0, 58.0)
#: Measurements of each kind the fit keeps (the latest).
MAX_KEPT = 30


def cutting_strengths(params: RegolithParams, rake_rad: float = math.radians(60.0)) -> dict:
    """The soil strengths drum torque identifies (module docstring): ``density_kgm3``,
    ``k_c_pa`` (draft per unit chip area of a cohesive, weightless, slow cut: c N_c
    sin(alpha + delta)) and ``k_v_kgm3`` (draft per unit chip area per tip speed^2 of a
    cohesionless, weightless cut: rho N_v sin(alpha + delta)), from the shared law."""
    h = _REF_CHIP_M
    k_c = float(blade_force(h, 1.0, params, 0.0, rake_rad=rake_rad, speed_mps=0.0).draft_n) / h
    inertial = replace(params, cohesion_pa=0.0)
    k_v = float(blade_force(h, 1.0, inertial, 0.0, rake_rad=rake_rad,
                            speed_mps=_REF_TIP_MPS).draft_n) / (h * _REF_TIP_MPS ** 2)
    return {'density_kgm3': params.density_kgm3, 'k_c_pa': k_c, 'k_v_kgm3': k_v}


def samples_torque_nm(samples, rover: Rover, params: RegolithParams, gravity_mps2: float) -> float:
    """One drum's mean cutting torque (N m) over measured samples, rows (depth m, feed x
    m/s, feed z m/s, face depth m, signed spin rad/s, drum angle rad; 0 depth: not
    cutting), as RegolithEstimator.add_drum_samples takes them: per bucket at the drum's
    angle (physics/drum.py bucket_loads, the law the simulator cuts with) where the
    angles are given, else phase-averaged at each sample's kinematics."""
    d, fx, fz, face, w, phase = np.asarray(samples, dtype=float).T
    if np.isnan(phase).any():
        load = drum_load_mean(d, fx, fz, w, rover.drum, params, gravity_mps2, face_depth_m=face)
    else:
        load = bucket_loads(d, fx, fz, w, phase, rover.drum, params, gravity_mps2, face_depth_m=face)
    return float(np.mean(np.where(d > 0.0, load.torque_nm, 0.0)))


class RegolithEstimator:
    """Estimates (surface density, cohesion, friction angle) from measured cuts.

    Every ``add_cut`` (drum torque at a depth, drum speed and advance) and
    ``add_collected`` (mass over a swept volume) is kept; ``params`` is the least-squares
    fit (scipy.optimize.least_squares, trust region) of log density, log cohesion and
    friction angle to all of them with the planner's drum model, each residual a log
    ratio over ``rel_noise``, plus Gaussian priors at the nominal values (broad on density
    and cohesion, ``sigma_phi_deg`` on the friction angle: the torque cannot tell it from
    cohesion, module docstring). delta / phi and the density's rise with depth stay
    nominal. Nothing here knows the regolith it measures."""

    def __init__(self, nominal: RegolithParams, rover: Rover, gravity_mps2: float,
                 sigma_phi_deg: float = 10.0, sigma_log_density: float = 0.7,
                 sigma_log_cohesion: float = 2.0, rel_noise: float = 0.05):
        self.nominal = nominal
        self.rover = rover
        self.g = float(gravity_mps2)
        self.sigma = np.array([sigma_log_density, sigma_log_cohesion, sigma_phi_deg])
        self.rel_noise = float(rel_noise)
        self._x0 = np.array([math.log(nominal.density_kgm3), math.log(max(nominal.cohesion_pa, 1.0)),
                             min(max(nominal.friction_deg, _PHI_BOUNDS_DEG[0]), _PHI_BOUNDS_DEG[1])])
        # the latest MAX_KEPT of each (the soil changes along a traverse; the fit stays cheap)
        self._cuts: deque = deque(maxlen=MAX_KEPT)     # (depth m, drum rad/s, advance m/s, torque N m)
        self._masses: deque = deque(maxlen=MAX_KEPT)   # (depth m, swept volume m^3, mass kg)
        self._drums: deque = deque(maxlen=MAX_KEPT)    # (samples (n, 6), torque N m): one drum's cut
        self._x = self._x0.copy()
        self._fitted = True
        self.updates = 0

    def _params_at(self, x) -> RegolithParams:
        ratio = self.nominal.density_deep_kgm3 / self.nominal.density_kgm3
        rho = float(math.exp(x[0]))
        return replace(self.nominal, density_kgm3=rho, density_deep_kgm3=rho * ratio,
                       cohesion_pa=float(math.exp(x[1])), friction_deg=float(x[2]))

    def _residuals(self, x) -> np.ndarray:
        p = self._params_at(x)
        res = [(x - self._x0) / self.sigma]
        if self._cuts:
            d, w, v, t = np.array(self._cuts).T
            pred = drum_cut(d, w, v, self.rover, p, self.g).torque_nm
            res.append(np.log(np.maximum(pred, 1e-12) / t) / self.rel_noise)
        for samples, torque in self._drums:
            pred = samples_torque_nm(samples, self.rover, p, self.g)
            res.append(np.array([math.log(max(pred, 1e-12) / torque) / self.rel_noise]))
        if self._masses:
            d, vol, kg = np.array(self._masses).T
            pred = p.density_at(d) * vol
            res.append(np.log(np.maximum(pred, 1e-12) / kg) / self.rel_noise)
        return np.concatenate(res)

    def _fit(self):
        from scipy.optimize import least_squares
        lo = np.array([math.log(50.0), math.log(1e-3), _PHI_BOUNDS_DEG[0]])
        hi = np.array([math.log(6000.0), math.log(1e6), _PHI_BOUNDS_DEG[1]])
        r = least_squares(self._residuals, np.clip(self._x, lo + 1e-9, hi - 1e-9), bounds=(lo, hi),
                          x_scale=np.array([0.1, 0.3, 2.0]), diff_step=1e-3, max_nfev=40)
        self._x = r.x
        self._fitted = True

    @property
    def params(self) -> RegolithParams:
        """The current estimate as RegolithParams (nominal until the first update)."""
        if not self._fitted:
            self._fit()
        return self._params_at(self._x)

    def add_cut(self, depth_m: float, drum_radps: float, drive_mps: float, torque_nm: float):
        """One measured cutting torque (all digging drums, N m, averaged over whole drum
        turns) at these cut settings; non-finite or empty samples are ignored."""
        if (not all(map(math.isfinite, (depth_m, drum_radps, drive_mps, torque_nm)))
                or depth_m <= 0 or drive_mps <= 0 or drum_radps <= 0 or torque_nm <= 0):
            return
        self._cuts.append((float(depth_m), float(drum_radps), float(drive_mps), float(torque_nm)))
        self._fitted = False
        self.updates += 1

    def add_drum_samples(self, depth_m, feed_x_mps, feed_z_mps, drum_radps, torque_nm: float,
                         face_depth_m=0.0, phase_rad=None):
        """One drum's cut as it was measured over whole bucket pitches: per sample its depth
        (m, the face over the drum bottom from the arm's encoder over the mapped ground; 0:
        not cutting), the axle's feed through the soil (m/s, drum frame of physics/drum.py:
        the rover's travel plus the arm's motion), the signed spin (rad/s) and how deep the
        face already lies below the original surface (m), and where given the drum's angle
        (rad, its motor encoder: the bucket phase); torque_nm is that drum's mean cutting
        torque over the same samples. The fit predicts the mean of the model's torque over
        the samples, so a cut whose depth drifts (an arm sagging as its drum fills) is
        compared at the depths it really had, not at their mean (the torque is not linear in
        depth); with the phase, per bucket at the buckets' angles (physics/drum.py
        bucket_loads): a drum bobs on its arm at the bucket frequency, so its depth and feed
        go with the phase, and a phase average at each sample's kinematics loses that (up to
        19 % on a 5 cm, 3 rad/s, 5 cm/s cut on Mars). Non-finite or empty measurements are
        ignored."""
        phase = np.nan if phase_rad is None else phase_rad
        cols = np.broadcast_arrays(*(np.asarray(a, dtype=float).ravel() for a in
                                     (depth_m, feed_x_mps, feed_z_mps, face_depth_m, drum_radps, phase)))
        samples = np.stack(cols, axis=1)
        if (not math.isfinite(torque_nm) or torque_nm <= 0.0 or not np.isfinite(samples[:, :5]).all()
                or (phase_rad is not None and not np.isfinite(samples[:, 5]).all())
                or not (samples[:, 0] > 0.0).any()):
            return
        self._drums.append((samples, float(torque_nm)))
        self._fitted = False
        self.updates += 1

    def add_collected(self, depth_m: float, swept_volume_m3: float, mass_kg: float):
        """Mass collected (kg) from a cut of this depth over this swept volume (m^3)."""
        if (not all(map(math.isfinite, (depth_m, swept_volume_m3, mass_kg))) or swept_volume_m3 <= 0
                or depth_m <= 0 or mass_kg <= 0):
            return
        self._masses.append((float(depth_m), float(swept_volume_m3), float(mass_kg)))
        self._fitted = False
        self.updates += 1

    def snapshot(self) -> dict:
        """The estimate and how many measurements it rests on."""
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


#: Drum speeds of the probe cuts (rad/s): the ends and middle of the drum's range, so the
#: bucket tips' speed^2 (what the inertial strength k_v multiplies) spans 16x.
PROBE_DRUM_RADPS = (2.0, 5.0, 8.0)


def probe_cuts(rover: Rover, nominal: RegolithParams, gravity_mps2: float,
               drum_speeds_radps=PROBE_DRUM_RADPS) -> list:
    """The first cuts at a new site, designed to tell cohesion from inertia: at each of
    ``drum_speeds_radps`` the cut plan_cut sizes with the soil assumed so far (nominal),
    its drum speed held there, as CutPlans (infeasible ones left out). Torque varies as
    k_c x chip area + k_v x chip area x tip speed^2 (module docstring): cuts at nearby drum
    speeds leave the two strengths nearly collinear (three random cuts of the benchmark:
    k_v off by 0.3-0.8 on Mars and in the Lunabotics arena), cuts whose tip speed^2 spans
    16x separate them. Each fits traction, weight and the arm's sag as any planned cut does."""
    out = []
    for w in drum_speeds_radps:
        plan = plan_cut(rover, nominal, gravity_mps2, drum_speeds_radps=(w,))
        if plan.feasible:
            out.append(plan)
    return out
