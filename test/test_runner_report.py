"""The mission report from a summary and a scripted timeline: files exist, the PNG is a
real picture (not blank), the HTML carries the figures and the per-cycle table, and the
summary's derived tables (cycles, scores) follow from the time series."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mining_rover.runner.report import (Terrain, format_mass, hillshade, report_figure, run_events,
                                        tally_rows, terrain_from_world, title, write_report)
from mining_rover.runner.timeline import (SUMMARY_KEYS, Marker2D, Timeline, cycle_table,
                                          summarise)


def _timeline(cycles: int = 3, cycle_s: float = 40.0) -> Timeline:
    """A rover that digs at (6, 0), hauls to the berm at (-4, 0): each cycle delivers
    10 kg and uses 2 Wh; status at 1 Hz, ground truth at 2 Hz."""
    tl = Timeline()
    tl.on_clock(0.0, 100.0)
    for k in range(int(cycles * cycle_s) + 1):
        t = float(k)
        phase = (t % cycle_s) / cycle_s
        x = 6.0 - 10.0 * abs(2 * phase - 1) if phase else 6.0
        tl.truth_path.append((t, x, 0.3 * math.sin(t / 7), 0.0))
        tl.odom_path.append((t, x + 0.02 * t / 10, 0.3 * math.sin(t / 7) + 0.01, 0.0))
        n = int(t // cycle_s)
        state = 'EXCAVATE' if phase < 0.2 else 'HAUL'
        tl.on_status(t, {'state': state, 'cycles': str(n), 'regolith_delivered_kg': f'{10.0 * n:.3f}',
                         'regolith_excavated_kg': f'{10.0 * n + 5 * (state == "HAUL"):.3f}',
                         'energy_wh': f'{2.0 * t / cycle_s:.3f}', 'target_resource_kg': f'{1e-4 * n:.5f}',
                         'berm_volume_m3': f'{0.006 * n:.5f}',
                         'kg_per_hour': f'{36000.0 * n / max(t, 1):.3f}',
                         'kg_per_wh': '5.0', 'hazard_contacts': '0', 'estop_events': '0',
                         'target_resource': 'helium3'})
        tl.regolith.append((t, {'berm_mass_kg': f'{8.0 * n:.3f}', 'hazard_contacts': '0',
                                'excavated_kg': f'{12.0 * n + 6.0 * (state == "HAUL"):.3f}',
                                'spilled_kg': f'{3.0 * n:.3f}',
                                'carried_kg': f'{1.0 * n + 6.0 * (state == "HAUL"):.3f}'}))
        tl.on_clock(t, 100.0 + t / 2.0)  # twice real time
    tl.hazards = [Marker2D('craters', 2.0, 4.0, 2.0), Marker2D('rocks', -1.0, -3.0, 0.3)]
    tl.dig_sites = [Marker2D('dig_sites', 6.0, 0.5, 0.0, '0.9')]
    return tl


def _terrain() -> Terrain:
    y, x = np.mgrid[0:120, 0:160] * 0.1
    heights = 0.3 * np.sin(x / 2.0) * np.cos(y / 3.0)
    heights -= 0.5 * np.exp(-((x - 10.0) ** 2 + (y - 10.0) ** 2) / 2.0)  # crater at (2, 4)
    return Terrain(heights=heights, resolution_m=0.1, origin_xy=(-8.0, -6.0),
                   craters=[(2.0, 4.0, 1.0)], rocks=[(-1.0, -3.0, 0.2)], dig_zone=(6.0, 0.0, 1.5),
                   berm_zone=(-4.0, 0.0, 1.0), start_xy_yaw=(0.0, 0.0, 0.0))


def test_cycle_table_follows_the_status_counters():
    rows = cycle_table(_timeline(cycles=3, cycle_s=40.0))
    assert [r['cycle'] for r in rows] == [1, 2, 3]
    assert [r['delivered_kg'] for r in rows] == [10.0, 10.0, 10.0]
    assert [r['duration_s'] for r in rows] == [40.0, 40.0, 40.0]
    assert [r['energy_wh'] for r in rows] == pytest.approx([2.0, 2.0, 2.0])


def test_summary_has_every_key_and_the_last_status_figures():
    tl = _timeline()
    s = summarise(tl, world='moon_south_pole', gravity_mps2=1.62, wall_time_s=70.0,
                  target_resource='helium3')
    assert set(SUMMARY_KEYS) <= set(s)
    assert s['cycles'] == 3 and s['regolith_delivered_kg'] == 30.0 and s['hazard_contacts'] == 0
    assert s['real_time_factor'] == pytest.approx(2.0)
    assert s['sim_time_s'] == 120.0 and s['sim_berm_mass_kg'] == 24.0
    assert s['lunabotics_scores']['total'] > 0
    empty = summarise(Timeline(), world='w', gravity_mps2=1.62, wall_time_s=1.0, target_resource='helium3')
    assert empty['regolith_delivered_kg'] is None and empty['real_time_factor'] is None


def test_report_files_exist_and_the_png_is_not_trivial(tmp_path):
    from PIL import Image
    tl = _timeline()
    s = summarise(tl, world='moon_south_pole', gravity_mps2=1.62, wall_time_s=70.0,
                  target_resource='helium3')
    paths = write_report(tmp_path, s, tl, _terrain(), logs=['logs/sim_node.log'])
    assert json.loads((tmp_path / 'summary.json').read_text())['cycles'] == 3
    img = np.asarray(Image.open(paths['png']).convert('L'), dtype=float)
    assert img.shape[0] >= 600 and img.shape[1] >= 1000
    # a drawn report has many grey levels and real contrast; a blank figure has ~1
    assert len(np.unique(img)) > 64 and img.std() > 20
    html = (tmp_path / 'report.html').read_text()
    assert 'data:image/png;base64,' in html and 'moon_south_pole' in html
    assert html.count('<tr>') >= 3 + 10  # per-cycle rows and figures
    assert 'logs/sim_node.log' in html


def test_report_without_terrain_or_data_still_writes(tmp_path):
    s = summarise(Timeline(), world='w', gravity_mps2=None, wall_time_s=1.0, target_resource='helium3')
    paths = write_report(tmp_path, s, Timeline(), None)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())


def test_hillshade_is_lit_on_the_sun_side():
    """The default sun is in the north-west (azimuth 315 deg, 20 deg high): a slope that
    faces west (down-hill towards -x) is brighter than flat ground, one facing east darker."""
    x = np.arange(50) * 0.1
    east_facing = hillshade(np.tile(-0.5 * x, (40, 1)), 0.1)
    west_facing = hillshade(np.tile(0.5 * x, (40, 1)), 0.1)
    flat = hillshade(np.zeros((40, 50)), 0.1)
    assert flat.std() < 1e-12 and flat.mean() == pytest.approx(math.sin(math.radians(20.0)))
    assert west_facing.mean() > flat.mean() > east_facing.mean()


def test_terrain_from_world_accepts_the_world_spec_shapes():
    spec = SimpleNamespace(
        heights=np.zeros((4, 5)), resolution_m=0.5, origin_xy=(-1.0, -1.0), gravity_mps2=1.62,
        zones=SimpleNamespace(start_xy_yaw=(0.0, 0.0, 0.0), dig_zone=(5.0, 1.0, 2.0),
                              berm_zone=((-3.0, 0.0), 1.0)),
        hazards=SimpleNamespace(craters=[SimpleNamespace(centre_xy=(1.0, 2.0), radius_m=0.8)],
                                rocks=[SimpleNamespace(x=0.5, y=-0.5, diameter_m=0.4)]))
    t = terrain_from_world(spec)
    assert t.extent() == (-1.0, 1.5, -1.0, 1.0)
    assert t.craters == [(1.0, 2.0, 0.8)] and t.rocks == [(0.5, -0.5, 0.2)]
    assert t.dig_zone == (5.0, 1.0, 2.0) and t.berm_zone == (-3.0, 0.0, 1.0)


def _summary(**extra):
    tl = _timeline()
    s = summarise(tl, world='moon_south_pole', gravity_mps2=1.62, wall_time_s=70.0,
                  target_resource='helium3', extra=extra)
    return tl, s


@pytest.mark.parametrize('kg, text', [
    (16.77, '16.8 kg'), (1.0, '1 kg'), (0.999, '999 g'), (1e-3, '1 g'), (9.99e-4, '999 mg'),
    (1e-6, '1 mg'), (9.99e-7, '999 µg'), (4.2e-8, '42 µg'), (3e-12, '0.003 µg'), (0.0, '0 kg'),
    (-0.25, '-250 g'), (None, '-'), (float('nan'), '-'),
])
def test_format_mass_picks_kg_g_mg_ug_at_their_thresholds(kg, text):
    assert format_mass(kg) == text


def test_summary_judges_the_tally_by_truth_issue_18_fields():
    """summary.json carries kg/h by truth (berm mass per hour of sim time), the delivered
    tally over truth, the spilled mass by truth, what was dumped off the berm zone by
    truth, and the executive's stuck events and re-surveys from its status."""
    tl = _timeline()
    tl.on_status(120.0, {**tl.status[-1][1], 'stuck_events': '2', 'resurveys': '1',
                         'dumped_outside_kg': '1.500', 'haul_spill_kg': '0.250'})
    tl.regolith.append((120.0, {**tl.regolith[-1][1], 'dumped_kg': '27.000'}))
    s = summarise(tl, world='moon_south_pole', gravity_mps2=1.62, wall_time_s=70.0,
                  target_resource='helium3')
    assert s['sim_berm_mass_kg'] == 24.0 and s['kg_per_hour_truth'] == pytest.approx(720.0)
    assert s['tally_truth_ratio'] == pytest.approx(30.0 / 24.0)
    assert s['spilled_kg'] == 9.0 and s['sim_dumped_outside_kg'] == pytest.approx(3.0)
    assert s['sim_taken_kg'] == pytest.approx(27.0 + 3.0)           # dumped + still carried
    assert s['excavated_truth_ratio'] == pytest.approx(30.0 / 30.0)
    assert (s['stuck_events'], s['resurveys']) == (2, 1)
    assert (s['dumped_outside_kg'], s['haul_spill_kg']) == (1.5, 0.25)
    rows = {r[0]: r[1:] for r in tally_rows(s)}
    assert rows['dumped off the berm zone'] == ['1.50 kg', '3.00 kg']


