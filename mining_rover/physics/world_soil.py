"""The true soil of each world: every value with its range and its source.

The per-cell fields in each world's truth.npz (density, cohesion, friction, wall
friction; written by sim/worldgen.py) are drawn inside the ranges below (density's upper
bound includes worldgen's compacted crater floors, +10 % of the range); what the cells
do not carry (density rise with depth, adhesion) the simulator takes from here. The
planner never reads this table: it starts from config/regolith_nominal.yaml and
estimates. ``soil_for(world, fields)`` gives the RegolithParams the simulator cuts with.

Uncertainty: lunar values are measured (Apollo cores and in-situ tests); Mars values come
from lander and rover soil tests; asteroid values are inferred from spacecraft imagery,
density from mass and shape, and cohesion from theory: their ranges span an order of
magnitude and are stated as such.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mining_rover.physics.soil import RegolithParams

LUNAR_DENSITY = ('Carrier, Olhoeft & Mendell 1991, Lunar Sourcebook ch. 9, table 9.4: 1.50 g/cm3 at '
                 '0-15 cm, 1.74 g/cm3 at 30-60 cm (deep/surface 1.16)')
LUNAR_STRENGTH = ('Carrier et al. 1991 table 9.12 (recommended: c 0.44-0.62 kPa, phi 41-43 deg at 0-15 cm; '
                  'range over sites c 0.1-1 kPa, phi 30-50 deg)')
WALL = 'Wilkinson & DeGennaro 2007, J. Terramechanics 44: soil-tool friction delta = 1/2..2/3 phi'
ADHESION = 'dry regolith in vacuum: adhesion ~0 (Wilkinson & DeGennaro 2007 take c_a = 0)'


@dataclass(frozen=True)
class SoilValue:
    """One soil property of a world: its nominal value, its range and the source."""

    value: float          # what a uniform world of this kind would have
    lo: float             # range over the world's cells (and the literature's spread)
    hi: float
    source: str


@dataclass(frozen=True)
class WorldSoil:
    """A world's true soil: every property as a SoilValue with its source."""

    density_kgm3: SoilValue       # surface bulk density
    deep_ratio: SoilValue         # density at 30-60 cm over the surface value
    cohesion_pa: SoilValue
    friction_deg: SoilValue
    wall_friction_ratio: SoilValue
    adhesion_ratio: SoilValue
    density_scale_m: float = 0.30

    def nominal(self) -> RegolithParams:
        rho = self.density_kgm3.value
        return RegolithParams(density_kgm3=rho, density_deep_kgm3=rho * self.deep_ratio.value,
                              density_scale_m=self.density_scale_m, cohesion_pa=self.cohesion_pa.value,
                              friction_deg=self.friction_deg.value,
                              wall_friction_ratio=self.wall_friction_ratio.value,
                              adhesion_ratio=self.adhesion_ratio.value)


def _v(value, lo, hi, source):
    return SoilValue(float(value), float(lo), float(hi), source)


_LUNAR_DEEP = _v(1.16, 1.10, 1.20, LUNAR_DENSITY)
_WALL = _v(0.6, 0.5, 0.7, WALL)
_ADH = _v(0.0, 0.0, 0.0, ADHESION)

