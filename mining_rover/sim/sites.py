"""Which world file a (world, site, site seed) request runs on (no rclpy, no MuJoCo).

Two kinds of site per world:

* ``compact``: ``worlds/<world>.sdf``, the world's own clearing (berm a few metres from the
  dig zone, RASSOR-style);
* ``operational``: ``worlds/<world>_operational.sdf`` (sim.site_layout: a 64 m site, the dig
  zone 25-40 m from the base across a hazard field), committed for each world's own seed.
  Any other seed is generated on demand (``python -m mining_rover.sim.worldgen``'s code)
  into a cache directory, ``$MINING_ROVER_SITE_CACHE`` or
  ``$XDG_CACHE_HOME/mining_rover/worlds`` (default ``~/.cache/mining_rover/worlds``), one
  folder per seed, written atomically so parallel sweep tasks can share it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

SITES = ('compact', 'operational')


def site_cache_dir() -> Path:
    """Where operational sites of non-default seeds are generated."""
    env = os.environ.get('MINING_ROVER_SITE_CACHE')
    if env:
        return Path(env).expanduser()
    base = os.environ.get('XDG_CACHE_HOME') or str(Path.home() / '.cache')
    return Path(base).expanduser() / 'mining_rover' / 'worlds'


def check_site(site: str, option: str = '--site') -> None:
    """ValueError naming the option and the sites when ``site`` is not one."""
    if site not in SITES:
        raise ValueError(f"{option} {site!r}: expected one of {', '.join(SITES)}")


def world_ref(world: str, site: str = 'compact', seed: int | None = None) -> str:
    """What load_world takes for this request: the world name (compact) or the path of the
    operational SDF (committed for the world's seed, else generated into the cache).
    ValueError (one line) for an unknown site, a world without an operational site, a
    site seed given with ``compact``, or a seed whose site is refused."""
    check_site(site)
    if site == 'compact':
        if seed is not None:
            raise ValueError(f'--site-seed {seed}: only an operational site has a seed '
                             f'(use --site operational)')
        return world
    from mining_rover.paths import worlds_dir
    from mining_rover.sim.site_layout import HAZARD_MODELS
    from mining_rover.sim.worldgen import WORLDS
    if world not in WORLDS or world not in HAZARD_MODELS:
        have = ', '.join(w for w in WORLDS if w in HAZARD_MODELS)
        why = (' (an 8 x 5 m competition arena by the rules: it has only its compact site)'
               if world == 'lunabotics_arena' else '')
        raise ValueError(f'--site operational: world {world!r} has no operational site{why}; '
                         f'worlds with one: {have}')
    name = f'{world}_operational'
    if seed is None or int(seed) == WORLDS[world].seed:
        committed = worlds_dir() / f'{name}.sdf'
        if committed.is_file():
            return str(committed)
        seed = WORLDS[world].seed
    if not 0 <= int(seed) < 2 ** 31:
        raise ValueError(f'--site-seed {seed}: expected an integer in [0, 2^31)')
    folder = site_cache_dir() / f'seed-{int(seed)}'
    sdf = folder / f'{name}.sdf'
    if not sdf.is_file():
        _generate(world, int(seed), folder)
    return str(sdf)


def _generate(world: str, seed: int, folder: Path) -> None:
    """Generate into a private folder, then move its files in (rename is atomic per file;
    media first, the SDF last, so a visible SDF always has its side files)."""
    from mining_rover.sim.worldgen import WORLDS, build_operational
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='.gen-', dir=folder))
    try:
        sdf = build_operational(WORLDS[world], tmp, seed)
        media = tmp / 'media' / sdf.stem
        dest = folder / 'media' / sdf.stem
        dest.mkdir(parents=True, exist_ok=True)
        for f in media.iterdir():
            os.replace(f, dest / f.name)
        os.replace(sdf, folder / sdf.name)
    except ValueError as exc:
        raise ValueError(f'--site-seed {seed}: {exc}') from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
