"""`mining-rover sweep`: many seeded missions across worlds and parameters as Ray tasks.

The request is the cartesian product worlds x parameter sets x seeds. Each mission is one
Ray task that runs one ``mining-rover sim`` (the whole stack as real ROS 2 processes) as
a subprocess in its own session and process group, into its own directory
``DIR/missions/<world>/<parameter set>/seed-<n>/``. Locally Ray starts by itself with
``--workers`` slots; ``--address`` joins an existing cluster.

Isolation: a task claims a ROS domain id with the lock-file scheme of test/conftest.py
(``/tmp/mining_rover_domains/<id>.lock``, ids 1..100, held for the mission's life), so
two missions, a mission and a pytest process, or two sweeps on one host never share a
domain; discovery stays on localhost; ROS logs go to the mission's directory. A mission
that crashes, hangs past its wall-time limit or is killed is recorded with its reason and
its log's tail; the sweep goes on.

Ctrl-C: the driver asks every running task to stop; a task sends SIGINT to its runner's
process group, the runner stops its nodes and writes a partial report, and the driver
waits until every runner is gone before Ray shuts down. Missions that were interrupted
are not done: rerunning the same command runs them again and skips complete ones.

Exit codes: 0 every mission complete, 1 some failed, 2 bad request (nothing started),
130 interrupted.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mining_rover.runner.sweep_task import (  # noqa: F401  (re-exported: tests and bench use sweep.X)
    DOMAIN_IDS, DOMAIN_LOCK_DIR, DomainLock, KILL_GRACE_S, MISSION_TOKEN_ENV, OutLock, STOP_GRACE_S,
    SweepRequestError, _processes_with_token, _ran_to_end, _runner_preexec, _signal_group,
    _stop_runner, _tail, classify, disk_bytes, nodes_died, read_summary, run_mission_task,
    runner_argv, stop_request_path)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Sites a sweep can place the mission in, each with None or the reason it is refused
#: (mining_rover.sim.sites). With ``operational`` each mission's seed is also its site seed:
#: a sweep over seeds crosses different sites (generated once per seed into the cache).
SITES = {'compact': None, 'operational': None}

#: CPU cores one mission keeps busy at real-time factor 1: the sum of every process's CPU
#: seconds per simulated second in summary.json's cpu_window (the 8 nodes, the simulator
#: and the runner's monitor). Measured 1.88 on a 15 s lunar mission with 2 cores shared
#: by ~8 sessions (CPU seconds, unlike wall time, barely change with contention);
#: bench/sweep.py measures it again. The default --workers is what the CPUs allow at it.
MISSION_CORES = 1.9

#: Wall-time limit of one mission, s: a fixed start-up and shutdown allowance plus the
#: mission at a real-time factor of 0.02. A backstop for a runner that hangs (the runner
#: itself ends a mission whose clock stands still for 120 s); real-time factors of
#: 0.03-0.06 were measured here with 2 cores shared at a load average of 50-60.
START_ALLOWANCE_S = 300.0
SLOWEST_RTF = 0.02






# -- the request ---------------------------------------------------------------------
@dataclass
class SweepRequest:
    """A sweep: worlds x seeds x parameter values, mission length (sim s), output dir and workers."""
    worlds: list
    seeds: list
    duration_s: float
    out_dir: Path
    site: str = 'compact'
    params: dict = field(default_factory=dict)     # {'node.param': [values]}
    workers: int | None = None
    address: str | None = None
    rerun_failed: bool = False
    record: bool = True
    mission_timeout_s: float | None = None
    progress: bool = True

    def timeout_s(self) -> float:
        if self.mission_timeout_s:
            return float(self.mission_timeout_s)
        return START_ALLOWANCE_S + self.duration_s / SLOWEST_RTF


@dataclass(frozen=True)
class Mission:
    """One mission of a sweep: world, parameter set and seed."""
    world: str
    params: tuple          # ((name, value), ...) sorted by name
    seed: int

    @property
    def param_set(self) -> str:
        return '+'.join(f'{k}={v}' for k, v in self.params) or 'default'

    @property
    def key(self) -> str:
        return f'{self.world}/{_slug(self.param_set)}/seed-{self.seed}'

    def directory(self, out_dir: Path) -> Path:
        return Path(out_dir) / 'missions' / self.key


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.=+-]', '_', text)


def parse_seeds(text: str) -> list[int]:
    """'8' -> 1..8, '1-20' -> 1..20, '3,5,9' -> those; SweepRequestError otherwise."""
    text = str(text).strip()
    try:
        if re.fullmatch(r'\d+', text):
            seeds = list(range(1, int(text) + 1))
        elif re.fullmatch(r'\d+\s*-\s*\d+', text):
            a, b = (int(v) for v in text.split('-'))
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(v) for v in text.split(',')]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 or s > 2 ** 31 - 1 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SweepRequestError(f"--seeds {text!r}: expected a count (8), a range (1-20) or a "
                                f"list (3,5,9) of distinct seeds >= 0")
    return seeds


def parse_worlds(text: str) -> list[str]:
    """World names from a comma-separated list or 'all'; SweepRequestError naming unknown ones."""
    from mining_rover.sim.world import list_worlds
    known = sorted(list_worlds())
    if text.strip() == 'all':
        return known
    worlds = [w.strip() for w in text.split(',') if w.strip()]
    unknown = [w for w in worlds if w not in known]
    if not worlds or unknown:
        raise SweepRequestError(f"--worlds: unknown world {', '.join(map(repr, unknown)) or repr(text)}; "
                                f"worlds: {', '.join(known)} (or all)")
    if len(set(worlds)) != len(worlds):
        raise SweepRequestError(f'--worlds {text!r}: a world is repeated')
    return worlds


def missions(request: SweepRequest) -> list[Mission]:
    """The cartesian product worlds x parameter sets x seeds, in that order."""
    names = sorted(request.params)
    sets = [tuple(zip(names, values)) for values in itertools.product(*(request.params[n] for n in names))]
    return [Mission(w, ps, s) for w in request.worlds for ps in sets for s in request.seeds]


def default_workers(cpus: int | None = None) -> int:
    """Missions the CPUs hold at real-time factor >= 1 (at least one)."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, int(cpus // MISSION_CORES))


