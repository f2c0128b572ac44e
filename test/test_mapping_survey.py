"""The mission's survey turn at the lunar start, rendered by the embedded simulator and
mapped with the mission's stereo and mapping settings (bench/elevation_accuracy.survey):
the map must not invent hazards on ground the world has none on, and must keep the real
ones in view. Before despeckling and the crater median, 6 % of the judged hazard-free
cells were lethal (four false craters, one in the dig zone)."""
from __future__ import annotations

import pytest
from bench_modules import load_bench

pytest.importorskip('mujoco')


def _bench():
    return load_bench('elevation_accuracy')


@pytest.fixture(scope='module')
def survey():
    return _bench().survey(16)


def test_survey_turn_invents_no_hazards(survey):
    # With main's morphological crater detector the unfiltered map had > 2 % false lethal
    # cells; the crater template fit (issue #18) stays clean even without the median
    # filters. The real hazards are lethal (next test), so these fractions are not vacuous.
    assert survey['false'] < 0.005
    assert survey['false_raw'] < 0.02


def test_survey_turn_keeps_the_real_hazards(survey):
    assert survey['true'] >= 0.8 * survey['true_raw'] > 0
