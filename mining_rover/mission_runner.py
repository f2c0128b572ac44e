"""`mining-rover sim`: one autonomous mining mission in the embedded simulator.

What it does, in order:

1. validates the request before anything starts: the world exists (else the known
   worlds are listed, exit 2), the output directory can be created and written (exit 2);
2. starts the stack as real ROS 2 node processes (mining_rover.runner.stack): drivers,
   perception, mapping, planner and executive first, the simulator last once the others
   are in the graph, so that no simulated second passes with half a stack; every node
   on this environment's ROS_DOMAIN_ID, discovery on localhost unless set otherwise;
3. records the topics into ``<out>/mission.mcap`` from an in-process monitor node
   (mining_rover.runner.monitor) and draws a progress bar on stderr;
4. stops when the simulator clock reaches the duration (or on Ctrl-C, or when the
   simulator dies): the executive and the drivers first (both command zero on the way
   down; the monitor checks the last wheel and drum commands were zero), the simulator
   last;
5. writes ``summary.json``, ``report.png``, ``report.html`` and keeps ``logs/<node>.log``.

Exit codes: 0 mission ran to its duration, 1 it ended early (a node died, no clock),
2 bad request, 130 interrupted (Ctrl-C or SIGTERM; the partial report is written).
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_ABORTED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class MissionRequestError(ValueError):
    """The request cannot run (unknown world, unusable output directory): exit 2."""


class MissionUnavailable(RuntimeError):
    """This build lacks a part the mission needs (the simulator, a node): exit 1."""


@dataclass
class MissionOptions:
    world: str = 'moon_south_pole'
    duration_s: float = 600.0
    out_dir: Path = Path('out/sim')
    seed: int = 1
    rtf: float = 0.0
    record: bool = True
    target_resource: str = 'helium3'
    progress: bool = True
    startup_timeout_s: float = 120.0   # wall time for every node to join the graph
    clock_timeout_s: float = 120.0     # wall time without the sim clock moving that ends a run
    stop_timeout_s: float = 10.0       # per node, after SIGINT, before SIGTERM
    nodes: list | None = None          # subset of node names (tests); None: the whole stack
    param_overrides: dict = field(default_factory=dict)  # {node: {param: value}}, applied last
    env: dict = field(default_factory=dict)


# -- validation ---------------------------------------------------------------------
def validate_world(world: str) -> None:
    """Raise MissionRequestError naming the known worlds when ``world`` is not one."""
    try:
        from mining_rover.sim.world import list_worlds
    except ImportError as exc:
        raise MissionUnavailable(
            f'the embedded simulator (mining_rover.sim.world) is not in this build: {exc}') from exc
    worlds = sorted(list_worlds())
    if world not in worlds:
        raise MissionRequestError(
            f"unknown world {world!r}; worlds: {', '.join(worlds) if worlds else '(none found)'}")


def prepare_out_dir(out_dir) -> Path:
    """Create ``out_dir`` (and parents) and prove it writable; MissionRequestError if not."""
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix='.write_test_'):
            pass
        (out / 'logs').mkdir(exist_ok=True)
    except OSError as exc:
        raise MissionRequestError(f'cannot write the output directory {out}: '
                                  f'{exc.strerror or exc}') from exc
    return out


def validate(options: MissionOptions) -> Path:
    if not options.duration_s > 0:
        raise MissionRequestError(f'--duration must be > 0 s, got {options.duration_s}')
    if options.rtf < 0:
        raise MissionRequestError(f'--rtf must be >= 0 (0 = as fast as possible), got {options.rtf}')
    validate_world(options.world)
    return prepare_out_dir(options.out_dir)


# -- the mission --------------------------------------------------------------------
def _fresh_state_file(out: Path) -> Path:
    """The executive's store for this run; an old one would resume the old tally."""
    path = out / 'mission_state.sqlite'
    for suffix in ('', '-wal', '-shm', '-journal'):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def run_mission(options: MissionOptions) -> tuple[int, dict]:
    """Run one mission; returns (exit code, summary). Raises MissionRequestError on a bad
    request (before anything starts)."""
    out = validate(options)
    from mining_rover.contract import load_contract
    from mining_rover.runner import stack as stack_mod
    from mining_rover.runner.progress import Progress
    from mining_rover.runner.recorder import McapRecorder, RecorderPolicy
    from mining_rover.runner.report import terrain_from_world, write_report
    from mining_rover.runner.timeline import Timeline, summarise
    from mining_rover.sim.world import load_world
    from mining_rover.site import site_parameters

    spec = load_world(options.world)
    site = site_parameters(options.world)
    specs = stack_mod.mission_nodes(site, world=options.world, seed=options.seed, rtf=options.rtf,
                                    target_resource=options.target_resource,
                                    state_file=_fresh_state_file(out))
    if options.nodes is not None:
        specs = [s for s in specs if s.name in options.nodes]
    for s in specs:
        s.overrides.update(options.param_overrides.get(s.name, {}))
    missing = stack_mod.missing_nodes(specs)
    if missing:
        raise MissionUnavailable(f"nodes not in this build: {', '.join(missing)}")

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env = {**os.environ, **options.env}
    import rclpy
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions

    from mining_rover.runner.monitor import MissionMonitor

    wall0 = time.monotonic()
    progress = Progress(options.duration_s, enabled=options.progress)
    timeline = Timeline()
    contract = load_contract()
    recorder = (McapRecorder(out / 'mission.mcap', RecorderPolicy()) if options.record else None)
    if not options.record:
        (out / 'mission.mcap').unlink(missing_ok=True)
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    executor = _executor(context)
    monitor = MissionMonitor(timeline, recorder, contract, context=context)
    executor.add_node(monitor)
    stack = stack_mod.Stack(specs, out, env)
    restore_signals = _signals_as_flags()
    outcome, reason, cpu = 'complete', '', {}
    cpu_at_clock = {}
    try:
        try:
            progress.message(f'mining-rover sim: world {options.world}, {options.duration_s:g} s, '
                             f'ROS_DOMAIN_ID={env.get("ROS_DOMAIN_ID", "0")}, out {out}')
            outcome, reason = _start(stack, monitor, executor, options, progress)
            if outcome == 'complete':
                outcome, reason = _fly(stack, monitor, executor, options, progress, cpu_at_clock)
        except Terminated:
            outcome, reason = 'interrupted', 'SIGTERM'
        except KeyboardInterrupt:
            outcome, reason = 'interrupted', 'Ctrl-C'
        monitor.timeline.mark_end()
        if outcome != 'complete':
            progress.message(f'mining-rover sim: mission ended early ({outcome}: {reason})')
        cpu = {'cpu_s': stack.cpu_times_s(), 'monitor_cpu_s': time.process_time(),
               'sim_time_s': monitor.timeline.mission_sim_time(), 'wall_s': time.monotonic()}
        restore_signals()   # a second Ctrl-C while stopping interrupts at once
        codes = _stop(stack, monitor, executor, options, progress)
    finally:
        if any(p.alive() for p in stack.procs.values()):  # an error above: never leave nodes behind
            stack.stop(timeout_s=options.stop_timeout_s)
        restore_signals()
        progress.close()
        monitor.finalise()
        motors_zeroed = monitor.motors_zeroed()
        topics = monitor.topics()
        executor.remove_node(monitor)
        monitor.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
    if motors_zeroed is False:
        progress.message('mining-rover sim: WARNING the last wheel/drum command was not zero')
    wall = time.monotonic() - wall0
    extra = {
        'outcome': outcome, 'outcome_reason': reason, 'duration_s': options.duration_s,
        'seed': options.seed, 'requested_rtf': options.rtf, 'motors_zeroed': motors_zeroed,
        'node_exit_codes': codes, 'node_cpu_s': cpu.get('cpu_s', {}),
        'monitor_cpu_s': round(cpu.get('monitor_cpu_s', 0.0), 3),
        'cpu_window': _cpu_window(cpu_at_clock, cpu),
        'last_actuator_commands': {t: v for t, v in timeline.last_commands.items()},
        'recorded_topics': topics,
        'ros_domain_id': int(env.get('ROS_DOMAIN_ID', '0') or 0),
        'param_overrides': options.param_overrides,
    }
    summary = summarise(timeline, world=options.world, gravity_mps2=float(spec.gravity_mps2),
                        wall_time_s=wall, target_resource=options.target_resource, extra=extra)
    if recorder is not None:
        recorder.add_metadata('summary', {k: v for k, v in summary.items()
                                          if not isinstance(v, (dict, list))})
        recorder.close()
        summary['mcap_bytes'] = (out / 'mission.mcap').stat().st_size
    logs = sorted(f'logs/{p.name}' for p in (out / 'logs').glob('*.log'))
    write_report(out, summary, timeline, terrain_from_world(spec), logs)
    progress.message(_result_line(summary, out))
    return {'complete': EXIT_OK, 'interrupted': EXIT_INTERRUPTED}.get(outcome, EXIT_ABORTED), summary


