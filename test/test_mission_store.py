"""Mission store: atomic saves, idempotent cycle accounting, crash safety, corrupt files."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from mining_rover.planning.mission_store import CycleCommit, MissionStore, Tally


def test_fresh_store_then_reload_gives_the_same_mission(tmp_path):
    path = tmp_path / 'm.sqlite'
    s = MissionStore(path)
    assert s.load() == (None, Tally())
    s.save({'state': 'HAUL', 'cycle_id': 1}, {'energy_wh': 2.5, 'estop_events': 1},
           [CycleCommit(1, 'excavated', 9.0)])
    s.save({'state': 'SELECT_SITE', 'cycle_id': 2}, {'time_autonomous_s': 100.0},
           [CycleCommit(1, 'delivered', 8.5, target_kg=0.1, volume_m3=8.5 / 1500)])
    s.close()
    record, tally = MissionStore(path).load()
    assert record == {'state': 'SELECT_SITE', 'cycle_id': 2}
    assert tally == Tally(cycles=1, regolith_excavated_kg=9.0, regolith_delivered_kg=8.5,
                          berm_volume_m3=pytest.approx(8.5 / 1500), target_resource_kg=0.1,
                          energy_wh=2.5, hazard_contacts=0, estop_events=1, time_autonomous_s=100.0)
    assert path.exists() and not list(tmp_path.glob('*.corrupt-*'))


def test_committing_a_cycle_twice_counts_it_once(tmp_path):
    s = MissionStore(tmp_path / 'm.sqlite')
    d = CycleCommit(3, 'delivered', 7.0)
    s.save({'state': 'SELECT_SITE'}, commits=[CycleCommit(3, 'excavated', 7.5), d])
    t = s.save({'state': 'SELECT_SITE'}, commits=[d, CycleCommit(3, 'delivered', 99.0),
                                                  CycleCommit(3, 'excavated', 99.0)])
    assert (t.cycles, t.regolith_delivered_kg, t.regolith_excavated_kg) == (1, 7.0, 7.5)
    assert s.committed(3) == {'excavated': 7.5, 'delivered': 7.0}


def test_a_failure_inside_a_save_leaves_the_previous_mission(tmp_path, monkeypatch):
    s = MissionStore(tmp_path / 'm.sqlite')
    s.save({'state': 'DUMP', 'cycle_id': 1}, commits=[CycleCommit(1, 'excavated', 5.0)])
    real = MissionStore._apply
    calls = []

    def crash_after_the_commit(c, commit):
        real(c, commit)
        calls.append(commit)
        raise OSError('simulated crash between the cycle row and the state record')
    monkeypatch.setattr(MissionStore, '_apply', staticmethod(crash_after_the_commit))
    with pytest.raises(OSError):
        s.save({'state': 'SELECT_SITE', 'cycle_id': 2}, commits=[CycleCommit(1, 'delivered', 5.0)])
    assert calls
    record, tally = s.load()
    assert record == {'state': 'DUMP', 'cycle_id': 1}       # neither the state ...
    assert tally.cycles == 0 and tally.regolith_delivered_kg == 0.0   # ... nor the delivery


_WRITER = textwrap.dedent('''
    import sys
    from mining_rover.planning.mission_store import CycleCommit, MissionStore
    s = MissionStore(sys.argv[1])
    record, tally = s.load()
    cycle = (record or {}).get('cycle_id', 1)
    print('ready', flush=True)
    while True:   # each cycle: excavated (state HAUL), then delivered (state SELECT_SITE)
        s.save({'state': 'HAUL', 'cycle_id': cycle}, {'energy_wh': cycle * 1.0},
               [CycleCommit(cycle, 'excavated', 2.0)])
        s.save({'state': 'SELECT_SITE', 'cycle_id': cycle + 1}, {'energy_wh': cycle + 0.5},
               [CycleCommit(cycle, 'delivered', 2.0)])
        cycle += 1
''')


def _consistent(record, tally):
    """The invariant every committed transaction keeps."""
    if record is None:
        return tally.cycles == 0
    done = record['cycle_id'] - 1
    if record['state'] == 'SELECT_SITE':
        return (tally.cycles == done and tally.regolith_delivered_kg == 2.0 * done
                and tally.regolith_excavated_kg == 2.0 * done)
    return (tally.cycles == done and tally.regolith_delivered_kg == 2.0 * done
            and tally.regolith_excavated_kg == 2.0 * (done + 1))


def test_kill_9_while_saving_never_leaves_a_half_written_mission(tmp_path):
    path = tmp_path / 'm.sqlite'
    for _ in range(3):
        p = subprocess.Popen([sys.executable, '-c', _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == 'ready'
        reader = MissionStore(path)
        start = reader.load()[1].cycles
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:   # read while it writes: always consistent
            rec, tal = reader.load()
            assert _consistent(rec, tal), (rec, tal)
            if tal.cycles >= start + 2:
                break
        reader.close()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        s = MissionStore(path)
        record, tally = s.load()
        assert s.moved_aside is None
        assert _consistent(record, tally), (record, tally)
        s.close()
    assert tally.cycles > 0


def test_a_corrupt_file_is_kept_aside_and_the_mission_starts_fresh(tmp_path):
    path = tmp_path / 'm.sqlite'
    path.write_bytes(b'this is not a database' * 100)
    events = []
    s = MissionStore(path, log=lambda level, text: events.append((level, text)))
    assert s.load() == (None, Tally())
    aside = list(tmp_path.glob('m.sqlite.corrupt-*'))
    assert aside == [s.moved_aside]
    assert aside[0].read_bytes() == b'this is not a database' * 100      # kept intact
    assert events and events[0][0] == 'warn' and str(aside[0]) in events[0][1]


def test_a_bad_state_record_or_schema_is_corrupt_too(tmp_path):
    path = tmp_path / 'm.sqlite'
    MissionStore(path).close()
    c = sqlite3.connect(path)
    with c:
        c.execute("UPDATE mission SET record = '{not json'")
    c.close()
    s = MissionStore(path)
    assert s.moved_aside is not None and s.load()[0] is None
    s.save({'state': 'HAUL'})
    s.close()
    c = sqlite3.connect(path)
    with c:
        c.execute("UPDATE meta SET value = '999'")
    c.close()
    s2 = MissionStore(path)
    assert s2.moved_aside is not None and s2.moved_aside != s.moved_aside
    kept = [p for p in tmp_path.glob('m.sqlite.corrupt-*') if not p.name.endswith(('-wal', '-shm'))]
    assert len(kept) == 2


def test_commit_values_are_checked():
    with pytest.raises(ValueError, match='kind'):
        CycleCommit(1, 'spilled', 1.0)
    with pytest.raises(ValueError, match='mass_kg'):
        CycleCommit(1, 'delivered', float('nan'))
