"""Regolith strength and the soil-tool law: the fundamental earthmoving equation.

Pure numpy, no ROS, no simulator, no planner: the simulator uses these functions with a
world's true soil, the planner with its estimate (ARCHITECTURE.md, "shared physics").

Cutting force on a flat blade: the McKyes-Ali wedge form of the fundamental earthmoving
equation (Reece 1964, "The fundamental equation of earth-moving mechanics", Proc. IMechE
179(3F); McKyes & Ali 1977, "The cutting of soil by narrow blades", J. Terramechanics
14(2) 43-58; McKyes 1985, *Soil Cutting and Tillage*, Elsevier, ch. 4), the family that
Wilkinson & DeGennaro (2007, "Digging and pushing lunar regolith: classical soil
mechanics and the forces needed for excavation and traction", J. Terramechanics 44,
133-152) apply to lunar regolith::

    P = (gamma d^2 N_gamma + c d N_c + q d N_q + c_a d N_a + rho v^2 d N_v) w

gamma = rho g the unit weight (where gravity enters), d the depth of the cut (for a
bucket: its chip), w the width, c cohesion, c_a soil-tool adhesion, q a surcharge on the
free surface ahead of the blade, v the blade speed. For a flat blade of rake alpha
(measured from the cutting direction, which for a blade pushed along level ground is the
horizontal), soil-tool friction delta, soil friction phi and a planar rupture surface at
beta from the cutting direction, with D = cos(alpha + delta) + sin(alpha + delta)
cot(beta + phi)::

    N_gamma = (cot alpha + cot beta) / (2 D)
    N_c     = (1 + cot beta cot(beta + phi)) / D
    N_q     = (cot alpha + cot beta) / D
    N_a     = (1 - cot alpha cot(beta + phi)) / D
    N_v     = (tan beta + cot(beta + phi)) / (D (1 + tan beta cot alpha))

N_v is McKyes' (1985, sec. 4.4) inertia factor: the wedge's soil is accelerated to the
blade speed across the rupture plane (it matters for drum buckets, whose tips move at
~1 m/s while the low-gravity weight term is small). beta is the rupture angle that
minimises P (the passive, least-resistance wedge). P acts on the blade at delta from its
normal: the draft (along the cutting direction, resisting the motion) is
``P sin(alpha + delta) + c_a d w cot alpha`` and the normal component ``P cos(alpha +
delta) - c_a d w``, + pushing the blade into the uncut soil (away from the free surface).
For a vertical smooth blade the factors reduce to Rankine's passive pressure (N_gamma =
K_p / 2, N_c = 2 sqrt(K_p), N_q = K_p, K_p = tan^2(45 deg + phi/2)); with wall friction to
Coulomb's passive coefficient (K_p = 6.105 for phi 30 deg, delta 20 deg); the tests check
both (test_physics_soil.py).

Density vs depth: Carrier, Olhoeft & Mendell (1991), *Lunar Sourcebook* ch. 9, table 9.4
(1.50 g/cm3 at 0-15 cm to 1.74 g/cm3 at 30-60 cm); an exponential approach from the
surface value to the deep value over ``density_scale_m`` (the shape of their hyperbolic
fit to the Apollo cores).

Units: SI throughout (m, kg, s, N, Pa, rad); angles in the dataclass are degrees where
the name says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Rupture-angle grid for the least-resistance wedge (rad). 0.05 deg spacing: P is
#: stationary in beta at its minimum, so the grid minimum is within ~1e-6 (relative) of
#: the continuous one. Used where published numbers are reproduced.
BETA_FINE = np.radians(np.linspace(0.5, 89.5, 1781))
#: 0.5 deg spacing for the drum model's many chips: within ~1e-4 of the continuous minimum
#: (test_physics_soil.py), 10x less work.
BETA_COARSE = np.radians(np.linspace(0.5, 89.5, 179))
_CHUNK = 512  # chips per block in blade_force (bounds the chip x beta temporaries)

#: Physical ranges a world's soil must lie in (world files are refused outside them):
#: bulk density of granular regolith and its simulants, 0.5-4 g/cm^3 (loose lunar fines
#: ~1.0 g/cm3 up to metal-rich regolith ~3.5 g/cm3, Elkins-Tanton et al. 2020); cohesion
#: >= 0; internal and wall friction 0-60 deg (no granular material exceeds ~60 deg: the
#: angle of repose of angular lunar grains is 35-45 deg, Carrier et al. 1991 ch. 9).
SOIL_RANGES = {'density_kgpm3': (500.0, 4000.0), 'cohesion_pa': (0.0, math.inf),
               'friction_deg': (0.0, 60.0), 'wall_friction_deg': (0.0, 60.0)}


def soil_field_problem(fields: dict) -> str:
    """First problem with a world's per-cell soil fields ({key: array}), '' when every
    value is finite and inside SOIL_RANGES: 'KEY: VALUE outside [LO, HI] UNIT (at cell
    (row, col))'. A pure check; world.py names the file."""
    for key, (lo, hi) in SOIL_RANGES.items():
        if key not in fields:
            continue
        a = np.asarray(fields[key], dtype=float)
        bad = ~np.isfinite(a) | (a < lo) | (a > hi)
        if np.any(bad):
            idx = np.unravel_index(int(np.flatnonzero(bad)[0]), a.shape) if a.ndim else ()
            unit = {'density_kgpm3': 'kg/m^3', 'cohesion_pa': 'Pa'}.get(key, 'deg')
            where = f' (at cell {tuple(int(i) for i in idx)})' if idx else ''
            return f'{key}: {float(a[idx]):g} outside [{lo:g}, {hi:g}] {unit}{where}'
    return ''


