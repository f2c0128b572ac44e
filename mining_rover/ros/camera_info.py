"""sensor_msgs/CameraInfo <-> CameraModel, and the stereo reprojection matrix Q.

Conventions are those of sensor_msgs/CameraInfo (REP-104 era docs): K is the 3x3
intrinsic matrix of the raw image (pixels), D the distortion coefficients, R the
rectification rotation, P = [fx' 0 cx' Tx; 0 fy' cy' 0; 0 0 1 0] the 3x4 projection of the
rectified image, with Tx = -fx' * baseline_m for the right camera of a stereo pair and 0 for
the left. All in the camera's optical frame (z forward, x right, y down).
"""
from __future__ import annotations

import array
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo

from mining_rover.ros.stamps import make_header

PLUMB_BOB = 'plumb_bob'
_RECTIFIED_TOL = 1e-6  # relative: fx, fy, cy of a rectified pair agree to rounding


def _frozen_matrix(name: str, value, shape: tuple) -> np.ndarray:
    m = np.array(value, dtype=np.float64)
    if m.size != int(np.prod(shape)):
        raise ValueError(f'camera {name} must have {int(np.prod(shape))} entries (shape {shape}), '
                         f'got {m.size}')
    m = m.reshape(shape)
    if not np.all(np.isfinite(m)):
        raise ValueError(f'camera {name} has non-finite entries: {m.tolist()}')
    m.setflags(write=False)
    return m


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A pinhole camera as sensor_msgs/CameraInfo describes it (pixels, optical frame).

    Matrices are read-only float64 arrays; equality compares them exactly.
    """
    width: int
    height: int
    K: np.ndarray
    D: np.ndarray
    R: np.ndarray
    P: np.ndarray
    distortion_model: str = PLUMB_BOB
    frame_id: str = ''

    def __post_init__(self):
        for name in ('width', 'height'):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value <= 0:
                raise ValueError(f'camera {name} must be a positive integer, got {value!r}')
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, 'K', _frozen_matrix('K', self.K, (3, 3)))
        object.__setattr__(self, 'R', _frozen_matrix('R', self.R, (3, 3)))
        object.__setattr__(self, 'P', _frozen_matrix('P', self.P, (3, 4)))
        d = np.array(self.D, dtype=np.float64).reshape(-1)
        object.__setattr__(self, 'D', _frozen_matrix('D', d, d.shape))
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ValueError(f'camera K must have fx, fy > 0, got fx {self.K[0, 0]}, fy {self.K[1, 1]}')

    def __eq__(self, other):
        if not isinstance(other, CameraModel):
            return NotImplemented
        return (self.width == other.width and self.height == other.height
                and self.distortion_model == other.distortion_model
                and self.frame_id == other.frame_id
                and all(np.array_equal(getattr(self, n), getattr(other, n)) for n in 'KDRP'))

    __hash__ = None

    @property
    def fx(self) -> float:
        """Rectified focal length along x (pixels), P[0,0]."""
        return float(self.P[0, 0])

    @property
    def fy(self) -> float:
        return float(self.P[1, 1])

    @property
    def cx(self) -> float:
        return float(self.P[0, 2])

    @property
    def cy(self) -> float:
        return float(self.P[1, 2])


def camera_info_to_model(msg: CameraInfo) -> CameraModel:
    """sensor_msgs/CameraInfo -> CameraModel (ValueError on wrong sizes or non-finite values)."""
    return CameraModel(width=msg.width, height=msg.height, K=msg.k, D=np.asarray(msg.d),
                       R=msg.r, P=msg.p, distortion_model=msg.distortion_model,
                       frame_id=msg.header.frame_id)


def model_to_camera_info(model: CameraModel, stamp=None) -> CameraInfo:
    """CameraModel -> sensor_msgs/CameraInfo (no binning, full-image ROI)."""
    msg = CameraInfo(header=make_header(model.frame_id, stamp), width=model.width,
                     height=model.height, distortion_model=model.distortion_model)
    msg.k = model.K.reshape(-1).copy()
    msg.r = model.R.reshape(-1).copy()
    msg.p = model.P.reshape(-1).copy()
    msg.d = array.array('d', model.D.tobytes())
    return msg


def make_camera_info(width: int, height: int, fx: float, fy: float, cx: float, cy: float,
                     frame_id: str, baseline_m: float = 0.0, stamp=None) -> CameraInfo:
    """CameraInfo of an ideal (undistorted, already rectified) pinhole camera.

    For the right camera of a stereo pair give ``baseline_m`` > 0 (metres between the
    optical centres): P[0,3] = -fx * baseline_m, as the CameraInfo docs prescribe.
    """
    return model_to_camera_info(ideal_camera_model(width, height, fx, fy, cx, cy, frame_id, baseline_m),
                                stamp)


def ideal_camera_model(width: int, height: int, fx: float, fy: float, cx: float, cy: float,
                       frame_id: str = '', baseline_m: float = 0.0) -> CameraModel:
    """CameraModel of an ideal (undistorted, already rectified) pinhole camera: R = I,
    P = K, and P[0,3] = -fx * baseline_m for the right camera of a stereo pair."""
    K = [[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]
    P = [[fx, 0.0, cx, -fx * baseline_m], [0.0, fy, cy, 0.0], [0.0, 0.0, 1.0, 0.0]]
    return CameraModel(width=width, height=height, K=K, D=np.zeros(5), R=np.eye(3), P=P,
                       distortion_model=PLUMB_BOB, frame_id=frame_id)


def ideal_stereo_pair(intr: dict) -> tuple:
    """(left, right) ideal CameraModels from intrinsics {'width', 'height', 'fx', 'fy',
    'cx', 'cy', 'baseline_m'}: what the embedded simulator's camera_intrinsics() and the
    rendered test scene's intrinsics() return."""
    k = [intr[n] for n in ('width', 'height', 'fx', 'fy', 'cx', 'cy')]
    return ideal_camera_model(*k), ideal_camera_model(*k, baseline_m=float(intr['baseline_m']))