def check_address(address: str) -> None:
    """Refuse an address that cannot be a Ray cluster before anything starts: ray://HOST:PORT
    and HOST:PORT must accept a TCP connection; 'auto' needs a cluster started on this host
    (`ray start --head`)."""
    if address == 'auto':
        if not Path(tempfile.gettempdir(), 'ray', 'ray_current_cluster').exists() \
                and not os.environ.get('RAY_ADDRESS'):
            raise SweepRequestError('--address auto: no Ray cluster runs on this host '
                                    '(start one with `ray start --head`, or leave --address out)')
        return
    m = re.fullmatch(r'(?:ray://)?\[?([^\]/]+?)\]?:(\d{1,5})', address)
    if not m:
        raise SweepRequestError(f'--address {address!r}: expected auto, ray://HOST:PORT or HOST:PORT')
    host, port = m.group(1), int(m.group(2))
    try:
        with socket.create_connection((host, port), timeout=5.0):
            pass
    except OSError as exc:
        raise SweepRequestError(f'--address {address}: cannot reach {host}:{port} '
                                f'({exc.strerror or exc})') from None


def validate(request: SweepRequest) -> None:
    """Raise SweepRequestError with one line for the first invalid field of ``request``."""
    if request.site not in SITES:
        raise SweepRequestError(f"--site {request.site!r}: sites are {', '.join(SITES)}")
    if SITES[request.site]:
        raise SweepRequestError(f'--site {request.site}: {SITES[request.site]}')
    if request.site == 'operational':
        from mining_rover.sim.site_layout import HAZARD_MODELS
        without = [w for w in request.worlds if w not in HAZARD_MODELS]
        if without:
            raise SweepRequestError(f"--site operational: {', '.join(without)} has no operational site; "
                                    f"worlds with one: {', '.join(HAZARD_MODELS)}")
    if not (request.duration_s > 0 and math.isfinite(request.duration_s)):
        raise SweepRequestError(f'--duration must be > 0 s, got {request.duration_s}')
    if request.workers is not None and request.workers < 1:
        raise SweepRequestError(f'--workers must be >= 1, got {request.workers}')
    if request.mission_timeout_s is not None and not request.mission_timeout_s > 0:
        raise SweepRequestError(f'--timeout must be > 0 s, got {request.mission_timeout_s}')
    import importlib.util
    if importlib.util.find_spec('ray') is None:
        raise SweepRequestError('Ray is not installed in this environment (pip install ray)')
    if request.address:
        check_address(request.address)
    out = Path(request.out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix='.write_test_'):
            pass
    except OSError as exc:
        raise SweepRequestError(f'--out {out}: cannot write ({exc.strerror or exc})') from None


