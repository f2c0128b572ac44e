"""Generate the SDF worlds and their side files, deterministically.

    python -m mining_rover.sim.worldgen [--out worlds] [NAME ...]

For each world writes ``worlds/<name>.sdf`` (SDF 1.9, valid for ``ign sdf -k``), and
``worlds/media/<name>/`` with ``heightmap.png`` (16-bit, n x n, n = 2^k + 1, top image row
= +y as Gazebo reads it), ``truth.npz`` (exact float32 heights, per-cell regolith and
resource grades, craters, rocks: simulator/evaluation only) and ``resource_prior.npz``
(8x-downsampled noisy grades in the format of mining_rover.planning.resource: the only
resource data planning may read).

The ``<mining:world>`` element (namespace https://mining-rover.org/sdf) carries what SDF
has no element for: terrain extent, side files, zones, atmosphere density.
"""
from __future__ import annotations

import argparse
import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mining_rover.sim.fiducials import fiducials_sdf, layout_boards, write_tag_images
from mining_rover.sim.terrain import TerrainParams, generate, value_noise

NS = 'https://mining-rover.org/sdf'


@dataclass
class WorldDef:
    """Definition of one generated world: gravity (m/s^2) and its source, size (m), soil ranges, sun."""
    name: str
    gravity: float
    gravity_source: str
    size: float = 24.0
    n: int = 129
    pressure_pa: float = 0.0
    density_kgpm3: float = 0.0
    temperature_k: float = 250.0
    atmosphere_source: str = 'airless body: hard vacuum'
    sun_elevation_deg: float = 5.0
    sun_azimuth_deg: float = 30.0       # from +x towards +y, direction *to* the sun
    sun_source: str = ''
    ambient: float = 0.0
    start: tuple = (-8.0, -6.0, 0.0)
    dig: tuple = (4.0, 4.0, 2.0)
    berm: tuple = (-8.0, 6.0, 1.5)
    arena: tuple | None = None          # (size_x, size_y) of a competition arena
    craters: int = 25
    crater_d_max: float = 8.0
    rocks: int = 30
    # regolith: density base, cohesion range, friction range
    density: tuple = (1500.0, 1800.0)   # kg/m^3 surface .. compacted
    cohesion: tuple = (170.0, 1000.0)   # Pa
    friction: tuple = (30.0, 50.0)      # deg
    regolith_source: str = ('lunar regolith: bulk density 1.3-1.9 g/cm^3, cohesion 0.1-1 kPa, '
                            'friction angle 30-50 deg (Carrier, Olhoeft & Mendell, Lunar '
                            'Sourcebook 1991, ch. 9)')
    grades: dict = field(default_factory=lambda: {'rare_earth_ppm': (50.0, 400.0),
                                                  'platinum_group_ppm': (0.005, 0.08),
                                                  'helium3_ppb': (2.0, 20.0)})
    seed: int = 0


#: The excavation site: start, dig zone and berm laid out as RASSOR-class operations are
#: (Mueller et al. 2013, "Design of an excavation robot: Regolith Advanced Surface Systems
#: Operations Robot (RASSOR) 1.0", ASCE Earth & Space): the berm a few metres from the dig
#: face, so a cycle is cutting, not driving. Long traverses to a distant site are a
#: separate capability (the map is fused to 5 m around the rover).
SITE = dict(start=(-2.5, -1.5, 0.5), dig=(1.0, 0.5, 1.5), berm=(-2.5, 2.0, 1.2))