def _executor(context):
    """rclpy's EventsExecutor where it exists (Jazzy: rclpy.experimental): measured at
    a quarter of the SingleThreadedExecutor's CPU for the monitor's ~1300 messages/s
    (5 % against 21 % of a core), which on a 2-core machine is simulator time."""
    try:
        from rclpy.experimental import EventsExecutor
        return EventsExecutor(context=context)
    except ImportError:
        from rclpy.executors import SingleThreadedExecutor
        return SingleThreadedExecutor(context=context)


def _cpu_window(start: dict, end: dict) -> dict | None:
    """CPU seconds each process spent between the first clock tick and the mission's end
    (start-up excluded), with the sim and wall time of that window."""
    if not start or not end:
        return None
    per_node = {n: round(end['cpu_s'][n] - (start['cpu_s'].get(n) or 0.0), 3)
                for n in end['cpu_s'] if end['cpu_s'][n] is not None}
    per_node['monitor'] = round(end['monitor_cpu_s'] - start['monitor_cpu_s'], 3)
    return {'sim_s': round(end['sim_time_s'] - start['sim_time_s'], 3),
            'wall_s': round(end['wall_s'] - start['wall_s'], 3), 'cpu_s': per_node}


def _spin_for(executor, seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=min(0.05, max(end - time.monotonic(), 0.0)))
        _check_signals()


