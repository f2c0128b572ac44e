"""One sweep mission as a Ray task, and the locks that keep sweeps apart.

A task claims a ROS domain id (lock files shared with test/conftest.py), runs one
``mining-rover sim`` in its own session and process group, stops it on request
(SIGINT, then SIGTERM, then SIGKILL to the group), kills whatever of it is left by the
mission token in the environment, and classifies the outcome from the summary, the exit
code and the runner log. runner/sweep.py schedules these tasks and reports on them.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: After SIGINT the runner stops 8 nodes (up to 18 s each: SIGINT, SIGTERM, SIGKILL) and
#: writes its report; under heavy load that took minutes. This
#: long, s, before SIGTERM, then SIGKILL of its process group.
STOP_GRACE_S = 240.0
KILL_GRACE_S = 60.0
DOMAIN_LOCK_DIR = Path(tempfile.gettempdir()) / 'mining_rover_domains'
DOMAIN_IDS = range(1, 101)
#: Environment variable carrying a mission's token into the runner and its nodes, so that
#: the task can find and kill what a crashed runner left behind (its own processes only).
MISSION_TOKEN_ENV = 'MINING_ROVER_SWEEP_MISSION'


class SweepRequestError(ValueError):
    """The request cannot run: exit 2, nothing started."""


class OutLock:
    """``DIR/.sweep.lock``: an flock held by the sweep for its life, with its PID inside.
    A second sweep on the same DIR is refused naming that PID; a lock file left by a dead
    sweep (no flock held) is taken over with a warning."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / '.sweep.lock'
        self._f = None
        self.stale_pid: str | None = None

    def acquire(self) -> OutLock:
        f = open(self.path, 'a+')  # noqa: SIM115  (held open: the flock lives with it)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or '?'
            f.close()
            raise SweepRequestError(f'--out {self.path.parent}: owned by a running sweep '
                                    f'(PID {pid}, lock {self.path})') from None
        f.seek(0)
        self.stale_pid = f.read().strip() or None
        f.seek(0)
        f.truncate()
        f.write(f'{os.getpid()}\n')
        f.flush()
        self._f = f
        return self

    def release(self):
        if self._f is not None:
            self.path.unlink(missing_ok=True)
            fcntl.flock(self._f, fcntl.LOCK_UN)
            self._f.close()
            self._f = None


# -- one mission (runs inside a Ray task) --------------------------------------------
class DomainLock:
    """A ROS domain id no other live process on this host holds (test/conftest.py's
    scheme), held until release()."""

    def __init__(self, start: int | None = None):
        DOMAIN_LOCK_DIR.mkdir(exist_ok=True)
        start = os.getpid() if start is None else start
        n = len(DOMAIN_IDS)
        for i in range(n):
            domain = DOMAIN_IDS[(start + i) % n]
            f = open(DOMAIN_LOCK_DIR / f'{domain}.lock', 'w')  # noqa: SIM115  (held for the mission)
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            self.domain, self._f = domain, f
            return
        raise RuntimeError(f'no free ROS_DOMAIN_ID in {DOMAIN_IDS.start}..{DOMAIN_IDS.stop - 1}')

    def release(self):
        self._f.close()