# -- the --out lock ------------------------------------------------------------------
def mission_state(mission: Mission, request: SweepRequest) -> str:
    """'complete', 'failed' or 'todo' from what the mission's directory holds. Complete
    needs a summary of this very mission (world, seed, parameters, duration) that ran to
    its duration; an interrupted or never-finished mission is todo."""
    out = mission.directory(request.out_dir)
    try:
        record = json.loads((out / 'sweep_mission.json').read_text())
    except (OSError, ValueError):
        record = None
    summary = read_summary(out)
    if record is None or summary is None and record.get('outcome') == 'complete':
        return 'todo'
    if record.get('outcome') == 'complete':
        same = (summary.get('world') == mission.world and summary.get('seed') == mission.seed
                and summary.get('site', 'compact') == request.site
                and summary.get('duration_s') == request.duration_s
                and summary.get('outcome') == 'complete'
                and (summary.get('sim_time_s') or 0.0) >= request.duration_s - 1e-6
                and _same_params(summary.get('param_overrides'), mission.params))
        return 'complete' if same else 'todo'
    if record.get('outcome') == 'failed' and record.get('params') == dict(mission.params) \
            and record.get('seed') == mission.seed:
        return 'failed'
    return 'todo'


def select_missions(request: SweepRequest, all_missions: list) -> tuple[list, dict]:
    """(missions to run, {mission: state}): complete ones are never run again, recorded
    failures only with --rerun-failed, the rest (never run, interrupted) always."""
    states = {m: mission_state(m, request) for m in all_missions}
    todo = [m for m in all_missions
            if states[m] == 'todo' or (states[m] == 'failed' and request.rerun_failed)]
    return todo, states


def _same_params(recorded, params: tuple) -> bool:
    flat = {f'{node}.{p}': v for node, ps in (recorded or {}).items() for p, v in ps.items()}
    return flat == dict(params)


# -- progress ------------------------------------------------------------------------
class SweepProgress:
    """One line: done / running / failed / queued and an ETA (mean wall time of the
    missions finished in this run, over the slots in use)."""

    def __init__(self, total: int, skipped: int, slots: int, stream=None, enabled: bool = True):
        self.total, self.skipped, self.slots = total, skipped, max(1, slots)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.t0 = time.monotonic()
        self.walls: list = []
        self._last = ''
        self._last_print = 0.0

    def line(self, done: int, running: int, failed: int, queued: int) -> str:
        eta = '?'
        if self.walls:
            remaining = running * 0.5 + queued
            secs = remaining * (sum(self.walls) / len(self.walls)) / min(self.slots, max(running + queued, 1))
            eta = _hms(secs)
        elif running + queued == 0:
            eta = '0s'
        skipped = f' ({self.skipped} resumed)' if self.skipped else ''
        return (f'sweep: {done}/{self.total} done{skipped}, {running} running, {failed} failed, '
                f'{queued} queued, elapsed {_hms(time.monotonic() - self.t0)}, ETA {eta}')

    def show(self, done, running, failed, queued, force=False):
        if not self.enabled:
            return
        text = self.line(done, running, failed, queued)
        now = time.monotonic()
        if self.tty:
            self.stream.write('\r\033[K' + text)
            self.stream.flush()
        elif force or (text.split(', elapsed')[0] != self._last.split(', elapsed')[0]) \
                or now - self._last_print > 30.0:
            self.stream.write(text + '\n')
            self.stream.flush()
            self._last_print = now
        self._last = text

    def message(self, text: str):
        if self.tty and self._last:
            self.stream.write('\r\033[K')
        self.stream.write(text + '\n')
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self._last:
            self.stream.write('\n')
            self.stream.flush()


def _hms(secs: float) -> str:
    secs = int(max(secs, 0))
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f'{h}h{m:02d}m' if h else (f'{m}m{s:02d}s' if m else f'{s}s')


