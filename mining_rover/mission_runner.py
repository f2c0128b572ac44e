"""`mining-rover sim`: one autonomous mining mission in the embedded simulator.

What it does, in order:

1. validates the request before anything starts (exit 2, one line naming the file, key,
   value and what is expected): the command-line values, the world exists (else the
   known worlds are listed), the output directory can be created and written and no
   live run holds it (runner.dirlock; a dead run's lock is taken over with a warning),
   the world file, config/rover.yaml and every parameter file and override each node
   gets (runner.preflight);
2. starts the stack as real ROS 2 node processes (mining_rover.runner.stack): drivers,
   perception, mapping, planner and executive first, the simulator last once the others
   are in the graph, so that no simulated second passes with half a stack; every node
   on this environment's ROS_DOMAIN_ID, discovery on localhost unless set otherwise. A
   node that exits while starting ends the run before the simulator starts (exit 1,
   its reason in the terminal, summary.json ``outcome``/``reason`` and the report);
3. records the topics into ``<out>/mission.mcap`` from an in-process monitor node
   (mining_rover.runner.monitor) and draws a progress bar on stderr;
4. stops when the simulator clock reaches the duration (or on Ctrl-C, or when the
   simulator dies): the executive and the drivers first (both command zero on the way
   down; the monitor checks the last wheel and drum commands were zero), the simulator
   last;
5. writes ``summary.json``, ``report.png``, ``report.html`` and keeps ``logs/<node>.log``.

Exit codes: 0 mission ran to its duration, 1 it ended early (a node could not start or
died, no clock),
2 bad request, 130 interrupted (Ctrl-C or SIGTERM; the partial report is written).
"""
from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_ABORTED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SEED_MAX = 2 ** 31 - 1    # sim_node's seed parameter (a ROS integer parameter, numpy's seed)


class MissionRequestError(ValueError):
    """The request cannot run (unknown world, unusable output directory): exit 2."""


class MissionUnavailable(RuntimeError):
    """This build lacks a part the mission needs (the simulator, a node): exit 1."""


@dataclass
class MissionOptions:
    """Everything one ``mining-rover sim`` run needs: world, duration (sim s), output dir, seed, rtf."""
    world: str = 'moon_south_pole'
    site: str = 'compact'              # `--site`: compact | operational (mining_rover.sim.sites)
    site_seed: int | None = None       # `--site-seed`: an operational site other than the committed one
    world_ref: str | None = None       # what load_world reads: set by check_request()
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
    frame_prefix: str = ''             # the rover's TF frame prefix ('r1/'); '' = none
    fault_plan: Path | None = None     # `--faults PLAN.yaml` (runner/faults.py)
    faults: list | None = None         # the plan, parsed by check_request()


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


def check_request(options: MissionOptions) -> None:
    """The command-line values: MissionRequestError naming the option, value and range."""
    if not (math.isfinite(options.duration_s) and options.duration_s > 0):
        raise MissionRequestError(f'--duration {options.duration_s}: expected a finite number of '
                                  f'sim seconds > 0')
    if not (math.isfinite(options.rtf) and options.rtf >= 0):
        raise MissionRequestError(f'--rtf {options.rtf}: expected a finite real-time factor >= 0 '
                                  f'(0 = as fast as possible)')
    if not 0 <= options.seed <= SEED_MAX:
        raise MissionRequestError(f'--seed {options.seed}: expected an integer in [0, {SEED_MAX}]')
    validate_world(options.world)
    from mining_rover.sim.sites import world_ref
    try:
        options.world_ref = world_ref(options.world, options.site, options.site_seed)
    except ValueError as exc:
        raise MissionRequestError(str(exc)) from None
    if options.fault_plan is not None:
        from mining_rover.runner.faults import FaultPlanError, load_plan, plan_context
        try:
            options.faults = load_plan(options.fault_plan, options.duration_s, *plan_context())
        except FaultPlanError as exc:
            raise MissionRequestError(f'--faults {exc}') from None