def _runner_preexec(niceness: int | None = None):
    """In the runner, before exec: SIGINT back to its default (Ray's daemons run with it
    ignored, and an ignored signal stays ignored across exec: the runner would not stop
    on it), no signal blocked (Ray runs tasks in a thread that blocks SIGINT, and the mask
    is inherited too), and SIGINT (a clean stop, a partial report) if the Ray worker that
    started it dies; and the sweep's own niceness where the Ray worker runs at a lower
    priority (a cluster started without RAY_worker_niceness=0; raising the priority needs
    CAP_SYS_NICE, so elsewhere the worker's stays, and the record says which). Linux only."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if niceness is not None and os.nice(0) > niceness:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except OSError:
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def runner_argv(job: dict) -> list[str]:
    """Command line that runs one sweep mission as ``mining-rover sim``."""
    argv = [sys.executable, '-m', 'mining_rover.cli', 'sim', '--world', job['world'],
            '--duration', f"{job['duration_s']:g}", '--seed', str(job['seed']),
            '--out', job['out_dir']]
    if job.get('site', 'compact') != 'compact':
        argv += ['--site', job['site'], '--site-seed', str(job['seed'])]
    if not job['record']:
        argv.append('--no-record')
    for name, value in job['params']:
        argv += ['--param', f'{name}={value}']
    return argv


def _processes_with_token(token: str) -> list[int]:
    """PIDs of this user's processes whose environment carries the mission token."""
    needle = f'{MISSION_TOKEN_ENV}={token}'.encode()
    found = []
    for d in Path('/proc').iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if needle in (d / 'environ').read_bytes().split(b'\0'):
                    found.append(int(d.name))
            except OSError:
                continue
    return found


def _signal_group(pgid: int, sig) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_runner(proc: subprocess.Popen) -> None:
    """SIGINT to the runner's process group (it stops its nodes and writes a partial
    report), SIGTERM after STOP_GRACE_S, SIGKILL after KILL_GRACE_S more."""
    for sig, grace in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, KILL_GRACE_S),
                       (signal.SIGKILL, KILL_GRACE_S)):
        if proc.poll() is not None:
            return
        _signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_request_path(out_dir: Path) -> Path:
    """The file whose presence asks the mission in ``out_dir`` to stop."""
    return Path(out_dir) / 'stop.request'


def run_mission_task(job: dict) -> dict:
    """One mission: claim a domain id, run `mining-rover sim` in its own process group,
    enforce the wall-time limit, stop it on request (a stop.request file in its directory,
    or a KeyboardInterrupt from ray.cancel), clean up after it, and write and return the
    mission's record (``sweep_mission.json``)."""
    out = Path(job['out_dir'])
    out.mkdir(parents=True, exist_ok=True)
    for name in ('summary.json', 'sweep_mission.json', stop_request_path(out).name):
        (out / name).unlink(missing_ok=True)
    token = f'{os.getpid()}-{time.time_ns()}'
    lock = DomainLock(start=job.get('domain_hint'))
    record = {'key': job['key'], 'world': job['world'], 'seed': job['seed'],
              'params': dict(job['params']), 'ros_domain_id': lock.domain,
              'host': socket.gethostname(), 'timeout_s': job['timeout_s']}
    env = {**os.environ, 'ROS_DOMAIN_ID': str(lock.domain),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_LOG_DIR': str(out / 'logs' / 'ros'),
           MISSION_TOKEN_ENV: token, 'PYTHONUNBUFFERED': '1'}
    env.pop('ROS_STATIC_PEERS', None)
    wall0 = time.monotonic()
    stopped_by, rc = None, None
    log = open(out / 'runner.log', 'w')  # noqa: SIM115  (closed in the finally below)
    try:
        proc = subprocess.Popen(runner_argv(job), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                preexec_fn=functools.partial(_runner_preexec, job.get('niceness')))  # noqa: PLW1509  (prctl and the signal mask need it)
        (out / 'runner.pid').write_text(f'{proc.pid}\n')
        try:
            record['niceness'] = os.getpriority(os.PRIO_PROCESS, proc.pid)
        except OSError:        # already gone
            pass
        deadline = wall0 + job['timeout_s']
        try:
            while rc is None:
                try:
                    rc = proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    if stop_request_path(out).exists():
                        stopped_by = 'interrupted'
                    elif time.monotonic() > deadline:
                        stopped_by = 'timeout'
                    if stopped_by:
                        _stop_runner(proc)
                        rc = proc.wait()
        except KeyboardInterrupt:   # ray.cancel on a cluster, or a Ctrl-C that reached us
            stopped_by = 'interrupted'
            _stop_runner(proc)
            rc = proc.wait()
    finally:
        leftovers = _processes_with_token(token)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        lock.release()
        (out / 'runner.pid').unlink(missing_ok=True)
    record.update(classify(out, rc, stopped_by, job), wall_s=round(time.monotonic() - wall0, 2),
                  runner_exit_code=rc, leftover_processes_killed=len(leftovers),
                  disk_bytes=disk_bytes(out))
    (out / 'sweep_mission.json').write_text(json.dumps(record, indent=1))
    stop_request_path(out).unlink(missing_ok=True)
    return record