def _start(stack, monitor, executor, options, progress) -> tuple[str, str]:
    """Start every node but the simulator, wait until they are in the graph, then the sim."""
    others = [s.name for s in stack.specs if s.name != 'sim_node']
    stack.start(others)
    deadline = time.monotonic() + options.startup_timeout_s
    while True:
        _spin_for(executor, 0.25)
        up = {n for n in monitor.get_node_names()}
        dead = stack.dead()
        waiting = [n for n in others if n not in up and n not in dead]
        if not waiting:
            break
        if time.monotonic() > deadline:
            progress.message(f'mining-rover sim: still not in the graph after '
                             f'{options.startup_timeout_s:.0f} s: {", ".join(waiting)}; going on')
            break
    for name, code in stack.dead().items():
        progress.message(f'mining-rover sim: {name} exited with code {code} while starting; '
                         f'its log ends:\n{stack.procs[name].tail()}')
    if any(s.name == 'sim_node' for s in stack.specs):
        stack.start(['sim_node'])
    return 'complete', ''


def _fly(stack, monitor, executor, options, progress, cpu_at_clock: dict) -> tuple[str, str]:
    """Spin the monitor until the sim clock reaches the duration. ``cpu_at_clock`` gets
    every process's CPU time when the clock first moves (start-up cost excluded)."""
    tl = monitor.timeline
    reported_dead = set(stack.dead())
    last_clock, last_clock_wall = -1.0, time.monotonic()
    next_draw = 0.0
    while True:
        executor.spin_once(timeout_sec=0.05)
        _check_signals()
        now = time.monotonic()
        if tl.sim_time >= options.duration_s:
            return 'complete', ''
        if tl.sim_time > last_clock:
            last_clock, last_clock_wall = tl.sim_time, now
            if not cpu_at_clock:
                cpu_at_clock.update(cpu_s=stack.cpu_times_s(), monitor_cpu_s=time.process_time(),
                                    sim_time_s=tl.sim_time, wall_s=now)
        elif now - last_clock_wall > options.clock_timeout_s:
            return 'aborted', f'the simulator clock stood still for {options.clock_timeout_s:.0f} s'
        if now >= next_draw:
            next_draw = now + 0.5
            for name, code in stack.dead().items():
                if name not in reported_dead:
                    reported_dead.add(name)
                    progress.message(f'mining-rover sim: {name} exited with code {code}; '
                                     f'its log ends:\n{stack.procs[name].tail()}')
            if 'sim_node' in reported_dead:
                return 'aborted', 'sim_node exited'
            st = tl.last_status()
            from mining_rover.runner.timeline import parse_number
            progress.update(tl.sim_time, parse_number(st.get('cycles'), int),
                            parse_number(st.get('regolith_delivered_kg')), st.get('state', ''),
                            tl.measured_rtf())


