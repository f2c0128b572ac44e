"""Checks of the user-edited configuration files (config/*.yaml), pure Python, no rclpy.

Every check raises ``ConfigError`` with ONE line that names the file, the key, the value
and what is expected, e.g.::

    config/rover.yaml: wheel.radius = -0.2: expected the wheel radius, m, a number > 0

so that `mining-rover sim` (mining_rover.runner.preflight) and every node that reads
config/rover.yaml (mining_rover.paths.rover_config) refuse a bad file the same way, with
exit code 2 and no traceback. Keys nobody reads are not errors (an old file should still
run) but are reported as warnings naming the nearest known key (difflib), since a typo
(``raduis``) otherwise silently falls back to a default.

The checks are physical where that matters: masses and dimensions positive, angles within
a turn, rates positive. Node parameter files (the ROS 2 ``node: ros__parameters:`` form)
are checked against the node's own declared parameters (``check_params_file``), passed in
as plain objects so that this module stays free of ROS.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable


class ConfigError(ValueError):
    """A configuration file is unusable; ``str()`` is one line naming file, key, value and
    what is expected."""


def show_path(path) -> str:
    """``path`` as the user should read it: relative to the working directory where it is
    below it, else absolute."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def one_line(text: str) -> str:
    """Collapse whitespace (YAML and XML parser messages span lines) into one line."""
    return ' '.join(str(text).split())


def load_yaml(path) -> Any:
    """Parse a YAML file; ConfigError (one line, with line and column) on a syntax error or
    an unreadable file."""
    import yaml
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f'{show_path(p)}: cannot read ({exc.strerror or exc})') from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
        where = f'line {mark.line + 1}, column {mark.column + 1}: ' if mark is not None else ''
        problem = getattr(exc, 'problem', None) or str(exc)
        raise ConfigError(f'{show_path(p)}: {where}YAML syntax error: {one_line(problem)} '
                          f'(expected valid YAML)') from None


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (difflib ratio >= 0.6), or None."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_key_warning(file: str, key: str, known: Iterable[str], prefix: str = '') -> str:
    """One-line warning that ``key`` in ``file`` is unknown and ignored, naming the nearest known key."""
    guess = nearest(key, known)
    hint = f' (did you mean {prefix}{guess}?)' if guess else ''
    return f'{file}: unknown key {prefix}{key}{hint}: it is ignored'


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f'{v:g}'


def _fmt(v) -> str:
    if isinstance(v, str):
        return repr(v)
    if v is None:
        return 'null (empty)'
    return str(v)


# -- config/rover.yaml -------------------------------------------------------------------
@dataclass(frozen=True)
class Quantity:
    """One number of config/rover.yaml: what it is, its unit, its physical range."""
    what: str
    unit: str
    lo: float | None = None           # inclusive unless lo_open
    hi: float | None = None
    lo_open: bool = False
    integer: bool = False
    required: bool = True

    def expected(self) -> str:
        kind = 'an integer' if self.integer else 'a number'
        if self.lo is not None and self.hi is not None:
            rng = f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
        elif self.lo is not None:
            rng = f"{'>' if self.lo_open else '>='} {self.lo:g}"
        elif self.hi is not None:
            rng = f'<= {self.hi:g}'
        else:
            rng = 'finite'
        unit = f', {self.unit}' if self.unit else ''
        return f'{self.what}{unit}, {kind} {rng}'

    def ok(self, v) -> bool:
        if not _is_number(v) or not math.isfinite(v) or (self.integer and float(v) != int(v)):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return self.hi is None or v <= self.hi


def _length(what, hi=10.0):      # a dimension of an 80 kg class rover: positive, under 10 m
    return Quantity(what, 'm', 0.0, hi, lo_open=True)


def _mass(what, hi=1000.0):
    return Quantity(what, 'kg', 0.0, hi, lo_open=True)


def _position(what):             # a mounting offset from base_link: any sign, within the rover
    return Quantity(what, 'm', -10.0, 10.0)


def _angle(what, lo=-math.pi, hi=math.pi):
    return Quantity(what, 'rad', lo, hi)


def _rate(what, unit, hi=1e4):
    return Quantity(what, unit, 0.0, hi, lo_open=True)