def check_soil_fields(path, fields: dict) -> None:
    """ValueError 'PATH: soil KEY: VALUE outside [LO, HI] UNIT ...' when soil_field_problem
    finds one (the world loader's hook)."""
    problem = soil_field_problem(fields)
    if problem:
        raise ValueError(f'{path}: soil {problem}')


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

    def density_point(self, depth_m) -> np.ndarray:
        """Bulk density (kg/m^3) at depth_m below the original surface (negative: 0)."""
        d = np.maximum(np.asarray(depth_m, dtype=float), 0.0)
        return self.density_kgm3 + (self.density_deep_kgm3 - self.density_kgm3) * (
            1.0 - np.exp(-d / self.density_scale_m))

    def density_at(self, depth_m) -> np.ndarray:
        """Mean bulk density (kg/m^3) of the layer from the surface to depth_m."""
        d = np.maximum(np.asarray(depth_m, dtype=float), 0.0)
        s = self.density_scale_m
        x = np.where(d > 1e-9, d / s, 1e-9)
        mean_frac = 1.0 - (1.0 - np.exp(-x)) / x
        return self.density_kgm3 + (self.density_deep_kgm3 - self.density_kgm3) * mean_frac


def layer_mass_per_area(surface_kgm3, deep_ratio: float, scale_m: float, top_m, bottom_m):
    """Mass per unit area (kg/m^2) of the layer between depths top_m and bottom_m (m below
    the original surface, bottom >= top) of a column whose density rises from
    surface_kgm3 to surface_kgm3 x deep_ratio as RegolithParams.density_point: the exact
    integral, so the simulator's excavated mass and the planner's mass rate agree."""
    z1 = np.maximum(np.asarray(top_m, dtype=float), 0.0)
    z2 = np.maximum(np.asarray(bottom_m, dtype=float), z1)
    dz = z2 - z1
    grow = dz - scale_m * (np.exp(-z1 / scale_m) - np.exp(-z2 / scale_m))
    return np.asarray(surface_kgm3, dtype=float) * (dz + (deep_ratio - 1.0) * grow)


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
    ng, nc, nq, na, _nv = n_factors_all(alpha_rad, delta_rad, phi_rad, beta_rad)
    return ng, nc, nq, na


def n_factors_all(alpha_rad: float, delta_rad: float, phi_rad: float, beta_rad) -> tuple:
    """(N_gamma, N_c, N_q, N_a, N_v): n_factors and McKyes' inertia factor N_v."""
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
    tan_b = np.tan(beta)
    n_v = np.where(ok, (tan_b + cot_bp) / (1.0 + tan_b * cot_a) * np.where(ok, inv, 0.0), np.inf)
    return n_gamma, n_c, n_q, n_a, n_v


@dataclass(frozen=True)
class BladeForce:
    """Force of the soil on a blade, N (arrays where the depth was an array)."""
    total_n: np.ndarray        # P, at delta from the blade normal
    draft_n: np.ndarray        # along the cutting direction (resists motion)
    normal_n: np.ndarray       # perpendicular to the cutting direction, + pushes the tool into the soil
    beta_rad: np.ndarray       # rupture angle of the least-resistance wedge


