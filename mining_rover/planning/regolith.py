"""Regolith mechanics for excavation planning: cutting force, traction, cut sizing, and an
online estimate of the regolith's strength.

Pure Python (numpy). No rclpy, no simulator ground truth: every soil value comes in as a
``RegolithParams`` (nominal values from config/regolith_nominal.yaml, or the online
estimate), gravity comes in as a number.

Cutting force: the McKyes–Ali wedge form of the fundamental earthmoving equation
(Reece 1964, "The fundamental equation of earth-moving mechanics", Proc. IMechE 179(3F);
McKyes & Ali 1977, "The cutting of soil by narrow blades", J. Terramechanics 14(2) 43-58;
McKyes 1985, *Soil Cutting and Tillage*, Elsevier, ch. 4), the same family that Wilkinson
& DeGennaro (2007, J. Terramechanics 44, 133-152) adapt to lunar regolith::

    P = (gamma d^2 N_gamma + c d N_c + q d N_q + c_a d N_a) w          (Reece's equation)

with gamma = rho * g the unit weight (this is where gravity enters), and for a flat blade
of rake alpha (from the horizontal), soil-tool friction delta, soil friction phi and a
planar rupture surface at beta from the horizontal, writing
D = cos(alpha + delta) + sin(alpha + delta) cot(beta + phi)::

    N_gamma = (cot alpha + cot beta) / (2 D)
    N_c     = (1 + cot beta cot(beta + phi)) / D
    N_q     = (cot alpha + cot beta) / D
    N_a     = (1 - cot alpha cot(beta + phi)) / D

beta is the rupture angle that minimises P (the passive, least-resistance wedge). P acts
on the blade at delta from its normal, so the draft (the horizontal reaction along the
cutting direction) is ``P sin(alpha + delta) + c_a d w cot alpha`` and the normal
component ``P cos(alpha + delta) - c_a d w``. The factors above are re-derived here from
the force balance of the wedge (weight, surcharge, cohesion on the rupture plane,
adhesion on the blade) rather than transcribed; the equation numbering of the printed
sources was not available to check. For a vertical smooth blade they reduce to
Rankine's passive pressure (N_gamma = K_p / 2, N_c = 2 sqrt(K_p), N_q = K_p with
K_p = tan^2(45 deg + phi/2)); with wall friction to Coulomb's passive coefficient; the
tests check both against published tables (test_planning_regolith.py).

Traction: Bekker pressure–sinkage for a rigid wheel and the Janosi–Hanamoto shear
stress–displacement law (Wong, *Theory of Ground Vehicles*, 4th ed. 2008, ch. 2.2–2.4),
capped by the Coulomb bound mu * m * g of the rover's weight in this body's gravity.

Units: SI throughout (m, kg, s, N, Pa, rad).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

#: Rupture-angle grid for the least-resistance wedge (rad). 0.05 deg spacing: P is
#: stationary in beta at its minimum, so the grid minimum is within ~1e-6 (relative) of
#: the continuous one.
_BETA = np.radians(np.linspace(0.5, 89.5, 1781))
_CHUNK = 512  # depths per block in blade_force (bounds the depth x beta temporaries)


@dataclass(frozen=True)
class RegolithParams:
    """Regolith strength and the tool/wheel interface.

    Nominal lunar values: Carrier, Olhoeft & Mendell (1991), *Lunar Sourcebook* ch. 9:
    bulk density 1.50 g/cm3 at 0-15 cm rising to 1.74 g/cm3 at 30-60 cm (their table 9.4);
    cohesion 0.44-0.62 kPa and friction 41-43 deg at 0-15 cm (table 9.12 recommended
    values); soil-tool friction delta = (1/2..2/3) phi (Wilkinson & DeGennaro 2007).
    Bekker and shear-deformation values: Wong (2008) table 2.3 (lunar soil simulant,
    n = 1, k_c = 1.4 kN/m^2, k_phi = 820 kN/m^3) and a shear-deformation modulus of the
    order of 1-2 cm (Wong 2008 ch. 2.4).
    """
    density_kgm3: float = 1500.0        # bulk density at the surface
    density_deep_kgm3: float = 1740.0   # bulk density at 30-60 cm
    density_scale_m: float = 0.30       # depth over which density rises to the deep value
    cohesion_pa: float = 520.0
    friction_deg: float = 42.0
    wall_friction_ratio: float = 2.0 / 3.0   # delta / phi
    adhesion_ratio: float = 0.0              # c_a / c
    bekker_n: float = 1.0
    bekker_kc: float = 1400.0           # N/m^(n+1)
    bekker_kphi: float = 820000.0       # N/m^(n+2)
    shear_modulus_k_m: float = 0.018    # Janosi-Hanamoto K, m

    def check(self) -> list:
        """Problems with these values (empty when valid)."""
        problems = []
        for name, lo, hi in (('density_kgm3', 50.0, 6000.0), ('density_deep_kgm3', 50.0, 6000.0),
                             ('density_scale_m', 1e-3, 10.0), ('cohesion_pa', 0.0, 1e6),
                             ('friction_deg', 5.0, 70.0), ('wall_friction_ratio', 0.0, 1.0),
                             ('adhesion_ratio', 0.0, 1.0), ('bekker_n', 0.2, 2.0),
                             ('bekker_kc', 0.0, 1e8), ('bekker_kphi', 1.0, 1e9),
                             ('shear_modulus_k_m', 1e-4, 1.0)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                problems.append(f'{name} = {v!r} outside [{lo}, {hi}]')
        return problems

    def density_at(self, depth_m) -> np.ndarray:
        """Mean bulk density (kg/m^3) of the layer from the surface to depth_m: an
        exponential approach from the surface to the deep value (Carrier et al. 1991
        fit the Apollo core densities with a hyperbolic profile; this is its shape)."""
        d = np.maximum(np.asarray(depth_m, dtype=float), 0.0)
        s = self.density_scale_m
        x = np.where(d > 1e-9, d / s, 1e-9)
        mean_frac = 1.0 - (1.0 - np.exp(-x)) / x
        return self.density_kgm3 + (self.density_deep_kgm3 - self.density_kgm3) * mean_frac


def load_params(path) -> RegolithParams:
    """RegolithParams from a YAML file of flat ``name: value`` pairs (config/
    regolith_nominal.yaml); unknown keys raise ValueError naming them."""
    import yaml
    data = yaml.safe_load(Path(path).read_text()) or {}
    data = data.get('regolith', data)
    known = set(RegolithParams.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f'{path}: unknown regolith keys {unknown}; known: {sorted(known)}')
    params = RegolithParams(**{k: float(v) for k, v in data.items()})
    problems = params.check()
    if problems:
        raise ValueError(f'{path}: ' + '; '.join(problems))
    return params


# ----------------------------------------------------------------------------------------
# Cutting force (McKyes-Ali / Reece)
# ----------------------------------------------------------------------------------------

def n_factors(alpha_rad: float, delta_rad: float, phi_rad: float, beta_rad) -> tuple:
    """(N_gamma, N_c, N_q, N_a) of the McKyes-Ali wedge at rupture angle(s) beta (rad).

    Arrays broadcast. Where the wedge is not kinematically admissible (D <= 0) the
    factors are +inf so that a minimisation over beta never picks them."""
    beta = np.asarray(beta_rad, dtype=float)
    cot_a = 1.0 / math.tan(alpha_rad)
    cot_b = 1.0 / np.tan(beta)
    cot_bp = 1.0 / np.tan(beta + phi_rad)
    D = math.cos(alpha_rad + delta_rad) + math.sin(alpha_rad + delta_rad) * cot_bp
    with np.errstate(divide='ignore', invalid='ignore'):
        ok = (D > 1e-9) & (beta + phi_rad < math.pi)
        inv = np.where(ok, 1.0 / np.where(ok, D, 1.0), np.inf)
    n_gamma = (cot_a + cot_b) * 0.5 * inv
    n_c = (1.0 + cot_b * cot_bp) * inv
    n_q = (cot_a + cot_b) * inv
    n_a = np.where(ok, (1.0 - cot_a * cot_bp) * inv, np.inf)
    return n_gamma, n_c, n_q, n_a


@dataclass(frozen=True)
class BladeForce:
    """Force of the soil on a blade, N (arrays where the depth was an array)."""
    total_n: np.ndarray        # P, at delta from the blade normal
    draft_n: np.ndarray        # along the cutting direction (resists motion)
    normal_n: np.ndarray       # perpendicular to the cutting direction, + pushes the tool into the soil
    beta_rad: np.ndarray       # rupture angle of the least-resistance wedge


def blade_force(depth_m, width_m: float, params: RegolithParams, gravity_mps2: float,
                rake_rad: float = math.radians(60.0), surcharge_pa: float = 0.0,
                density_kgm3=None) -> BladeForce:
    """Soil force on a flat blade cutting depth_m (m, scalar or array) over width_m (m).

    Reece's equation with McKyes-Ali factors (see the module docstring); gamma =
    density * gravity with the layer-mean density of ``params`` unless density_kgm3 is
    given. beta minimises P for each depth. Depth 0 gives zero force."""
    d = np.atleast_1d(np.asarray(depth_m, dtype=float))
    phi = math.radians(params.friction_deg)
    delta = params.wall_friction_ratio * phi
    c = params.cohesion_pa
    ca = params.adhesion_ratio * c
    rho = params.density_at(d) if density_kgm3 is None else np.broadcast_to(
        np.asarray(density_kgm3, dtype=float), d.shape)
    gamma = rho * gravity_mps2
    ng, nc, nq, na = n_factors(rake_rad, delta, phi, _BETA)
    # P(depth, beta) = w (gamma d^2 Ng + c d Nc + q d Nq + ca d Na), minimised over beta.
    # The d-linear terms share one factor per beta: (c Nc + q Nq + ca Na).
    admissible = np.isfinite(ng)
    ng = np.where(admissible, ng, 0.0)
    lin = c * np.where(admissible, nc, 0.0) + surcharge_pa * np.where(admissible, nq, 0.0)
    if ca > 0.0:
        lin = lin + ca * np.where(admissible, na, 0.0)
    k = np.empty(d.size, dtype=np.intp)
    p = np.empty(d.size)
    for i in range(0, d.size, _CHUNK):
        dd, gg = d[i:i + _CHUNK], gamma[i:i + _CHUNK]
        P = (gg * dd * dd)[:, None] * ng[None, :] + dd[:, None] * lin[None, :]
        P[:, ~admissible] = np.inf
        kk = np.argmin(P, axis=1)
        k[i:i + _CHUNK] = kk
        p[i:i + _CHUNK] = width_m * P[np.arange(dd.size), kk]
    p = np.maximum(p, 0.0)
    p = np.where(d > 0.0, p, 0.0)
    adhesion = ca * d * width_m
    draft = p * math.sin(rake_rad + delta) + adhesion / math.tan(rake_rad)
    normal = p * math.cos(rake_rad + delta) - adhesion
    shape = np.shape(depth_m)
    return BladeForce(total_n=p.reshape(shape), draft_n=draft.reshape(shape),
                      normal_n=normal.reshape(shape), beta_rad=_BETA[k].reshape(shape))


def n_factors_at_minimum(alpha_rad: float, delta_rad: float, phi_rad: float) -> dict:
    """Each N factor minimised over beta on its own (how McKyes charts them), with the
    rupture angle of N_gamma: {'n_gamma', 'n_c', 'n_q', 'n_a', 'beta_gamma_rad'}."""
    ng, nc, nq, na = n_factors(alpha_rad, delta_rad, phi_rad, _BETA)
    k = int(np.argmin(ng))
    return {'n_gamma': float(ng[k]), 'n_c': float(np.min(nc)), 'n_q': float(np.min(nq)),
            'n_a': float(np.min(na)), 'beta_gamma_rad': float(_BETA[k])}


def coulomb_passive_kp(phi_rad: float, delta_rad: float) -> float:
    """Coulomb's passive earth-pressure coefficient for a vertical wall and a horizontal
    backfill (plane rupture surface; e.g. Das, *Principles of Geotechnical Engineering*):
    K_p = cos^2 phi / (cos delta (1 - sqrt(sin(phi + delta) sin(phi) / cos(delta)))^2)."""
    root = math.sqrt(math.sin(phi_rad + delta_rad) * math.sin(phi_rad) / math.cos(delta_rad))
    return math.cos(phi_rad) ** 2 / (math.cos(delta_rad) * (1.0 - root) ** 2)


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
    drums_digging: int = 2               # both drums dig, counter-rotating
    drum_imbalance: float = 0.15         # residual share of one drum's horizontal force
    wheel_soil_friction: float = 0.6     # Coulomb mu for the mu*m*g bound
    holddown_n: float = 0.0              # hold-down thrust pressing the rover down, N
                                         # (control/holddown.py; 0: gravity alone)

    def normal_load_n(self, gravity_mps2: float) -> float:
        """What presses the wheels onto level ground, N: weight plus hold-down thrust."""
        return self.mass_kg * gravity_mps2 + self.holddown_n


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
    """Forces and rates of a drum cut (arrays broadcast over the inputs)."""
    chip_m: np.ndarray            # thickness each bucket takes (feed per bucket x sin(engagement))
    engaged: np.ndarray           # buckets in the soil at once (>= 1 while cutting)
    torque_nm: np.ndarray         # cutting torque, all digging drums together
    drum_horizontal_n: np.ndarray  # horizontal force on one drum
    horizontal_n: np.ndarray      # net horizontal reaction on the rover (after counter-rotation)
    vertical_n: np.ndarray        # vertical force on the rover, magnitude (taken as lift)
    mass_rate_kgps: np.ndarray    # regolith taken in, all digging drums


def drum_cut(depth_m, drum_radps, drive_mps, rover: Rover, params: RegolithParams,
             gravity_mps2: float) -> DrumCut:
    """Forces of RASSOR-style bucket drums taking a cut depth_m deep while the rover
    advances at drive_mps and the drums spin at drum_radps (arrays broadcast).

    Each bucket takes a chip of thickness h = f sin(theta_e) (milling kinematics: feed per
    bucket f = v 2 pi / (omega n_rows), engagement theta_e = acos(1 - d / R)) across the
    drum length, and meets the McKyes-Ali blade force for that chip at the bucket rake.
    Buckets engaged: n_rows theta_e / 2 pi, at least one. The force acts tangentially at
    the middle of the engagement arc; its horizontal part is projected with cos(theta_e/2)
    and its vertical part with sin(theta_e/2) (magnitudes summed with the normal
    component: conservative). Two counter-rotating drums cancel their horizontal forces
    but for ``drum_imbalance`` of one drum's (unequal depth and soil); vertical forces add.
    """
    d = np.asarray(depth_m, dtype=float)
    w_ = np.asarray(drum_radps, dtype=float)
    v = np.asarray(drive_mps, dtype=float)
    d, w_, v = np.broadcast_arrays(d, w_, v)
    R = rover.drum_radius_m
    dd = np.clip(d, 0.0, R)
    theta = np.arccos(1.0 - dd / R)
    with np.errstate(divide='ignore', invalid='ignore'):
        feed = np.where(w_ > 0.0, v * 2.0 * math.pi / (np.maximum(w_, 1e-9) * rover.bucket_rows), 0.0)
    # A drum turning over a standing face still skims: at least 1 mm-per-bucket of the depth
    chip = np.where(dd > 0.0, np.minimum(np.maximum(feed * np.sin(theta), 0.0), dd), 0.0)
    engaged = np.where(dd > 0.0, np.maximum(1.0, rover.bucket_rows * theta / (2.0 * math.pi)), 0.0)
    bf = blade_force(chip.ravel(), rover.drum_length_m, params, gravity_mps2,
                     rake_rad=rover.bucket_rake_rad,
                     density_kgm3=params.density_at(dd.ravel()))
    draft = bf.draft_n.reshape(d.shape) * engaged
    normal = np.abs(bf.normal_n.reshape(d.shape)) * engaged
    half = theta / 2.0
    h_one = draft * np.cos(half) + normal * np.sin(half)
    v_one = draft * np.sin(half) + normal * np.cos(half)
    n = rover.drums_digging
    horizontal = h_one * (rover.drum_imbalance if n >= 2 else 1.0)
    vertical = v_one * n
    torque = draft * R * n
    rho = params.density_at(dd)
    mass_rate = n * rho * dd * rover.drum_length_m * np.maximum(v, 0.0)
    return DrumCut(chip, engaged, torque, h_one, horizontal, vertical, mass_rate)


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


def plan_cut(rover: Rover, params: RegolithParams, gravity_mps2: float,
             safety_margin: float = 0.3, design_slip: float = 0.2,
             max_depth_m: float | None = None, max_drive_mps: float = 0.2,
             min_fill_time_s: float = 60.0) -> CutPlan:
    """The gentlest cut that fills the drums in min_fill_time_s, else the one that moves
    the most regolith per second, while the net horizontal reaction
    stays below (1 - safety_margin) x traction, the vertical force below (1 -
    safety_margin) x weight (no lift-off), and the drum torque below its rating.

    Searches depth x drum speed x drive speed. When no cut qualifies (a rubble pile at
    1e-5 g cannot react even the cohesion of a 0.5 mm chip) the plan is infeasible with
    depth 0 and says why."""
    if not (math.isfinite(gravity_mps2) and gravity_mps2 > 0.0):
        raise ValueError(f'gravity must be finite and > 0 m/s^2, got {gravity_mps2}')
    if not 0.0 <= safety_margin < 1.0:
        raise ValueError(f'safety_margin must be in [0, 1), got {safety_margin}')
    tr = traction(rover, params, gravity_mps2, design_slip)
    max_depth = rover.drum_radius_m * 0.5 if max_depth_m is None else max_depth_m
    depths = DEPTHS_M[DEPTHS_M <= max_depth + 1e-12]
    speeds = np.linspace(1.0, rover.drum_max_speed_radps, 8)
    drives = DRIVE_MPS[DRIVE_MPS <= max_drive_mps + 1e-12]
    D, W, V = np.meshgrid(depths, speeds, drives, indexing='ij')
    cut = drum_cut(D, W, V, rover, params, gravity_mps2)
    h_lim = (1.0 - safety_margin) * tr.limit_n
    v_lim = (1.0 - safety_margin) * tr.weight_n
    ok = ((cut.horizontal_n <= h_lim) & (cut.vertical_n <= v_lim)
          & (cut.torque_nm <= rover.drum_max_torque_nm * rover.drums_digging))
    if not np.any(ok):
        k = np.unravel_index(np.argmin(cut.horizontal_n + cut.vertical_n), D.shape)
        reason = (f'no cut fits: the smallest ({D[k] * 1000:.1f} mm at {V[k]:.3f} m/s) needs '
                  f'{cut.horizontal_n[k]:.3g} N horizontal / {cut.vertical_n[k]:.3g} N vertical '
                  f'against traction {tr.limit_n:.3g} N and weight {tr.weight_n:.3g} N '
                  f'(g = {gravity_mps2:.3g} m/s^2, hold-down {rover.holddown_n:g} N, margin {safety_margin:.0%})')
        return CutPlan(False, 0.0, 0.0, 0.0, 0.0, 0.0, tr.limit_n, tr.weight_n, 0.0, 0.0, 0.0, reason)
    # Mass per second up to the rate that fills the drums in min_fill_time_s (faster buys
    # nothing but force); among those, the largest margin to traction and weight.
    fill_kg = rover.drums_digging * rover.drum_capacity_m3 * params.density_at(D)
    rate = np.minimum(cut.mass_rate_kgps, fill_kg / max(min_fill_time_s, 1e-3))
    score = np.where(ok, rate, -np.inf)
    best = np.flatnonzero(score.ravel() >= score.max() * (1.0 - 1e-9))
    load = (cut.horizontal_n / max(h_lim, 1e-300) + cut.vertical_n / max(v_lim, 1e-300)).ravel()
    k = np.unravel_index(best[np.argmin(load[best])], D.shape)
    depth = float(D[k])
    mass = float(fill_kg[k])
    return CutPlan(True, depth, float(W[k]), float(V[k]), float(cut.horizontal_n[k]),
                   float(cut.vertical_n[k]), tr.limit_n, tr.weight_n, float(cut.torque_nm[k]),
                   float(cut.mass_rate_kgps[k]), mass)


# ----------------------------------------------------------------------------------------
# Online estimate of the regolith from drum torque, collected mass and wheel slip
# ----------------------------------------------------------------------------------------

@dataclass
class _Model:
    phi_deg: float
    theta: np.ndarray      # (surface density kg/m^3, cohesion Pa)
    cov: np.ndarray
    cost: float = 0.0      # negative log-likelihood of the innovations so far


class RegolithEstimator:
    """Estimates (surface density, cohesion, friction angle) from what the rover measures.

    Given the friction angle the force model is linear in density and cohesion: the
    blade force is w (rho r(d) g h^2 N_gamma + c h (N_c + a N_a)) (r(d): the nominal
    density profile's shape), the collected mass is rho r(d) x swept volume, and the
    Janosi-Hanamoto thrust is (A c + W tan phi) j(s). So a bank of recursive-least-squares
    filters, one per friction angle on a 1 deg grid (a multiple-model estimator), each
    starting from the nominal values with a broad prior, is updated with every
    measurement; the friction angle is the one whose filter explains the measurements
    best (least negative log-likelihood of its innovations plus a Gaussian prior on phi).
    The rupture angle beta in each regressor is the least-resistance one at that filter's
    current estimate; P is stationary in beta there, so the linearisation error is second
    order. Nothing here knows the regolith it is measuring: the same code runs on any.
    """

    def __init__(self, nominal: RegolithParams, rover: Rover, gravity_mps2: float,
                 phi_range_deg=(20.0, 60.0), sigma_phi_deg: float = 10.0,
                 sigma_density_kgm3: float = 400.0, sigma_cohesion_pa: float | None = None,
                 rel_noise: float = 0.05):
        self.nominal = nominal
        self.rover = rover
        self.g = float(gravity_mps2)
        self.sigma_phi = sigma_phi_deg
        self.rel_noise = rel_noise
        s_c = sigma_cohesion_pa if sigma_cohesion_pa is not None else max(2.0 * nominal.cohesion_pa, 200.0)
        cov0 = np.diag([sigma_density_kgm3 ** 2, s_c ** 2])
        theta0 = np.array([nominal.density_kgm3, nominal.cohesion_pa])
        self.models = [_Model(float(phi), theta0.copy(), cov0.copy())
                       for phi in np.arange(phi_range_deg[0], phi_range_deg[1] + 0.5, 1.0)]
        self.updates = 0

    def _params(self, m: _Model) -> RegolithParams:
        ratio = self.nominal.density_deep_kgm3 / self.nominal.density_kgm3
        rho = float(max(m.theta[0], 50.0))
        return replace(self.nominal, density_kgm3=rho, density_deep_kgm3=rho * ratio,
                       cohesion_pa=float(max(m.theta[1], 0.0)), friction_deg=m.phi_deg)

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
        """One measured total cutting torque (both drums, N m) at these cut settings."""
        if not all(map(math.isfinite, (depth_m, drum_radps, drive_mps, torque_nm))) or depth_m <= 0:
            return
        r = self.rover
        for m in self.models:
            p = self._params(m)
            cut = drum_cut(depth_m, drum_radps, drive_mps, r, p, self.g)
            h = float(cut.chip_m)
            if h <= 0.0:
                continue
            phi = math.radians(m.phi_deg)
            delta = p.wall_friction_ratio * phi
            alpha = r.bucket_rake_rad
            bf = blade_force(h, r.drum_length_m, p, self.g, rake_rad=alpha,
                             density_kgm3=p.density_at(depth_m))
            ng, nc, _nq, na = (float(v) for v in n_factors(alpha, delta, phi, float(bf.beta_rad)))
            k = float(cut.engaged) * r.drum_radius_m * r.drums_digging
            shape = float(p.density_at(depth_m)) / p.density_kgm3
            a = p.adhesion_ratio
            x_rho = k * math.sin(alpha + delta) * r.drum_length_m * self.g * shape * h * h * ng
            x_c = k * r.drum_length_m * h * (math.sin(alpha + delta) * (nc + a * na) + a / math.tan(alpha))
            self._update(m, np.array([x_rho, x_c]), float(torque_nm))
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

    def add_slip(self, slip: float, thrust_n: float, sinkage_m: float):
        """Measured total wheel thrust (N, from wheel torque / radius) at this slip and
        wheel sinkage (m): the Janosi-Hanamoto thrust is linear in cohesion, and its
        friction share W tan phi tells the filters apart."""
        if not all(map(math.isfinite, (slip, thrust_n, sinkage_m))) or slip <= 0:
            return
        r = self.rover
        w_wheel = r.normal_load_n(self.g) / r.wheels
        L = contact_length_m(sinkage_m, r.wheel_radius_m)
        for m in self.models:
            j = janosi_hanamoto_factor(slip, L, self._params(m).shear_modulus_k_m)
            x_c = r.wheels * r.wheel_width_m * L * j
            offset = r.wheels * w_wheel * math.tan(math.radians(m.phi_deg)) * j
            self._update(m, np.array([0.0, x_c]), float(thrust_n), offset)
        self.updates += 1

    def snapshot(self) -> dict:
        p = self.params
        return {'density_kgm3': p.density_kgm3, 'cohesion_pa': p.cohesion_pa,
                'friction_deg': p.friction_deg, 'updates': self.updates}