def lock_out_dir(out: Path):
    """Take ``out``'s lock (runner.dirlock) for this run: MissionRequestError naming the PID
    of a live run that holds it; a dead run's lock is taken over with a warning."""
    from mining_rover.runner.dirlock import DirLock, DirLockHeld
    lock = DirLock(out, purpose='mining-rover sim')
    try:
        lock.acquire()
    except DirLockHeld as exc:
        raise MissionRequestError(f'--out {exc}') from None
    except OSError as exc:
        raise MissionRequestError(f'cannot lock the output directory {out}: '
                                  f'{exc.strerror or exc}') from None
    warning = lock.stale_warning()
    if warning:
        from mining_rover.config_check import warn
        warn([warning])
    return lock


def plan_stack(options: MissionOptions, state_file: Path) -> tuple:
    """(world spec, node specs) of the mission, every input checked first
    (runner.preflight): MissionRequestError with one line on the first bad value; unknown
    keys are printed as warnings."""
    from mining_rover.config_check import one_line, warn
    from mining_rover.runner import preflight
    from mining_rover.runner import stack as stack_mod
    from mining_rover.site import site_parameters
    from mining_rover.sim.world import load_world
    world = options.world_ref or options.world
    try:
        warnings = preflight.check_inputs(world)
        spec = load_world(world)
        site = site_parameters(world)
        specs = stack_mod.mission_nodes(site, world=world, seed=options.seed, rtf=options.rtf,
                                        target_resource=options.target_resource, state_file=state_file)
        if options.nodes is not None:
            specs = [s for s in specs if s.name in options.nodes]
        for s in specs:
            s.overrides.update(options.param_overrides.get(s.name, {}))
        warnings += preflight.check_nodes(specs)
    except (ValueError, FileNotFoundError) as exc:
        warn(getattr(exc, 'warnings', ()))
        raise MissionRequestError(one_line(exc)) from None
    warn(warnings)
    return spec, specs


# -- the mission --------------------------------------------------------------------
def _fresh_state_file(out: Path) -> Path:
    """The executive's store for this run; an old one would resume the old tally."""
    path = out / 'mission_state.sqlite'
    for suffix in ('', '-wal', '-shm', '-journal'):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def run_mission(options: MissionOptions) -> tuple[int, dict]:
    """Run one mission; returns (exit code, summary). Raises MissionRequestError on a bad
    request: a command-line value, the world, a configuration file, an output directory
    that cannot be written or that another run holds; all before anything starts."""
    from mining_rover.runner import stack as stack_mod
    check_request(options)
    out = prepare_out_dir(options.out_dir)
    lock = lock_out_dir(out)
    try:
        spec, specs = plan_stack(options, out / 'mission_state.sqlite')
        missing = stack_mod.missing_nodes(specs)
        if missing:
            raise MissionUnavailable(f"nodes not in this build: {', '.join(missing)}")
        _fresh_state_file(out)
        return _run_mission(options, out, spec, specs)
    finally:
        lock.release()


