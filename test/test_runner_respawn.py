"""The runner's respawn (runner/stack.py Stack.respawn, mission_runner._respawn): a node
killed with SIGKILL mid-mission is started again with its log continued, the simulator
never is, and a node that keeps dying ends the run."""
from __future__ import annotations

import signal
import time

import pytest

pytest.importorskip('rclpy')

from mining_rover import mission_runner  # noqa: E402
from mining_rover.runner.stack import NodeSpec, Stack  # noqa: E402


class Progress:
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def wait(predicate, timeout_s=30.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and not predicate():
        time.sleep(0.05)
    return predicate()


def test_a_killed_node_is_respawned_with_its_log_continued_and_a_crash_loop_ends_the_run(tmp_path):
    stack = Stack([NodeSpec('description_node', (), {'sim': True})], tmp_path)
    stack.start()
    try:
        first = stack.procs['description_node'].pid
        up = {'description_node'}
        progress = Progress()
        assert mission_runner._respawn(stack, progress, up) == ''      # alive: nothing to do
        assert stack.send_signal('description_node', signal.SIGKILL)
        assert wait(lambda: not stack.procs['description_node'].alive())
        assert mission_runner._respawn(stack, progress, up) == ''
        p = stack.procs['description_node']
        assert p.pid != first and p.alive()
        assert [c for c, _ in stack.respawns['description_node']] == [-signal.SIGKILL]
        log = (tmp_path / 'logs' / 'description_node.log').read_text()
        assert 'exited with code -9: respawned' in log and log.count('$ ') == 2
        assert any('respawning' in line for line in progress.lines)
        # one death more than MAX_RESPAWNS ends the run
        stack.respawns['description_node'] *= mission_runner.MAX_RESPAWNS
        stack.send_signal('description_node', signal.SIGKILL)
        assert wait(lambda: not stack.procs['description_node'].alive())
        assert 'died' in mission_runner._respawn(stack, progress, up)
        assert mission_runner._respawn(stack, progress, set()) == ''    # not up at the start: left dead
    finally:
        stack.stop(timeout_s=5.0)
