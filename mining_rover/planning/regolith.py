"""Regolith mechanics for excavation planning: traction, the forces of a planned drum cut,
and cut sizing.

Pure Python (numpy). No rclpy, no simulator ground truth: every soil value comes in as a
``RegolithParams`` (nominal values from config/regolith_nominal.yaml, or the online
estimate of planning/soil_estimator.py), gravity comes in as a number.

Cutting force: the shared physics (mining_rover/physics/): Reece's fundamental
earthmoving equation with McKyes-Ali factors per engaged bucket (physics/soil.py) summed
over a drum's buckets (physics/drum.py). The simulator cuts with the same functions and a
world's true soil, so a plan made with the true soil predicts what the simulator does
(bench/drum_model.py measures how closely). The soil law is re-exported here for the
code that imported it from planning.

Traction: Bekker pressure-sinkage for a rigid wheel and the Janosi-Hanamoto shear
stress-displacement law (Wong, *Theory of Ground Vehicles*, 4th ed. 2008, ch. 2.2-2.4),
capped by the Coulomb bound mu * m * g of the rover's weight in this body's gravity.

Units: SI throughout (m, kg, s, N, Pa, rad).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mining_rover.physics.drum import DrumGeometry, drum_load_mean, swept_mass_rate
from mining_rover.physics.soil import (BladeForce, RegolithParams, blade_force,  # noqa: F401 (re-exported)
                                       coulomb_passive_kp, load_params, n_factors,
                                       n_factors_at_minimum)

# ----------------------------------------------------------------------------------------
# Traction (Bekker / Janosi-Hanamoto, Wong 2008 ch. 2)
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rover:
    """What the traction and cut models need of the rover (config/rover.yaml)."""
    mass_kg: float = 80.0
    wheel_radius_m: float = 0.20
    wheel_width_m: float = 0.12
    wheels: int = 4
    drum_radius_m: float = 0.16
    drum_length_m: float = 0.45
    drum_capacity_m3: float = 0.012
    drum_max_torque_nm: float = 60.0
    drum_max_speed_radps: float = 8.0
    bucket_rows: int = 4                 # scoop rows around each drum (RASSOR: 4)
    bucket_rake_rad: float = math.radians(60.0)
    drums_digging: int = 2               # both drums dig, counter-rotating (1: the front one)
    wheel_soil_friction: float = 0.6     # Coulomb mu for the mu*m*g bound
    holddown_n: float = 0.0              # hold-down thrust pressing the rover down, N
                                         # (control/holddown.py; 0: gravity alone)
    arm_length_m: float = 0.45           # pivot to drum axle (config/rover.yaml arm.length)
    arm_mass_kg: float = 2.5
    drum_mass_kg: float = 5.5            # empty drum
    arm_stiffness_nm_per_rad: float = 600.0  # the arm servo's position gain (rover.yaml arm.servo_stiffness)
    arm_max_torque_nm: float = 150.0     # the arm actuator's rating (rover.yaml arm.max_effort)

    def normal_load_n(self, gravity_mps2: float) -> float:
        """What presses the wheels onto level ground, N: weight plus hold-down thrust."""
        return self.mass_kg * gravity_mps2 + self.holddown_n

    @property
    def drum(self) -> DrumGeometry:
        return DrumGeometry(self.drum_radius_m, self.drum_length_m, self.bucket_rows, self.bucket_rake_rad)


@dataclass(frozen=True)
class Traction:
    """Horizontal force the wheels can react, N."""
    limit_n: float            # min(coulomb_n, bekker_n): what planning may use
    coulomb_n: float          # mu * m * g
    bekker_n: float           # Janosi-Hanamoto thrust at the design slip minus compaction resistance
    sinkage_m: float
    weight_n: float


def wheel_sinkage_m(load_n: float, radius_m: float, width_m: float, p: RegolithParams) -> float:
    """Static sinkage of a rigid wheel, m (Bekker; Wong 2008 eq. 2.61 form):
    z0 = [3 W / ((3 - n)(k_c / b + k_phi) sqrt(D))]^(2 / (2n + 1))."""
    if load_n <= 0.0:
        return 0.0
    n = p.bekker_n
    k = p.bekker_kc / width_m + p.bekker_kphi
    return (3.0 * load_n / ((3.0 - n) * k * math.sqrt(2.0 * radius_m))) ** (2.0 / (2.0 * n + 1.0))


def contact_length_m(sinkage_m: float, radius_m: float) -> float:
    """Arc length of a rigid wheel in contact at this sinkage, m."""
    z = min(max(sinkage_m, 0.0), radius_m)
    return radius_m * math.acos(1.0 - z / radius_m)


def janosi_hanamoto_factor(slip: float, contact_m: float, k_m: float) -> float:
    """Share of the maximum thrust developed at this slip over a contact of this length
    (Janosi & Hanamoto 1961; Wong 2008 eq. 2.56): 1 - K/(s L) (1 - exp(-s L / K))."""
    x = max(slip, 0.0) * max(contact_m, 0.0) / k_m
    if x < 1e-9:
        return 0.0
    return 1.0 - (1.0 - math.exp(-x)) / x


def traction(rover: Rover, params: RegolithParams, gravity_mps2: float,
             design_slip: float = 0.2) -> Traction:
    """Traction available on level ground in this gravity, N.

    The Coulomb bound mu m g, and the Bekker/Janosi-Hanamoto thrust at the design slip
    (cohesion over the contact area, friction from the weight) less the compaction
    resistance b k z^(n+1)/(n+1) of each wheel; the smaller of the two is the limit. In
    microgravity the sinkage, hence the contact area and its cohesive share, go to zero
    with the weight: no traction is invented from cohesion alone. Hold-down thrust
    (``rover.holddown_n``) loads the wheels like weight does."""
    weight = rover.normal_load_n(gravity_mps2)
    coulomb = rover.wheel_soil_friction * weight
    w_wheel = weight / rover.wheels
    z = wheel_sinkage_m(w_wheel, rover.wheel_radius_m, rover.wheel_width_m, params)
    L = contact_length_m(z, rover.wheel_radius_m)
    area = rover.wheel_width_m * L
    phi = math.radians(params.friction_deg)
    f_max = area * params.cohesion_pa + w_wheel * math.tan(phi)
    thrust = f_max * janosi_hanamoto_factor(design_slip, L, params.shear_modulus_k_m)
    n = params.bekker_n
    k = params.bekker_kc / rover.wheel_width_m + params.bekker_kphi
    compaction = rover.wheel_width_m * k * z ** (n + 1.0) / (n + 1.0)
    bekker = max(0.0, rover.wheels * (thrust - compaction))
    return Traction(min(coulomb, bekker), coulomb, bekker, z, weight)


# ----------------------------------------------------------------------------------------
# Bucket drums: forces of one cut, and cut sizing
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DrumCut:
    """Forces and rates of a drum cut, phase-averaged (arrays broadcast over the inputs).
    Rover frame: x forwards (the advance), z up."""
    chip_m: np.ndarray            # thickest chip a bucket takes
    engaged: np.ndarray           # buckets in the soil per drum (mean over the bucket phase)
    torque_nm: np.ndarray         # cutting torque, all digging drums together
    drum_torque_nm: np.ndarray    # the larger of the drums' torques
    drum_horizontal_n: np.ndarray  # |horizontal force| of one drum cutting alone (the larger)
    horizontal_n: np.ndarray      # worst |net horizontal force| on the rover (both drums, or either alone)
    vertical_n: np.ndarray        # worst net lift on the rover, >= 0 (both drums, or either alone)
    mass_rate_kgps: np.ndarray    # regolith taken in, all digging drums
    push_down_n: np.ndarray = 0.0  # largest downward force of the soil on one drum, >= 0 (sags its arm)


def drum_cut(depth_m, drum_radps, drive_mps, rover: Rover, params: RegolithParams,
             gravity_mps2: float) -> DrumCut:
    """Forces of RASSOR-style bucket drums taking a cut depth_m deep while the rover
    advances at drive_mps and the drums spin at drum_radps (>= 0, "digs"; arrays broadcast).

    Each drum's load is physics/drum.py's, averaged over the bucket phase. The front drum
    turns so its bottom bucket moves backwards (down-cut: its buckets push it forwards and
    up), the rear drum the other way (up-cut: backwards and down), as the rover's joints
    turn them for the same "digs" command (urdf/rover.urdf.xacro: the rear arm is the
    front one turned 180 deg about z). The rover must react the sum; but while lowering,
    on uneven ground or with the rear drum in an old trench either drum can cut alone, so
    the horizontal force and the lift checked against traction and weight are the worst
    of the three cases (both, front alone, rear alone), each from its geometry."""
    d, w, v = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (depth_m, drum_radps, drive_mps)))
    geom = rover.drum
    front = drum_load_mean(d, v, 0.0, -np.abs(w), geom, params, gravity_mps2)
    if rover.drums_digging >= 2:
        rear = drum_load_mean(d, v, 0.0, np.abs(w), geom, params, gravity_mps2)
        cases_x = np.stack([front.fx_n + rear.fx_n, front.fx_n, rear.fx_n])
        cases_z = np.stack([front.fz_n + rear.fz_n, front.fz_n, rear.fz_n])
        torque = front.torque_nm + rear.torque_nm
        drum_torque = np.maximum(front.torque_nm, rear.torque_nm)
        one_h = np.maximum(np.abs(front.fx_n), np.abs(rear.fx_n))
        down = np.maximum(-np.minimum(front.fz_n, rear.fz_n), 0.0)
    else:
        cases_x, cases_z = front.fx_n[None], front.fz_n[None]
        torque = drum_torque = front.torque_nm
        one_h = np.abs(front.fx_n)
        down = np.maximum(-front.fz_n, 0.0)
    n = max(int(rover.drums_digging), 1)
    mass_rate = n * swept_mass_rate(d, v, params, rover.drum_length_m)
    return DrumCut(front.chip_m, front.engaged, torque, drum_torque, one_h,
                   np.max(np.abs(cases_x), axis=0), np.maximum(np.max(cases_z, axis=0), 0.0), mass_rate, down)


def arm_sag(rover: Rover, fill_kg, gravity_mps2: float, push_down_n=0.0):
    """How far a drum's arm droops under its load: (drop of the drum axle m, moment on
    the arm's servo N m), arrays broadcast.

    The arm is held by a position servo of stiffness k = ``arm_stiffness_nm_per_rad``
    (N m/rad; the simulator's arm actuator, config/rover.yaml arm.servo_stiffness): it
    yields M / k under the moment M about its pivot of the drum (empty mass plus fill_kg),
    the arm's own weight at half its length and the soil pushing the drum down
    (push_down_n), all in this gravity. The drop of the axle is L M / k (small angle; the
    arm near horizontal, cos theta ~ 1, which errs deep). A 1 g arena's full drum (20 kg)
    sags it ~9 cm; the Moon's ~1.5 cm; the asteroids' under 3 mm."""
    L = rover.arm_length_m
    moment = L * ((rover.drum_mass_kg + np.asarray(fill_kg, dtype=float) + 0.5 * rover.arm_mass_kg)
                  * gravity_mps2 + np.asarray(push_down_n, dtype=float))
    return L * moment / rover.arm_stiffness_nm_per_rad, moment


@dataclass(frozen=True)
class CutPlan:
    """An excavation plan for one site: what /planner/excavation_plan carries."""
    feasible: bool
    depth_of_cut_m: float
    drum_speed_radps: float
    drive_speed_mps: float
    horizontal_force_n: float
    vertical_force_n: float
    traction_limit_n: float
    weight_n: float
    torque_nm: float
    mass_rate_kgps: float
    expected_mass_kg: float      # one fill of the digging drums at this cut's density
    reason: str = ''
    arm_sag_m: float = 0.0       # how much deeper the drums reach when full (arm_sag): the
                                 # forces above are at depth_of_cut_m + arm_sag_m

    @property
    def fill_time_s(self) -> float:
        """Time this cut takes to fill the drums, s (inf when it is infeasible or takes nothing)."""
        if not self.feasible or self.mass_rate_kgps <= 0.0:
            return math.inf
        return self.expected_mass_kg / self.mass_rate_kgps

    def as_dict(self) -> dict:
        return asdict(self)


#: Candidate settings searched by plan_cut (m, rad/s, m/s). The smallest cut is 0.5 mm:
#: below that a drum skims dust and the model (a continuum wedge) has no meaning.
DEPTHS_M = np.concatenate([np.geomspace(0.0005, 0.01, 12), np.linspace(0.0125, 0.08, 28)])
DRIVE_MPS = np.array([0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.16, 0.2])


def cut_fits(cut: DrumCut, rover: Rover, tr: Traction, safety_margin: float):
    """Where a cut leaves the margin: worst horizontal force within (1 - margin) x
    traction, worst lift within (1 - margin) x the normal load, each drum's torque within
    its rating (arrays broadcast)."""
    return ((cut.horizontal_n <= (1.0 - safety_margin) * tr.limit_n)
            & (cut.vertical_n <= (1.0 - safety_margin) * tr.weight_n)
            & (cut.drum_torque_nm <= rover.drum_max_torque_nm))


def plan_cut(rover: Rover, params: RegolithParams, gravity_mps2: float,
             safety_margin: float = 0.3, design_slip: float = 0.2,
             max_depth_m: float | None = None, max_drive_mps: float = 0.2,
             min_fill_time_s: float = 60.0, drum_speeds_radps=None) -> CutPlan:
    """The gentlest cut that fills the drums in min_fill_time_s, else the one that moves
    the most regolith per second, that ``cut_fits``: its worst horizontal reaction below
    (1 - safety_margin) x traction, its worst lift below (1 - safety_margin) x weight, each
    drum's torque below its rating.

    Searches depth x drum speed x drive speed; depth up to max_depth_m (default half the
    drum radius: deeper, the drum's end plates and arm plough the face, which this model
    does not cover). When no cut qualifies (a rubble pile at
    1e-5 g cannot react even the cohesion of a 0.5 mm chip) the plan is infeasible with
    depth 0 and says why."""
    if not (math.isfinite(gravity_mps2) and gravity_mps2 > 0.0):
        raise ValueError(f'gravity must be finite and > 0 m/s^2, got {gravity_mps2}')
    if not 0.0 <= safety_margin < 1.0:
        raise ValueError(f'safety_margin must be in [0, 1), got {safety_margin}')
    tr = traction(rover, params, gravity_mps2, design_slip)
    max_depth = rover.drum_radius_m * 0.5 if max_depth_m is None else max_depth_m
    depths = DEPTHS_M[DEPTHS_M <= max_depth + 1e-12]
    speeds = (np.linspace(1.0, rover.drum_max_speed_radps, 8) if drum_speeds_radps is None
              else np.asarray(drum_speeds_radps, dtype=float).ravel())
    drives = DRIVE_MPS[DRIVE_MPS <= max_drive_mps + 1e-12]
    D, W, V = np.meshgrid(depths, speeds, drives, indexing='ij')
    # The arm's servo yields as the drums fill (arm_sag): the cut a full drum takes is
    # deeper than the one commanded, so forces, lift and torque are checked there, and the
    # drum's axle must stay above the ground with the arm's servo within its rating.
    planned = drum_cut(D, W, V, rover, params, gravity_mps2)
    one_fill = rover.drum_capacity_m3 * params.density_at(D)
    sag, _ = arm_sag(rover, one_fill, gravity_mps2, planned.push_down_n)
    cut = drum_cut(np.minimum(D + sag, rover.drum_radius_m), W, V, rover, params, gravity_mps2)
    sag, moment = arm_sag(rover, one_fill, gravity_mps2, np.maximum(planned.push_down_n, cut.push_down_n))
    h_lim = (1.0 - safety_margin) * tr.limit_n
    v_lim = (1.0 - safety_margin) * tr.weight_n
    ok = (cut_fits(cut, rover, tr, safety_margin) & (D + sag <= rover.drum_radius_m)
          & (moment <= rover.arm_max_torque_nm))
    if not np.any(ok):
        k = np.unravel_index(np.argmin(cut.horizontal_n + cut.vertical_n), D.shape)
        reason = (f'no cut fits: the smallest ({D[k] * 1000:.1f} mm at {V[k]:.3f} m/s, '
                  f'{(D[k] + sag[k]) * 1000:.1f} mm with the arm sagging under a full drum) needs '
                  f'{cut.horizontal_n[k]:.3g} N horizontal / {cut.vertical_n[k]:.3g} N vertical '
                  f'against traction {tr.limit_n:.3g} N and weight {tr.weight_n:.3g} N '
                  f'(g = {gravity_mps2:.3g} m/s^2, hold-down {rover.holddown_n:g} N, '
                  f'margin {safety_margin:.0%})')
        return CutPlan(False, 0.0, 0.0, 0.0, 0.0, 0.0, tr.limit_n, tr.weight_n, 0.0, 0.0, 0.0, reason)
    # Mass per second up to the rate that fills the drums in min_fill_time_s (faster buys
    # nothing but force); among those, the largest margin to traction and weight.
    fill_kg = rover.drums_digging * one_fill
    rate = np.minimum(planned.mass_rate_kgps, fill_kg / max(min_fill_time_s, 1e-3))
    score = np.where(ok, rate, -np.inf)
    best = np.flatnonzero(score.ravel() >= score.max() * (1.0 - 1e-9))
    load = (cut.horizontal_n / max(h_lim, 1e-300) + cut.vertical_n / max(v_lim, 1e-300)).ravel()
    k = np.unravel_index(best[np.argmin(load[best])], D.shape)
    depth = float(D[k])
    mass = float(fill_kg[k])
    return CutPlan(True, depth, float(W[k]), float(V[k]), float(cut.horizontal_n[k]),
                   float(cut.vertical_n[k]), tr.limit_n, tr.weight_n, float(cut.torque_nm[k]),
                   float(planned.mass_rate_kgps[k]), mass, arm_sag_m=float(sag[k]))