WORLDS = {w.name: w for w in [
    WorldDef('moon_south_pole', 1.62,
             'Moon surface gravity 1.62 m/s^2: NASA NSSDCA Moon Fact Sheet '
             '(nssdc.gsfc.nasa.gov/planetary/factsheet/moonfact.html)',
             size=24.0, n=257, temperature_k=100.0, sun_elevation_deg=5.0,
             sun_source='sun within a few degrees of the horizon near the lunar south pole '
                        '(Mazarico et al. 2011, Icarus 211, 1066)', seed=1, **SITE),
    WorldDef('psyche', 0.144,
             '(16) Psyche surface gravity ~0.144 m/s^2: NASA Psyche mission facts '
             '(psyche.asu.edu; Elkins-Tanton et al. 2020, JGR Planets 125)',
             temperature_k=110.0, sun_elevation_deg=25.0, density=(2500.0, 3500.0),
             cohesion=(50.0, 500.0), friction=(30.0, 45.0),
             regolith_source='metal-rich regolith: assumed bulk density 2.5-3.5 g/cm^3 '
                             '(Elkins-Tanton et al. 2020)', seed=2, **SITE),
    WorldDef('vesta', 0.25,
             '4 Vesta surface gravity ~0.22-0.25 m/s^2: Dawn (Russell et al. 2012, Science 336, 684)',
             temperature_k=180.0, sun_elevation_deg=20.0, density=(1300.0, 1700.0),
             cohesion=(50.0, 600.0), seed=3, **SITE),
    WorldDef('ceres', 0.28,
             '1 Ceres surface gravity ~0.28 m/s^2: Dawn '
             '(NASA Ceres in depth; Russell et al. 2016, Science 353)',
             temperature_k=160.0, sun_elevation_deg=20.0, density=(1200.0, 1600.0),
             cohesion=(100.0, 1500.0), friction=(25.0, 40.0), seed=4, **SITE),
    WorldDef('rubble_pile', 5e-5,
             'Bennu-like rubble-pile asteroid, surface acceleration of order 1e-5..1e-4 m/s^2 '
             '(OSIRIS-REx: Scheeres et al. 2019, Nature Astronomy 3, 352; '
             'Lauretta et al. 2019, Nature 568, 55)',
             size=16.0, temperature_k=300.0, sun_elevation_deg=30.0, density=(1000.0, 1400.0),
             cohesion=(1.0, 100.0), friction=(30.0, 40.0),
             regolith_source='rubble-pile surface: cohesion of order 1-100 Pa from van der Waals '
                             'forces (Scheeres et al. 2010, Icarus 210, 968)',
             crater_d_max=5.0, rocks=45, seed=5, **SITE),
    WorldDef('mars', 3.72,
             'Mars surface gravity 3.71 m/s^2: NASA NSSDCA Mars Fact Sheet '
             '(nssdc.gsfc.nasa.gov/planetary/factsheet/marsfact.html)',
             pressure_pa=600.0, density_kgpm3=0.020, temperature_k=210.0,
             atmosphere_source='CO2 atmosphere, surface pressure ~6 mbar (600 Pa), density ~0.020 kg/m^3: '
                               'NASA NSSDCA Mars Fact Sheet',
             sun_elevation_deg=35.0, ambient=0.25, density=(1200.0, 1600.0),
             cohesion=(200.0, 3000.0), friction=(30.0, 40.0),
             regolith_source='Martian soil: cohesion 0-several kPa, friction 30-40 deg '
                             '(Sullivan et al. 2011, JGR 116)', seed=6, **SITE),
    WorldDef('lunabotics_arena', 9.81, 'standard gravity 9.80665 m/s^2 (Earth, NASA KSC Artemis Arena)',
             size=8.0, n=129, pressure_pa=101325.0, density_kgpm3=1.2, temperature_k=293.0,
             atmosphere_source='indoor arena at sea level (ISA)', sun_elevation_deg=60.0, ambient=0.35,
             sun_source='arena lights', start=(-3.0, -1.2, 0.0), dig=(2.4, 0.0, 1.0),
             berm=(-2.8, 1.4, 0.7), arena=(8.0, 5.0), craters=4, crater_d_max=1.2, rocks=6,
             density=(1500.0, 1800.0), cohesion=(100.0, 800.0), friction=(35.0, 45.0),
             regolith_source='BP-1 lunar simulant (Lunabotics): density ~1.5-1.8 g/cm^3, friction '
                             '35-45 deg (Suescun-Florez et al. 2015, Geotechnical Testing J.)',
             seed=7),
]}


def _zones_clear(w: WorldDef) -> list:
    return [(w.start[0], w.start[1], 1.2), (w.dig[0], w.dig[1], w.dig[2]), (w.berm[0], w.berm[1], w.berm[2])]


