"""summary.json dump_pose_error_m: the believed pose (localization, else odometry) vs
truth at the end of each DUMP, the max over dumps."""
import math

import pytest

from mining_rover.runner.timeline import Timeline, dump_pose_errors, summarise

ARGS = dict(world='w', gravity_mps2=1.62, wall_time_s=1.0, target_resource='helium3')


def _timeline(loc: bool) -> Timeline:
    tl = Timeline()
    for i in range(40):
        t = 0.5 * i
        tl.truth_path.append((t, 0.1 * i, 0.0, 0.0))
        tl.odom_path.append((t, 0.1 * i + 0.3, 0.0, 0.0))          # odometry 0.3 m off
        if loc:
            tl.loc_path.append((t, 0.1 * i, 0.04 if i < 20 else 0.07, 0.0))
    states = ['HAUL'] * 5 + ['DUMP'] * 5 + ['HAUL'] * 15 + ['DUMP'] * 5 + ['SELECT_SITE'] * 10
    for i, s in enumerate(states):
        tl.on_status(0.5 * i, {'state': s})
    return tl


def test_max_over_dumps_of_the_localization_error():
    errs = dump_pose_errors(_timeline(loc=True))
    assert errs == pytest.approx([0.04, 0.07])
    s = summarise(_timeline(loc=True), **ARGS)
    assert s['dump_pose_error_m'] == pytest.approx(0.07) and s['dump_pose_source'] == 'localization'


def test_odometry_is_the_belief_without_localization():
    s = summarise(_timeline(loc=False), **ARGS)
    assert s['dump_pose_error_m'] == pytest.approx(0.3) and s['dump_pose_source'] == 'odometry'


def test_no_dump_no_figure():
    tl = _timeline(loc=True)
    tl.status = [(t, {'state': 'HAUL'}) for t, _ in tl.status]
    assert dump_pose_errors(tl) == []
    s = summarise(tl, **ARGS)
    assert s['dump_pose_error_m'] is None and not math.isnan(s['sim_time_s'])