def test_summary_and_report_carry_sim_truth_beside_the_tally(tmp_path):
    """Title, table and HTML give the rover's tally and sim truth for dug, on the berm,
    spilled (with its share of the dug) and still in the drums, and the helium-3 yield
    in micrograms with its name."""
    tl, s = _summary()
    s['target_resource_kg'] = 4.2e-8
    assert (s['sim_excavated_kg'], s['sim_berm_mass_kg'], s['sim_spilled_kg'], s['sim_carried_kg']) == \
        (36.0, 24.0, 9.0, 3.0)
    assert s['sim_spilled_fraction'] == 0.25
    head = title(s)
    for text in ('24.00 kg on the berm', '36.00 kg dug', '9.00 kg spilled (25 % of dug)',
                 '3.00 kg still in the drums', '30.00 kg delivered', 'helium-3 42 µg'):
        assert text in head
    rows = {r[0]: r[1:] for r in tally_rows(s)}
    assert rows['dug'] == ['30.00 kg', '36.00 kg']
    assert rows['delivered to the berm'] == ['30.00 kg', '24.00 kg']
    assert rows['spilled'][1] == '9.00 kg (25 % of dug)' and rows['still in the drums'][1] == '3.00 kg'
    assert rows['helium-3 yield'][0] == '42 µg (estimate)'
    fig = report_figure(s, tl, _terrain())
    assert fig._suptitle.get_text() == head
    cells = {c.get_text().get_text() for ax in fig.axes for t in ax.tables for c in t.get_celld().values()}
    assert {'sim truth', 'rover tally', '36.00 kg', '9.00 kg (25 % of dug)', '3.00 kg',
            '42 µg (estimate)'} <= cells
    write_report(tmp_path, s, tl, _terrain())
    html = (tmp_path / 'report.html').read_text()
    assert '<td>9.00 kg (25 % of dug)</td>' in html and '42 µg (estimate)' in html


