"""The tree passes ``ruff check`` with the repository's ruff.toml (pycodestyle errors and
warnings, pyflakes, and docstrings for mining_rover/).

ruff is a development dependency (requirements.txt); a colcon user building from the ROS
package alone may not have it, so the test is skipped, with that reason, only when ruff
itself is missing. Any violation fails the test and is printed.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff_command():
    """The command that runs ruff for this interpreter, or None when ruff is not installed."""
    if importlib.util.find_spec('ruff') is not None:
        return [sys.executable, '-m', 'ruff']
    beside = Path(sys.executable).with_name('ruff')
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which('ruff')
    return [found] if found else None


def test_ruff_check_is_clean():
    cmd = _ruff_command()
    if cmd is None:
        pytest.skip('ruff is not installed (pip install -r requirements.txt to lint)')
    proc = subprocess.run(cmd + ['check', '--no-cache', '--output-format', 'concise', str(REPO)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert (REPO / 'ruff.toml').is_file()
    assert proc.returncode == 0, f'ruff check found violations:\n{proc.stdout}{proc.stderr}'
