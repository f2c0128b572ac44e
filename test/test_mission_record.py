"""The executive's persisted record: typed, versioned, strict JSON, and the migration from
the untyped dict that planning/mission.py wrote (version 0).

The fixtures in test/fixtures/mission_record_v0/ were written by that code (main at
8f9486e, before the executive package) at six points a restart must handle; each names
the world the rover was in (pose, fill) so that a new machine can resume it here.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from mining_rover.planning.executive import (MissionRecord, Pose2D, RECORD_VERSION, State,
                                             migrate_v0)
from mining_rover.planning.mission_store import MissionStore
from test_mission_state_machine import CFG, World

FIXTURES = Path(__file__).parent / 'fixtures' / 'mission_record_v0'


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f'{name}.json').read_text())


def _resumed(name: str) -> tuple:
    """(World resuming the fixture's record through the store, the v0 record)."""
    d = _fixture(name)
    raw = d['record']
    w = World(record=MissionRecord.from_dict(raw, CFG.default_depth_m))
    w.t, w.fill, w.arm = d['world']['t'], d['world']['fill_kg'], d['world']['arm_rad']
    w.pose = Pose2D(*d['world']['pose'])
    return w, raw


def test_every_v0_fixture_migrates_field_by_field():
    names = sorted(p.stem for p in FIXTURES.glob('*.json'))
    assert len(names) == 6
    for name in names:
        raw = _fixture(name)['record']
        assert 'version' not in raw
        rec = MissionRecord.from_dict(raw)
        assert rec.version == RECORD_VERSION
        assert (rec.state, rec.cycle_id, rec.resume_state) == (raw['state'], raw['cycle_id'],
                                                               raw['resume_state'])
        assert rec.site == (None if raw['site'] is None else tuple(raw['site']))
        assert rec.dug_sites == [tuple(p) for p in raw['dug_sites']]
        assert (rec.fault_count, rec.estop_events, rec.dump_seq, rec.goal_seq) == (
            raw['fault_count'], raw['estop_events'], raw['dump_seq'], raw['goal_seq'])
        for k, v in raw['cycle'].items():
            got = getattr(rec.cycle, k)
            assert (list(got) if isinstance(got, tuple) else got) == v, (name, k)
        if raw['plan'] is not None:
            assert rec.plan.depth_of_cut_m == raw['plan']['depth_of_cut_m']
        # and what it writes reads back the same
        again = MissionRecord.from_dict(json.loads(json.dumps(rec.to_dict(), allow_nan=False)))
        assert again == rec


def test_v0_keys_it_lacked_take_fresh_values_and_bare_dug_points_one_default_cut():
    raw = {'state': 'SELECT_SITE', 'cycle_id': 4, 'dug_sites': [[1.0, 2.0], [1.5, 2.0, 0.09]],
           'cycle': {'stalls': 1, 'dump_stage': None}}
    rec = MissionRecord.from_dict(raw, default_depth_m=0.04)
    assert rec.dug_sites == [(1.0, 2.0, 0.04), (1.5, 2.0, 0.09)]
    assert rec.cycle.dump_stage == 'front' and rec.cycle.stalls == 1
    assert rec.cycle.berm_tries == 0 and rec.pending_override is None and rec.excluded_sites == []
    assert migrate_v0(raw, 0.04)['version'] == RECORD_VERSION


def test_a_newer_or_malformed_record_is_refused_with_the_reason():
    with pytest.raises(ValueError, match='version 3'):
        MissionRecord.from_dict({'version': 3, 'state': 'HAUL'})
    with pytest.raises(ValueError, match='unknown keys'):
        MissionRecord.from_dict({'version': 1, 'state': 'HAUL', 'battery': 3})
    with pytest.raises(ValueError, match='not finite'):
        MissionRecord.from_dict({'version': 1, 'site': [math.nan, 0.0]})


def test_a_v1_record_loads_with_fresh_stuck_and_resurvey_bookkeeping():
    rec = MissionRecord.from_dict({'version': 1, 'state': 'HAUL', 'estop_events': 2,
                                   'cycle': {'stalls': 1}})
    assert rec.version == RECORD_VERSION and rec.state == 'HAUL' and rec.estop_events == 2
    assert (rec.stuck_events, rec.resurveys, rec.keepouts, rec.dig_zone_radius_m) == (0, 0, [], None)
    assert rec.cycle.stalls == 1 and rec.cycle.recoveries == 0
    rec.keepouts.append((1.0, 2.0, 0.5))
    assert MissionRecord.from_dict(rec.to_dict()).keepouts == [(1.0, 2.0, 0.5)]


def test_resume_mid_rear_dump_from_a_v0_record_delivers_the_cycle_once():
    w, raw = _resumed('dump_rear_accepted')
    w.dumping_left, w.dump_floor = 1.5, 0.0         # the rear drum's dump runs on
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert w.dumps == []                             # not asked again: it was accepted
    (dlv,) = w.all_commits
    assert (dlv.cycle_id, dlv.kind) == (raw['cycle_id'], 'delivered')
    assert dlv.mass_kg == pytest.approx(raw['cycle']['fill_before_dump_kg'])


def test_resume_before_the_dump_answer_asks_again_from_the_front_drum():
    w, raw = _resumed('dump_front_asked')
    w.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert [d for d, _ in w.dumps] == ['front', 'rear']
    assert w.m.record.dump_seq > raw['dump_seq']     # a fresh request, never a reused seq
    assert [(c.cycle_id, c.kind) for c in w.all_commits] == [(raw['cycle_id'], 'delivered')]


def test_resume_mid_cut_counts_the_cut_from_its_first_fill():
    w, raw = _resumed('excavate_cutting')
    w.run_until(lambda w: w.m.state is State.HAUL)
    (exc,) = w.all_commits
    assert exc.kind == 'excavated' and exc.cycle_id == raw['cycle_id']
    assert exc.mass_kg == pytest.approx(w.fill - raw['cycle']['fill_start_kg'])


def test_resume_of_a_berm_search_goes_on_round_the_circle():
    w, raw = _resumed('haul_berm_retry')
    w.run_until(lambda w: w.out.goal is not None)
    # the goal is the point the search had reached, not the first one again
    assert (w.out.goal.x, w.out.goal.y) == pytest.approx(raw['cycle']['berm_goal'])
    assert w.m.record.cycle.berm_tries == raw['cycle']['berm_tries'] == 2
    w.run_until(lambda w: w.m.state is State.SELECT_SITE, max_s=200)


def test_resume_of_interrupts_returns_to_the_interrupted_state():
    w, raw = _resumed('fault_drive')
    t0 = w.t
    w.run_until(lambda w: w.m.state is State.DRIVE_TO_SITE)
    # re-entered, FAULT starts the back-off its fault count now calls for
    assert w.t - t0 == pytest.approx(CFG.fault_backoff_s * 2 ** raw['fault_count'], abs=0.25)
    w, raw = _resumed('estop_back_off')
    w.run_until(lambda w: w.m.state is not State.ESTOP)
    assert w.m.state is State.BACK_OFF and w.m.record.cycle.stalls == raw['cycle']['stalls']
    assert w.m.record.estop_events == raw['estop_events'] == 1   # not counted again


def test_a_record_saved_by_the_store_resumes_after_kill_9_in_the_same_state(tmp_path):
    """What mission_node does each tick, without the node: the machine's record saved
    with the commits in one transaction; a new process (here: a new store and machine)
    resumes from the file alone."""
    w = World()
    store = MissionStore(tmp_path / 'm.sqlite')
    w.run_until(lambda w: (store.save(w.m.record.to_dict(), w.m.counters(), w.out.commits)
                           and w.m.state is State.DUMP and w.m.record.cycle.dump_accepted))
    # no close: the writer dies with its connection open
    raw, tally = MissionStore(tmp_path / 'm.sqlite').load()
    assert tally.regolith_excavated_kg > 0 and tally.regolith_delivered_kg == 0
    w2 = World(record=MissionRecord.from_dict(raw))
    w2.pose, w2.fill, w2.t, w2.arm = w.pose, w.fill, w.t, w.arm
    w2.dumping_left, w2.dump_floor = w.dumping_left, w.dump_floor
    w2.run_until(lambda w: w.m.state is State.SELECT_SITE)
    assert w2.m.record.cycle_id == 2
    assert [c.kind for c in w2.all_commits] == ['delivered']


def test_to_dict_is_strict_json_and_typed_fields_survive():
    rec = replace(MissionRecord(), site=(1.0, 2.0), excluded_sites=[(0.5, 0.5)],
                  dug_sites=[(1.0, 2.0, 0.05)], pending_override=(3.0, 4.0))
    rec.cycle.berm_goal = (-2.0, 0.1)
    text = json.dumps(rec.to_dict(), allow_nan=False)
    assert MissionRecord.from_dict(json.loads(text)) == rec
