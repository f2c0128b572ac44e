"""Benchmark: mission throughput of `mining-rover sweep` on this machine, with Ray's own cost.

The same N lunar missions (60 s sim each, seeds 1..N; quick: 2 of 15 s) three ways in one
run: a plain sequential loop (the baseline: each mission through the sweep's own task
function, no Ray), a sweep on local Ray with 1 worker, and one with K workers (default 2).
Reported: missions per hour of each, the K-worker sweep's wall time over the loop's (the
issue's target: no worse than one after another), Ray's start-up time and per-task
overhead (no-op tasks on a fresh local Ray), peak memory per worker (a mission's runner,
nodes and its Ray worker process, resident), CPU cores one mission keeps busy at real
time (summary.json cpu_window), and a mission's disk use with and without the MCAP.

On a machine shared with other work the absolute figures move with the load; the
ratios, measured in the same run, are what to compare.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

NAME = 'sweep'
DESCRIPTION = ('missions/hour of N 60 s lunar missions: sequential loop vs sweep on local Ray '
               'with 1 and K workers; Ray start-up and per-task overhead; memory per worker')

WORLD = 'moon_south_pole'
MISSIONS, DURATION_S = 4, 60.0
QUICK_MISSIONS, QUICK_DURATION_S = 2, 15.0
K_WORKERS = int(os.environ.get('SWEEP_BENCH_WORKERS', '2'))
NOOP_TASKS = 50


class _RssSampler(threading.Thread):
    """Peak resident memory, MB, of the sweep's mission processes (those carrying the
    mission token) plus the Ray workers running them, sampled every 0.5 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self._stop_evt = threading.Event()

    def run(self):
        from mining_rover.runner.sweep import MISSION_TOKEN_ENV
        needle = MISSION_TOKEN_ENV.encode() + b'='
        while not self._stop_evt.wait(0.5):
            total = 0
            for d in Path('/proc').iterdir():
                if not d.name.isdigit():
                    continue
                try:
                    cmd = (d / 'cmdline').read_bytes()
                    if not (cmd.startswith(b'ray::run_mission_task')
                            or needle in (d / 'environ').read_bytes()):
                        continue
                    for line in (d / 'status').read_text().splitlines():
                        if line.startswith('VmRSS:'):
                            total += int(line.split()[1])
                except OSError:
                    continue
            self.peak_mb = max(self.peak_mb, total / 1024.0)

    def stop(self) -> float:
        self._stop_evt.set()
        self.join(timeout=5)
        return self.peak_mb


def _sequential(root: Path, n: int, duration_s: float) -> tuple[float, list]:
    from mining_rover.runner.sweep import Mission, SweepRequest, _job, run_mission_task
    req = SweepRequest(worlds=[WORLD], seeds=list(range(1, n + 1)), duration_s=duration_s,
                       out_dir=root, record=False)
    t0 = time.monotonic()
    records = [run_mission_task(_job(req, Mission(WORLD, (), s), i)) for i, s in enumerate(req.seeds)]
    return time.monotonic() - t0, records


def _sweep(root: Path, n: int, duration_s: float, workers: int) -> tuple[float, float, dict]:
    from mining_rover.runner.sweep import SweepRequest, run_sweep
    req = SweepRequest(worlds=[WORLD], seeds=list(range(1, n + 1)), duration_s=duration_s,
                       out_dir=root, workers=workers, record=False, progress=False)
    sampler = _RssSampler()
    sampler.start()
    t0 = time.monotonic()
    code = run_sweep(req)
    wall = time.monotonic() - t0
    peak = sampler.stop()
    agg = json.loads((root / 'sweep.json').read_text())
    if code != 0:
        print(f'bench sweep: {workers}-worker sweep exit {code}: {agg["outcomes_by_reason"]}',
              file=sys.stderr)
    return wall, peak / workers, agg


def _ray_overhead(workers: int) -> tuple[float, float]:
    """(seconds to start local Ray, seconds per no-op task round trip)."""
    import ray
    t0 = time.monotonic()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level='ERROR', log_to_driver=False)
    start = time.monotonic() - t0
    noop = ray.remote(num_cpus=1)(lambda: None)
    ray.get([noop.remote() for _ in range(workers)])       # workers up
    t0 = time.monotonic()
    for _ in range(NOOP_TASKS):
        ray.get(noop.remote())
    per_task = (time.monotonic() - t0) / NOOP_TASKS
    ray.shutdown()
    return start, per_task


