"""The rover description: xacro expansion and a parsed view of the URDF (no rclpy).

Used by description_node, the embedded simulator and the tests, so the robot is
described once (urdf/rover.urdf.xacro, dimensions from config/rover.yaml).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import transforms3d
import xacro

from mining_rover.paths import rover_config, urdf_path


@dataclass(frozen=True)
class Joint:
    """A URDF joint: type, parent/child links, origin (4x4, parent -> child) and axis in the child frame."""
    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray          # 4x4 parent -> child at zero joint position
    axis: np.ndarray            # unit vector in the child frame
    lower: float | None
    upper: float | None
    effort: float | None
    velocity: float | None


@dataclass(frozen=True)
class Inertial:
    """A link's mass (kg), centre-of-mass origin (4x4) and inertia about it (kg m^2)."""
    mass: float
    origin: np.ndarray          # 4x4 link -> centre of mass
    inertia: np.ndarray         # 3x3 about the centre of mass, kg m^2


@dataclass
class RobotModel:
    """Links and joints parsed from the URDF, with forward kinematics over the tree."""
    name: str
    links: dict = field(default_factory=dict)    # name -> Inertial | None
    joints: dict = field(default_factory=dict)   # name -> Joint

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints.values()}
        roots = [link for link in self.links if link not in children]
        if len(roots) != 1:
            raise ValueError(f'URDF must have exactly one root link, found {roots}')
        return roots[0]

    @property
    def total_mass(self) -> float:
        return float(sum(i.mass for i in self.links.values() if i is not None))

    def chain(self, link: str) -> list:
        """Joints from the root down to link."""
        by_child = {j.child: j for j in self.joints.values()}
        out = []
        while link in by_child:
            j = by_child[link]
            out.append(j)
            link = j.parent
        return out[::-1]

    def fixed_transform(self, parent: str, child: str) -> np.ndarray:
        """4x4 parent -> child with every movable joint at zero (for fixed sensor frames)."""
        def from_root(link):
            T = np.eye(4)
            for j in self.chain(link):
                T = T @ j.origin
            return T
        return np.linalg.inv(from_root(parent)) @ from_root(child)


def expand_xacro(path: str | Path | None = None, mappings: dict | None = None) -> str:
    """Expand a xacro file to URDF XML text. Raises ValueError naming the file on error
    (ConfigError, one line, for a bad config/rover.yaml next to it)."""
    path = Path(path) if path else urdf_path()
    if not path.is_file():
        raise ValueError(f'xacro file {path} does not exist')
    if (path.parent.parent / 'config' / 'rover.yaml').is_file():  # what the xacro loads: one-line errors
        rover_config(path.parent.parent / 'config' / 'rover.yaml')
    try:
        doc = xacro.process_file(str(path), mappings={k: str(v) for k, v in (mappings or {}).items()})
    except Exception as exc:  # xacro raises its own exception types and XML errors
        raise ValueError(f'cannot expand {path}: {exc}') from exc
    return doc.toxml()


def _origin(el) -> np.ndarray:
    T = np.eye(4)
    if el is None:
        return T
    xyz = [float(v) for v in el.get('xyz', '0 0 0').split()]
    rpy = [float(v) for v in el.get('rpy', '0 0 0').split()]
    T[:3, :3] = transforms3d.euler.euler2mat(*rpy, axes='sxyz')
    T[:3, 3] = xyz
    return T


def parse_urdf(text: str) -> RobotModel:
    """Parse URDF XML into links (with inertials) and joints. ValueError on malformed input."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f'URDF is not well-formed XML: {exc}') from exc
    if root.tag != 'robot':
        raise ValueError(f"URDF root element is <{root.tag}>, expected <robot>")
    model = RobotModel(name=root.get('name', ''))
    for link in root.findall('link'):
        name = link.get('name')
        if not name:
            raise ValueError('a <link> has no name')
        inertial = link.find('inertial')
        if inertial is None:
            model.links[name] = None
            continue
        mass_el, inertia_el = inertial.find('mass'), inertial.find('inertia')
        if mass_el is None or inertia_el is None:
            raise ValueError(f'link {name}: <inertial> needs <mass> and <inertia>')
        g = {k: float(inertia_el.get(k, 0.0)) for k in ('ixx', 'ixy', 'ixz', 'iyy', 'iyz', 'izz')}
        inertia = np.array([[g['ixx'], g['ixy'], g['ixz']],
                            [g['ixy'], g['iyy'], g['iyz']],
                            [g['ixz'], g['iyz'], g['izz']]])
        model.links[name] = Inertial(float(mass_el.get('value')), _origin(inertial.find('origin')), inertia)
    for joint in root.findall('joint'):
        name = joint.get('name')
        parent, child = joint.find('parent'), joint.find('child')
        if parent is None or child is None:
            raise ValueError(f'joint {name}: needs <parent> and <child>')
        limit = joint.find('limit')
        axis = joint.find('axis')

        def lim(key):
            return float(limit.get(key)) if limit is not None and limit.get(key) is not None else None
        model.joints[name] = Joint(
            name=name, type=joint.get('type'), parent=parent.get('link'), child=child.get('link'),
            origin=_origin(joint.find('origin')),
            axis=np.array([float(v) for v in (axis.get('xyz') if axis is not None else '1 0 0').split()]),
            lower=lim('lower'), upper=lim('upper'), effort=lim('effort'), velocity=lim('velocity'))
    for j in model.joints.values():
        for end in (j.parent, j.child):
            if end not in model.links:
                raise ValueError(f'joint {j.name} names link {end!r} which is not defined')
    return model


def load_rover(mappings: dict | None = None, path: str | Path | None = None) -> tuple:
    """(urdf_xml, RobotModel) of the rover."""
    text = expand_xacro(path, mappings)
    return text, parse_urdf(text)


#: camera link (x forward, z up) -> optical frame (z forward, x right, y down): REP-103,
#: the rpy (-pi/2, 0, -pi/2) of the URDF's *_camera_optical_joint.
T_LINK_OPTICAL = np.eye(4)
T_LINK_OPTICAL[:3, :3] = transforms3d.euler.euler2mat(-np.pi / 2, 0.0, -np.pi / 2, 'sxyz')


def xyzrpy_to_matrix(xyz, rpy) -> np.ndarray:
    """4x4 transform of a URDF-style origin (translation m; fixed-axis roll, pitch, yaw rad)."""
    T = np.eye(4)
    T[:3, :3] = transforms3d.euler.euler2mat(*rpy, 'sxyz')
    T[:3, 3] = xyz
    return T


def left_camera_xyz_rpy() -> tuple:
    """(xyz, rpy) of base_link -> left_camera_link from the rover URDF: the default of
    the nodes' ``camera_xyz`` / ``camera_rpy`` parameters."""
    _, model = load_rover()
    T = model.fixed_transform('base_link', 'left_camera_link')
    return [float(v) for v in T[:3, 3]], [float(v) for v in transforms3d.euler.mat2euler(T[:3, :3], 'sxyz')]
