"""Physical checks of a loaded world (worlds/<name>.sdf), pure Python, no rclpy, no MuJoCo.

``check_world(spec)`` is called by mining_rover.sim.world.load_world on every world it
returns, so the simulator, the site parameters and `mining-rover sim` all refuse the same
bad world with the same one line naming the file, the element, the value and what is
expected (a ValueError; the runner exits 2 with it). Parsing errors (malformed XML, a
missing element) are load_world's; this module judges values that parse but cannot be a
place a rover works: gravity of zero, pointing up or sideways, or outside the range of
bodies we model; zones of no size; an inverted terrain height range; negative pressure.
"""
from __future__ import annotations

import math

import numpy as np

from mining_rover.config_check import show_path

#: Gravity magnitude range, m/s^2. Lower end: a few-hundred-metre rubble pile (ARCHITECTURE:
#: 1e-4 to 1e-5 m/s^2 for a near-Earth rubble pile) with two decades of margin; upper end
#: above Jupiter's 24.79 m/s^2 (NASA Planetary Fact Sheet), the largest surface gravity
#: in the solar system. The planner's gravity_mps2 parameter accepts the same range.
GRAVITY_MIN_MPS2 = 1e-7
GRAVITY_MAX_MPS2 = 30.0
#: Largest angle between gravity and the world's -z axis, deg. The terrain is a heightmap
#: over x-y with z up (REP-103), so gravity must point down it; a tilted vector would put
#: the whole site on a slope, and beyond 45 deg that slope exceeds regolith's angle of
#: repose (lunar: 35-45 deg, Lunar Sourcebook 9.1.6), where nothing stays put.
GRAVITY_MAX_TILT_DEG = 45.0


class WorldError(ValueError):
    """A world file holds a value no site can have; one line naming file, element, value."""


def _vec(v) -> str:
    return ' '.join(f'{float(a):g}' for a in np.ravel(v))


def check_gravity(path, gravity) -> None:
    """WorldError unless ``gravity`` (3,) m/s^2 points down (-z within GRAVITY_MAX_TILT_DEG)
    with a magnitude in [GRAVITY_MIN_MPS2, GRAVITY_MAX_MPS2]."""
    g = np.asarray(gravity, dtype=float).reshape(-1)
    where = f'{path}: <gravity> = {_vec(g)}'
    if g.shape != (3,) or not np.all(np.isfinite(g)):
        raise WorldError(f'{where}: expected three finite numbers x y z, m/s^2')
    norm = float(np.linalg.norm(g))
    expected = (f'a vector pointing down (-z) with magnitude in [{GRAVITY_MIN_MPS2:g}, '
                f'{GRAVITY_MAX_MPS2:g}] m/s^2, e.g. 0 0 -1.62 for the Moon')
    if norm == 0.0:
        raise WorldError(f'{where}: gravity is zero: expected {expected}')
    if g[2] >= 0.0:
        raise WorldError(f'{where}: gravity points up or sideways: expected {expected}')
    tilt = math.degrees(math.acos(min(1.0, -g[2] / norm)))
    if tilt > GRAVITY_MAX_TILT_DEG:
        raise WorldError(f'{where}: gravity is {tilt:.0f} deg off vertical: expected {expected} '
                         f'(at most {GRAVITY_MAX_TILT_DEG:g} deg off -z)')
    if not GRAVITY_MIN_MPS2 <= norm <= GRAVITY_MAX_MPS2:
        raise WorldError(f'{where}: magnitude {norm:g} m/s^2 is outside the physical range: '
                         f'expected {expected}')


def _positive(path, element, attr, value, unit):
    if not (math.isfinite(value) and value > 0.0):
        raise WorldError(f'{path}: <mining:{element}> {attr} = {value:g}: expected a number > 0, {unit}')


def check_world(spec):
    """WorldError on the first impossible value of a loaded WorldSpec; returns the spec."""
    path = show_path(spec.sdf_path)
    check_gravity(path, spec.gravity)
    sx, sy = spec.size_xy
    _positive(path, 'terrain', 'size_x', sx, 'm')
    _positive(path, 'terrain', 'size_y', sy, 'm')
    z0, z1 = spec.z_range
    if not z0 < z1:
        raise WorldError(f'{path}: <mining:terrain> z_min = {z0:g}, z_max = {z1:g}: '
                         f'expected z_min < z_max, m')
    for element, zone in (('dig_zone', spec.zones.dig_zone), ('berm_zone', spec.zones.berm_zone)):
        _positive(path, element, 'radius', zone[2], 'm')
    if spec.zones.arena is not None:
        _positive(path, 'arena', 'size_x', spec.zones.arena[0], 'm')
        _positive(path, 'arena', 'size_y', spec.zones.arena[1], 'm')
    if spec.atmosphere_pressure_pa < 0.0:
        raise WorldError(f'{path}: <atmosphere><pressure> = {spec.atmosphere_pressure_pa:g}: '
                         f'expected a number >= 0, Pa (0 = vacuum)')
    if not spec.ambient_temperature_k > 0.0:
        raise WorldError(f'{path}: <atmosphere><temperature> = {spec.ambient_temperature_k:g}: '
                         f'expected a number > 0, K')
    if spec.atmosphere_density_kgpm3 < 0.0:
        raise WorldError(f'{path}: <mining:atmosphere> density_kgpm3 = {spec.atmosphere_density_kgpm3:g}: '
                         f'expected a number >= 0, kg/m^3')
    return spec