def make_fields(w: WorldDef, terr: dict, rng: np.random.Generator) -> tuple:
    """(regolith dict, resources dict), each HxW float32 per heightmap cell (+ region uint8)."""
    h = terr['heights']
    n = h.shape[0]
    xs = terr['x0'] + np.arange(n) * terr['res_x']
    ys = terr['y0'] + np.arange(n) * terr['res_y']
    X, Y = np.meshgrid(xs, ys)
    region = np.zeros(h.shape, np.uint8)           # 0 plain, 1 crater floor, 2 rim/ejecta, 3 rock
    for c in terr['craters']:
        r = np.hypot(X - c['x'], Y - c['y']) / c['radius']
        region[(r < 1.6) & (region == 0)] = 2
        region[r < 0.8] = 1
    for k in terr['rocks']:
        region[np.hypot(X - k['x'], Y - k['y']) < k['radius']] = 3

    def field01(period_m):
        f = value_noise(h.shape, rng, period_m / terr['res_x'], 3)
        return np.clip(0.5 + 0.7 * f, 0.0, 1.0)

    d0, d1 = w.density
    c0, c1 = w.cohesion
    f0, f1 = w.friction
    density = d0 + (d1 - d0) * field01(8.0)
    density = np.where(region == 1, density + 0.1 * (d1 - d0), density)   # compacted floors
    cohesion = c0 + (c1 - c0) * field01(6.0)
    friction = f0 + (f1 - f0) * field01(10.0)
    wall = friction * (0.5 + 0.2 * field01(12.0))
    regolith = {
        'density_kgpm3': np.round(np.clip(density, d0, d1 * 1.1), 0).astype(np.float32),
        'cohesion_pa': np.round(cohesion, 0 if c1 > 20 else 1).astype(np.float32),
        'friction_deg': np.round(friction, 1).astype(np.float32),
        'wall_friction_deg': np.round(wall, 1).astype(np.float32),
        'region': region,
    }
    resources = {}
    for key, (lo, hi) in w.grades.items():
        g = field01(7.0) ** 2
        for _ in range(3):   # a few enriched deposits
            bx, by = rng.uniform(xs[0], xs[-1]), rng.uniform(ys[0], ys[-1])
            s = rng.uniform(1.0, 3.0) * w.size / 24.0
            g += np.exp(-((X - bx) ** 2 + (Y - by) ** 2) / (2 * s * s))
        g = lo + (hi - lo) * g / g.max()
        decimals = max(0, 3 - int(math.floor(math.log10(hi))))
        resources[key] = np.round(g, decimals).astype(np.float32)
    return regolith, resources


MASS_FRACTION = {'rare_earth_ppm': ('rare_earth', 1e-6), 'platinum_group_ppm': ('platinum_group', 1e-6),
                 'helium3_ppb': ('helium3', 1e-9)}


def make_prior(resources: dict, terr: dict, rng: np.random.Generator, factor: int = 8) -> dict:
    """Coarse (factor x) block means with multiplicative noise, as mass fractions."""
    out = {}
    n = next(iter(resources.values())).shape[0]
    m = (n - 1) // factor
    for key, grid in resources.items():
        name, scale = MASS_FRACTION[key]
        block = grid[:m * factor, :m * factor].reshape(m, factor, m, factor).mean(axis=(1, 3))
        noisy = block * np.exp(rng.normal(0.0, 0.3, block.shape))
        out[name] = (noisy * scale).astype(np.float64)
        out[f'{name}_std'] = (0.35 * noisy * scale).astype(np.float64)
    out['resolution'] = np.array([terr['res_x'] * factor])
    out['origin'] = np.array([terr['x0'] - terr['res_x'] / 2, terr['y0'] - terr['res_y'] / 2])
    return out


def _fmt(v) -> str:
    return f'{v:.6g}'