#: Every key config/rover.yaml may hold. Ranges: physical (a mass or a length is positive,
#: an angle lies within half a turn either way, a rate is positive), bounded above by ten
#: times what an 80 kg Lunabotics-class rover could plausibly carry so that a unit slip
#: (mm for m, g for kg) is caught.
ROVER_SCHEMA: dict = {
    'chassis': {'length': _length('chassis length'), 'width': _length('chassis width'),
                'height': _length('chassis height'), 'mass': _mass('chassis mass'),
                'z_offset': _position('chassis centre above the axle plane')},
    'mast': {'x': _position('mast position ahead of base_link'), 'height': _length('mast height'),
             'radius': _length('mast radius'), 'mass': _mass('mast mass')},
    'wheel': {'radius': _length('wheel radius'), 'width': _length('wheel width'),
              'mass': _mass('wheel mass'), 'track_width': _length('track width'),
              'wheelbase': _length('wheelbase'),
              'max_velocity': _rate('wheel speed limit', 'rad/s'),
              'max_effort': _rate('wheel torque limit', 'N m')},
    'arm': {'pivot_x': _length('arm pivot ahead of base_link'), 'length': _length('arm length'),
            'mass': _mass('arm mass'), 'lower_limit': _angle('arm lower (raised) limit'),
            'upper_limit': _angle('arm upper (lowered) limit'),
            'max_velocity': _rate('arm speed limit', 'rad/s'),
            'max_effort': _rate('arm torque limit', 'N m')},
    'drum': {'radius': _length('drum radius'), 'length': _length('drum length'),
             'mass': _mass('empty drum mass'), 'capacity_m3': Quantity('drum capacity', 'm^3', 0.0, 10.0,
                                                                       lo_open=True),
             'max_velocity': _rate('drum speed limit', 'rad/s'),
             'max_effort': _rate('drum torque limit', 'N m')},
    'camera': {'baseline': _length('stereo baseline'),
               'pitch': _angle('camera pitch down from horizontal', -math.pi / 2, math.pi / 2)},
    'imu': {'x': _position('IMU position ahead of base_link'), 'z': _position('IMU height above base_link')},
    'holddown': {'thrusters': Quantity('hold-down thruster count', '', 0, 64, integer=True),
                 'thrust_n': Quantity('thrust per thruster', 'N', 0.0, 1e4),
                 'cant_deg': Quantity('thruster cant from the chassis z axis', 'deg', 0.0, 90.0),
                 'isp_s': _rate('specific impulse', 's'),
                 'propellant_kg': Quantity('loaded propellant', 'kg', 0.0, 1e3)},
}
#: Sections a rover may leave out (it then has none of that hardware).
OPTIONAL_SECTIONS = ('holddown',)


def check_rover(data, path='config/rover.yaml') -> list[str]:
    """Check a parsed config/rover.yaml; returns warnings (unknown keys), raises ConfigError
    on the first bad or missing value."""
    f = show_path(path)
    if not isinstance(data, dict):
        raise ConfigError(f'{f}: holds {type(data).__name__} {_fmt(data)}: expected a mapping of '
                          f"sections ({', '.join(ROVER_SCHEMA)})")
    warnings = []
    for section, keys in ROVER_SCHEMA.items():
        body = data.get(section)
        if body is None:
            if section in OPTIONAL_SECTIONS:
                continue
            typo = [k for k in data if k not in ROVER_SCHEMA and nearest(str(k), [section])]
            hint = f' ({typo[0]} is no section: a misspelling?)' if typo else ''
            raise ConfigError(f"{f}: section {section} is missing: expected {section}: with "
                              f"{', '.join(keys)}{hint}")
        if not isinstance(body, dict):
            raise ConfigError(f'{f}: {section} = {_fmt(body)}: expected a mapping with '
                              f"{', '.join(keys)}")
        for key, q in keys.items():
            if key not in body:
                if q.required:
                    typo = [k for k in body if k not in keys and nearest(str(k), [key])]
                    hint = f' ({section}.{typo[0]} is no key: a misspelling?)' if typo else ''
                    raise ConfigError(f'{f}: {section}.{key} is missing: expected {q.expected()}{hint}')
                continue
            v = body[key]
            if not q.ok(v):
                raise ConfigError(f'{f}: {section}.{key} = {_fmt(v)}: expected {q.expected()}')
        for key in body:
            if key not in keys:
                warnings.append(unknown_key_warning(f, str(key), keys, f'{section}.'))
    for section in data:
        if section not in ROVER_SCHEMA:
            warnings.append(unknown_key_warning(f, str(section), ROVER_SCHEMA))
    arm = data['arm']
    if not arm['lower_limit'] < arm['upper_limit']:
        raise ConfigError(f"{f}: arm.lower_limit = {arm['lower_limit']} is not below arm.upper_limit "
                          f"= {arm['upper_limit']}: expected lower_limit < upper_limit, rad")
    return warnings