#: After the executive stops, how long the drivers keep running so that their command
#: watchdogs (config/drivers_sim.yaml cmd_timeout_s: 0.5 s wheels, 1.0 s drums) zero the
#: motors even if a driver's own shutdown hook cannot publish any more; s, sim and wall.
WATCHDOG_GRACE_S = 1.5


def _stop(stack, monitor, executor, options, progress) -> dict:
    """Stop the nodes in order while the monitor keeps recording (the zero commands):
    the executive, a watchdog grace period with the simulator still running, the drivers,
    the rest, the simulator last."""
    codes = {}

    def in_background(names):
        worker = threading.Thread(
            target=lambda: codes.update(stack.stop(names, timeout_s=options.stop_timeout_s)),
            name='stop-stack', daemon=True)
        worker.start()
        while worker.is_alive():
            executor.spin_once(timeout_sec=0.05)

    try:
        in_background(['mission_node'])
        tl = monitor.timeline
        sim_at_stop = tl.sim_time
        sim_running = 'sim_node' in stack.procs and stack.procs['sim_node'].alive()
        now = time.monotonic()
        wall_min, wall_max = now + WATCHDOG_GRACE_S, now + 10.0
        while time.monotonic() < wall_max:
            sim_waited = (not sim_running or tl.sim_time - sim_at_stop >= WATCHDOG_GRACE_S
                          or not stack.procs['sim_node'].alive())
            if time.monotonic() >= wall_min and sim_waited:
                break
            executor.spin_once(timeout_sec=0.05)
        in_background(None)
    except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
        progress.message('mining-rover sim: stopping now (SIGKILL)')
        for p in stack.procs.values():
            if p.alive():
                p.proc.kill()
        codes.update(stack.stop(timeout_s=1.0))
    return codes


class Terminated(KeyboardInterrupt):
    """SIGTERM during a mission (systemd stop, kill, a CI timeout): ended like Ctrl-C,
    with every motor commanded to zero and a partial report."""


_SIGNALLED: list = []   # signals received during the mission, checked between spins


def _signals_as_flags():
    """SIGINT and SIGTERM only set a flag while the mission runs; the spin loops raise at a
    safe point (an exception raised inside an rclpy C++ call, e.g. a deserialisation,
    escapes as a FATAL callback error instead). Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _SIGNALLED.clear()
    previous = {sig: signal.signal(sig, lambda signum, frame: _SIGNALLED.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}

    def restore():
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous.clear()
    return restore


def _check_signals():
    if _SIGNALLED:
        raise Terminated() if signal.SIGTERM in _SIGNALLED else KeyboardInterrupt()


def _result_line(summary: dict, out: Path) -> str:
    def f(key, fmt='{:.2f}'):
        v = summary.get(key)
        return '-' if v is None else fmt.format(v)
    return (f"mining-rover sim: {summary['outcome']}: {f('sim_time_s', '{:.0f}')} s sim in "
            f"{f('wall_time_s', '{:.0f}')} s wall (rtf {f('real_time_factor')}), "
            f"{f('cycles', '{}')} cycles, {f('regolith_delivered_kg')} kg delivered, "
            f"{f('kg_per_hour')} kg/h, hazard contacts {f('hazard_contacts', '{}')}; "
            f"report {out / 'report.html'}")


def run_mission_cli(args) -> int:
    """Entry point of `mining-rover sim` (see mining_rover.cli)."""
    options = MissionOptions(world=args.world, duration_s=float(args.duration), out_dir=Path(args.out),
                             seed=int(args.seed), rtf=float(args.rtf), record=not args.no_record,
                             param_overrides=getattr(args, 'param_overrides', None) or {})
    try:
        code, _summary = run_mission(options)
    except MissionRequestError as exc:
        print(f'mining-rover sim: {exc}', file=sys.stderr)
        return EXIT_USAGE
    except MissionUnavailable as exc:
        print(f'mining-rover sim: {exc}; nothing was run.', file=sys.stderr)
        return EXIT_ABORTED
    return code
