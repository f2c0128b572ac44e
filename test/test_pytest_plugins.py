"""A sourced ROS 2 Jazzy puts launch_testing's pytest plugin on the path (an entry point
named `launch_testing`) whose hook pytest >= 8 refuses; pytest.ini blocks it, so the suite
still collects. Shown here with a stand-in plugin with the same name and the same hook."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _site_with_plugin(tmp_path, dist: str, entry: str) -> Path:
    site = tmp_path / 'site'
    (site / f'{dist}-0.0.0.dist-info').mkdir(parents=True)
    (site / f'{dist}-0.0.0.dist-info' / 'METADATA').write_text(
        f'Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n')
    (site / f'{dist}-0.0.0.dist-info' / 'entry_points.txt').write_text(
        f'[pytest11]\n{entry} = {dist}_hooks\n')
    # launch_testing 3.4 (Jazzy): a hookimpl taking `path`, which pytest 8 removed
    (site / f'{dist}_hooks.py').write_text(textwrap.dedent('''
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_pycollect_makemodule(path, parent):
            return None
    '''))
    return site


def _pytest(site: Path, *extra):
    env = {**os.environ,
           'PYTHONPATH': os.pathsep.join([str(site), str(REPO), os.environ.get('PYTHONPATH', '')])}
    env.pop('PYTEST_DISABLE_PLUGIN_AUTOLOAD', None)
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', *extra,
                           'test/test_stack_table.py', '-k', 'frame_prefix_defaults_to_the_namespace'],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_suite_collects_with_jazzys_launch_testing_plugin_on_the_path(tmp_path):
    run = _pytest(_site_with_plugin(tmp_path, 'launch_testing', 'launch_testing'))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert '1 passed' in run.stdout


@pytest.mark.skipif(pytest.version_tuple < (8,),
                    reason='pytest < 8 still accepts the `path` argument: the stand-in loads there')
def test_the_stand_in_plugin_breaks_pytest_when_not_blocked(tmp_path):
    """The test above would pass for a harmless stand-in: this one shows it is not."""
    run = _pytest(_site_with_plugin(tmp_path, 'other_plugin', 'other_plugin'))
    assert run.returncode != 0 and 'pytest_pycollect_makemodule' in run.stdout + run.stderr
