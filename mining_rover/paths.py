"""Locate the package's data folders (launch/, config/, urdf/, worlds/) in both worlds.

In a colcon install they are under ``share/mining_rover`` (found through the ament
index); in a source checkout or an editable pip install they sit at the repository
root next to the ``mining_rover`` Python package.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = 'mining_rover'
_DATA_DIRS = ('config', 'launch', 'urdf', 'worlds')


def share_dir() -> Path:
    """Directory that holds config/, launch/, urdf/ and worlds/.

    Order: ``MINING_ROVER_SHARE`` environment variable, the source tree next to
    this package, then the ament index (colcon install). Raises FileNotFoundError
    naming every place tried.
    """
    tried = []
    env = os.environ.get('MINING_ROVER_SHARE')
    if env:
        tried.append(env)
        if (Path(env) / 'config').is_dir():
            return Path(env)
    source = Path(__file__).resolve().parent.parent
    tried.append(str(source))
    if (source / 'config').is_dir() and (source / 'package.xml').is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        share = Path(get_package_share_directory(PACKAGE))
        tried.append(str(share))
        if (share / 'config').is_dir():
            return share
    except Exception as exc:  # ament index absent or package not installed
        tried.append(f'ament index ({exc.__class__.__name__})')
    raise FileNotFoundError(
        f'cannot find the {PACKAGE} share directory (config/, urdf/, worlds/); tried: '
        + ', '.join(tried))


def config_path(name: str) -> Path:
    """Path of a file in config/ (raises FileNotFoundError if absent)."""
    return _existing(share_dir() / 'config' / name)


def param_sections(doc: dict | None, source: str = 'parameters file') -> dict:
    """{node name: {parameter: value}} of a parsed ROS 2 parameters file whose root keys
    are node names in any of the forms rcl accepts: ``drive_node``, ``/drive_node``,
    ``/**/drive_node`` (any namespace; what config/ uses) or ``/**`` (every node, kept
    under that key). ValueError names the file and the key of a malformed section."""
    if not isinstance(doc or {}, dict):
        raise ValueError(f'{source}: not a mapping of node sections')
    out = {}
    for key, section in (doc or {}).items():
        if not isinstance(section, dict) or set(section) != {'ros__parameters'}:
            raise ValueError(f"{source}: section {key!r} must hold only 'ros__parameters'")
        name = key if key == '/**' else str(key).rsplit('/', 1)[-1]
        out.setdefault(name, {}).update(section['ros__parameters'] or {})
    return out


def config_parameters(name: str, node: str) -> dict:
    """One node's parameters in config/<name> ({} when the file has no section for it)."""
    import yaml
    path = config_path(name)
    return param_sections(yaml.safe_load(path.read_text()), str(path)).get(node, {})


def rover_config(path: str | Path | None = None) -> dict:
    """config/rover.yaml (or ``path``) as a dict: the rover's geometry and ratings, the
    single source for the xacro, the simulator, the drivers, mapping and planning.
    Checked on every read (mining_rover.config_check.check_rover): a bad or missing value
    raises ConfigError, one line naming the file, key, value and what is expected."""
    from mining_rover.config_check import check_rover, load_yaml, warn
    p = Path(path or config_path('rover.yaml'))
    data = load_yaml(p)
    warn(check_rover(data, p))
    return data


def rover_mass_kg(rover: dict | None = None) -> float:
    """The whole rover, empty, kg: chassis, mast, four wheels, two arms and two empty
    drums of config/rover.yaml (or ``rover``, a parsed rover.yaml); the URDF sums the same."""
    r = rover if rover is not None else rover_config()
    return float(r['chassis']['mass'] + r['mast']['mass'] + 4 * r['wheel']['mass']
                 + 2 * r['arm']['mass'] + 2 * r['drum']['mass'])


def urdf_path(name: str = 'rover.urdf.xacro') -> Path:
    """Path of a file in urdf/."""
    return _existing(share_dir() / 'urdf' / name)


def worlds_dir() -> Path:
    """The worlds/ directory."""
    return share_dir() / 'worlds'


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f'{path} does not exist')
    return path