WORLD_SOIL = {
    'moon_south_pole': WorldSoil(
        _v(1650, 1500, 1830, LUNAR_DENSITY + '; polar cells drawn 1.5-1.8 g/cm3, crater floors +0.03'),
        _LUNAR_DEEP, _v(600, 170, 1000, LUNAR_STRENGTH), _v(40, 30, 50, LUNAR_STRENGTH), _WALL, _ADH),
    'lunabotics_arena': WorldSoil(
        _v(1650, 1500, 1830, 'BP-1 simulant, Suescun-Florez et al. 2015, Geotech. Testing J. 38(2)'),
        _v(1.10, 1.05, 1.15, 'BP-1 compacts less with depth than in-situ regolith (Suescun-Florez 2015)'),
        _v(450, 100, 800, 'BP-1: c 0.1-0.8 kPa (Suescun-Florez et al. 2015)'),
        _v(40, 35, 45, 'BP-1: phi 35-45 deg (Suescun-Florez et al. 2015)'), _WALL,
        _v(0.0, 0.0, 0.1, 'dry simulant: adhesion small (McKyes 1985 ch. 2)')),
    'mars': WorldSoil(
        _v(1400, 1200, 1640, 'Viking/Phoenix/MER soils 1.2-1.6 g/cm3 (Moore et al. 1987, USGS PP 1389; '
                             'Sullivan et al. 2011, JGR 116 E02006)'),
        _v(1.10, 1.0, 1.2, 'Mars soils: crusted, weak rise with depth (Sullivan et al. 2011)'),
        _v(1600, 200, 3000, 'cohesion 0-several kPa (Sullivan et al. 2011; Moore et al. 1987)'),
        _v(33, 30, 40, 'phi 30-40 deg (Sullivan et al. 2011)'), _WALL, _ADH),
    'psyche': WorldSoil(
        _v(3000, 2500, 3600, 'metal-rich regolith, assumed 2.5-3.5 g/cm3 (Elkins-Tanton et al. 2020, '
                             'JGR Planets 125): uncertain by +-30 %'),
        _v(1.10, 1.0, 1.2, 'assumed: lunar-like compaction, weaker (no data)'),
        _v(300, 50, 500, 'assumed: van der Waals cohesion of fine grains, 0.05-0.5 kPa (Scheeres et al. '
                         '2010, Icarus 210): order-of-magnitude uncertainty'),
        _v(38, 30, 45, 'assumed angle of repose range of granular regolith (no Psyche data)'), _WALL, _ADH),
    'vesta': WorldSoil(
        _v(1500, 1300, 1740, 'Dawn: lunar-like regolith (Denevi et al. 2012, Science 336; assumed '
                             '1.3-1.7 g/cm3)'),
        _LUNAR_DEEP, _v(350, 50, 600, 'assumed lunar-like, lower: 0.05-0.6 kPa (no in-situ data)'),
        _v(40, 30, 50, LUNAR_STRENGTH + ' (Vesta assumed lunar-like)'), _WALL, _ADH),
    'ceres': WorldSoil(
        _v(1400, 1200, 1640, 'Dawn: ice-rich, low-density regolith (Prettyman et al. 2017, Science 355; '
                             'assumed 1.2-1.6 g/cm3)'),
        _LUNAR_DEEP, _v(700, 100, 1500, 'assumed: ice/salt cemented fines 0.1-1.5 kPa (order of magnitude)'),
        _v(33, 25, 40, 'assumed from angle of repose of Ceres crater walls ~30-35 deg (no in-situ data)'),
        _WALL, _ADH),
    'rubble_pile': WorldSoil(
        _v(1200, 1000, 1440, 'Bennu bulk density 1.19 g/cm3 (Lauretta et al. 2019, Nature 568)'),
        _v(1.0, 1.0, 1.1, 'no compaction under 1e-5 g (Scheeres et al. 2019)'),
        _v(45, 1, 100, 'cohesion 1-100 Pa from van der Waals forces (Scheeres et al. 2010, Icarus 210)'),
        _v(36, 30, 40, 'Bennu slopes and repose ~30-40 deg (Scheeres et al. 2019, Nat. Astron. 3)'),
        _WALL, _ADH),
}


def world_soil(world: str) -> WorldSoil:
    """The table entry of this world (its file stem); unknown worlds get the lunar entry
    (a world file made by hand is treated as lunar regolith)."""
    return WORLD_SOIL.get(world, WORLD_SOIL['moon_south_pole'])


def soil_for(world: str, density_kgm3, cohesion_pa, friction_deg, wall_friction_deg=None) -> RegolithParams:
    """RegolithParams of a patch of this world: its cells' (mean) density, cohesion,
    friction and wall friction, with the table's depth profile and adhesion."""
    t = world_soil(world)
    rho = float(density_kgm3)
    phi = float(friction_deg)
    ratio = (float(wall_friction_deg) / phi if wall_friction_deg is not None and phi > 0.0
             else t.wall_friction_ratio.value)
    return replace(t.nominal(), density_kgm3=rho, density_deep_kgm3=rho * t.deep_ratio.value,
                   cohesion_pa=float(cohesion_pa), friction_deg=phi,
                   wall_friction_ratio=float(np.clip(ratio, 0.0, 1.0)))