def test_every_curve_has_a_legend_entry():
    """Each line with data, on every axis (the energy curve on the twin axis included, and
    fault events), is named in a legend of the figure; the map has a height colour bar
    and a whole-site inset."""
    tl, s = _summary(fault_events=[{'t': 30.0, 'kind': 'kill', 'detail': 'stereo_node'},
                                   {'t': 70.0, 'kind': 'camera', 'detail': 'blackout 10 s'}])
    fig = report_figure(s, tl, _terrain())
    legend_texts = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    curves = 0
    for axes in fig.axes + [c for ax in fig.axes for c in ax.child_axes]:
        for line in axes.get_lines():
            if len(line.get_xdata()) >= 2:
                curves += 1
                assert line.get_label() in legend_texts, \
                    f'{axes.get_title()!r}: {line.get_label()!r} has no legend'
    assert curves >= 10
    assert {'energy used (rover, Wh, right axis)', 'fault event', 'dumped here', 'start'} <= legend_texts
    assert any(ax.get_ylabel() == 'terrain height (m, map)' for ax in fig.axes), 'no height colour bar'
    assert any(c.get_title().startswith('whole site') for ax in fig.axes for c in ax.child_axes)


def test_exit_codes_and_fault_events_are_listed(tmp_path):
    tl, s = _summary(node_exit_codes={'sim_node': -15, 'stereo_node': 1, 'mission_node': 0},
                     fault_events=[{'t': 42.5, 'kind': 'kill', 'detail': 'drive_node SIGKILL, respawned'}])
    lines = run_events(s)
    assert 'stereo_node 1' in lines[0] and 'sim_node -15 (stopped by signal 15)' in lines[0]
    assert lines[1] == 'nodes that failed: stereo_node (1)'
    assert lines[-1].split() == ['t=42.5', 's', 'kill:', 'drive_node', 'SIGKILL,', 'respawned']
    write_report(tmp_path, s, tl, _terrain())
    html = (tmp_path / 'report.html').read_text()
    assert '<th>stereo_node</th><td>1</td>' in html
    assert '<td>42.5</td><td>kill</td><td>drive_node SIGKILL, respawned</td>' in html


