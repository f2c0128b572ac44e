"""One run per output directory: a second run on an --out in use refuses with the PID that
holds it (exit 2, one line); a lock left by a dead run is taken over with a warning."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mining_rover.runner.dirlock import LOCK_NAME, DirLock, DirLockHeld, pid_alive, read_owner

REPO = Path(__file__).resolve().parent.parent

HOLD = ('import sys, time\n'
        'from mining_rover.runner.dirlock import DirLock\n'
        'lock = DirLock(sys.argv[1], purpose="test holder").acquire()\n'
        'print("held", flush=True)\n'
        'time.sleep(600)\n')


@pytest.fixture
def holder(tmp_path):
    """A separate live process that holds tmp_path/out's lock; stopped by its handle."""
    out = tmp_path / 'out'
    out.mkdir()
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(out)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == 'held'
    yield out, proc
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    p = subprocess.Popen(['true'])
    p.wait()
    assert not pid_alive(p.pid)
    return p.pid


def test_a_live_holder_is_named_by_pid(holder):
    out, proc = holder
    with pytest.raises(DirLockHeld) as exc:
        DirLock(out).acquire()
    assert exc.value.pid == proc.pid
    assert f'PID {proc.pid}' in str(exc.value) and 'test holder' in str(exc.value)


def test_the_lock_is_free_again_when_the_holder_is_killed(holder):
    out, proc = holder
    proc.kill()
    proc.wait()
    lock = DirLock(out).acquire()
    try:
        assert lock.stale_owner['pid'] == proc.pid
        assert f'stale lock of PID {proc.pid}' in lock.stale_warning()
        assert read_owner(out / LOCK_NAME)['pid'] == os.getpid()
    finally:
        lock.release()
    assert not (out / LOCK_NAME).exists()


def test_a_stale_lock_file_is_taken_over_with_a_warning(tmp_path):
    pid = dead_pid()
    (tmp_path / LOCK_NAME).write_text(f'pid={pid}\nhost=x\nstarted=2026-01-01T00:00:00\npurpose=old\n')
    with DirLock(tmp_path) as lock:
        assert f'PID {pid}' in lock.stale_warning() and 'no longer runs' in lock.stale_warning()


def test_a_clean_directory_gives_no_warning_and_release_removes_the_file(tmp_path):
    with DirLock(tmp_path, purpose='t') as lock:
        assert lock.stale_warning() is None
        assert read_owner(tmp_path / LOCK_NAME)['purpose'] == 't'
    assert not (tmp_path / LOCK_NAME).exists()


def _sim(out: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    return subprocess.run([sys.executable, '-m', 'mining_rover.cli', 'sim', '--duration', '5',
                           '--no-record', '--out', str(out), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_second_sim_on_the_same_out_refuses_with_the_pid(holder):
    out, proc = holder
    t0 = time.monotonic()
    res = _sim(out)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and f'in use by PID {proc.pid}' in lines[0] and '--out' in lines[0], lines
    assert not (out / 'logs' / 'sim_node.log').exists()
    assert time.monotonic() - t0 < 300


def test_sim_takes_over_a_stale_lock_with_a_warning(tmp_path):
    """A bad config (checked after the lock is taken) ends the run at once: the warning
    about the stale lock, then the one line about the config."""
    share = tmp_path / 'share'
    share.mkdir()
    subprocess.run(['cp', '-r', str(REPO / 'config'), str(REPO / 'urdf'), str(share)], check=True)
    (share / 'worlds').symlink_to(REPO / 'worlds')
    rover = share / 'config' / 'rover.yaml'
    rover.write_text(rover.read_text().replace('mass: 50.5', 'mass: -1'))
    out = tmp_path / 'out'
    out.mkdir()
    pid = dead_pid()
    (out / LOCK_NAME).write_text(f'pid={pid}\n')
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'MINING_ROVER_SHARE': str(share)}
    res = subprocess.run([sys.executable, '-m', 'mining_rover.cli', 'sim', '--duration', '5',
                          '--no-record', '--out', str(out)], capture_output=True, text=True, env=env,
                         timeout=300)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 2, lines
    assert 'warning:' in lines[0] and f'stale lock of PID {pid}' in lines[0]
    assert 'chassis.mass = -1' in lines[1]
    assert not (out / LOCK_NAME).exists(), 'the lock is released when the run ends'
