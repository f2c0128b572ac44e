"""Persistence of the mission: the tally and the executive's state, crash-safe.

Pure Python (sqlite3 from the standard library). One SQLite file in WAL mode with
``synchronous=FULL``; every ``save`` is one transaction that writes the state record,
the counters and any cycle commits together, so a ``kill -9`` (or a power cut) at any
instant leaves either the previous or the next consistent mission, never a mix.

Cycle accounting is idempotent: a cycle's excavated mass and its delivered mass are
each written once, keyed by the cycle id; committing them again (a restarted executive
replaying the end of a cycle) changes nothing. The tally's masses are sums over the
cycles table, so nothing can be counted twice.

A file that is not a readable mission store (not SQLite, failed integrity check,
unknown schema, unreadable state record) is moved aside as
``<path>.corrupt-<UTC timestamp>`` (with its -wal/-shm companions), reported through
the ``log`` callback, and the mission starts fresh. It is never overwritten.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

SCHEMA_VERSION = '1'
COMMIT_KINDS = ('excavated', 'delivered')
_COUNTERS = ('energy_wh', 'time_autonomous_s', 'hazard_contacts', 'estop_events')


class StoreCorrupt(Exception):
    """The file is not a usable mission store; the message says why."""


@dataclass(frozen=True)
class Tally:
    """What the mission has achieved so far (the /mission/status figures that persist)."""
    cycles: int = 0
    regolith_excavated_kg: float = 0.0
    regolith_delivered_kg: float = 0.0
    berm_volume_m3: float = 0.0
    target_resource_kg: float = 0.0
    energy_wh: float = 0.0
    hazard_contacts: int = 0
    estop_events: int = 0
    time_autonomous_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CycleCommit:
    """One end-of-phase fact of cycle ``cycle_id``: the mass excavated (kind
    'excavated') or delivered to the berm (kind 'delivered', with the estimated target
    resource mass and berm volume it adds). Written at most once per (cycle, kind)."""
    cycle_id: int
    kind: str
    mass_kg: float
    target_kg: float = 0.0
    volume_m3: float = 0.0

    def __post_init__(self):
        if self.kind not in COMMIT_KINDS:
            raise ValueError(f'commit kind must be one of {COMMIT_KINDS}, got {self.kind!r}')
        for name in ('mass_kg', 'target_kg', 'volume_m3'):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0.0:
                raise ValueError(f'commit {name} must be finite and >= 0, got {v}')


class MissionStore:
    """The mission's persistent state in one SQLite file (see the module docstring).

    ``load()`` -> (record dict or None, Tally); ``save(record, counters, commits)``
    -> Tally, one transaction. ``log(level, text)`` receives 'warn' / 'info' events
    (the node routes them to its logger).
    """

    def __init__(self, path: str | os.PathLike, log=None):
        self.path = Path(path)
        self._log = log or (lambda level, text: None)
        self.moved_aside: Path | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open()
        except StoreCorrupt as exc:
            self.moved_aside = self._move_aside()
            self._log('warn', f'mission store {self.path} is corrupt ({exc}); kept as '
                              f'{self.moved_aside}, starting a fresh mission')
            self._conn = self._open()

    # -- opening and checking ------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = None
        try:
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=5.0)
            mode = conn.execute('PRAGMA journal_mode=WAL').fetchone()[0]
            if str(mode).lower() != 'wal':
                raise StoreCorrupt(f'cannot switch to WAL mode (got {mode!r})')
            conn.execute('PRAGMA synchronous=FULL')
            check = conn.execute('PRAGMA integrity_check').fetchone()[0]
            if check != 'ok':
                raise StoreCorrupt(f'integrity check: {check}')
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                self._create(conn)
            else:
                self._check_schema(conn, tables)
            return conn
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreCorrupt(str(exc)) from exc
        except StoreCorrupt:
            if conn is not None:
                conn.close()
            raise

    @staticmethod
    def _create(conn):
        conn.execute('BEGIN IMMEDIATE')
        conn.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
        conn.execute('CREATE TABLE mission (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT, '
                     'energy_wh REAL NOT NULL, time_autonomous_s REAL NOT NULL, '
                     'hazard_contacts INTEGER NOT NULL, estop_events INTEGER NOT NULL, '
                     'updated_unix REAL NOT NULL)')
        conn.execute('CREATE TABLE cycles (cycle_id INTEGER PRIMARY KEY, excavated_kg REAL, '
                     'delivered_kg REAL, target_kg REAL, berm_volume_m3 REAL)')
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        conn.execute('INSERT INTO mission VALUES (1, NULL, 0, 0, 0, 0, ?)', (time.time(),))
        conn.execute('COMMIT')

    def _check_schema(self, conn, tables):
        if not {'meta', 'mission', 'cycles'} <= tables:
            raise StoreCorrupt(f'unexpected tables {sorted(tables)}')
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            raise StoreCorrupt(f'schema version {row[0] if row else None!r}, expected {SCHEMA_VERSION}')
        row = conn.execute('SELECT record FROM mission WHERE id = 1').fetchone()
        if row is None:
            raise StoreCorrupt('no mission row')
        if row[0] is not None:
            try:
                record = json.loads(row[0])
            except ValueError as exc:
                raise StoreCorrupt(f'state record is not JSON: {exc}') from exc
            if not isinstance(record, dict):
                raise StoreCorrupt(f'state record is a {type(record).__name__}, not an object')

    def _move_aside(self) -> Path:
        stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
        target = self.path.with_name(f'{self.path.name}.corrupt-{stamp}')
        n = 1
        while target.exists():
            target = self.path.with_name(f'{self.path.name}.corrupt-{stamp}-{n}')
            n += 1
        os.replace(self.path, target)
        for suffix in ('-wal', '-shm'):
            companion = self.path.with_name(self.path.name + suffix)
            if companion.exists():
                os.replace(companion, target.with_name(target.name + suffix))
        return target

    # -- reading and writing -------------------------------------------------------------
    def load(self) -> tuple[dict | None, Tally]:
        """(the last saved state record, or None for a fresh mission; the tally), read
        in one transaction so both come from the same save."""
        c = self._conn
        c.execute('BEGIN')
        try:
            row = c.execute('SELECT record FROM mission WHERE id = 1').fetchone()
            tally = self.tally()
        finally:
            c.execute('COMMIT')
        return (json.loads(row[0]) if row[0] is not None else None), tally

    def tally(self) -> Tally:
        c = self._conn
        m = c.execute('SELECT energy_wh, time_autonomous_s, hazard_contacts, estop_events '
                      'FROM mission WHERE id = 1').fetchone()
        s = c.execute('SELECT COUNT(delivered_kg), COALESCE(SUM(excavated_kg), 0), '
                      'COALESCE(SUM(delivered_kg), 0), COALESCE(SUM(berm_volume_m3), 0), '
                      'COALESCE(SUM(target_kg), 0) FROM cycles').fetchone()
        return Tally(cycles=int(s[0]), regolith_excavated_kg=float(s[1]),
                     regolith_delivered_kg=float(s[2]), berm_volume_m3=float(s[3]),
                     target_resource_kg=float(s[4]), energy_wh=float(m[0]),
                     time_autonomous_s=float(m[1]), hazard_contacts=int(m[2]),
                     estop_events=int(m[3]))

    def save(self, record: dict, counters: dict | None = None, commits=()) -> Tally:
        """Write the state record, the counters (any of energy_wh, time_autonomous_s,
        hazard_contacts, estop_events; absent ones keep their value) and the cycle
        commits in one transaction. A commit already present is ignored. Returns the
        tally after the write."""
        counters = dict(counters or {})
        unknown = set(counters) - set(_COUNTERS)
        if unknown:
            raise ValueError(f'unknown counters {sorted(unknown)}; known: {_COUNTERS}')
        text = json.dumps(record, sort_keys=True, allow_nan=False)
        c = self._conn
        c.execute('BEGIN IMMEDIATE')
        try:
            for commit in commits:
                self._apply(c, commit)
            sets = ', '.join(f'{k} = ?' for k in counters)
            c.execute(f'UPDATE mission SET record = ?, updated_unix = ?{", " + sets if sets else ""} '
                      'WHERE id = 1', (text, time.time(), *counters.values()))
            c.execute('COMMIT')
        except BaseException:
            c.execute('ROLLBACK')
            raise
        return self.tally()

    @staticmethod
    def _apply(c, commit: CycleCommit) -> None:
        c.execute('INSERT OR IGNORE INTO cycles (cycle_id) VALUES (?)', (int(commit.cycle_id),))
        if commit.kind == 'excavated':
            c.execute('UPDATE cycles SET excavated_kg = ? WHERE cycle_id = ? AND excavated_kg IS NULL',
                      (commit.mass_kg, int(commit.cycle_id)))
        else:
            c.execute('UPDATE cycles SET delivered_kg = ?, target_kg = ?, berm_volume_m3 = ? '
                      'WHERE cycle_id = ? AND delivered_kg IS NULL',
                      (commit.mass_kg, commit.target_kg, commit.volume_m3, int(commit.cycle_id)))

    def committed(self, cycle_id: int) -> dict:
        """{'excavated': kg or None, 'delivered': kg or None} of one cycle."""
        row = self._conn.execute('SELECT excavated_kg, delivered_kg FROM cycles WHERE cycle_id = ?',
                                 (int(cycle_id),)).fetchone()
        return {'excavated': row[0] if row else None, 'delivered': row[1] if row else None}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def tally_fields() -> tuple:
    """Names of the mission tally's fields, in declaration order."""
    return tuple(f.name for f in fields(Tally))
