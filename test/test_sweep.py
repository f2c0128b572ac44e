"""A small sweep on local Ray: real missions (the whole stack as ROS 2 processes), two
workers, short missions. One mission loses its simulator (SIGKILL) and is reported failed
with its reason while the others complete with reports and one aggregate; a rerun of the
same command runs nothing; Ctrl-C ends a running mission with a partial report and leaves
no process behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parent.parent
WORLD = 'moon_south_pole'
DURATION_S = 15


def _env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO) + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('MINING_ROVER_SHARE', str(REPO))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def _sweep(out: Path, *extra, seeds='3', workers='2') -> list:
    return [sys.executable, '-m', 'mining_rover.cli', 'sweep', '--worlds', WORLD, '--seeds', seeds,
            '--duration', str(DURATION_S), '--workers', workers, '--no-mcap', '--out', str(out), *extra]


def _pids_with(text: str) -> list:
    """Live processes whose command line or environment mentions ``text``."""
    found = []
    for d in Path('/proc').iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            blob = (d / 'cmdline').read_bytes() + (d / 'environ').read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(d.name))
    return found


def _sigint_default():
    """As at a terminal, whatever started pytest (a background job ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _in_session(sid: int) -> list:
    pids = []
    for d in Path('/proc').iterdir():
        if d.name.isdigit():
            try:
                if os.getsid(int(d.name)) == sid:
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def _wait_gone(pids_fn, timeout_s=60.0) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pids_fn():
        time.sleep(1.0)
    return pids_fn()


def test_sweep_completes_reports_a_killed_mission_and_resumes_without_rework(tmp_path):
    out = tmp_path / 'sweep'
    proc = subprocess.Popen(_sweep(out), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    victim = out / 'missions' / WORLD / 'default' / 'seed-2'
    killed = None
    try:
        while proc.poll() is None and killed is None:   # a killed node: seed 2 loses its simulator
            pids = _pids_with(str(victim / 'params' / 'sim_node.yaml'))
            if pids:
                time.sleep(2.0)
                os.kill(pids[0], signal.SIGKILL)
                killed = pids[0]
            time.sleep(0.5)
        text, _ = proc.communicate(timeout=1400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=300)
    assert killed, text
    assert proc.returncode == 1, text              # one mission failed
    data = json.loads((out / 'sweep.json').read_text())
    rows = {r['seed']: r for r in data['missions']}
    assert sorted(rows) == [1, 2, 3]
    for seed in (1, 3):
        r = rows[seed]
        assert r['outcome'] == 'complete', r
        assert (out / r['report']).is_file() and (out / r['dir'] / 'summary.json').is_file()
        assert r['summary']['sim_time_s'] >= DURATION_S and r['kg_per_hour_truth'] is not None
        # the mission ran at the sweep's priority, not at Ray's worker niceness (15)
        assert json.loads((out / r['dir'] / 'sweep_mission.json').read_text())['niceness'] == os.nice(0)
    bad = rows[2]
    assert bad['outcome'] == 'failed' and bad['reason'] == 'node_died', bad
    assert bad['detail'].startswith('sim_node exited with code -9'), bad
    (g,) = data['groups']
    assert g['count'] == 3 and g['complete'] == 2 and g['outcomes_by_reason'] == {'complete': 2,
                                                                                  'node_died': 1}
    assert g['kg_per_hour_truth']['n'] == 2
    page = (out / 'sweep.html').read_text()
    assert 'node_died' in page and f"{bad['dir']}/runner.log" in page
    assert (out / 'sweep.png').stat().st_size > 10_000
    assert 'sweep: 3/3 done' in text and '1 failed' in text

    before = {p: p.stat().st_mtime_ns for p in out.rglob('summary.json')}
    again = subprocess.run(_sweep(out), check=False, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 1, again.stderr     # the failure is still a failure
    assert '0 to run' in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob('summary.json')} == before
    assert json.loads((out / 'sweep.json').read_text())['outcomes'] == {'complete': 2, 'failed': 1}


def test_ctrl_c_ends_running_missions_with_partial_reports_and_leaves_nothing(tmp_path):
    out = tmp_path / 'sweep'
    proc = subprocess.Popen(_sweep(out, seeds='1', workers='1'), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_sigint_default)  # noqa: PLW1509  (no threads here)
    log = out / 'missions' / WORLD / 'default' / 'seed-1' / 'runner.log'
    try:
        deadline = time.monotonic() + 900
        while proc.poll() is None and time.monotonic() < deadline:
            if log.exists() and ' rtf ' in log.read_text(errors='replace'):   # the sim clock runs
                break
            time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()[0]
        os.killpg(proc.pid, signal.SIGINT)             # what a terminal's Ctrl-C does
        text, _ = proc.communicate(timeout=700)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, text
    mission = log.parent
    summary = json.loads((mission / 'summary.json').read_text())
    assert summary['outcome'] == 'interrupted' and 0 < summary['sim_time_s'] < DURATION_S
    assert (mission / 'report.html').is_file()
    assert json.loads((mission / 'sweep_mission.json').read_text())['outcome'] == 'interrupted'
    assert _wait_gone(lambda: _pids_with(str(out))) == []
    assert _wait_gone(lambda: _in_session(proc.pid)) == []