def disk_bytes(path: Path) -> int:
    """Total size in bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob('*') if p.is_file())


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return ''


def read_summary(out: Path) -> dict | None:
    """A mission's summary.json, or None if it is missing or unreadable."""
    try:
        return json.loads((Path(out) / 'summary.json').read_text())
    except (OSError, ValueError):
        return None


#: The runner's line for a node that exited by itself while starting or during the
#: mission (mission_runner._start/_fly); exit codes after the runner's own stop are not
#: deaths (under load a node may need SIGKILL to stop, which the summary also records).
_NODE_EXITED = re.compile(r'^mining-rover sim: (\w+) exited with code (-?\d+)', re.MULTILINE)


def nodes_died(runner_log: Path) -> dict:
    """{node: exit code} of the nodes the runner saw exit by themselves."""
    try:
        text = Path(runner_log).read_text(errors='replace')
    except OSError:
        return {}
    return {name: int(code) for name, code in _NODE_EXITED.findall(text)}


def classify(out: Path, rc: int | None, stopped_by: str | None, job: dict) -> dict:
    """{'outcome': complete|failed|interrupted, 'reason': short key, 'detail': one line,
    'log_tail': ...}. Failed means the mission cannot count as a sample: the runner did
    not end with a complete summary, or a node died during it."""
    summary = read_summary(out)
    runner_tail = _tail(out / 'runner.log')
    if stopped_by == 'interrupted':
        return {'outcome': 'interrupted', 'reason': 'interrupted',
                'detail': 'stopped by Ctrl-C (partial report)' if summary else
                          'stopped by Ctrl-C before a report was written', 'log_tail': runner_tail}
    if stopped_by == 'timeout' and not _ran_to_end(summary, job):
        return {'outcome': 'failed', 'reason': 'timeout',
                'detail': f"hung: past the wall-time limit of {job['timeout_s']:.0f} s"
                          + (' (partial report)' if summary else ''), 'log_tail': runner_tail}
    if summary is None:
        sig = f' (killed by {signal.Signals(-rc).name})' if rc is not None and rc < 0 else ''
        return {'outcome': 'failed', 'reason': 'crashed',
                'detail': f'the runner exited with code {rc}{sig} and wrote no summary',
                'log_tail': runner_tail}
    died = nodes_died(out / 'runner.log')
    if died:
        name, code = min(died.items())
        sig = f' ({signal.Signals(-code).name})' if code < 0 and -code in signal.valid_signals() else ''
        return {'outcome': 'failed', 'reason': 'node_died',
                'detail': f'{name} exited with code {code}{sig}'
                          + (f'; also {", ".join(sorted(died)[1:])}' if len(died) > 1 else ''),
                'log_tail': _tail(out / 'logs' / f'{name}.log')}
    if rc != 0 or summary.get('outcome') != 'complete':
        return {'outcome': 'failed', 'reason': summary.get('outcome') or 'aborted',
                'detail': summary.get('outcome_reason') or f'the runner exited with code {rc}',
                'log_tail': runner_tail}
    return {'outcome': 'complete', 'reason': 'complete', 'detail': '', 'log_tail': ''}


def _ran_to_end(summary: dict | None, job: dict) -> bool:
    """The runner reached the mission's duration (its exit may still have been slow)."""
    return bool(summary) and summary.get('outcome') == 'complete' \
        and (summary.get('sim_time_s') or 0.0) >= job['duration_s'] - 1e-6