def _run_mission(options: MissionOptions, out: Path, spec, specs) -> tuple[int, dict]:
    from mining_rover.contract import load_contract
    from mining_rover.runner import stack as stack_mod
    from mining_rover.runner.progress import Progress
    from mining_rover.runner.recorder import McapRecorder, RecorderPolicy
    from mining_rover.runner.report import terrain_from_world, write_report
    from mining_rover.runner.timeline import Timeline, summarise

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
    monitor = MissionMonitor(timeline, recorder, contract, frame_prefix=options.frame_prefix,
                             context=context)
    executor.add_node(monitor)
    stack = stack_mod.Stack(specs, out, env)
    from mining_rover.runner.faults import attach_injector
    injector = attach_injector(options, stack, monitor, progress) if options.faults else None
    restore_signals = _signals_as_flags()
    outcome, reason, cpu = 'complete', '', {}
    cpu_at_clock = {}
    try:
        try:
            progress.message(f'mining-rover sim: world {options.world} ({options.site} site), '
                             f'{options.duration_s:g} s, '
                             f'ROS_DOMAIN_ID={env.get("ROS_DOMAIN_ID", "0")}, out {out}')
            outcome, reason = _start(stack, monitor, executor, options, progress)
            if outcome == 'complete':
                outcome, reason = _fly(stack, monitor, executor, options, progress, cpu_at_clock,
                                       injector)
        except Terminated:
            outcome, reason = 'interrupted', 'SIGTERM'
        except KeyboardInterrupt:
            outcome, reason = 'interrupted', 'Ctrl-C'
        monitor.timeline.mark_end()
        if injector is not None:
            st_t, st = monitor.timeline.status[-1] if monitor.timeline.status else (None, {})
            injector.close(monitor.timeline.sim_time, st, st_t)
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
        'outcome': outcome, 'reason': reason, 'outcome_reason': reason, 'duration_s': options.duration_s,
        'seed': options.seed, 'requested_rtf': options.rtf, 'motors_zeroed': motors_zeroed,
        'node_exit_codes': codes, 'node_cpu_s': cpu.get('cpu_s', {}),
        'monitor_cpu_s': round(cpu.get('monitor_cpu_s', 0.0), 3),
        'cpu_window': _cpu_window(cpu_at_clock, cpu),
        'last_actuator_commands': {t: v for t, v in timeline.last_commands.items()},
        'recorded_topics': topics,
        'ros_domain_id': int(env.get('ROS_DOMAIN_ID', '0') or 0),
        'node_respawns': {n: len(r) for n, r in stack.respawns.items()},
        'param_overrides': options.param_overrides,
        **site_facts(spec, options.site),
    }
    if injector is not None:
        extra['fault_events'], extra['faults'] = injector.results()
        extra['fault_plan'] = str(options.fault_plan)
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


def site_facts(spec, site: str) -> dict:
    """summary.json's site keys: the site kind, its seed (operational), the straight-line
    distance base (berm centre) -> dig-zone centre in m, and the world file."""
    (dx, dy, _), (bx, by, _) = spec.zones.dig_zone, spec.zones.berm_zone
    return {'site': site, 'site_seed': spec.site.seed, 'world_file': str(spec.sdf_path),
            'haul_distance_m': round(math.hypot(dx - bx, dy - by), 3)}


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
    joined: dict = {}       # node -> wall time it was first seen in the graph
    while True:
        _spin_for(executor, 0.25)
        up = set(monitor.get_node_names())
        now = time.monotonic()
        for n in up:
            joined.setdefault(n, now)
        dead = stack.dead()
        waiting = [n for n in others if n not in dead and not _started(monitor, n, joined, now)]
        if not waiting:
            break
        if time.monotonic() > deadline:
            progress.message(f'mining-rover sim: still not in the graph after '
                             f'{options.startup_timeout_s:.0f} s: {", ".join(waiting)}; going on')
            break
    dead = stack.dead()
    for name, code in dead.items():
        progress.message(f'mining-rover sim: {name} exited with code {code} while starting; '
                         f'its log ends:\n{stack.procs[name].tail()}')
    if dead:
        # A mission without one of its nodes (stereo: the rover would drive blind) is no
        # mission: end it before the simulator starts, with the first node's reason.
        name, code = next(iter(dead.items()))
        return 'aborted', node_exit_reason(name, code, stack.procs[name].tail(40), starting=True)
    if any(s.name == 'sim_node' for s in stack.specs):
        stack.start(['sim_node'])
    return 'complete', ''


#: rclpy gives every node these publishers in its constructor, before its own code runs.
_BUILTIN_TOPICS = ('/rosout', '/parameter_events')
#: A node in the graph with no publisher of its own after this long (wall s) counts as
#: started all the same (a node that only subscribes).
READY_WITHOUT_PUBLISHER_S = 15.0


