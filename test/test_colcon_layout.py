"""`colcon build` of this ament_python package gives the layout a ROS 2 user expects.

Builds a copy of the tracked sources (so no build/ or install/ lands in the checkout)
with the colcon from the venv and checks: executables in lib/mining_rover/, data in
share/mining_rover/{package.xml,launch,config,urdf,worlds}, and the ament index marker.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COLCON = Path(sys.executable).parent / 'colcon'


def _setup_nodes():
    text = (REPO / 'setup.py').read_text()
    start = text.index('NODES = [')
    block = text[start:text.index(']', start)]
    return [line.strip().strip("',") for line in block.splitlines()[1:] if line.strip()]


@pytest.mark.skipif(not COLCON.exists(), reason='colcon not installed in this environment')
def test_colcon_install_layout(tmp_path):
    src = tmp_path / 'src' / 'mining_rover'
    src.mkdir(parents=True)
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    result = subprocess.run([str(COLCON), 'build', '--packages-select', 'mining_rover',
                             '--base-paths', 'src'], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = tmp_path / 'install' / 'mining_rover'
    lib = prefix / 'lib' / 'mining_rover'
    for exe in _setup_nodes() + ['mining-rover']:
        assert (lib / exe).is_file(), f'{exe} missing from lib/mining_rover'
    share = prefix / 'share' / 'mining_rover'
    assert (share / 'package.xml').is_file()
    for folder in ('launch', 'config', 'urdf', 'worlds'):
        tracked = [f for f in files if f.startswith(folder + '/')]
        if folder != 'worlds':  # worlds/ is generated content; its files are checked if present
            assert tracked, f'no tracked files in {folder}/'
        for f in tracked:
            assert (share / f).is_file(), f'{f} not installed under share/mining_rover'
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'mining_rover').is_file()
