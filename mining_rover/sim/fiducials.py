"""Fiducial boards at the base: where they stand, which tag each carries, how they look.

A surveyed base carries boards with AprilTag 36h11 markers (Olson 2011, "AprilTag: a
robust and flexible visual fiducial system", ICRA; decoded here by OpenCV's aruco module,
``cv2.aruco.DICT_APRILTAG_36h11``) standing behind the berm/hopper zone and facing the
direction the rover comes from (the dig zone), so the last metres of every haul and the
front drum's dump look straight at them. Their poses are known a priori, like a surveyed
base: the world file carries them in ``<mining:fiducials>``, which the rover reads (the
board map), and the simulator draws them from the same element.

Frames: a board's frame has its origin at the tag's centre, x to the right of a viewer
facing the tag, y up (world z) and z out of the face (towards the viewer); ``yaw_rad`` is
the map-frame heading of that outward normal. Corner order is aruco's: top-left,
top-right, bottom-right, bottom-left as the viewer sees them.

Pure Python (numpy, OpenCV for the tag images, xml.etree); no rclpy, no MuJoCo.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NS = '{https://mining-rover.org/sdf}'
#: The only tag family the boards carry (OpenCV name ``DICT_APRILTAG_36h11``).
TAG_FAMILY = 'apriltag_36h11'
#: Tag side (m, the black square). Chosen so that a 320x240 camera with a 1.2 rad field of
#: view (config/sim_contract.yaml; fx = 234 px) sees the 8-cell-wide code at >= 3 px per
#: cell out to 5 m: 234 * 0.5 / 5 = 23 px, 2.9 px a cell (aruco's decoding needs ~3).
TAG_SIZE_M = 0.5
#: White quiet zone around the tag on the board, as a fraction of the tag side (AprilTag
#: needs one cell of white: 1/8 of the side; two cells here for a margin).
MARGIN_FRACTION = 0.25
BOARD_THICKNESS_M = 0.04
#: Gap (m) between the berm zone's edge and the board row: beyond the dump standoff, so
#: the drums never reach the boards and the berm's pile does not hide them.
BERM_GAP_M = 1.0
#: Spacing (m) of adjacent boards' centres along the row.
BOARD_SPACING_M = 1.2
#: Lowest tag centre above the ground (m): the rover's camera (0.8 m mast, pitched
#: 0.45 rad down) sees up to ~0.85 m at 4 m, so the tag stays below that.
TAG_CENTRE_HEIGHT_M = 0.45


@dataclass(frozen=True)
class Board:
    """One board: tag id, tag centre in map (x, y, z m), outward normal heading yaw (rad),
    tag side (m)."""
    tag_id: int
    x: float
    y: float
    z: float
    yaw_rad: float
    tag_size_m: float = TAG_SIZE_M

    @property
    def board_size_m(self) -> float:
        """Side of the square white board that carries the tag (m)."""
        return self.tag_size_m * (1.0 + 2.0 * MARGIN_FRACTION)

    def pose(self) -> np.ndarray:
        """4x4 map <- board frame (see the module docstring)."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        normal = np.array([c, s, 0.0])
        right = np.array([-s, c, 0.0])      # up x normal: the viewer's right
        T = np.eye(4)
        T[:3, 0], T[:3, 1], T[:3, 2] = right, [0.0, 0.0, 1.0], normal
        T[:3, 3] = (self.x, self.y, self.z)
        return T

    def corners(self) -> np.ndarray:
        """(4, 3) map-frame tag corners in aruco order (TL, TR, BR, BL as seen from the front)."""
        h = self.tag_size_m / 2
        local = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
        T = self.pose()
        return local @ T[:3, :3].T + T[:3, 3]


@dataclass(frozen=True)
class FiducialMap:
    """The boards a world carries (the rover's a-priori board map) and their tag family."""
    family: str
    boards: tuple

    def by_id(self) -> dict:
        """{tag_id: Board}."""
        return {b.tag_id: b for b in self.boards}


def check_family(family: str, where: str = 'fiducials') -> str:
    """``family`` if it is the one the boards use; ValueError naming ``where`` otherwise."""
    if family != TAG_FAMILY:
        raise ValueError(f'{where}: unknown tag family {family!r}; expected {TAG_FAMILY!r}')
    return family