def blade_force(depth_m, width_m, params: RegolithParams, gravity_mps2: float,
                rake_rad: float = math.radians(60.0), surcharge_pa=0.0,
                density_kgm3=None, speed_mps=0.0, beta_grid=None) -> BladeForce:
    """Soil force on a flat blade cutting depth_m (m) over width_m (m) at speed_mps (m/s).

    Reece's equation with McKyes-Ali factors (module docstring); gamma = density *
    gravity with the layer-mean density of ``params`` unless density_kgm3 is given.
    depth_m, width_m, surcharge_pa, density_kgm3 and speed_mps broadcast together. beta
    minimises P for each depth (on ``beta_grid``, default BETA_FINE). Depth 0 gives zero."""
    d0 = np.asarray(depth_m, dtype=float)
    rho0 = params.density_at(d0) if density_kgm3 is None else density_kgm3
    shape = np.broadcast_shapes(d0.shape, np.shape(width_m), np.shape(surcharge_pa), np.shape(rho0),
                                np.shape(speed_mps))
    d = np.broadcast_to(d0, shape).ravel()
    w = np.broadcast_to(np.asarray(width_m, dtype=float), shape).ravel()
    q = np.broadcast_to(np.asarray(surcharge_pa, dtype=float), shape).ravel()
    rho = np.broadcast_to(np.asarray(rho0, dtype=float), shape).ravel()
    v = np.broadcast_to(np.asarray(speed_mps, dtype=float), shape).ravel()
    betas = BETA_FINE if beta_grid is None else beta_grid
    phi = math.radians(params.friction_deg)
    delta = params.wall_friction_ratio * phi
    c = params.cohesion_pa
    ca = params.adhesion_ratio * c
    ng, nc, nq, na, nv = n_factors_all(rake_rad, delta, phi, betas)
    admissible = np.isfinite(ng)
    ng, nc, nq, na, nv = (np.where(admissible, f, 0.0) for f in (ng, nc, nq, na, nv))
    # P(depth, beta) / w = gamma d^2 Ng + d (c Nc + ca Na) + q d Nq + rho v^2 d Nv
    lin0 = c * nc + ca * na
    k = np.zeros(d.size, dtype=np.intp)
    p = np.zeros(d.size)
    for i in range(0, d.size, _CHUNK):
        dd = d[i:i + _CHUNK]
        P = ((rho[i:i + _CHUNK] * gravity_mps2 * dd * dd)[:, None] * ng[None, :]
             + dd[:, None] * lin0[None, :]
             + (q[i:i + _CHUNK] * dd)[:, None] * nq[None, :]
             + (rho[i:i + _CHUNK] * v[i:i + _CHUNK] ** 2 * dd)[:, None] * nv[None, :])
        P[:, ~admissible] = np.inf
        kk = np.argmin(P, axis=1)
        k[i:i + _CHUNK] = kk
        p[i:i + _CHUNK] = w[i:i + _CHUNK] * P[np.arange(dd.size), kk]
    p = np.where(d > 0.0, np.maximum(p, 0.0), 0.0)
    adhesion = ca * np.maximum(d, 0.0) * w
    draft = p * math.sin(rake_rad + delta) + adhesion / math.tan(rake_rad)
    normal = p * math.cos(rake_rad + delta) - adhesion
    return BladeForce(total_n=p.reshape(shape), draft_n=draft.reshape(shape),
                      normal_n=normal.reshape(shape), beta_rad=betas[k].reshape(shape))


def n_factors_at_minimum(alpha_rad: float, delta_rad: float, phi_rad: float) -> dict:
    """Each N factor minimised over beta on its own (how McKyes charts them), with the
    rupture angle of N_gamma: {'n_gamma', 'n_c', 'n_q', 'n_a', 'beta_gamma_rad'}."""
    ng, nc, nq, na = n_factors(alpha_rad, delta_rad, phi_rad, BETA_FINE)
    k = int(np.argmin(ng))
    return {'n_gamma': float(ng[k]), 'n_c': float(np.min(nc)), 'n_q': float(np.min(nq)),
            'n_a': float(np.min(na)), 'beta_gamma_rad': float(BETA_FINE[k])}


def coulomb_passive_kp(phi_rad: float, delta_rad: float) -> float:
    """Coulomb's passive earth-pressure coefficient for a vertical wall and a horizontal
    backfill (plane rupture surface; e.g. Das, *Principles of Geotechnical Engineering*):
    K_p = cos^2 phi / (cos delta (1 - sqrt(sin(phi + delta) sin(phi) / cos(delta)))^2)."""
    root = math.sqrt(math.sin(phi_rad + delta_rad) * math.sin(phi_rad) / math.cos(delta_rad))
    return math.cos(phi_rad) ** 2 / (math.cos(delta_rad) * (1.0 - root) ** 2)
