"""The runner's whole loop against real nodes and a scripted simulator in this process.

The real drive_node, excavator_node, mission_node and description_node run as the
runner starts them (console scripts, parameter files, use_sim_time); the simulator is a
small scripted node here (clock, joint states, ground truth, /sim/regolith), so this
runs before and independently of the embedded MuJoCo simulator. It checks the
runner's promises: the clock is followed to the duration, nodes stop in order with the
motors commanded to zero, the MCAP, the summary, the report and one log per node exist,
and summary.json holds the last /mission/status that the MCAP holds.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.time import Time  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from mining_rover.contract import load_contract  # noqa: E402
from mining_rover.mission_runner import EXIT_INTERRUPTED, EXIT_OK, MissionOptions, run_mission  # noqa: E402
from mining_rover.ros import qos  # noqa: E402
from mining_rover.runner.recorder import read_messages  # noqa: E402
from mining_rover.runner.timeline import STATUS_FIGURES, SUMMARY_KEYS, parse_number  # noqa: E402

NODES = ['description_node', 'drive_node', 'excavator_node', 'mission_node']
DURATION_S = 20.0
STEP_S = 0.02          # sim step of the scripted simulator
PACE = 2.0             # sim seconds per wall second


def install_fake_world(tmp_path):
    """A flat test world in place of mining_rover.sim.world (sys.modules)."""
    prior = tmp_path / 'prior.npz'
    prior.write_bytes(b'')
    spec = types.SimpleNamespace(
        name='flat_test', gravity_mps2=1.62, prior_map_path=prior,
        zones=types.SimpleNamespace(start_xy_yaw=(0.0, 0.0, 0.0), dig_zone=(4.0, 0.0, 1.5),
                                    berm_zone=(-3.0, 0.0, 1.0)),
        hazards=types.SimpleNamespace(craters=[], rocks=[]), heights=None,
        resolution_m=0.1, origin_xy=(-5.0, -5.0), sdf_path=tmp_path / 'flat_test.sdf',
        site=types.SimpleNamespace(seed=None, base_xy_yaw=None))
    module = types.ModuleType('mining_rover.sim.world')
    module.list_worlds = lambda: ['flat_test']
    module.load_world = lambda name: spec
    return module


@pytest.fixture
def fake_world(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'mining_rover.sim.world', install_fake_world(tmp_path))


class ScriptedSim:
    """Publishes the sim contract's state topics once every node is in the graph."""

    def __init__(self, node):
        self.c = load_contract()
        n = self.node = node
        self.clock_pub = n.create_publisher(Clock, '/clock', qos.CLOCK)
        self.js_pub = n.create_publisher(JointState, self.c.joint_states_topic, qos.STATE)
        self.truth_pub = n.create_publisher(Odometry, self.c.ground_truth_topic, qos.STATE)
        self.regolith_pub = n.create_publisher(DiagnosticStatus, self.c.regolith_topic, qos.STATE)
        self.t = 0.0
        self.running = False
        n.create_timer(STEP_S / PACE, self.step)

    def step(self):
        if not self.running:
            self.running = all(name in self.node.get_node_names() for name in NODES)
            return
        self.t += STEP_S
        stamp = Time(nanoseconds=int(round(self.t * 1e9))).to_msg()
        self.clock_pub.publish(Clock(clock=stamp))
        k = int(round(self.t / STEP_S))
        if k % 5 == 0:  # 10 Hz
            self.js_pub.publish(JointState(header=self._header(stamp), name=self.c.joint_names,
                                           position=[0.0] * 8, velocity=[0.0] * 8, effort=[0.0] * 8))
            odom = Odometry(header=self._header(stamp, 'map'), child_frame_id='base_link')
            odom.pose.pose.position.x = 0.05 * self.t
            odom.pose.pose.orientation.w = 1.0
            self.truth_pub.publish(odom)
        if k % 50 == 0:  # 1 Hz
            self.regolith_pub.publish(DiagnosticStatus(name='regolith', values=[
                KeyValue(key=key, value='0') for key in self.c.regolith_keys]))

    @staticmethod
    def _header(stamp, frame=''):
        from std_msgs.msg import Header
        return Header(stamp=stamp, frame_id=frame)


