"""Python 3.10 floor (Ubuntu 22.04 / ROS 2 Humble, JetPack 6): the package, its tests and
benchmarks must need nothing newer than 3.10 in syntax or standard library. Checked with
vermin (https://github.com/netromdk/vermin), which parses the code and knows in which
Python each module, function, keyword and syntax form appeared."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('vermin', reason='vermin is not installed (requirements.txt pins it)')

ROOT = Path(__file__).resolve().parent.parent
#: '3.10-': 3.10 or older is fine; anything that needs 3.11+ is a violation.
TARGET = '3.10-'


def _vermin(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', 'import sys, vermin; sys.exit(vermin.main())', '-q',
                           f'--target={TARGET}', '--no-tips',
                           '--violations', '--eval-annotations', *map(str, paths)],
                          capture_output=True, text=True, timeout=600)


def test_package_needs_nothing_newer_than_python_3_10():
    paths = [p for p in ('mining_rover', 'bench', 'test', 'launch', 'scripts', 'setup.py')
             if (ROOT / p).exists()]
    r = _vermin(*(ROOT / p for p in paths))
    assert r.returncode == 0, f'vermin found code that needs Python > 3.10:\n{r.stdout}{r.stderr}'


def test_the_check_catches_3_11_code(tmp_path):
    """The same command flags 3.11-only standard library and 3.11 syntax (except*)."""
    (tmp_path / 'new_stdlib.py').write_text('import tomllib\n')
    (tmp_path / 'new_syntax.py').write_text(
        'try:\n    pass\nexcept* ValueError:\n    pass\n')
    for name, needle in (('new_stdlib.py', 'tomllib'), ('new_syntax.py', '3.11')):
        r = _vermin(tmp_path / name)
        assert r.returncode != 0 and needle in r.stdout, (name, r.stdout, r.stderr)