def sdf_text(w: WorldDef, terr: dict, zmin: float, zmax: float, media_name: str | None = None,
             site_xml: str = '', generated_by: str = '', boards: tuple = ()) -> str:
    """The SDF world file text for ``w`` with heightmap z range [zmin, zmax] (m), the
    fiducial ``boards`` at its base (sim/fiducials.py); an operational site passes its
    media folder name and its ``<mining:site>`` element."""
    el, az = math.radians(w.sun_elevation_deg), math.radians(w.sun_azimuth_deg)
    to_sun = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    d = -to_sun
    amb = _fmt(w.ambient)
    vac = w.pressure_pa <= 0.0
    media = f'media/{media_name or w.name}'
    size = _fmt(w.size)
    size_xyz = f'{size} {size} {_fmt(zmax - zmin)}'
    arena = (f'\n      <mining:arena size_x="{_fmt(w.arena[0])}" size_y="{_fmt(w.arena[1])}"/>'
             if w.arena else '')
    by = generated_by
    sun_note = f'\n  <!-- Sun: {w.sun_source} -->' if w.sun_source else ''
    board_models, board_map = fiducials_sdf(boards, media) if boards else ('', '')
    board_models = '\n' + board_models if board_models else ''
    board_map = '\n' + board_map if board_map else ''
    tail = arena + board_map + site_xml
    heightmap = f"""<heightmap>
              <uri>{media}/heightmap.png</uri>
              <size>{size_xyz}</size>
              <pos>0 0 {_fmt(zmin)}</pos>
            </heightmap>"""
    return f"""<?xml version="1.0"?>
<!-- Generated by `python -m mining_rover.sim.worldgen`{by} (seed {w.seed}); do not edit by hand. -->
<!-- Gravity: {w.gravity_source} -->
<!-- Atmosphere: {w.atmosphere_source} -->
<!-- Regolith: {w.regolith_source} -->{sun_note}
<sdf version="1.9" xmlns:mining="{NS}">
  <world name="{w.name}">
    <physics name="default_physics" default="true" type="ode">
      <max_step_size>0.002</max_step_size>
      <real_time_factor>1.0</real_time_factor>
      <real_time_update_rate>500</real_time_update_rate>
    </physics>
    <gravity>0 0 {-w.gravity:.6g}</gravity>
    <atmosphere type="adiabatic">
      <temperature>{_fmt(w.temperature_k)}</temperature>
      <pressure>{_fmt(w.pressure_pa)}</pressure>
    </atmosphere>
    <scene>
      <ambient>{amb} {amb} {amb} 1</ambient>
      <background>{'0 0 0' if vac else '0.6 0.5 0.4' if w.name == 'mars' else '0.7 0.7 0.7'} 1</background>
      <shadows>true</shadows>
      <grid>false</grid>
    </scene>
    <light type="directional" name="sun">
      <cast_shadows>true</cast_shadows>
      <pose>0 0 50 0 0 0</pose>
      <diffuse>1 1 0.95 1</diffuse>
      <specular>0.2 0.2 0.2 1</specular>
      <direction>{_fmt(d[0])} {_fmt(d[1])} {_fmt(d[2])}</direction>
    </light>
    <model name="terrain">
      <static>true</static>
      <link name="link">
        <collision name="collision">
          <geometry>
            {heightmap}
          </geometry>
        </collision>
        <visual name="visual">
          <geometry>
            {heightmap}
          </geometry>
        </visual>
      </link>
    </model>{board_models}
    <mining:world version="1">
      <mining:terrain size_x="{size}" size_y="{size}" z_min="{_fmt(zmin)}" z_max="{_fmt(zmax)}"
                      rows="{terr['heights'].shape[0]}" cols="{terr['heights'].shape[1]}"/>
      <mining:truth file="{media}/truth.npz"/>
      <mining:resource_prior file="{media}/resource_prior.npz"/>
      <mining:atmosphere density_kgpm3="{_fmt(w.density_kgpm3)}"/>
      <mining:start x="{_fmt(w.start[0])}" y="{_fmt(w.start[1])}" yaw="{_fmt(w.start[2])}"/>
      <mining:dig_zone x="{_fmt(w.dig[0])}" y="{_fmt(w.dig[1])}" radius="{_fmt(w.dig[2])}"/>
      <mining:berm_zone x="{_fmt(w.berm[0])}" y="{_fmt(w.berm[1])}" radius="{_fmt(w.berm[2])}"/>{tail}
    </mining:world>
  </world>
</sdf>
"""


def _savez(path: Path, **arrays) -> None:
    """np.savez_compressed with a fixed zip timestamp so reruns are byte-identical."""
    import zipfile
    buf_path = Path(path)
    with zipfile.ZipFile(buf_path, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f'{key}.npy', date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, b.getvalue())


def base_boards(w: WorldDef, terr: dict) -> tuple:
    """The fiducial boards at ``w``'s berm zone facing its dig zone, on the terrain and
    inside the world (or its arena)."""
    from mining_rover.sim.world import bilinear
    sx, sy = w.arena if w.arena else (w.size, w.size)
    # an arena is too small for a row of three behind its berm: two, on its wall
    def ground(x, y):
        return bilinear(terr['heights'], (terr['x0'], terr['y0']), terr['res_x'], x, y)
    return layout_boards(w.berm, w.dig[:2], ground,
                         count=2 if w.arena else 3, bounds=(-sx / 2, sx / 2, -sy / 2, sy / 2),
                         margin_m=0.2 if w.arena else 0.5)


def build_world(w: WorldDef, out_dir: Path) -> Path:
    """Generate the terrain, truth and prior maps for ``w`` under ``out_dir``; returns the SDF path."""
    params = TerrainParams(size_x=w.size, size_y=w.size, n=w.n, crater_count=w.craters,
                           crater_d_max=w.crater_d_max, crater_d_min=min(0.8, w.crater_d_max / 2),
                           rock_count=w.rocks, noise_base_cells=w.size / 4,
                           noise_amplitude=0.04 if w.size > 10 else 0.02,
                           clear_zones=_zones_clear(w))
    terr = generate(params, seed=w.seed)
    return write_world(w, terr, out_dir, w.name)