def test_runner_follows_the_clock_stops_cleanly_and_reports(ros, fake_world, tmp_path):
    sim = ScriptedSim(ros.node('scripted_sim'))
    out = tmp_path / 'out'
    result = {}

    def run():
        try:
            result['code'], result['summary'] = run_mission(MissionOptions(
                world='flat_test', duration_s=DURATION_S, out_dir=out, nodes=NODES,
                progress=False, startup_timeout_s=90.0, clock_timeout_s=60.0))
        except BaseException as exc:  # reported below
            result['error'] = exc

    worker = threading.Thread(target=run)
    worker.start()
    ros.spin_until(lambda: not worker.is_alive(), timeout_s=240.0)
    worker.join(timeout=30.0)
    assert 'error' not in result, result.get('error')
    code, summary = result['code'], result['summary']
    logs = {p.name: p.read_text()[-1500:] for p in (out / 'logs').glob('*.log')}
    assert code == EXIT_OK, (summary.get('outcome_reason'), logs)
    assert sorted(logs) == sorted(f'{n}.log' for n in NODES)

    # followed the clock to the duration, and no further than a moment past it
    assert DURATION_S <= summary['sim_time_s'] < DURATION_S + 0.5
    assert summary['sim_time_at_stop_s'] > summary['sim_time_s'], 'the sim ran on while nodes stopped'
    assert summary['real_time_factor'] == pytest.approx(PACE, rel=0.5)
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary['world'] == 'flat_test' and summary['gravity_mps2'] == 1.62
    # clean stop: every node exited by itself on SIGINT, wheels and drums last told zero
    bad = {n: c for n, c in summary['node_exit_codes'].items() if c != 0}
    assert not bad, (bad, {n: (out / 'logs' / f'{n}.log').read_text() for n in bad})
    assert summary['motors_zeroed'] is True, (summary['last_actuator_commands'], logs)
    assert all(summary['node_cpu_s'][n] > 0 for n in NODES)

    for name in ('summary.json', 'report.png', 'report.html', 'mission.mcap'):
        assert (out / name).stat().st_size > 0, name
    on_disk = json.loads((out / 'summary.json').read_text())
    statuses = [m for topic, _, m in read_messages(out / 'mission.mcap', ['/mission/status'])]
    assert statuses, 'the executive published no status'
    last = {kv.key: kv.value for kv in statuses[-1].values}
    for key, kind in STATUS_FIGURES.items():
        assert on_disk[key] == parse_number(last[key], kind), key
    topics = {topic for topic, _, _ in read_messages(out / 'mission.mcap')}
    assert {'/clock', '/mission/status', '/odom', '/' + sim.c.ground_truth_topic} <= topics


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_ctrl_c_ends_the_mission_cleanly_with_a_partial_report(tmp_path, sig):
    """SIGINT to the runner (what Ctrl-C sends), or SIGTERM (kill, systemd stop, a CI
    timeout): nodes stop, motors end at zero, the partial report is written, exit 130."""
    out = tmp_path / 'out'
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    # A shell's background job (a CI step may be one) starts with SIGINT ignored, and the
    # runner keeps an ignored signal ignored, as nohup'd programs should: give the child
    # the default disposition that a terminal's Ctrl-C meets.
    proc = subprocess.Popen([sys.executable, __file__, str(out)], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        for line in proc.stderr:  # progress lines: every 5 s of wall time here
            lines.append(line)
            if '/' in line and ' s  cycles' in line and float(line.split(']')[1].split('/')[0]) >= 8.0:
                proc.send_signal(sig)
                break
        _, rest = proc.communicate(timeout=120)
        lines.append(rest or '')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = ''.join(lines)
    assert proc.returncode == EXIT_INTERRUPTED, text
    s = json.loads((out / 'summary.json').read_text())
    assert s['outcome'] == 'interrupted'
    # the progress line rounds to 0.1 s (7.96 s reads 8.0)
    assert 7.9 <= s['sim_time_s'] < LONG_DURATION_S
    assert s['node_exit_codes'] == {n: 0 for n in NODES}, text
    assert s['motors_zeroed'] is True
    assert (out / 'report.html').is_file() and (out / 'report.png').is_file()
    assert list(read_messages(out / 'mission.mcap', ['/mission/status']))


LONG_DURATION_S = 600.0


def _interrupted_mission(out: Path) -> int:
    """A long mission against the scripted sim, for the Ctrl-C test (a separate process:
    SIGINT must reach a runner in its main thread, as it does from a terminal)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    sys.modules['mining_rover.sim.world'] = install_fake_world(out.parent)
    ctx = Context()
    rclpy.init(context=ctx, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('scripted_sim', context=ctx)
    ScriptedSim(node)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    running = threading.Event()
    running.set()

    def spin():
        while running.is_set():
            executor.spin_once(timeout_sec=0.05)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        code, _ = run_mission(MissionOptions(world='flat_test', duration_s=LONG_DURATION_S, out_dir=out,
                                             nodes=NODES, progress=True, startup_timeout_s=90.0))
    finally:
        running.clear()
        spinner.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    return code


if __name__ == '__main__':
    sys.exit(_interrupted_mission(Path(sys.argv[1])))
