"""ros/status_codec.py: every status record round-trips through DiagnosticStatus key/values,
decoding names the key it cannot read, and docs/INTERFACES.md lists exactly the codec's keys."""
from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mining_rover.ros.status_codec import (CODECS, ExcavationPlanStatus, ExcavatorStatus,
                                           MissionStatus, StatusError)

INTERFACES = Path(__file__).resolve().parent.parent / 'docs' / 'INTERFACES.md'

_FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
_BY_TYPE = {'float': _FLOATS, 'int': st.integers(-10**6, 10**6), 'bool': st.booleans(),
            'str': st.text(st.characters(codec='utf-8', exclude_categories=('Cs',)), max_size=40)}


def _records(codec):
    return st.builds(codec, **{f.name: _BY_TYPE[f.type] for f in fields(codec)})


def _close(a, b, fmt):
    """Equal up to the precision the key is written with (``fmt``)."""
    if isinstance(a, float):
        if fmt.endswith('g'):
            return b == pytest.approx(a, rel=10 ** -int(fmt[1:-1]) * 5, abs=1e-300)
        return b == pytest.approx(a, abs=10 ** -int(fmt[1:-1]) * 0.51)
    return a == b


@pytest.mark.parametrize('codec', list(CODECS.values()), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_record_round_trips_through_key_values(codec, data):
    rec = data.draw(_records(codec))
    kv = rec.encode()
    assert [v.key for v in kv] == list(codec.keys())
    back = codec.decode(kv)
    for f in fields(codec):
        assert _close(getattr(rec, f.name), getattr(back, f.name), f.metadata['fmt']), f.name


def test_the_planner_plan_decodes_as_the_executive_reads_it():
    kv = ExcavationPlanStatus(site_x=1.5, site_y=-2.0, depth_of_cut_m=0.03, drum_speed_radps=4.0,
                              drive_speed_mps=0.05, feasible=False, fill_length_m=0.4).encode()
    got = {v.key: v.value for v in kv}
    assert got['feasible'] == '0' and got['site_x'] == '1.5' and got['weight_n'] == 'nan'
    back = ExcavationPlanStatus.decode(got)
    assert back.feasible is False and back.fill_length_m == 0.4 and math.isnan(back.weight_n)


def test_decoding_names_the_missing_or_unreadable_key():
    with pytest.raises(StatusError, match="key 'fill_kg' missing"):
        ExcavatorStatus.decode({'stalled': '0'})
    with pytest.raises(StatusError, match="key 'stalled' = 'yes': expected 0 or 1"):
        ExcavatorStatus.decode({'fill_kg': '1.0', 'stalled': 'yes'})
    with pytest.raises(StatusError, match="key 'cycles' = '2.5'"):
        MissionStatus.decode({**{k: '0' for k in MissionStatus.keys()}, 'cycles': '2.5'})
    # optional keys take their defaults; keys a newer publisher adds are ignored
    ex = ExcavatorStatus.decode({'fill_kg': '2.5', 'fill_kg.front_drum_joint': '1.2'})
    assert (ex.fill_kg, ex.stalled, ex.weigh_count) == (2.5, False, -1)


def test_interfaces_md_lists_exactly_the_codec_keys():
    text = INTERFACES.read_text()
    for topic, codec in CODECS.items():
        rows = [line for line in text.splitlines() if line.startswith(f'| /{topic} |')]
        assert len(rows) == 1, topic
        listed = re.findall(r'`([a-z_][a-z0-9_]*)`', rows[0].split('|')[2])
        assert listed == list(codec.keys()), topic