def write_world(w: WorldDef, terr: dict, out_dir: Path, file_name: str, site_xml: str = '',
                generated_by: str = '') -> Path:
    """Write ``out_dir/<file_name>.sdf`` and ``out_dir/media/<file_name>/`` (heightmap, truth,
    prior) for world ``w`` on terrain ``terr`` (sim.terrain.generate's format)."""
    import cv2
    rng = np.random.default_rng(w.seed + 1000)
    regolith, resources = make_fields(w, terr, rng)
    prior = make_prior(resources, terr, rng)
    h = terr['heights']
    zmin = math.floor(float(h.min()) * 100) / 100 - 0.01
    zmax = math.ceil(float(h.max()) * 100) / 100 + 0.01
    media = out_dir / 'media' / file_name
    media.mkdir(parents=True, exist_ok=True)
    png = np.round((h.astype(np.float64) - zmin) / (zmax - zmin) * 65535).astype(np.uint16)
    cv2.imwrite(str(media / 'heightmap.png'), np.flipud(png))  # image top row = +y
    cr = terr['craters']
    rk = terr['rocks']
    _savez(media / 'truth.npz', heights=h,
           x0=np.array(terr['x0']), y0=np.array(terr['y0']), resolution=np.array(terr['res_x']),
           craters=np.array([[c['x'], c['y'], c['radius'], c['depth']] for c in cr]).reshape(-1, 4),
           rocks=np.array([[r['x'], r['y'], r['height'], r['radius']] for r in rk]).reshape(-1, 4),
           **regolith, **resources)
    _savez(media / 'resource_prior.npz', **prior)
    boards = base_boards(w, terr)
    write_tag_images(boards, media)
    sdf = out_dir / f'{file_name}.sdf'
    sdf.write_text(sdf_text(w, terr, zmin, zmax, media_name=file_name, site_xml=site_xml,
                            generated_by=generated_by, boards=boards))
    return sdf


def operational_def(w: WorldDef, layout) -> WorldDef:
    """``w`` with the operational site's size, grid and zones (a SiteLayout)."""
    from dataclasses import replace

    from mining_rover.sim.site_layout import SITE_N, SITE_SIZE_M
    return replace(w, size=SITE_SIZE_M, n=SITE_N, start=layout.start_xy_yaw, dig=layout.dig_zone,
                   berm=layout.berm_zone, seed=layout.seed)


def build_operational(w: WorldDef, out_dir: Path, seed: int | None = None) -> Path:
    """Generate ``w``'s operational site (sim.site_layout) for ``seed`` (default: the world's
    own seed) as ``out_dir/<name>_operational.sdf`` + media; ValueError when refused."""
    from mining_rover.sim.site_layout import HAZARD_MODELS, layout_site
    seed = w.seed if seed is None else int(seed)
    layout = layout_site(w.name, seed)
    wo = operational_def(w, layout)
    bx, by, byaw = layout.base_xy_yaw
    site_xml = (f'\n      <!-- Hazards: {HAZARD_MODELS[w.name].source} -->'
                f'\n      <mining:site kind="operational" seed="{seed}" attempt="{layout.attempt}" '
                f'haul_distance_m="{_fmt(layout.haul_distance_m)}" line_hazards="{layout.line_hazards}" '
                f'max_slope_deg="{_fmt(layout.max_slope_deg)}"/>'
                f'\n      <mining:base x="{_fmt(bx)}" y="{_fmt(by)}" yaw="{_fmt(byaw)}"/>')
    return write_world(wo, layout.terrain(), out_dir, f'{w.name}_operational', site_xml,
                       generated_by=', operational site')


def main(argv=None) -> int:
    """Command line: regenerate the named worlds (default all) into --out."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=None, help='output directory (default: the package worlds/)')
    ap.add_argument('--site', default='compact', choices=('compact', 'operational', 'all'),
                    help='compact (<name>.sdf), operational (<name>_operational.sdf) or all')
    ap.add_argument('--seed', type=int, default=None,
                    help="operational site seed (default: each world's own seed)")
    ap.add_argument('names', nargs='*', help=f'worlds (default all: {", ".join(WORLDS)})')
    a = ap.parse_args(argv)
    if a.out is None:
        from mining_rover.paths import worlds_dir
        out = worlds_dir()
    else:
        out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from mining_rover.sim.site_layout import HAZARD_MODELS
    for name in a.names or list(WORLDS):
        if name not in WORLDS:
            print(f'unknown world {name!r}; worlds: {", ".join(WORLDS)}', file=sys.stderr)
            return 2
        if a.site in ('compact', 'all'):
            print(build_world(WORLDS[name], out))
        if a.site in ('operational', 'all') and (a.names or name in HAZARD_MODELS):
            try:
                print(build_operational(WORLDS[name], out, a.seed))
            except ValueError as exc:
                print(f'worldgen: {exc}', file=sys.stderr)
                return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