def layout_boards(berm_zone: tuple, toward_xy: tuple, ground_height=None, count: int = 3,
                  first_id: int = 0, bounds: tuple | None = None, margin_m: float = 0.5) -> tuple:
    """Board poses for a base whose berm zone is ``berm_zone`` = (x, y, radius) m.

    The boards stand in a row behind the berm zone, ``BERM_GAP_M`` beyond its edge on the
    side away from ``toward_xy`` (where the rover comes from, the dig zone), every board
    facing ``toward_xy``'s direction; ``count`` boards ``BOARD_SPACING_M`` apart, tag ids
    ``first_id``... ``ground_height(x, y)`` (m, default 0) sets each board on the ground
    (the highest point under it); ``bounds`` = (xmin, xmax, ymin, ymax) m pulls the row
    closer to the berm (never into it) so every board stays ``margin_m`` inside them.
    ValueError when the berm zone is not a finite (x, y, r > 0) or ``toward_xy`` is its centre.
    """
    bx, by, br = (float(v) for v in berm_zone)
    if not all(math.isfinite(v) for v in (bx, by, br)) or br <= 0:
        raise ValueError(f'berm zone must be finite (x, y, radius > 0) m, got {berm_zone!r}')
    if count < 1:
        raise ValueError(f'board count must be >= 1, got {count}')
    dx, dy = float(toward_xy[0]) - bx, float(toward_xy[1]) - by
    if math.hypot(dx, dy) < 1e-6:
        raise ValueError(f'boards must face away from the berm centre: toward point {toward_xy!r} is it')
    facing = math.atan2(dy, dx)
    u = np.array([math.cos(facing), math.sin(facing)])
    perp = np.array([-u[1], u[0]])
    offsets = (np.arange(count) - (count - 1) / 2) * BOARD_SPACING_M
    half = TAG_SIZE_M * (1 + 2 * MARGIN_FRACTION) / 2
    dist = br + BERM_GAP_M
    centres = [np.array([bx, by]) - dist * u + o * perp for o in offsets]
    if bounds is not None:
        xmin, xmax, ymin, ymax = (float(v) for v in bounds)
        lo, hi = np.array([xmin, ymin]) + margin_m, np.array([xmax, ymax]) - margin_m

        def inside(pts):
            return all(np.all(p >= lo) and np.all(p <= hi) for p in pts)
        while dist > br + half and not inside(centres):
            dist -= 0.05
            centres = [np.array([bx, by]) - dist * u + o * perp for o in offsets]
        # a small arena: the row slides along its wall until it is inside
        pts = np.array(centres)
        shift = np.maximum(lo - pts.min(axis=0), 0.0) + np.minimum(hi - pts.max(axis=0), 0.0)
        centres = list(pts + shift)
    ground = ground_height or (lambda x, y: 0.0)
    boards = []
    for i, (cx, cy) in enumerate(centres):
        foot = [float(ground(cx + a * perp[0], cy + a * perp[1])) for a in (-half, 0.0, half)]
        boards.append(Board(first_id + i, round(float(cx), 4), round(float(cy), 4),
                            round(max(foot) + TAG_CENTRE_HEIGHT_M, 4), round(facing, 6)))
    return tuple(boards)


def tag_image(tag_id: int, px_per_cell: int = 16) -> np.ndarray:
    """The board's face as a uint8 grey image: the 36h11 tag (8 cells incl. its black
    border) on the white margin, square, ``(8 + 2 * 2) * px_per_cell`` pixels a side."""
    import cv2
    d = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11)
    cells = d.markerSize + 2
    tag = cv2.aruco.generateImageMarker(d, int(tag_id), cells * px_per_cell)
    m = int(round(MARGIN_FRACTION * cells * px_per_cell))
    return cv2.copyMakeBorder(tag, m, m, m, m, cv2.BORDER_CONSTANT, value=255)