# -- Ray -----------------------------------------------------------------------------
#: Local Ray start attempts: Ray gives its raylet a fixed 30 s to register, which a
#: machine loaded far beyond its cores can miss (seen at load average 35 on 2 cores).
RAY_START_ATTEMPTS = 3
#: Ray's raylet reads its config `worker_niceness` (default 15) from this variable.
RAY_NICENESS_ENV = 'RAY_worker_niceness'


class SweepStartError(RuntimeError):
    """Ray did not start (exit 1, one line, no mission run)."""


def _ray_init(request: SweepRequest, workers: int):
    """Start local Ray with ``workers`` CPU slots, or join the cluster at the address.
    Ray's own daemons are started with SIGINT ignored (they share the terminal's process
    group and would otherwise die on the Ctrl-C that should only stop the sweep)."""
    import ray
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if request.address:
            try:
                ray.init(address=request.address, runtime_env=cluster_runtime_env(),
                         logging_level='ERROR', log_to_driver=False)
            except Exception as exc:  # noqa: BLE001  (Ray raises ConnectionError, RuntimeError, ...)
                raise SweepRequestError(f'--address {request.address}: Ray could not connect '
                                        f'({_first_line(exc)})') from None
            return ray
        # Ray's raylet starts its workers at niceness 15 (its `worker_niceness` setting) unless
        # told otherwise: the missions would then run at a lower priority than the shell
        # that started the sweep, and lose the CPU to anything else on the host (the
        # 2026-12-07 benchmark's 1.75-1.98 x wall of the sequential loop was partly that).
        # Local workers run at the sweep's own niceness; RAY_worker_niceness overrides it.
        os.environ.setdefault(RAY_NICENESS_ENV, str(os.nice(0)))
        for attempt in range(1, RAY_START_ATTEMPTS + 1):
            try:
                ray.init(num_cpus=workers, include_dashboard=False, logging_level='ERROR',
                         log_to_driver=False)
                return ray
            except Exception as exc:  # noqa: BLE001  (Ray's own start-up timeout is a bare Exception)
                ray.shutdown()
                if attempt == RAY_START_ATTEMPTS:
                    raise SweepStartError(f'local Ray did not start in {RAY_START_ATTEMPTS} attempts '
                                          f'({_first_line(exc)})') from None
                print(f'mining-rover sweep: local Ray did not start ({_first_line(exc)}); '
                      f'trying again', file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def cluster_runtime_env() -> dict:
    """What a cluster's workers need besides an installed mining_rover: the variables that
    keep DDS on each host and make MuJoCo render headless (docs/readme/sweep.md)."""
    keep = ('MUJOCO_GL', 'PYOPENGL_PLATFORM', 'MINING_ROVER_SHARE')
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault('MUJOCO_GL', 'egl')
    env.setdefault('PYOPENGL_PLATFORM', 'egl')
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    return {'env_vars': env}


def cpus_per_task(request: SweepRequest) -> float:
    """Locally Ray gets exactly --workers CPU slots and each mission takes one; on a
    cluster a mission asks for the cores it really uses so that Ray packs nodes right."""
    return float(math.ceil(MISSION_CORES)) if request.address else 1.0


# -- the sweep -----------------------------------------------------------------------
def run_sweep(request: SweepRequest) -> int:
    """Run the sweep; returns the exit code. SweepRequestError before anything starts."""
    validate(request)
    all_missions = missions(request)
    lock = OutLock(request.out_dir).acquire()
    try:
        return _run_locked(request, all_missions, lock)
    finally:
        lock.release()


def _run_locked(request: SweepRequest, all_missions: list, lock: OutLock) -> int:
    from mining_rover.runner import sweep_report

    out = Path(request.out_dir)
    err = sys.stderr
    if lock.stale_pid:
        print(f'mining-rover sweep: WARNING taking over the lock of sweep PID {lock.stale_pid}, '
              f'which is no longer running ({lock.path})', file=err)
    todo, states = select_missions(request, all_missions)
    kept_failed = sum(1 for m in all_missions if states[m] == 'failed' and m not in todo)
    workers = request.workers or default_workers()
    (out / 'sweep_request.json').write_text(json.dumps(_request_json(request, workers), indent=1))
    progress = SweepProgress(len(all_missions), len(all_missions) - len(todo), workers,
                             enabled=request.progress)
    progress.message(f'mining-rover sweep: {len(all_missions)} missions ({len(request.worlds)} worlds x '
                     f'{max(1, len(all_missions) // max(1, len(request.worlds) * len(request.seeds)))} '
                     f'parameter sets x {len(request.seeds)} seeds, {request.duration_s:g} s each), '
                     f'{len(todo)} to run, {workers} workers '
                     f"({'cluster ' + request.address if request.address else 'local Ray'}), "
                     f'wall-time limit {request.timeout_s():.0f} s per mission, out {out}')
    interrupted = False
    if todo:
        interrupted, _failed = _run_missions(request, todo, workers, progress, kept_failed,
                                                len(all_missions) - len(todo) - kept_failed)
    progress.close()
    agg = sweep_report.write_aggregate(out, request, all_missions)
    counts = agg['outcomes']
    progress.message(f"mining-rover sweep: {counts.get('complete', 0)} complete, "
                     f"{counts.get('failed', 0)} failed, {counts.get('todo', 0)} not run"
                     f"{' (interrupted)' if interrupted else ''}; "
                     f"{out / 'sweep.html'}, {out / 'sweep.json'}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if counts.get('failed', 0) or counts.get('todo', 0) else EXIT_OK


def _request_json(request: SweepRequest, workers: int) -> dict:
    return {'worlds': request.worlds, 'seeds': request.seeds, 'duration_s': request.duration_s,
            'site': request.site, 'params': request.params, 'workers': workers,
            'address': request.address, 'record': request.record,
            'mission_timeout_s': request.timeout_s(), 'argv': sys.argv}


def _job(request: SweepRequest, m: Mission, index: int) -> dict:
    return {'key': m.key, 'world': m.world, 'seed': m.seed, 'site': request.site, 'params': list(m.params),
            'duration_s': request.duration_s, 'record': request.record,
            'out_dir': str(m.directory(request.out_dir).resolve()),
            'timeout_s': request.timeout_s(), 'domain_hint': (os.getpid() + 7 * index) % 100,
            'niceness': os.nice(0)}


def _run_missions(request, todo, workers, progress, failed0, done0) -> tuple[bool, int]:
    ray = _ray_init(request, workers)
    if request.address and request.workers is None:   # the cluster's cores, not this host's
        workers = max(1, int(ray.cluster_resources().get('CPU', 1.0) // cpus_per_task(request)))
        progress.slots = workers
        progress.message(f'mining-rover sweep: the cluster holds {workers} missions at once')
    task = ray.remote(num_cpus=cpus_per_task(request), max_retries=0)(run_mission_task)
    queue = list(enumerate(todo))
    running: dict = {}          # ObjectRef -> Mission
    done, failed = done0, failed0
    interrupted = False
    try:
        try:
            while queue or running:
                while queue and len(running) < workers:
                    i, m = queue.pop(0)
                    running[task.remote(_job(request, m, i))] = m
                progress.show(done, len(running), failed, len(queue))
                ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in ready:
                    m = running.pop(ref)
                    record = _result(ray, ref, m, request)
                    done += 1
                    if record['outcome'] != 'complete':
                        failed += 1
                        progress.message(f"mining-rover sweep: {m.key} failed ({record['reason']}: "
                                         f"{record['detail']}); logs {m.directory(request.out_dir)}")
                    progress.walls.append(record.get('wall_s') or 0.0)
                    progress.show(done, len(running), failed, len(queue), force=True)
        except KeyboardInterrupt:
            interrupted = True
            progress.message(f'mining-rover sweep: Ctrl-C: stopping {len(running)} running missions '
                             f'(partial reports); Ctrl-C again to kill them')
            _stop_all(ray, running, request, progress)
    finally:
        ray.shutdown()
    return interrupted, failed


def _result(ray, ref, m: Mission, request) -> dict:
    """The task's record; a task that died with its worker is recorded here."""
    try:
        return ray.get(ref)
    except Exception as exc:  # noqa: BLE001  (RayTaskError, WorkerCrashedError, ...: one mission)
        out = m.directory(request.out_dir)
        record = {'key': m.key, 'world': m.world, 'seed': m.seed, 'params': dict(m.params),
                  'outcome': 'failed', 'reason': 'crashed',
                  'detail': f'the Ray task failed: {type(exc).__name__}: '
                            f'{str(exc).strip().splitlines()[-1] if str(exc).strip() else ""}'[:300],
                  'log_tail': _tail(out / 'runner.log')}
        out.mkdir(parents=True, exist_ok=True)
        (out / 'sweep_mission.json').write_text(json.dumps(record, indent=1))
        return record


def _stop_all(ray, running: dict, request, progress):
    """Ask every running task to stop its runner (partial report) and wait for them; a
    second Ctrl-C kills the runners' process groups (locally)."""
    for ref, m in running.items():
        out = m.directory(request.out_dir)
        try:
            stop_request_path(out).write_text(f'{os.getpid()}\n')
        except OSError:
            pass
        if request.address:
            ray.cancel(ref)
    try:
        deadline = time.monotonic() + STOP_GRACE_S + 2 * KILL_GRACE_S + 10.0
        pending = list(running)
        while pending and time.monotonic() < deadline:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=1.0)
            for ref in ready:
                _result(ray, ref, running[ref], request)
    except KeyboardInterrupt:
        progress.message('mining-rover sweep: killing the running missions now')
        for m in running.values():
            try:
                pid = int((m.directory(request.out_dir) / 'runner.pid').read_text())
            except (OSError, ValueError):
                continue
            _signal_group(pid, signal.SIGKILL)
        ray.wait(list(running), num_returns=len(running), timeout=30.0)


# -- the command ---------------------------------------------------------------------
def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``sweep`` subcommand's options to ``p``."""
    p.add_argument('--worlds', required=True, help="comma-separated world names, or 'all'")
    p.add_argument('--site', default='compact', help="compact (the world's own zones) or "
                   "operational (a 64 m site per seed: each mission's seed is its site's seed)")
    p.add_argument('--seeds', required=True, help='a count (8 = 1..8), a range (1-20) or a list (3,5,9)')
    p.add_argument('--duration', type=float, required=True, help='mission length, sim seconds')
    p.add_argument('--param', action='append', default=[], metavar='NODE.PARAM=V1,V2',
                   help='a parameter axis (repeatable): every value of every --param is crossed')
    p.add_argument('--workers', type=int, help='missions at once (default: what the CPUs '
                   f'allow at real time, {MISSION_CORES} cores per mission)')
    p.add_argument('--address', help='join a Ray cluster: auto (this host, after `ray start '
                   '--head`), ray://HOST:10001 or HOST:6379')
    p.add_argument('--rerun-failed', action='store_true', help='rerun the missions recorded as failed')
    p.add_argument('--no-mcap', action='store_true', help='no mission.mcap per mission (disk)')
    p.add_argument('--timeout', type=float, help='wall-time limit per mission, s (default: '
                   f'{START_ALLOWANCE_S:.0f} + duration / {SLOWEST_RTF})')
    p.add_argument('--out', required=True, help='the sweep directory (missions/, sweep.json, sweep.html)')


def request_from_args(args) -> SweepRequest:
    """Build a SweepRequest from parsed arguments; SweepRequestError on a bad value."""
    from mining_rover.runner.node_params import ParamSpecError, parse_assignments
    try:
        params = parse_assignments(args.param, several=True)
    except ParamSpecError as exc:
        raise SweepRequestError(str(exc)) from None
    if args.site not in SITES:
        raise SweepRequestError(f"--site {args.site!r}: sites are {', '.join(SITES)}")
    worlds = parse_worlds(args.worlds)
    if args.site == 'operational' and args.worlds.strip() == 'all':   # every world that has one
        from mining_rover.sim.site_layout import HAZARD_MODELS
        worlds = [w for w in worlds if w in HAZARD_MODELS]
    return SweepRequest(worlds=worlds, seeds=parse_seeds(args.seeds),
                        duration_s=float(args.duration), out_dir=Path(args.out).expanduser(),
                        site=args.site, params=params, workers=args.workers, address=args.address,
                        rerun_failed=args.rerun_failed, record=not args.no_mcap,
                        mission_timeout_s=args.timeout)


def run_sweep_cli(args) -> int:
    """Run ``mining-rover sweep``; returns 0 ok, 1 failed, 2 usage error, 130 interrupted."""
    try:
        request = request_from_args(args)
        return run_sweep(request)
    except SweepRequestError as exc:
        print(f'mining-rover sweep: {exc}', file=sys.stderr)
        return EXIT_USAGE
    except SweepStartError as exc:
        print(f'mining-rover sweep: {exc}; no mission was run', file=sys.stderr)
        return EXIT_FAILED