def _cores_per_mission(rows: list) -> float:
    vals = []
    for r in rows:
        w = (r.get('cpu_window') if isinstance(r, dict) else None) or {}
        if w.get('sim_s'):
            vals.append(sum(v for v in w['cpu_s'].values() if v is not None) / w['sim_s'])
    return sum(vals) / len(vals) if vals else float('nan')


def _disk(root: Path, duration_s: float) -> tuple[float, float]:
    """MB of one mission's directory with and without the MCAP (a second, recorded run)."""
    from mining_rover.runner.sweep import (
        Mission,
        SweepRequest,
        _job,
        disk_bytes,
        run_mission_task,
    )
    req = SweepRequest(worlds=[WORLD], seeds=[1], duration_s=duration_s, out_dir=root / 'mcap',
                       record=True)
    rec = run_mission_task(_job(req, Mission(WORLD, (), 1), 0))
    with_mcap = rec['disk_bytes'] / 1e6
    no_mcap = disk_bytes(root / 'seq' / 'missions' / WORLD / 'default' / 'seed-1') / 1e6
    return with_mcap, no_mcap


def run(quick: bool = False) -> dict:
    from mining_rover.benchmarking import metric

    n, duration = (QUICK_MISSIONS, QUICK_DURATION_S) if quick else (MISSIONS, DURATION_S)
    root = Path(tempfile.mkdtemp(prefix='bench_sweep_'))
    try:
        seq_wall, seq_records = _sequential(root / 'seq', n, duration)
        one_wall, one_mem, _ = _sweep(root / 'ray1', n, duration, 1)
        k_wall, k_mem, agg = _sweep(root / f'ray{K_WORKERS}', n, duration, K_WORKERS)
        start_s, per_task_s = _ray_overhead(K_WORKERS)
        summaries = []
        for d in (root / 'seq').rglob('summary.json'):
            summaries.append(json.loads(d.read_text()))
        mcap_mb, no_mcap_mb = _disk(root, duration)
        complete = sum(1 for r in seq_records if r['outcome'] == 'complete')
        per_h = 3600.0 * n
        m = {
            'missions': metric(n, ''),
            'mission_sim_s': metric(duration, 's'),
            'sequential_missions_per_hour': metric(per_h / seq_wall, '1/h'),
            'ray_1_worker_missions_per_hour': metric(per_h / one_wall, '1/h'),
            f'ray_{K_WORKERS}_workers_missions_per_hour': metric(per_h / k_wall, '1/h'),
            f'ray_{K_WORKERS}_workers_wall_over_sequential': metric(k_wall / seq_wall, '', '<= 1'),
            'ray_1_worker_wall_over_sequential': metric(one_wall / seq_wall, ''),
            'ray_start_s': metric(start_s, 's'),
            'ray_per_task_overhead_ms': metric(per_task_s * 1e3, 'ms'),
            'memory_per_worker_1_mb': metric(one_mem, 'MB'),
            f'memory_per_worker_{K_WORKERS}_mb': metric(k_mem, 'MB'),
            'cores_per_mission_at_rtf1': metric(_cores_per_mission(summaries), 'cores'),
            'mission_disk_mb_with_mcap': metric(mcap_mb, 'MB'),
            'mission_disk_mb_no_mcap': metric(no_mcap_mb, 'MB'),
            'sequential_complete': metric(complete, '', f'== {n}'),
            f'ray_{K_WORKERS}_workers_complete': metric(agg['outcomes'].get('complete', 0), '', f'== {n}'),
            'cpus_on_this_machine': metric(os.cpu_count() or 0, ''),
            'load_average_1min_at_end': metric(os.getloadavg()[0], ''),
        }
        return m
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    for k, v in run(quick='--quick' in sys.argv).items():
        print(f'{k:44s} {v.value!s:>12} {v.unit:6s} {v.goal}')
