"""Typed key/value status carried in diagnostic_msgs/DiagnosticStatus ``values``.

Several topics carry a record as string key/value pairs (docs/INTERFACES.md). Each
record is a frozen dataclass here whose fields are its keys, in the order published,
each with its unit and meaning (``key``); ``encode`` writes the pairs, ``decode`` reads
them back typed. A publisher and its subscribers use the same codec, so a key is spelt,
formatted and parsed in one place, and docs/INTERFACES.md is checked against
``CODECS`` by test/test_ros_status_codec.py.

Encoding: float keys as ``format(float(v), fmt)`` (default ``.6g``), bools as '1'/'0',
ints and strings as str(). Decoding: a missing key takes the field's default or, without one,
raises ``StatusError`` naming the key; a value that does not parse raises too.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields

from diagnostic_msgs.msg import KeyValue


class StatusError(ValueError):
    """A status that cannot be decoded: the message names the key and the value."""


def key(description: str, default=MISSING, fmt: str = '.6g'):
    """A status key: its meaning and unit, its default when absent (none: required) and
    how a float is written."""
    return field(default=default, metadata={'description': description, 'fmt': fmt})


def _encode_value(v, typ: str, fmt: str) -> str:
    if typ == 'bool':
        return '1' if v else '0'
    if typ == 'float':
        return format(float(v), fmt)
    return str(v)


def _decode_value(name: str, text: str, typ: str):
    try:
        if typ == 'bool':
            if text not in ('0', '1'):
                raise ValueError('expected 0 or 1')
            return text == '1'
        if typ == 'float':
            return float(text)
        if typ == 'int':
            return int(text)
        return text
    except ValueError as exc:
        raise StatusError(f'key {name!r} = {text!r}: {exc}') from None


class _Codec:
    """encode(record) -> [KeyValue]; decode(values) -> record; ``keys`` in order."""

    @classmethod
    def keys(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    def encode(self) -> list:
        return [KeyValue(key=f.name,
                         value=_encode_value(getattr(self, f.name), f.type, f.metadata['fmt']))
                for f in fields(self)]

    @classmethod
    def decode(cls, values) -> '_Codec':
        """From a DiagnosticStatus ``values`` list (KeyValue) or a {key: str} dict.
        Keys this record does not know are ignored (a newer publisher may add some)."""
        kv = values if isinstance(values, dict) else {v.key: v.value for v in values}
        out = {}
        for f in fields(cls):
            if f.name in kv:
                out[f.name] = _decode_value(f.name, kv[f.name], f.type)
            elif f.default is MISSING:
                raise StatusError(f'key {f.name!r} missing')
        return cls(**out)


@dataclass(frozen=True)
class ExcavationPlanStatus(_Codec):
    """/planner/excavation_plan, planner_node -> mission_node. The message says why when
    ``feasible`` is false (level WARN)."""
    site_x: float = key('dig site x, map frame, m')
    site_y: float = key('dig site y, map frame, m')
    depth_of_cut_m: float = key('planned depth of cut, m')
    drum_speed_radps: float = key('planned drum speed, rad/s')
    drive_speed_mps: float = key('planned creep speed while cutting, m/s')
    expected_mass_kg: float = key('regolith the cut is expected to take, kg', 0.0)
    expected_target_kg: float = key('target resource in it, kg', 0.0)
    horizontal_force_n: float = key('horizontal cutting force, N', math.nan)
    traction_limit_n: float = key('traction the wheels can push with, N', math.nan)
    vertical_force_n: float = key('vertical cutting force, N', math.nan)
    weight_n: float = key('weight plus hold-down thrust, N', math.nan)
    feasible: bool = key('false: no cut the rover can react; the executive holds, drums stowed',
                         True)
    fill_length_m: float = key('cut length that fills the drums by the cut model, m (0: unknown)',
                               0.0)
    regolith_density_kgm3: float = key('regolith bulk density the plan used, kg/m^3', math.nan)
    regolith_cohesion_pa: float = key('regolith cohesion the plan used, Pa', math.nan)
    regolith_friction_deg: float = key('regolith internal friction angle the plan used, deg',
                                       math.nan)


@dataclass(frozen=True)
class ExcavatorStatus(_Codec):
    """/excavator/state, excavator_node -> mission_node, planner_node."""
    fill_kg: float = key('regolith in both drums (estimate, or the last weigh), kg', fmt='.3f')
    cutting_torque_nm: float = key('drum cutting torque, N m', math.nan, '.3f')
    stalled: bool = key('the drums stalled', False)
    dumping: bool = key('a dump is running', False)
    arm_position_rad: float = key('mean arm angle, rad (+ lowers)', math.nan, '.4f')
    drum_speed_radps: float = key('mean drum speed, rad/s', math.nan, '.4f')
    weighed_fill_kg: float = key('fill by the last weigh of the drums, kg', math.nan, '.3f')
    weigh_age_s: float = key('age of that weigh, s', math.nan, '.2f')
    weigh_count: int = key('weighs every drum has had (-1: the excavator does not weigh)', -1)


@dataclass(frozen=True)
class MissionStatus(_Codec):
    """/mission/status, mission_node -> ground_link_node, the runner's report."""
    state: str = key('executive state (MAPPING, SELECT_SITE, ..., FAULT, DONE)')
    cycles: int = key('cycles delivered')
    regolith_excavated_kg: float = key('regolith excavated, kg', fmt='.3f')
    regolith_delivered_kg: float = key('regolith delivered to the berm, kg', fmt='.3f')
    berm_volume_m3: float = key('berm volume, m^3 (simulator truth when it reports it)', fmt='.5f')
    kg_per_hour: float = key('delivered per hour of autonomous time, kg/h', fmt='.3f')
    kg_per_wh: float = key('delivered per Wh of motor energy, kg/Wh', fmt='.4f')
    energy_wh: float = key('motor energy used, Wh', fmt='.3f')
    target_resource_kg: float = key('target resource delivered (estimate), kg', fmt='.6g')
    hazard_contacts: int = key('hazard contacts (simulator truth)')
    estop_events: int = key('e-stops engaged')
    time_autonomous_s: float = key('autonomous time, s', fmt='.1f')
    cycle_id: int = key('cycle under way')
    target_resource: str = key('resource the mission reports (helium3, rare_earth, ...)')
    fault_reason: str = key("why the executive is in FAULT ('' otherwise)", '')
    stuck_events: int = key('times the rover got stuck (wheels turning, visual odometry still)', 0)
    resurveys: int = key('re-surveys after the dig sites ran out (the dig zone widened)', 0)
    dumped_outside_kg: float = key('emptied with the drum believed off the berm zone '
                                   '(not delivered), kg', 0.0, fmt='.3f')
    haul_spill_kg: float = key('lost from the drums between the weigh after the cut and the '
                               'dump (estimate), kg', 0.0, fmt='.3f')


#: topic (relative name) -> the codec of its key/value status
CODECS = {
    'planner/excavation_plan': ExcavationPlanStatus,
    'excavator/state': ExcavatorStatus,
    'mission/status': MissionStatus,
}