def fiducials_sdf(boards, media: str) -> tuple:
    """(SDF models text, <mining:fiducials> element text) for ``boards``; the models'
    textures are ``<media>/tag_<id>.png`` (write them with ``write_tag_images``)."""
    models, elems = [], []
    for b in boards:
        # the SDF box: its x axis is the board's outward normal, so the face is +x
        yaw = b.yaw_rad
        s, t = b.board_size_m, BOARD_THICKNESS_M
        cx, cy = b.x - math.cos(yaw) * t / 2, b.y - math.sin(yaw) * t / 2
        models.append(f"""    <model name="fiducial_board_{b.tag_id}">
      <static>true</static>
      <pose>{cx:.6g} {cy:.6g} {b.z:.6g} 0 0 {yaw:.6g}</pose>
      <link name="link">
        <collision name="collision">
          <geometry><box><size>{t:.6g} {s:.6g} {s:.6g}</size></box></geometry>
        </collision>
        <visual name="visual">
          <geometry><box><size>{t:.6g} {s:.6g} {s:.6g}</size></box></geometry>
          <material>
            <diffuse>1 1 1 1</diffuse>
            <pbr><metal><albedo_map>{media}/tag_{b.tag_id}.png</albedo_map></metal></pbr>
          </material>
        </visual>
      </link>
    </model>""")
        elems.append(f'        <mining:board id="{b.tag_id}" x="{b.x:.6g}" y="{b.y:.6g}" z="{b.z:.6g}" '
                     f'yaw="{b.yaw_rad:.6g}" tag_size="{b.tag_size_m:.6g}"/>')
    element = (f'      <mining:fiducials family="{TAG_FAMILY}">\n' + '\n'.join(elems)
               + '\n      </mining:fiducials>')
    return '\n'.join(models), element


def write_tag_images(boards, media_dir: Path) -> list:
    """Write ``tag_<id>.png`` for each board into ``media_dir``; returns the paths."""
    import cv2
    media_dir = Path(media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for b in boards:
        p = media_dir / f'tag_{b.tag_id}.png'
        cv2.imwrite(str(p), tag_image(b.tag_id))
        out.append(p)
    return out


def parse_fiducials(path, mining_world) -> FiducialMap | None:
    """The ``<mining:fiducials>`` element under ``<mining:world>`` as a FiducialMap, None
    where the world has none; ValueError naming the file, element and attribute."""
    el = mining_world.find(NS + 'fiducials')
    if el is None:
        return None
    check_family(el.get('family'), f'{path}: <mining:fiducials> attribute family')
    boards, seen = [], set()
    for i, b in enumerate(el.findall(NS + 'board')):
        vals = {}
        for key in ('id', 'x', 'y', 'z', 'yaw', 'tag_size'):
            try:
                vals[key] = float(b.get(key))
            except (TypeError, ValueError):
                raise ValueError(f'{path}: <mining:board> #{i} attribute {key!r} missing or not a '
                                 f'number ({b.get(key)!r})') from None
            if not math.isfinite(vals[key]):
                raise ValueError(f'{path}: <mining:board> #{i} attribute {key!r} is not finite')
        tid = int(vals['id'])
        if tid != vals['id'] or not 0 <= tid < 587:   # 36h11 holds 587 codes
            raise ValueError(f'{path}: <mining:board> #{i} id {b.get("id")!r} is not a 36h11 tag id (0..586)')
        if tid in seen:
            raise ValueError(f'{path}: <mining:board> id {tid} appears twice')
        if vals['tag_size'] <= 0:
            raise ValueError(f'{path}: <mining:board> #{i} tag_size must be > 0 m, got {vals["tag_size"]}')
        seen.add(tid)
        boards.append(Board(tid, vals['x'], vals['y'], vals['z'], vals['yaw'], vals['tag_size']))
    if not boards:
        raise ValueError(f'{path}: <mining:fiducials> holds no <mining:board>')
    return FiducialMap(TAG_FAMILY, tuple(boards))


def load_fiducials(sdf_path) -> FiducialMap | None:
    """The board map of a world file (path), None where it has no boards; ValueError
    naming the file for a malformed one."""
    try:
        root = ET.parse(sdf_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f'{sdf_path}: malformed SDF: {exc}') from exc
    mw = root.find('world/' + NS + 'world')
    if mw is None:
        raise ValueError(f'{sdf_path}: missing element <mining:world>')
    return parse_fiducials(sdf_path, mw)
