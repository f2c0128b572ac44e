"""A node that cannot start ends the run: exit 1, its reason on the terminal, in
summary.json (``outcome``, ``reason``) and in the report, and the simulator never starts,
so the mission cannot report "complete" without its perception.

The runner checks every configuration file first (test_bad_input.py), so to make a node
fail at start here its environment points at a share whose config/rover.yaml lacks
wheel.radius while the runner's own is good: the node refuses to start exactly as it
would on any fault the runner cannot see beforehand (a file changed after the check, a
device missing, an import error).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytest.importorskip('rclpy')

from mining_rover.mission_runner import EXIT_ABORTED, MissionOptions, node_exit_reason, run_mission  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_a_node_that_cannot_start_ends_the_run(tmp_path, capfd):
    share = tmp_path / 'share'
    share.mkdir()
    subprocess.run(['cp', '-r', str(REPO / 'config'), str(REPO / 'urdf'), str(share)], check=True)
    (share / 'worlds').symlink_to(REPO / 'worlds')
    rover = share / 'config' / 'rover.yaml'
    rover.write_text(rover.read_text().replace('  radius: 0.20\n', ''))
    out = tmp_path / 'out'
    options = MissionOptions(world='moon_south_pole', duration_s=30.0, out_dir=out, record=False,
                             progress=True, nodes=['stereo_node', 'sim_node'],
                             startup_timeout_s=120.0, env={'MINING_ROVER_SHARE': str(share)})
    code, summary = run_mission(options)
    err = capfd.readouterr().err
    assert code == EXIT_ABORTED
    assert summary['outcome'] == 'aborted'
    assert summary['reason'].startswith('stereo_node could not start (exit code 2): ')
    assert 'wheel.radius is missing' in summary['reason']
    saved = json.loads((out / 'summary.json').read_text())
    assert saved['outcome'] == 'aborted' and saved['reason'] == summary['reason']
    assert 'stereo_node could not start' in (out / 'report.html').read_text()
    assert 'mission ended early (aborted: stereo_node could not start' in err
    assert not (out / 'logs' / 'sim_node.log').exists(), 'the simulator must not start'
    assert not (out / '.lock').exists()


def test_the_reason_is_the_line_that_says_why():
    tail = ('[INFO] [1.0] [stereo_node]: declaring\n'
            "[FATAL] [2.0] [mining_rover]: refusing to start: parameter 'x' = 3 is above its maximum 2\n")
    assert node_exit_reason('stereo_node', 2, tail, starting=True) == \
        "stereo_node could not start (exit code 2): parameter 'x' = 3 is above its maximum 2"
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nZeroDivisionError: division by zero\n'
    assert node_exit_reason('mapping_node', 1, tb) == \
        'mapping_node exited (exit code 1): ZeroDivisionError: division by zero'
    assert node_exit_reason('planner_node', -9, '') == 'planner_node exited (exit code -9)'
