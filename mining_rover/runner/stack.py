"""The mission's ROS 2 nodes as real processes: command lines, logs, CPU time, clean stop.

Each node is its console script, started with ``--ros-args``, its parameter file from
config/, a generated parameter file with the world-derived values (gravity, zones,
prior map, the run's state file) and ``use_sim_time:=true``, exactly what
launch/sim.launch.py gives it, so a mission runs the same graph with or without
ros2 launch. Output (stdout and stderr) goes to ``<out>/logs/<node>.log``. Processes
start in their own session so that a Ctrl-C at the terminal reaches only the runner,
which then stops the nodes in order: executive, drivers (they command zero on the way
down), the rest, the simulator last.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mining_rover import stack_table
from mining_rover.paths import share_dir

#: Stop order: the executive first (its shutdown publishes zero twist and drum speed),
#: then the drivers (zero to every motor on shutdown), perception/planning, the sim last.
STOP_ORDER = ('mission_node', 'drive_node', 'excavator_node', 'planner_node', 'mapping_node',
              'localization_node', 'stereo_node', 'description_node', 'sim_node')

_CLK_TCK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


@dataclass
class NodeSpec:
    """One node process: executable (console script), parameter files in config/ (those
    absent are skipped: the node's defaults apply), override parameters (written into a
    generated file loaded after them) and whether the mission can go on without it."""
    name: str
    param_files: tuple = ()
    overrides: dict = field(default_factory=dict)
    log_level: str = 'info'
    required: bool = False


def mission_nodes(site: dict, *, world: str, seed: int, rtf: float, target_resource: str,
                  state_file: Path) -> list[NodeSpec]:
    """The graph of launch/sim.launch.py (embedded simulator, description_node) for one
    world, read from the same table (mining_rover.stack_table), sim first."""
    args = {**stack_table.SIM_ARGUMENT_DEFAULTS, **stack_table.camera_arguments(),
            'world': world, 'seed': int(seed),
            'real_time_factor': float(rtf), 'target_resource': target_resource,
            'state_file': str(state_file), 'sim': True}
    return [NodeSpec(node.name, tuple(stack_table.param_file_names(node, args, sim=True)),
                     stack_table.parameters(node, args, site), required=node.required)
            for node in stack_table.STACK if node.enable_arg is None]


def missing_nodes(specs: list[NodeSpec]) -> list[str]:
    """Nodes whose module (mining_rover.nodes.<name>) is not in this build."""
    return [s.name for s in specs
            if importlib.util.find_spec(f'mining_rover.nodes.{s.name}') is None]


def console_script(name: str) -> str | None:
    """Path of an installed console script: the venv's bin/, a colcon lib/mining_rover, PATH."""
    here = Path(sys.executable).parent
    for d in (here, here.parent / 'lib' / 'mining_rover'):
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def node_env(base: dict | None = None) -> dict:
    """Environment for a node process: local DDS discovery, EGL rendering, unbuffered plain output."""
    env = dict(os.environ if base is None else base)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('MUJOCO_GL', 'egl')
    env.setdefault('PYOPENGL_PLATFORM', 'egl')
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_COLORIZED_OUTPUT'] = '0'
    return env


def node_argv(spec: NodeSpec, params_dir: Path) -> list[str]:
    """Command line of one node; writes its generated override file into params_dir."""
    exe = console_script(spec.name)
    if exe is None:
        argv = [sys.executable, '-c',
                f'import sys; from mining_rover.nodes.{spec.name} import main; sys.exit(main())']
    else:
        argv = [exe]
    argv += ['--ros-args', '--log-level', spec.log_level]
    config = share_dir() / 'config'
    for name in spec.param_files:
        if (config / name).is_file():
            argv += ['--params-file', str(config / name)]
    if spec.overrides:
        path = Path(params_dir) / f'{spec.name}.yaml'
        path.write_text(yaml.safe_dump(
            {stack_table.section_key(spec.name): {'ros__parameters': dict(spec.overrides)}},
            sort_keys=True))
        argv += ['--params-file', str(path)]
    argv += ['-p', 'use_sim_time:=true']
    return argv


