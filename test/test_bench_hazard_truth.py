"""The hazard_detection benchmark judges truth by the shared hazard definition
(sim/hazard_truth.py) and reports recall over every crater >= 1 m across beside it."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from bench_modules import load_bench
from mining_rover.mapping.hazards import Crater, Hazards, Rock


def _scene(craters, rocks):
    def true_height(x, y):
        z = np.zeros(np.shape(x))
        for k in rocks:
            d2 = ((np.asarray(x) - k.x) ** 2 + (np.asarray(y) - k.y) ** 2) / k.radius ** 2
            z = np.maximum(z, k.height * np.sqrt(np.clip(1.0 - d2, 0.0, None)))
        return z
    return SimpleNamespace(craters=craters, rocks=rocks, true_height=true_height)


def test_truth_follows_the_shared_definition_and_all_craters_are_reported():
    bench = load_bench('hazard_detection')
    c = np.arange(-4.0, 4.0, 0.05) + 0.025
    X, Y = np.meshgrid(c, c)
    steep = Crater(-2.0, 0.0, 0.8, 0.16)       # d/D 0.1: walls ~26 deg, a hazard
    degraded = Crater(2.0, 0.0, 0.8, 0.064)    # d/D 0.04: walls ~11 deg, ground
    tall, low = Rock(0.0, 2.0, 0.3, 0.3), Rock(0.0, -2.0, 0.15, 0.15)
    scene = _scene([steep, degraded], [tall, low])
    hz = Hazards([Rock(0.0, 2.0, 0.3, 0.3)], [Crater(-2.0, 0.0, 0.8, 0.15)], np.zeros(X.shape, bool))
    counts = bench._Counts()
    judged = np.ones(X.shape, bool)
    bench._score(counts, hz, np.zeros(X.shape, np.int8), judged, scene, X, Y, (0.0, 0.0),
                 np.zeros(X.shape, bool))
    n = counts.n
    assert (n['rock_truth'], n['rock_found']) == (1, 1)                 # the 0.15 m rock is not judged
    assert (n['crater_truth'], n['crater_found']) == (1, 1)             # the steep crater only
    assert (n['crater_truth_all'], n['crater_found_all']) == (2, 1)     # both >= 1 m across
    res = bench.summarise({'counts': {k: counts for k in ('stereo', 'exact', 'baseline', 'baseline_exact')},
                           'calib': dict(z2=1.0, z2_main=1.0, z_n=1, z2_clear=1.0, z2_clear_main=1.0,
                                         z_n_clear=1, z_abs=[1.0], z_abs_main=[1.0])}, (100,))
    assert res['crater_recall'].value == 1.0 and res['crater_recall_all'].value == 0.5