# -- ROS 2 parameter files (config/<node>.yaml, drivers_*.yaml, mission_sim.yaml, ...) ------
def describe_expected(param) -> str:
    """What a node parameter accepts, from its declaration (name, default, min, max,
    choices, description): e.g. 'SGBM disparity search range, px: an integer in [16, 256]'."""
    d = param.default
    if isinstance(d, bool):
        kind = 'true or false'
    elif isinstance(d, int):
        kind = 'an integer'
    elif isinstance(d, float):
        kind = 'a number'
    elif isinstance(d, str):
        kind = 'a string'
    elif isinstance(d, (list, tuple)):
        kind = 'a list'
    else:
        kind = 'a value'
    if getattr(param, 'choices', ()):
        kind = 'one of ' + ', '.join(map(str, param.choices))
    lo, hi = getattr(param, 'min', None), getattr(param, 'max', None)
    if not isinstance(d, bool) and lo is not None and hi is not None:
        kind += f' in [{_num(lo)}, {_num(hi)}]'
    elif not isinstance(d, bool) and lo is not None:
        kind += f' >= {_num(lo)}'
    desc = (getattr(param, 'description', '') or '').strip()
    return f'{desc}: {kind}' if desc else kind


#: Rules a parameter's declared range cannot state, keyed by (node, parameter): a function
#: of the value returning what is expected when the value breaks the rule, else None.
EXTRA_RULES: dict = {
    # OpenCV StereoSGBM: numDisparities must be divisible by 16 (cv::StereoSGBM::create docs).
    ('stereo_node', 'num_disparities'):
        lambda v: None if _is_number(v) and v > 0 and v % 16 == 0 else 'a multiple of 16',
}


def check_param_value(file: str, node: str, param, value) -> None:
    """ConfigError unless ``value`` is valid for ``param`` (a declared node parameter with
    name, default, min, max, choices, description and optionally ``validate``)."""
    name = param.name
    validate: Callable | None = getattr(param, 'validate', None)
    problem = None
    if validate is not None:
        try:
            validate(value)
        except ValueError:
            problem = describe_expected(param)
    rule = EXTRA_RULES.get((node, name))
    if problem is None and rule is not None:
        extra = rule(value)
        if extra:
            problem = f'{describe_expected(param)} and {extra}'
    if problem is not None:
        raise ConfigError(f'{file}: {node}.{name} = {_fmt(value)}: expected {problem}')


#: Parameters every node has (rclpy declares them itself).
ROS_BUILTIN = ('use_sim_time', 'start_type_description_service')


def node_sections(data, path) -> dict:
    """{node: {param: value}} of a parsed ROS 2 parameters file; ConfigError on a file that
    is not in the ``node: {ros__parameters: {...}}`` form."""
    f = show_path(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'{f}: holds {type(data).__name__} {_fmt(data)}: expected a ROS 2 parameters '
                          f'file (node_name: {{ros__parameters: {{...}}}})')
    out = {}
    for node, body in data.items():
        if not isinstance(body, dict) or not isinstance(body.get('ros__parameters'), dict):
            raise ConfigError(f'{f}: {node} = {_fmt(body)}: expected {node}: {{ros__parameters: '
                              f'{{name: value, ...}}}}')
        # rcl's node keys: ``drive_node``, ``/drive_node``, ``/**/drive_node`` (any namespace,
        # what config/ uses) or ``/**`` (every node)
        key = str(node)
        name = '/**' if key in ('/**', '**') else key.rsplit('/', 1)[-1]
        out.setdefault(name, {}).update(body['ros__parameters'])
    return out


def check_params_file(path, data, tables: dict, only: Iterable[str] | None = None,
                      known_nodes: Iterable[str] = ()) -> list[str]:
    """Check a parsed ROS 2 parameters file against ``tables`` ({node: [declared params]}).

    With ``only``, just those nodes' sections are checked (a file several nodes share);
    a section whose node is neither in ``tables`` nor in ``known_nodes`` is warned about,
    with the nearest known node name. Returns warnings; raises ConfigError on the first
    bad value."""
    f = show_path(path)
    warnings = []
    wanted = set(only) if only is not None else None
    every_node = set(tables) | set(known_nodes)
    for node, values in node_sections(data, path).items():
        if node in ('**', '/**'):
            continue
        if node not in every_node:
            guess = nearest(node, every_node)
            hint = f' (did you mean {guess}?)' if guess else ''
            warnings.append(f'{f}: unknown node {node}{hint}: its parameters are ignored')
            continue
        if wanted is not None and node not in wanted:
            continue
        table = tables.get(node)
        if table is None:
            continue
        by_name = {p.name: p for p in table}
        for key, value in values.items():
            p = by_name.get(key)
            if p is None:
                if key not in ROS_BUILTIN:
                    warnings.append(unknown_key_warning(f, str(key), by_name, f'{node}.'))
                continue
            check_param_value(f, node, p, value)
    return warnings


_WARNED: set = set()


def warn(lines: Iterable[str], stream=None) -> None:
    """Print each warning once per process on stderr, prefixed so it reads apart from errors
    (rover.yaml is read by several modules of one process)."""
    import sys
    stream = stream or sys.stderr
    for line in lines:
        if line not in _WARNED:
            _WARNED.add(line)
            print(f'warning: {line}', file=stream, flush=True)
