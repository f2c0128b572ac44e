"""Load a world (worlds/<name>.sdf + its side files) into a WorldSpec (no rclpy, no MuJoCo).

``load_world('moon_south_pole')`` or ``load_world('/path/to/x.sdf')``. An unknown name
raises ValueError listing the worlds; a malformed SDF or a missing side file raises
ValueError naming the file and the element.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mining_rover.paths import worlds_dir
from mining_rover.physics.soil import check_soil_fields
from mining_rover.sim.world_check import check_world

NS = '{https://mining-rover.org/sdf}'
#: Operational site files are ``worlds/<world>_operational.sdf`` (mining_rover.sim.sites).
OPERATIONAL_SUFFIX = '_operational'
REGOLITH_KEYS = ('density_kgpm3', 'cohesion_pa', 'friction_deg', 'wall_friction_deg', 'region')
RESOURCE_KEYS = ('rare_earth_ppm', 'platinum_group_ppm', 'helium3_ppb')


@dataclass(frozen=True)
class Zones:
    """Start pose (x, y m, yaw rad), dig and berm zones as (x, y, r) in m, optional arena size."""
    start_xy_yaw: tuple
    dig_zone: tuple     # (x, y, r)
    berm_zone: tuple    # (x, y, r)
    arena: tuple | None = None   # (size_x, size_y) where the world is a competition arena


@dataclass(frozen=True)
class SiteInfo:
    """What kind of site a world file holds: ``compact`` (the world's own clearing) or
    ``operational`` (sim.site_layout: seed, the draw that passed its checks, the straight
    base -> dig-zone distance in m) and the base pose (x, y m, yaw rad: the berm centre, facing
    the dig zone; for the fiducial boards on it; a compact site's too)."""
    kind: str = 'compact'
    seed: int | None = None
    attempt: int = 0
    haul_distance_m: float | None = None
    base_xy_yaw: tuple | None = None


@dataclass(frozen=True)
class Hazards:
    """The world's true craters and rocks (positions and sizes in m)."""
    craters: tuple      # of {x, y, radius, depth}
    rocks: tuple        # of {x, y, height, radius}


@dataclass(frozen=True, eq=False)
class WorldSpec:
    """A parsed world file: gravity (m/s^2), atmosphere, terrain, zones, hazards and soil."""
    name: str
    sdf_path: Path
    gravity: np.ndarray               # (3,) m/s^2, world frame
    gravity_mps2: float
    atmosphere_pressure_pa: float
    atmosphere_density_kgpm3: float
    vacuum: bool
    ambient_temperature_k: float      # SDF <atmosphere><temperature> (radiative sink for motors)
    heights: np.ndarray               # HxW float32, row 0 = lowest y
    resolution_m: float
    origin_xy: tuple                  # (x, y) of cell [0, 0]'s centre
    size_xy: tuple
    z_range: tuple                    # (z_min, z_max) of the heightmap
    sun_direction: np.ndarray         # (3,) unit, the direction the light travels
    regolith: dict
    resources: dict
    prior_map_path: Path
    hazards: Hazards
    zones: Zones
    site: SiteInfo = SiteInfo()

    def height_at(self, x, y):
        """Bilinear terrain height at x, y (arrays ok), clamped to the grid."""
        return bilinear(self.heights, self.origin_xy, self.resolution_m, x, y)


def bilinear(h: np.ndarray, origin_xy, res: float, x, y):
    """Bilinear interpolation of height grid ``h`` (cell ``res`` m, origin in m) at x, y (m);
    points outside are clamped to the edge."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    H, W = h.shape
    fx = np.clip((x - origin_xy[0]) / res, 0.0, W - 1.000001)
    fy = np.clip((y - origin_xy[1]) / res, 0.0, H - 1.000001)
    c0, r0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    tx, ty = fx - c0, fy - r0
    v = (h[r0, c0] * (1 - tx) * (1 - ty) + h[r0, c0 + 1] * tx * (1 - ty)
         + h[r0 + 1, c0] * (1 - tx) * ty + h[r0 + 1, c0 + 1] * tx * ty)
    return v if v.ndim else float(v)


def list_worlds() -> list:
    """Names of the world files in the package's worlds/ directory, sorted."""
    d = worlds_dir()
    return sorted(p.stem for p in d.glob('*.sdf') if not p.stem.endswith(OPERATIONAL_SUFFIX)) \
        if d.is_dir() else []


def _resolve(name_or_path) -> Path:
    s = str(name_or_path)
    if s.endswith('.sdf') or '/' in s:
        p = Path(s)
        if not p.is_file():
            raise ValueError(f'world file {p} does not exist')
        return p
    p = worlds_dir() / f'{s}.sdf'
    if not p.is_file():
        raise ValueError(f"unknown world {s!r}; worlds: {', '.join(list_worlds()) or '(none)'}")
    return p


def _floats(path, el, tag, n):
    if el is None:
        raise ValueError(f'{path}: missing element <{tag}>')
    try:
        v = [float(t) for t in (el.text or '').split()]
    except ValueError:
        v = []
    if len(v) != n or not all(math.isfinite(a) for a in v):
        raise ValueError(f'{path}: element <{tag}> must hold {n} finite numbers, got {el.text!r}')
    return np.array(v)


def _attrs(path, parent, tag, keys):
    el = parent.find(NS + tag)
    if el is None:
        raise ValueError(f'{path}: missing element <mining:{tag}>')
    out = []
    for k in keys:
        try:
            v = float(el.get(k))
        except (TypeError, ValueError):
            raise ValueError(f'{path}: element <mining:{tag}> attribute {k!r} missing or not a number '
                             f'({el.get(k)!r})') from None
        if not math.isfinite(v):
            raise ValueError(f'{path}: element <mining:{tag}> attribute {k!r} is not finite')
        out.append(v)
    return tuple(out)


def _side_file(path: Path, mw, tag) -> Path:
    el = mw.find(NS + tag)
    if el is None or not el.get('file'):
        raise ValueError(f'{path}: missing element <mining:{tag} file=...>')
    f = path.parent / el.get('file')
    if not f.is_file():
        raise ValueError(f'{path}: <mining:{tag}> names {f}, which does not exist')
    return f


def load_world(name_or_path) -> WorldSpec:
    """Parse a world by name or path into a WorldSpec; ValueError naming the file and the problem."""
    path = _resolve(name_or_path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f'{path}: malformed SDF: {exc}') from exc
    if root.tag != 'sdf':
        raise ValueError(f'{path}: root element is <{root.tag}>, expected <sdf>')
    world = root.find('world')
    if world is None:
        raise ValueError(f'{path}: missing element <world>')
    gravity = _floats(path, world.find('gravity'), 'gravity', 3)
    atm = world.find('atmosphere')
    pressure, temperature = 101325.0, 288.15
    if atm is not None and atm.find('temperature') is not None:
        temperature = float(_floats(path, atm.find('temperature'), 'atmosphere/temperature', 1)[0])
    if atm is not None and atm.find('pressure') is not None:
        pressure = float(_floats(path, atm.find('pressure'), 'atmosphere/pressure', 1)[0])
    sun = None
    for light in world.findall('light'):
        if light.get('type') == 'directional':
            sun = _floats(path, light.find('direction'), 'light/direction', 3)
            break
    if sun is None:
        raise ValueError(f'{path}: missing element <light type="directional"> (the sun)')
    sun = sun / (np.linalg.norm(sun) or 1.0)
    mw = world.find(NS + 'world')
    if mw is None:
        raise ValueError(f'{path}: missing element <mining:world> (xmlns:mining="{NS[1:-1]}")')
    sx, sy, z0, z1 = _attrs(path, mw, 'terrain', ('size_x', 'size_y', 'z_min', 'z_max'))
    (density,) = _attrs(path, mw, 'atmosphere',
                        ('density_kgpm3',)) if mw.find(NS + 'atmosphere') is not None \
        else (0.0,)
    start = _attrs(path, mw, 'start', ('x', 'y', 'yaw'))
    dig = _attrs(path, mw, 'dig_zone', ('x', 'y', 'radius'))
    berm = _attrs(path, mw, 'berm_zone', ('x', 'y', 'radius'))
    arena = _attrs(path, mw, 'arena', ('size_x', 'size_y')) if mw.find(NS + 'arena') is not None else None
    site = _site_info(path, mw, dig, berm)
    truth = _side_file(path, mw, 'truth')
    prior = _side_file(path, mw, 'resource_prior')
    try:
        with np.load(truth, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except Exception as exc:
        raise ValueError(f'{truth}: unreadable ({exc})') from exc
    for k in ('heights', *REGOLITH_KEYS, *RESOURCE_KEYS, 'craters', 'rocks'):
        if k not in data:
            raise ValueError(f'{truth}: missing array {k!r}')
    check_soil_fields(truth, data)
    heights = np.asarray(data['heights'], dtype=np.float32)
    H, W = heights.shape
    res = sx / (W - 1)
    if abs(sy / (H - 1) - res) > 1e-9 * res:
        raise ValueError(f'{path}: <mining:terrain> size {sx} x {sy} does not give square cells on {H}x{W}')
    craters = tuple({'x': float(a), 'y': float(b), 'radius': float(r), 'depth': float(dd)}
                    for a, b, r, dd in data['craters'])
    rocks = tuple({'x': float(a), 'y': float(b), 'height': float(hh), 'radius': float(r)}
                  for a, b, hh, r in data['rocks'])
    g = float(np.linalg.norm(gravity))
    return check_world(WorldSpec(
        name=world.get('name') or path.stem, sdf_path=path, gravity=gravity, gravity_mps2=g,
        atmosphere_pressure_pa=pressure, atmosphere_density_kgpm3=float(density),
        vacuum=pressure <= 0.0, ambient_temperature_k=temperature, heights=heights, resolution_m=float(res),
        origin_xy=(-sx / 2, -sy / 2), size_xy=(sx, sy), z_range=(z0, z1), sun_direction=sun,
        regolith={k: data[k] for k in REGOLITH_KEYS}, resources={k: data[k] for k in RESOURCE_KEYS},
        prior_map_path=prior, hazards=Hazards(craters, rocks),
        zones=Zones(start, dig, berm, arena), site=site))


def _site_info(path: Path, mw, dig, berm) -> SiteInfo:
    el = mw.find(NS + 'site')
    if el is None:   # a compact site: the base is the berm, facing the dig zone
        return SiteInfo(base_xy_yaw=(berm[0], berm[1], math.atan2(dig[1] - berm[1], dig[0] - berm[0])))
    kind = el.get('kind', '')
    if kind not in ('compact', 'operational'):
        raise ValueError(f"{path}: <mining:site> kind {kind!r}: expected 'compact' or 'operational'")
    seed, attempt, haul = _attrs(path, mw, 'site', ('seed', 'attempt', 'haul_distance_m'))
    base = _attrs(path, mw, 'base', ('x', 'y', 'yaw'))
    return SiteInfo(kind, int(seed), int(attempt), haul, base)