class NodeProcess:
    """A started node: its Popen, log file and exit code once stopped."""

    def __init__(self, spec: NodeSpec, argv: list, log_path: Path, env: dict, append: bool = False):
        self.spec = spec
        self.name = spec.name
        self.argv = argv
        self.log_path = Path(log_path)
        self._log = open(self.log_path, 'a' if append else 'w')
        self._log.write('$ ' + ' '.join(argv) + '\n')
        self._log.flush()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.started_wall = time.monotonic()
        self.returncode: int | None = None
        self.stop_signal: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_time_s(self) -> float | None:
        """User + system CPU seconds of this process and its reaped children
        (/proc/<pid>/stat fields 14-17); None once it is gone."""
        return proc_cpu_time_s(self.pid)

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGINT (the node's clean shutdown), then SIGTERM, then SIGKILL; the exit code."""
        for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                break
            self.stop_signal = signal.Signals(sig).name
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue
        self.returncode = self.proc.wait()
        self.close_log()
        return self.returncode

    def close_log(self):
        if not self._log.closed:
            self._log.flush()
            self._log.close()

    def tail(self, lines: int = 15) -> str:
        try:
            return '\n'.join(self.log_path.read_text(errors='replace').splitlines()[-lines:])
        except OSError:
            return ''


def _die_with_parent():
    """In the child, before exec: get SIGINT (a clean stop, motors to zero) if the runner
    dies without stopping us (kill -9), instead of driving on as an orphan. Linux only."""
    try:
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def proc_cpu_time_s(pid: int) -> float | None:
    """CPU seconds used by process ``pid`` and its waited-for children, from /proc; None if gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    fields = text[text.rindex(')') + 2:].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / _CLK_TCK


class Stack:
    """The node processes of one mission."""

    def __init__(self, specs: list[NodeSpec], out_dir: Path, env: dict | None = None):
        self.specs = list(specs)
        self.out_dir = Path(out_dir)
        self.log_dir = self.out_dir / 'logs'
        self.params_dir = self.out_dir / 'params'
        self.env = node_env(env)
        self.procs: dict[str, NodeProcess] = {}
        self.respawns: dict[str, list] = {}   # name -> [(exit code, wall time)] of each respawn

    def start(self, names: list | None = None):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.params_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            if (names is None or spec.name in names) and spec.name not in self.procs:
                self.procs[spec.name] = NodeProcess(spec, node_argv(spec, self.params_dir),
                                                    self.log_dir / f'{spec.name}.log', self.env)

    def send_signal(self, name: str, sig) -> bool:
        """Signal one running node (fault injection: SIGKILL, SIGSTOP, SIGCONT); False when
        it is not running."""
        p = self.procs.get(name)
        if p is None or not p.alive():
            return False
        try:
            p.proc.send_signal(sig)
        except ProcessLookupError:
            return False
        return True

    def respawn(self, name: str) -> NodeProcess:
        """Start a node that died again, as launch's ``respawn=True`` does; its log goes on
        in the same file, after a line that says so."""
        old = self.procs[name]
        code = old.proc.poll()
        old.close_log()
        self.respawns.setdefault(name, []).append((code, time.monotonic()))
        with open(old.log_path, 'a') as log:
            log.write(f'[runner] {name} exited with code {code}: respawned\n')
        self.procs[name] = NodeProcess(old.spec, node_argv(old.spec, self.params_dir), old.log_path,
                                       self.env, append=True)
        return self.procs[name]

    def dead(self) -> dict:
        """{name: exit code} of nodes that have exited by themselves."""
        return {n: p.proc.returncode for n, p in self.procs.items() if not p.alive()}

    def failed_required(self) -> list:
        """Required nodes (the simulator, the drivers) that have exited: the mission ends
        and every other process is stopped, as launch's on_exit Shutdown does."""
        return [n for n, p in self.procs.items() if p.spec.required and not p.alive()]

    def cpu_times_s(self) -> dict:
        return {n: p.cpu_time_s() for n, p in self.procs.items()}

    def stop(self, names: list | None = None, timeout_s: float = 10.0) -> dict:
        """Stop nodes (all by default) in STOP_ORDER; {name: exit code}."""
        order = [n for n in STOP_ORDER if n in self.procs] + \
                [n for n in self.procs if n not in STOP_ORDER]
        codes = {}
        for name in order:
            if names is None or name in names:
                codes[name] = self.procs[name].stop(timeout_s)
        return codes

    def exit_codes(self) -> dict:
        return {n: p.returncode if p.returncode is not None else p.proc.poll()
                for n, p in self.procs.items()}
