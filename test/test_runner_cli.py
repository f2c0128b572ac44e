"""`mining-rover sim` validates the request before anything starts: an unknown world is
refused with the list of known worlds (exit 2), an output directory that cannot be made
or written is refused (exit 2), and in both cases no node process is started."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import types

import pytest

from mining_rover import cli
from mining_rover.runner import stack as stack_mod

WORLDS = ('moon_south_pole', 'psyche', 'vesta_rubble')


@pytest.fixture
def fake_worlds(monkeypatch):
    """A world module with three worlds, whether or not the real simulator is built."""
    module = types.ModuleType('mining_rover.sim.world')
    module.list_worlds = lambda: list(WORLDS)

    def load_world(name):
        if name not in WORLDS:
            raise ValueError(f'unknown world {name}')
        return types.SimpleNamespace(gravity_mps2=1.62)
    module.load_world = load_world
    monkeypatch.setitem(sys.modules, 'mining_rover.sim.world', module)
    return module


@pytest.fixture
def no_nodes(monkeypatch):
    """Fail the test if the runner tries to start any node."""
    def refuse(*args, **kwargs):
        raise AssertionError('a node was started although the request is invalid')
    monkeypatch.setattr(stack_mod.Stack, 'start', refuse)
    monkeypatch.setattr(stack_mod, 'NodeProcess', refuse)


def _run(argv, capsys):
    t0 = time.monotonic()
    code = cli.main(argv)
    return code, capsys.readouterr().err, time.monotonic() - t0


def test_unknown_world_lists_the_worlds(fake_worlds, no_nodes, tmp_path, capsys):
    code, err, elapsed = _run(['sim', '--world', 'mars_jezero', '--out', str(tmp_path / 'o')], capsys)
    assert code == 2
    assert "unknown world 'mars_jezero'" in err
    for w in WORLDS:
        assert w in err
    assert elapsed < 5.0
    assert not (tmp_path / 'o').exists(), 'nothing is created for a refused request'


@pytest.mark.parametrize('how', ['parent_is_a_file', 'read_only_dir'])
def test_unwritable_out_dir_fails_before_anything_starts(fake_worlds, no_nodes, tmp_path, capsys, how):
    if how == 'parent_is_a_file':
        (tmp_path / 'file').write_text('x')
        out = tmp_path / 'file' / 'sim'
    else:
        if os.geteuid() == 0:
            pytest.skip('root writes into read-only directories; parent_is_a_file covers root')
        ro = tmp_path / 'ro'
        ro.mkdir()
        ro.chmod(0o500)
        out = ro / 'sim'
    try:
        code, err, elapsed = _run(['sim', '--world', 'moon_south_pole', '--out', str(out)], capsys)
    finally:
        if how == 'read_only_dir':
            (tmp_path / 'ro').chmod(0o700)
    assert code == 2
    assert 'cannot write the output directory' in err and str(out) in err
    assert elapsed < 5.0


def test_bad_duration_is_refused(fake_worlds, no_nodes, tmp_path, capsys):
    code, err, _ = _run(['sim', '--duration', '0', '--out', str(tmp_path)], capsys)
    assert code == 2 and '--duration' in err


def test_the_installed_command_lists_the_real_worlds(tmp_path):
    from mining_rover.sim.world import list_worlds
    exe = os.path.join(os.path.dirname(sys.executable), 'mining-rover')
    argv = [exe] if os.path.exists(exe) else [sys.executable, '-m', 'mining_rover.cli']
    res = subprocess.run(argv + ['sim', '--world', 'no_such_world', '--out', str(tmp_path / 'o')],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    for w in list_worlds():
        assert w in res.stderr