def _started(monitor, name: str, joined: dict, now: float) -> bool:
    """Whether a node got past its own start-up checks. Joining the graph is not enough:
    a node is in the graph from its constructor's first line and may still refuse to start
    (bad parameters) a moment later; one that has created a publisher of its own has
    passed them."""
    if name not in joined:
        return False
    try:
        topics = monitor.get_publisher_names_and_types_by_node(name, '/')
    except Exception:  # gone between the two graph queries, or in another namespace
        topics = []
    if any(t not in _BUILTIN_TOPICS for t, _types in topics):
        return True
    return now - joined[name] >= READY_WITHOUT_PUBLISHER_S


def node_exit_reason(name: str, code, log_tail: str, starting: bool = False) -> str:
    """One line: which node ended, its exit code and why, from the last line of its log
    that says (a refusal to start, an error, a traceback's last line)."""
    lines = [ln.strip() for ln in log_tail.splitlines() if ln.strip()]
    why = ''
    for key in ('refusing to start', 'FATAL', 'ERROR', 'Error'):
        hits = [ln for ln in lines if key in ln]
        if hits:
            why = hits[-1]
            break
    if not why and lines:
        why = lines[-1]
    if 'refusing to start:' in why:
        why = why.split('refusing to start:', 1)[1].strip()
    when = 'could not start' if starting else 'exited'
    return f'{name} {when} (exit code {code})' + (f': {why}' if why else '')


#: A node that dies during the mission is started again (launch's respawn=True), at
#: most this many times; one more death ends the run.
MAX_RESPAWNS = 5


def _respawn(stack, progress, up: set) -> str:
    """Start again every node of ``up`` (running when the mission began) that has died
    since, but the simulator; the reason to end the run when one died too often."""
    for name, code in stack.dead().items():
        if name not in up or name == 'sim_node':
            continue
        if len(stack.respawns.get(name, [])) >= MAX_RESPAWNS:
            return f'{name} died {MAX_RESPAWNS + 1} times (last exit code {code})'
        progress.message(f'mining-rover sim: {name} exited with code {code}; respawning it')
        stack.respawn(name)
    return ''


def _fly(stack, monitor, executor, options, progress, cpu_at_clock: dict,
         injector=None) -> tuple[str, str]:
    """Spin the monitor until the sim clock reaches the duration, respawning nodes that
    die and running the fault plan. ``cpu_at_clock`` gets every process's CPU time when
    the clock first moves (start-up cost excluded)."""
    tl = monitor.timeline
    reported_dead = set(stack.dead())
    up = {n for n, p in stack.procs.items() if p.alive()}
    next_respawn_check = 0.0
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
        if injector is not None:
            st_t, st = tl.status[-1] if tl.status else (None, {})
            injector.step(tl.sim_time, st, st_t)
        if now >= next_respawn_check:
            next_respawn_check = now + 0.1
            why = _respawn(stack, progress, up)
            if why:
                return 'aborted', why
        if now >= next_draw:
            next_draw = now + 0.5
            for name, code in stack.dead().items():
                if name not in reported_dead:
                    reported_dead.add(name)
                    progress.message(f'mining-rover sim: {name} exited with code {code}; '
                                     f'its log ends:\n{stack.procs[name].tail()}')
            # Nodes that die mid-mission are respawned above; the simulator, or a node
            # that was never up, leaves a mission that cannot be judged.
            fatal = [n for n in stack.dead() if n == 'sim_node' or n not in up]
            if fatal:
                name = sorted(fatal, key=lambda n: n != 'sim_node')[0]
                return 'aborted', node_exit_reason(name, stack.procs[name].proc.returncode,
                                                   stack.procs[name].tail(40),
                                                   starting=tl.sim_time <= 0.0)
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
    options = MissionOptions(world=args.world, site=getattr(args, 'site', 'compact'),
                             site_seed=getattr(args, 'site_seed', None),
                             duration_s=float(args.duration), out_dir=Path(args.out),
                             seed=int(args.seed), rtf=float(args.rtf), record=not args.no_record,
                             fault_plan=Path(args.faults) if getattr(args, 'faults', None) else None,
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