def test_map_zooms_to_where_the_rover_worked():
    """A site much larger than the mission: the map shows the path and zones, not the site."""
    tl, s = _summary()
    t = _terrain()
    big = Terrain(heights=np.zeros((1000, 1000)), resolution_m=0.1, origin_xy=(-50.0, -50.0),
                  dig_zone=t.dig_zone, berm_zone=t.berm_zone, start_xy_yaw=t.start_xy_yaw)
    fig = report_figure(s, tl, big)
    ax = next(a for a in fig.axes if a.get_title().startswith('where the rover worked'))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < -4.0 - 1.0 and x1 > 6.0 + 1.5 and x1 - x0 < 25.0
    assert y1 - y0 == pytest.approx(x1 - x0)


def test_foxglove_layout_shows_robot_map_route_and_cameras():
    """config/foxglove_layout.json: every panel in the tree is configured; the 3D panel
    shows the URDF from /robot_description, the elevation cloud, the route and follows
    base_link; an Image panel shows the left camera with its calibration; and every topic
    it names is one the stack publishes (docs/INTERFACES.md or the sim contract)."""
    import re

    from mining_rover.contract import load_contract

    root = Path(__file__).resolve().parent.parent
    layout = json.loads((root / 'config' / 'foxglove_layout.json').read_text())
    configs = layout['configById']

    def leaves(node):
        return [node] if isinstance(node, str) else leaves(node['first']) + leaves(node['second'])
    assert sorted(leaves(layout['layout'])) == sorted(configs)
    three_d = next(c for k, c in configs.items() if k.startswith('3D!'))
    assert three_d['followTf'] == 'base_link'
    shown = {t for t, c in three_d['topics'].items() if c.get('visible')}
    assert {'/robot_description', '/map/elevation_cloud', '/planner/route'} <= shown
    contract = load_contract()
    images = [c['imageMode'] for k, c in configs.items() if k.startswith('Image!')]
    assert {'imageTopic': '/' + contract.left.image.lstrip('/'),
            'calibrationTopic': '/' + contract.left.info.lstrip('/')}.items() <= images[0].items()

    named = set(three_d['topics'])
    named |= {v for m in images for k, v in m.items() if k.endswith('Topic')}
    named |= {c['topicPath'] for c in configs.values() if 'topicPath' in c}
    named |= {p['value'].split('.')[0] for c in configs.values() for p in c.get('paths', [])}
    documented = set(re.findall(r'/[a-z_][a-z0-9_/]*', (root / 'docs' / 'INTERFACES.md').read_text()
                                + (root / 'config' / 'sim_contract.yaml').read_text()))
    assert named - documented == set(), 'layout names topics the stack does not publish'


def test_per_cycle_resource_keeps_micrograms(tmp_path):
    """A helium-3 cycle yield of tens of micrograms survives the per-cycle table and prints
    in µg in the HTML (it was rounded to 0 kg)."""
    tl = Timeline()
    for t, n, target in ((0.0, 0, '0'), (10.0, 1, '4.2e-08'), (20.0, 2, '9.1e-08')):
        tl.on_status(t, {'state': 'HAUL', 'cycles': str(n), 'target_resource_kg': target})
    rows = cycle_table(tl)
    assert [r['target_resource_kg'] for r in rows] == pytest.approx([4.2e-8, 4.9e-8])
    s = summarise(tl, world='w', gravity_mps2=1.62, wall_time_s=1.0, target_resource='helium3')
    write_report(tmp_path, s, tl, None)
    assert '<td>42 µg</td>' in (tmp_path / 'report.html').read_text()
