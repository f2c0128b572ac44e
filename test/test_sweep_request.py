"""`mining-rover sweep` and `sim --param` without Ray or ROS running: parsing, the
parameter check against the nodes' declared Params, bad input (exit 2, one line, nothing
created), the --out lock, which missions a rerun runs, and how a mission is classified."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mining_rover import cli
from mining_rover.runner import node_params, sweep
from mining_rover.runner.sweep import Mission, SweepRequest, SweepRequestError


def test_seeds_counts_ranges_and_lists():
    assert sweep.parse_seeds('3') == [1, 2, 3]
    assert sweep.parse_seeds('4-6') == [4, 5, 6]
    assert sweep.parse_seeds('9,2') == [9, 2]
    for bad in ('0', 'x', '5-3', '1,1', ''):
        with pytest.raises(SweepRequestError):
            sweep.parse_seeds(bad)


def test_missions_are_the_cartesian_product_with_one_directory_each(tmp_path):
    req = SweepRequest(worlds=['moon_south_pole', 'psyche'], seeds=[1, 2], duration_s=10.0,
                       out_dir=tmp_path, params={'planner_node.drum_max_speed_radps': [4.0, 8.0],
                                                 'sim_node.radiation_rate': [0.0]})
    ms = sweep.missions(req)
    assert len(ms) == 2 * 2 * 1 * 2
    dirs = {m.directory(tmp_path) for m in ms}
    assert len(dirs) == len(ms)
    assert ms[0].param_set == 'planner_node.drum_max_speed_radps=4.0+sim_node.radiation_rate=0.0'


def test_every_override_the_runner_sets_is_a_declared_parameter():
    """The node table's own overrides (site, world, seed, state file) pass the same
    check as --param: the declared lists are complete for every node of a mission."""
    from mining_rover.runner.stack import mission_nodes
    from mining_rover.site import site_parameters
    specs = mission_nodes(site_parameters('moon_south_pole'), world='moon_south_pole', seed=1,
                          rtf=0.0, target_resource='helium3', state_file=Path('/tmp/x.sqlite'))
    assert {s.name for s in specs} == set(node_params.NODE_PARAM_LISTS)
    for s in specs:
        declared = node_params.declared_params(s.name)
        for name, value in s.overrides.items():
            assert name in declared, f'{s.name}.{name}'
            declared[name].validate(value)


def test_param_values_are_typed_as_the_node_declares():
    got = node_params.parse_assignments(['planner_node.drum_max_speed_radps=4,6.5',
                                         'stereo_node.publish_disparity=false'], several=True)
    assert got == {'planner_node.drum_max_speed_radps': [4.0, 6.5],
                   'stereo_node.publish_disparity': [False]}
    assert all(isinstance(v, float) for v in got['planner_node.drum_max_speed_radps'])
    assert node_params.as_overrides({'a_node.x': 1, 'a_node.y': 2}) == {'a_node': {'x': 1, 'y': 2}}
    for bad, words in (('nowhere_node.x=1', 'unknown node'), ('planner_node.nope=1', 'declares no'),
                       ('planner_node.drum_max_speed_radps=fast', 'expected float'),
                       ('planner_node.drum_max_speed_radps=1000', 'maximum'),
                       ('sim_node.seed=3', '--seed'), ('planner_node.drum_max_speed_radps', 'NODE.PARAM=')):
        with pytest.raises(node_params.ParamSpecError, match=words):
            node_params.parse_assignments([bad], several=True)


def _main(argv, capsys) -> tuple[int, list]:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize('args, words', [
    (['--worlds', 'atlantis'], "unknown world 'atlantis'"),
    (['--site', 'operational', '--worlds', 'moon_south_pole,lunabotics_arena'],
     'lunabotics_arena has no operational site'),
    (['--site', 'huge'], 'sites are'),
    (['--param', 'planner_node.nope=1,2'], "no parameter 'nope'"),
    (['--param', 'planner_node.drum_max_speed_radps=4,fast'], 'expected float'),
    (['--address', 'ray://127.0.0.1:9'], 'cannot reach 127.0.0.1:9'),
    (['--seeds', 'some'], '--seeds'),
    (['--duration', '-5'], '--duration must be > 0'),
])
def test_bad_request_is_one_line_exit_2_nothing_created(tmp_path, capsys, args, words):
    out = tmp_path / 'never'
    argv = ['sweep', '--worlds', 'moon_south_pole', '--seeds', '2', '--duration', '10',
            '--out', str(out)]
    for i in range(0, len(args), 2):   # replace or add the option under test
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i:i + 2]
    code, err = _main(argv, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith('mining-rover sweep: ') and words in err[0], err
    assert not out.exists()


def test_sim_param_refused_before_anything_starts(tmp_path, capsys):
    code, err = _main(['sim', '--duration', '5', '--out', str(tmp_path / 'x'),
                       '--param', 'excavator_node.drum_speed=fast'], capsys)
    assert code == 2 and len(err) == 1 and "excavator_node declares no parameter 'drum_speed'" in err[0]
    assert not (tmp_path / 'x').exists()


def test_out_owned_by_a_running_sweep_is_refused_and_a_stale_lock_taken_over(tmp_path, capsys):
    held = sweep.OutLock(tmp_path).acquire()
    try:
        code, err = _main(['sweep', '--worlds', 'moon_south_pole', '--seeds', '1', '--duration', '5',
                           '--out', str(tmp_path)], capsys)
        assert code == 2 and len(err) == 1 and f'owned by a running sweep (PID {os.getpid()}' in err[0]
    finally:
        held.release()
    (tmp_path / '.sweep.lock').write_text('999999\n')    # a sweep that died without cleaning up
    lock = sweep.OutLock(tmp_path).acquire()
    assert lock.stale_pid == '999999'
    assert (tmp_path / '.sweep.lock').read_text().strip() == str(os.getpid())
    lock.release()


def _fake_mission(out: Path, m: Mission, outcome: str, duration_s: float, sim_time_s=None):
    d = m.directory(out)
    d.mkdir(parents=True)
    (d / 'sweep_mission.json').write_text(json.dumps(
        {'outcome': outcome, 'reason': outcome, 'seed': m.seed, 'params': dict(m.params)}))
    if outcome != 'failed':
        (d / 'summary.json').write_text(json.dumps(
            {'world': m.world, 'seed': m.seed, 'duration_s': duration_s, 'param_overrides': {},
             'outcome': 'complete' if outcome == 'complete' else 'interrupted',
             'sim_time_s': duration_s if sim_time_s is None else sim_time_s}))


def test_a_rerun_skips_complete_missions_and_reruns_failures_only_when_asked(tmp_path):
    req = SweepRequest(worlds=['moon_south_pole'], seeds=[1, 2, 3, 4, 5], duration_s=20.0, out_dir=tmp_path)
    ms = sweep.missions(req)
    _fake_mission(tmp_path, ms[0], 'complete', 20.0)
    _fake_mission(tmp_path, ms[1], 'failed', 20.0)
    _fake_mission(tmp_path, ms[2], 'interrupted', 20.0, sim_time_s=7.0)
    _fake_mission(tmp_path, ms[3], 'complete', 10.0)     # another --duration: not this request's
    todo, states = sweep.select_missions(req, ms)
    assert [states[m] for m in ms] == ['complete', 'failed', 'todo', 'todo', 'todo']
    assert todo == ms[2:]
    req.rerun_failed = True
    assert sweep.select_missions(req, ms)[0] == ms[1:]


JOB = {'timeout_s': 100.0, 'duration_s': 15.0}


def test_a_node_that_died_fails_the_mission_with_its_reason_and_log(tmp_path):
    (tmp_path / 'logs').mkdir()
    (tmp_path / 'logs' / 'excavator_node.log').write_text(
        "[FATAL] parameter 'arm_upper_rad' (-3.0) must exceed 'arm_lower_rad'\n")
    (tmp_path / 'runner.log').write_text(
        'mining-rover sim: excavator_node exited with code 2 while starting; its log ends:\n...\n')
    (tmp_path / 'summary.json').write_text(json.dumps(
        {'outcome': 'complete', 'node_exit_codes': {'excavator_node': 2, 'sim_node': -9}}))
    got = sweep.classify(tmp_path, 0, None, JOB)
    assert got['outcome'] == 'failed' and got['reason'] == 'node_died'
    assert got['detail'] == 'excavator_node exited with code 2' and 'arm_upper_rad' in got['log_tail']
    # a node SIGKILLed by the runner's own stop (exit code only in the summary) is no death
    (tmp_path / 'runner.log').write_text('mining-rover sim: complete: ...\n')
    assert sweep.classify(tmp_path, 0, None, JOB)['outcome'] == 'complete'
    assert sweep.classify(tmp_path, 130, 'timeout', JOB)['reason'] == 'timeout'
    # past the limit only while exiting: the mission itself ran to its duration
    (tmp_path / 'summary.json').write_text(json.dumps({'outcome': 'complete', 'sim_time_s': 15.0}))
    assert sweep.classify(tmp_path, 0, 'timeout', JOB)['outcome'] == 'complete'
    (tmp_path / 'summary.json').unlink()
    got = sweep.classify(tmp_path, -9, None, JOB)
    assert got['reason'] == 'crashed' and 'SIGKILL' in got['detail']


def test_domain_ids_never_collide_with_each_other_or_pytest():
    held = [sweep.DomainLock(start=0) for _ in range(3)]
    ids = [h.domain for h in held]
    assert len(set(ids)) == 3 and int(os.environ['ROS_DOMAIN_ID']) not in ids
    for h in held:
        h.release()


def test_default_workers_fit_the_cores_at_real_time():
    assert sweep.default_workers(2) == 1
    assert sweep.default_workers(16) == int(16 // sweep.MISSION_CORES)


def test_groups_give_median_p10_p90_by_truth():
    from mining_rover.runner import sweep_report
    rows = [{'world': 'w', 'param_set': 'default', 'params': {}, 'outcome': 'complete',
             'reason': 'complete', **sweep_report.derived(
                 {'sim_berm_mass_kg': kg, 'sim_time_s': 3600.0, 'regolith_delivered_kg': kg * 1.1,
                  'energy_wh': 2.0 * kg}), 'cycles': 1, 'hazard_contacts': 0, 'real_time_factor': 1.0}
            for kg in (10.0, 20.0, 30.0, 40.0, 50.0)]
    rows.append({'world': 'w', 'param_set': 'default', 'params': {}, 'outcome': 'failed',
                 'reason': 'timeout', 'kg_per_hour_truth': 1000.0})
    (g,) = sweep_report.groups(rows)
    assert g['count'] == 6 and g['complete'] == 5
    assert g['outcomes_by_reason'] == {'complete': 5, 'timeout': 1}
    assert g['kg_per_hour_truth'] == {'n': 5, 'median': 30.0, 'p10': 14.0, 'p90': 46.0}
    assert g['tally_truth_ratio']['median'] == pytest.approx(1.1)
    assert g['energy_wh_per_kg']['median'] == pytest.approx(2.0)