def _as_model(info) -> CameraModel:
    return info if isinstance(info, CameraModel) else camera_info_to_model(info)


def stereo_baseline_m(left, right) -> float:
    """Baseline (metres) of a rectified pair: -P_right[0,3] / P_right[0,0]."""
    right = _as_model(right)
    return -float(right.P[0, 3]) / float(right.P[0, 0])


def stereo_q_matrix(left, right) -> np.ndarray:
    """4x4 disparity-to-depth matrix Q of a rectified pair, OpenCV's convention.

    ``[X Y Z W]^T = Q [u v d 1]^T`` gives the point (X/W, Y/W, Z/W) in metres in the left
    rectified optical frame, for pixel (u, v) of the left image with disparity
    d = u_left - u_right (pixels). Built from the P matrices (CameraModel or CameraInfo):
    f = P_left[0,0], baseline = -P_right[0,3]/P_right[0,0], and the term (cx_l - cx_r)
    that OpenCV's stereoRectify adds when the principal points differ.
    """
    left, right = _as_model(left), _as_model(right)
    baseline = stereo_baseline_m(left, right)
    if not baseline > 0.0:
        raise ValueError(f'stereo baseline must be > 0 (right camera P[0,3] < 0), got {baseline} m '
                         f'from P_right[0,3] = {right.P[0, 3]}, P_right[0,0] = {right.P[0, 0]}')
    for name, a, b in (('fx', left.fx, right.fx), ('fy', left.fy, right.fy),
                       ('cy', left.cy, right.cy)):
        if abs(a - b) > _RECTIFIED_TOL * max(abs(a), abs(b), 1.0):
            raise ValueError(f'not a rectified pair: left {name} {a} != right {name} {b}')
    f = left.fx
    return np.array([[1.0, 0.0, 0.0, -left.cx],
                     [0.0, 1.0, 0.0, -left.cy],
                     [0.0, 0.0, 0.0, f],
                     [0.0, 0.0, 1.0 / baseline, (right.cx - left.cx) / baseline]])
