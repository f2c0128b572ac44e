"""Shared test fixtures: the pattern every node test copies.

* Each pytest process gets its own ``ROS_DOMAIN_ID`` (a lock file per id, so parallel
  runs on this machine never hear each other) and discovery stays on localhost.
* ``ros`` gives a fresh rclpy context, an executor and ``spin_until``.
* ``launch_node`` starts a console script as a subprocess and stops it by its handle.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')

_DOMAIN_LOCK = None


def _claim_domain_id() -> int:
    """Claim a ROS domain id (1..100) no other live process on this machine holds."""
    global _DOMAIN_LOCK
    lock_dir = Path(tempfile.gettempdir()) / 'mining_rover_domains'
    lock_dir.mkdir(exist_ok=True)
    start = os.getpid() % 100
    for i in range(100):
        domain = 1 + (start + i) % 100
        f = open(lock_dir / f'{domain}.lock', 'w')
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        _DOMAIN_LOCK = f  # held for the life of this process
        return domain
    raise RuntimeError('no free ROS_DOMAIN_ID in 1..100')


os.environ['ROS_DOMAIN_ID'] = str(_claim_domain_id())


class RosHarness:
    """A private rclpy context with an executor; nodes made here spin together."""

    def __init__(self):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []

    def node(self, name: str, **kwargs):
        """A plain helper node (publishers/subscribers for the test)."""
        n = self.rclpy.create_node(name, context=self.context, **kwargs)
        return self.add(n)

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def spin_until(self, predicate, timeout_s: float = 10.0, step_s: float = 0.02) -> bool:
        """Spin until predicate() is true or the deadline passes; returns predicate()."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=step_s)
        return bool(predicate())

    def spin_for(self, duration_s: float):
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self):
        for n in reversed(self.nodes):
            if hasattr(n, 'shutdown'):
                try:
                    n.shutdown()
                except Exception:
                    pass
            self.executor.remove_node(n)
            n.destroy_node()
        self.executor.shutdown()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.close()


def console_script(name: str) -> str:
    """Path of an installed console script (venv bin/ or colcon lib/mining_rover)."""
    for d in (Path(sys.executable).parent, Path(sys.executable).parent.parent / 'lib' / 'mining_rover',
              REPO / 'install' / 'mining_rover' / 'lib' / 'mining_rover'):
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(f'console script {name!r} is not installed; run `make venv`')
    return found


class NodeProcess:
    def __init__(self, argv, env):
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self._output = None

    def stop(self, sig=signal.SIGINT, timeout_s: float = 10.0) -> str:
        """Stop by handle (SIGINT, then SIGKILL) and return everything it printed."""
        if self._output is not None:
            return self._output
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out, _ = self.proc.communicate()
        self._output = out or ''
        return self._output


@pytest.fixture
def launch_node():
    """launch_node('sim_node', '--ros-args', '-p', 'x:=1') -> NodeProcess (stopped at teardown)."""
    started = []

    def start(executable, *args, env=None):
        e = dict(os.environ)
        e['PYTHONUNBUFFERED'] = '1'
        if env:
            e.update(env)
        p = NodeProcess([console_script(executable), *args], e)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
