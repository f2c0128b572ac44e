"""The rover description: every xacro expands, the tree is sound, inertias are physical."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from mining_rover.contract import load_contract
from mining_rover.description import expand_xacro, load_rover, parse_urdf

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = [p for p in sorted((REPO / 'urdf').glob('*.xacro'))
             if '<robot name=' in p.read_text()]


def test_there_is_a_top_level_xacro():
    assert [p.name for p in TOP_LEVEL] == ['rover.urdf.xacro']


@pytest.mark.parametrize('path', TOP_LEVEL, ids=lambda p: p.name)
@pytest.mark.parametrize('sim', ['false', 'true'])
def test_xacro_expands_to_a_sound_tree(path, sim):
    model = parse_urdf(expand_xacro(path, {'sim': sim}))
    assert model.root == 'base_link'
    # every link reachable from the root exactly once (a tree, not a graph)
    children = [j.child for j in model.joints.values()]
    assert len(children) == len(set(children))
    assert set(children) | {model.root} == set(model.links)


def test_inertias_are_physical_and_mass_is_within_the_lunabotics_limit():
    _, model = load_rover()
    for name, inertial in model.links.items():
        if inertial is None:
            continue
        assert inertial.mass > 0, name
        eig = np.linalg.eigvalsh(inertial.inertia)
        assert np.all(eig > 0), f'{name}: inertia not positive definite {eig}'
        a, b, c = sorted(eig)
        assert a + b >= c * (1 - 1e-9), f'{name}: principal moments violate the triangle inequality'
    # Lunabotics rules cap the rover at 80 kg; we build an 80 kg class rover
    assert 75.0 <= model.total_mass <= 80.0


def test_joints_match_the_sim_contract_and_rover_yaml():
    _, model = load_rover()
    contract = load_contract()
    rover = yaml.safe_load((REPO / 'config' / 'rover.yaml').read_text())
    movable = {n for n, j in model.joints.items() if j.type != 'fixed'}
    assert movable == set(contract.joint_names)
    for j in contract.joints_of('wheel'):
        assert model.joints[j.name].type == 'continuous'
        assert model.joints[j.name].velocity == rover['wheel']['max_velocity']
    for j in contract.joints_of('arm'):
        joint = model.joints[j.name]
        assert joint.type == 'revolute'
        assert (joint.lower, joint.upper) == (rover['arm']['lower_limit'], rover['arm']['upper_limit'])
    fl = model.joints['front_left_wheel_joint'].origin[:3, 3]
    fr = model.joints['front_right_wheel_joint'].origin[:3, 3]
    assert fl[1] - fr[1] == pytest.approx(rover['wheel']['track_width'])


def test_positive_arm_angle_lowers_both_drums():
    _, model = load_rover()
    for side in ('front', 'rear'):
        arm = model.joints[f'{side}_arm_joint']
        drum = model.joints[f'{side}_drum_joint']
        theta = 0.3
        c, s = np.cos(theta), np.sin(theta)
        rot_y = np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]])
        drum_z = (arm.origin @ rot_y @ drum.origin)[2, 3]
        assert drum_z < -0.1, f'{side} drum does not go down with a positive arm angle'


def test_optical_frames_follow_rep103_and_look_forward_and_down():
    _, model = load_rover()
    contract = load_contract()
    T_left = model.fixed_transform('base_link', contract.left.frame)
    T_right = model.fixed_transform('base_link', contract.right.frame)
    z_axis = T_left[:3, 2]      # optical z = viewing direction
    assert z_axis[0] > 0.8 and z_axis[2] < -0.2, z_axis
    x_axis = T_left[:3, 0]      # optical x = image right = -y of base_link
    assert x_axis[1] < -0.9
    rover = yaml.safe_load((REPO / 'config' / 'rover.yaml').read_text())
    baseline = np.linalg.norm(T_left[:3, 3] - T_right[:3, 3])
    assert baseline == pytest.approx(rover['camera']['baseline'])
    assert T_left[2, 3] == pytest.approx(rover['mast']['height'])


def test_xacro_args_change_the_camera():
    _, model = load_rover({'camera_baseline': 0.3, 'camera_height': 1.2})
    T_left = model.fixed_transform('base_link', 'left_camera_optical_frame')
    T_right = model.fixed_transform('base_link', 'right_camera_optical_frame')
    assert np.linalg.norm(T_left[:3, 3] - T_right[:3, 3]) == pytest.approx(0.3)
    assert T_left[2, 3] == pytest.approx(1.2)


def test_bad_xacro_is_reported_with_the_file(tmp_path):
    bad = tmp_path / 'bad.urdf.xacro'
    bad.write_text('<robot name="x" xmlns:xacro="http://www.ros.org/wiki/xacro"><xacro:oops/>')
    with pytest.raises(ValueError, match='bad.urdf.xacro'):
        expand_xacro(bad)
    with pytest.raises(ValueError, match='does not exist'):
        expand_xacro(tmp_path / 'missing.xacro')
    with pytest.raises(ValueError, match='not defined'):
        parse_urdf('<robot name="r"><link name="a"/><joint name="j" type="fixed">'
                   '<parent link="a"/><child link="b"/></joint></robot>')


@pytest.mark.skipif(shutil.which('ign') is None,
                    reason='ign (apt: ignition-tools libsdformat-dev) not installed: '
                           "Gazebo's URDF->SDF conversion not checked")
def test_gazebo_accepts_the_expanded_xacro(tmp_path):
    urdf = tmp_path / 'rover.urdf'
    urdf.write_text(expand_xacro(None, {'sim': 'true'}))
    sdf = subprocess.run(['ign', 'sdf', '-p', str(urdf)], capture_output=True, text=True, timeout=60)
    assert sdf.returncode == 0, sdf.stderr
    assert '<model name' in sdf.stdout
    (tmp_path / 'rover.sdf').write_text(sdf.stdout)
    check = subprocess.run(['ign', 'sdf', '-k', str(tmp_path / 'rover.sdf')],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # the sensors and controllers survive the conversion
    for needle in ('JointController', 'JointPositionController', "type='camera'", "type='imu'"):
        assert needle in sdf.stdout.replace('"', "'"), needle
