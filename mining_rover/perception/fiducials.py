"""Absolute pose fixes from the base's fiducial boards (sim/fiducials.py: the board map).

``FiducialLocalizer.fix(left, right)`` detects AprilTag 36h11 tags (OpenCV aruco) in the
rectified left and right images, solves the left camera's pose in the map from the known
boards' corners (IPPE for one square tag, Zhang/Collins & Bartoli 2014 "Infinitesimal
Plane-based Pose Estimation", IJCV 109; then Levenberg-Marquardt on every known corner),
does the same in the right image, and returns base_link's planar pose (x, y, yaw) in the
map with a covariance: the projection Jacobian's covariance at the measured reprojection
error, plus the left/right disagreement (two views of one rigid rig must agree; where
they do not, a corner was mislocated). A fix is refused, with the reason, when its
reprojection error, range, viewing angle, tilt or stereo disagreement is out of
``FixLimits``.

Frames: images are rectified (sensor_msgs/CameraInfo P; the right camera sits
``baseline_m`` along the left optical frame's +x); ``T_base_cam`` is base_link -> left
optical frame. Pure Python (numpy, OpenCV); no rclpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from mining_rover.sim.fiducials import FiducialMap, check_family

#: aruco's cornerSubPix puts a tag's outer corners this far (px) inside its black square
#: on antialiased 20-41 px tags (measured: 0.24 px mean over 48 synthetic tags drawn at 8x
#: and area-downsampled, any window size; a 2 % range bias at 24 px): ``detect_tags``
#: moves the quad's edges out by it.
CORNER_INWARD_BIAS_PX = 0.24
#: Corner localisation noise floor (px): rendered, aliased edges at ~3 px a cell.
CORNER_SIGMA_FLOOR_PX = 0.3
#: Error floor growing with the square of range r (m) to the nearest tag: sd = k * r^2 in
#: position (m) and heading (rad), beyond what the corner Jacobian says (the corners'
#: errors are correlated, not independent). Measured on rendered 320x240 pairs of the
#: lunar boards, 0-65 deg off their normal: 1-3 cm at 2.5-3 m, 1-5.5 cm and <= 0.5 deg at
#: 4-4.5 m, 1.5-9 cm and <= 0.85 deg at 5.5 m (the test's rendered scenes).
RANGE_SD_M_PER_M2 = 0.003
RANGE_SD_RAD_PER_M2 = 0.0005


@dataclass(frozen=True)
class FixLimits:
    """When a fix is refused: reprojection error (px RMS), range to the nearest tag (m),
    viewing angle off a tag's normal (deg), base tilt off level (deg), left/right position
    and heading disagreement (m, deg)."""
    max_reprojection_px: float = 1.5
    max_range_m: float = 6.0
    max_view_angle_deg: float = 65.0
    max_tilt_deg: float = 20.0
    max_stereo_gap_m: float = 0.15
    max_stereo_gap_deg: float = 3.0

    def __post_init__(self):
        for k, v in self.__dict__.items():
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f'fix limit {k} must be a finite number > 0, got {v!r}')


@dataclass(frozen=True)
class Fix:
    """One fiducial fix: base_link (x, y m, yaw rad) in map with its 3x3 covariance, or a
    refusal (``ok`` False, ``reason`` says why). ``tags`` were used; ``reprojection_px``,
    ``range_m`` and ``stereo_gap_m`` are what the limits judged."""
    ok: bool
    reason: str = ''
    x: float = math.nan
    y: float = math.nan
    yaw: float = math.nan
    cov: np.ndarray = field(default_factory=lambda: np.full((3, 3), np.nan))
    tags: tuple = ()
    reprojection_px: float = math.nan
    range_m: float = math.nan
    stereo_gap_m: float = math.nan


def make_detector(family: str = 'apriltag_36h11'):
    """An aruco detector for ``family`` with subpixel corner refinement; ValueError for
    another family (the boards carry 36h11 only)."""
    check_family(family, 'tag_family')
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11), params)


def detect_tags(image: np.ndarray, detector) -> dict:
    """{tag_id: (4, 2) float corners px, aruco order} found in a grey or RGB image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    corners, ids, _ = detector.detectMarkers(np.ascontiguousarray(grey))
    if ids is None:
        return {}
    return {int(i): expand_quad(c.reshape(4, 2).astype(np.float64), CORNER_INWARD_BIAS_PX)
            for i, c in zip(ids.ravel(), corners)}


def expand_quad(q: np.ndarray, offset_px: float) -> np.ndarray:
    """The quad (4, 2) whose four edge lines lie ``offset_px`` further out (each corner
    moves along its two edges' outward normals n1, n2 by offset * (n1 + n2) / (1 + n1.n2))."""
    centre = q.mean(axis=0)
    normals = []
    for k in range(4):
        e = q[(k + 1) % 4] - q[k]
        n = np.array([e[1], -e[0]]) / max(np.linalg.norm(e), 1e-9)
        if n @ (q[k] - centre) < 0:
            n = -n
        normals.append(n)
    out = q.copy()
    for k in range(4):
        n1, n2 = normals[k - 1], normals[k]    # the edges ending and starting at corner k
        out[k] = q[k] + offset_px * (n1 + n2) / max(1.0 + float(n1 @ n2), 1e-6)
    return out


def _planar(T_map_base: np.ndarray) -> np.ndarray:
    return np.array([T_map_base[0, 3], T_map_base[1, 3], math.atan2(T_map_base[1, 0], T_map_base[0, 0])])


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class FiducialLocalizer:
    """Fixes from one board map and one rectified stereo pair (see the module docstring)."""

    def __init__(self, board_map: FiducialMap, K: np.ndarray, baseline_m: float, T_base_cam: np.ndarray,
                 limits: FixLimits | None = None):
        if board_map is None or not board_map.boards:
            raise ValueError('fiducial board map is empty: the world names no <mining:fiducials>')
        check_family(board_map.family, 'board map family')
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError(f'camera matrix must be 3x3 finite with fx, fy > 0, got {K.tolist()}')
        if not (math.isfinite(baseline_m) and baseline_m > 0):
            raise ValueError(f'stereo baseline must be > 0 m, got {baseline_m!r}')
        self.boards = board_map.by_id()
        self.K = K
        self.baseline_m = float(baseline_m)
        self.T_base_cam = np.asarray(T_base_cam, dtype=np.float64)
        self.limits = limits or FixLimits()
        self.detector = make_detector(board_map.family)
        self._T_left_right = np.eye(4)
        self._T_left_right[0, 3] = self.baseline_m

    # -- one camera -----------------------------------------------------------------------
    def _solve(self, found: dict) -> tuple | None:
        """(rvec, tvec, object points, image points) of the map -> camera pose from the
        known tags in ``found``; None with no known tag."""
        ids = sorted(i for i in found if i in self.boards)
        if not ids:
            return None
        obj = np.vstack([self.boards[i].corners() for i in ids])
        img = np.vstack([found[i] for i in ids])
        # initial pose from the largest tag alone (IPPE: the square's exact solution)
        big = max(ids, key=lambda i: cv2.contourArea(found[i].astype(np.float32)))
        b = self.boards[big]
        h = b.tag_size_m / 2
        local = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
        ok, rv, tv = cv2.solvePnP(local, found[big], self.K, None, flags=cv2.SOLVEPNP_IPPE_SQUARE)
        if not ok:
            return None
        R_cb, _ = cv2.Rodrigues(rv)
        T_cb = np.eye(4)
        T_cb[:3, :3], T_cb[:3, 3] = R_cb, tv.ravel()
        T_cm = T_cb @ np.linalg.inv(b.pose())
        rv0, _ = cv2.Rodrigues(T_cm[:3, :3])
        rv, tv = cv2.solvePnPRefineLM(obj, img, self.K, None, rv0.copy(), T_cm[:3, 3].reshape(3, 1).copy())
        return rv, tv, obj, img, tuple(ids)

    @staticmethod
    def _T(rv, tv) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = cv2.Rodrigues(rv)[0]
        T[:3, 3] = np.ravel(tv)
        return T

    def _base_planar(self, T_cam_map: np.ndarray, right: bool = False) -> np.ndarray:
        T_map_cam = np.linalg.inv(T_cam_map)
        if right:
            T_map_cam = T_map_cam @ np.linalg.inv(self._T_left_right)
        return _planar(T_map_cam @ np.linalg.inv(self.T_base_cam))

    def _covariance(self, rv, tv, obj, rms_px: float) -> np.ndarray:
        """3x3 covariance of base (x, y, yaw) from the projection Jacobian at ``rms_px``."""
        _, J = cv2.projectPoints(obj, rv, tv, self.K, None)
        J = J[:, :6]
        sigma = max(rms_px, CORNER_SIGMA_FLOOR_PX)
        cov6 = sigma ** 2 * np.linalg.pinv(J.T @ J)
        p0 = np.concatenate([np.ravel(rv), np.ravel(tv)])
        f0 = self._base_planar(self._T(p0[:3], p0[3:]))
        G = np.zeros((3, 6))
        for k in range(6):
            d = np.zeros(6)
            d[k] = 1e-6
            f = self._base_planar(self._T(p0[:3] + d[:3], p0[3:] + d[3:]))
            diff = f - f0
            diff[2] = _wrap(diff[2])
            G[:, k] = diff / 1e-6
        return G @ cov6 @ G.T

    def _checks(self, T_cam_map: np.ndarray, ids: tuple, rms: float) -> tuple:
        """(reason or '', range to the nearest tag m) for one camera's solution."""
        lim = self.limits
        if rms > lim.max_reprojection_px:
            return f'reprojection error {rms:.2f} px > {lim.max_reprojection_px} px', math.nan
        cam = np.linalg.inv(T_cam_map)[:3, 3]
        ranges = []
        for i in ids:
            b = self.boards[i]
            ray = cam - np.array([b.x, b.y, b.z])
            rng = float(np.linalg.norm(ray))
            ranges.append(rng)
            normal = b.pose()[:3, 2]
            angle = math.degrees(math.acos(np.clip(ray @ normal / max(rng, 1e-9), -1.0, 1.0)))
            if angle > lim.max_view_angle_deg:
                return f'tag {i} seen {angle:.0f} deg off its normal > {lim.max_view_angle_deg} deg', rng
        rng = min(ranges)
        if rng > lim.max_range_m:
            return f'nearest tag {rng:.1f} m away > {lim.max_range_m} m', rng
        R_mb = (np.linalg.inv(T_cam_map) @ np.linalg.inv(self.T_base_cam))[:3, :3]
        tilt = math.degrees(math.acos(np.clip(R_mb[2, 2], -1.0, 1.0)))
        if tilt > lim.max_tilt_deg:
            return f'base tilted {tilt:.0f} deg > {lim.max_tilt_deg} deg (a flipped solution)', rng
        return '', rng

    # -- the stereo fix -----------------------------------------------------------------
    def fix(self, left: np.ndarray, right: np.ndarray | None = None) -> Fix | None:
        """The fix from one rectified pair (``right`` None: the left image alone, no
        stereo check); None when no known tag is in the left image."""
        found = detect_tags(left, self.detector)
        sol = self._solve(found)
        if sol is None:
            return None
        rv, tv, obj, img, ids = sol
        proj, _ = cv2.projectPoints(obj, rv, tv, self.K, None)
        rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
        T_cm = self._T(rv, tv)
        reason, rng = self._checks(T_cm, ids, rms)
        if reason:
            return Fix(False, reason, tags=ids, reprojection_px=rms, range_m=rng)
        est = self._base_planar(T_cm)
        cov = self._covariance(rv, tv, obj, rms)
        gap = math.nan
        if right is not None:
            sol_r = self._solve(detect_tags(right, self.detector))
            if sol_r is not None:
                T_rm = self._T(sol_r[0], sol_r[1])
                est_r = self._base_planar(T_rm, right=True)
                d = est_r - est
                d[2] = _wrap(d[2])
                gap = float(math.hypot(d[0], d[1]))
                lim = self.limits
                if gap > lim.max_stereo_gap_m or abs(math.degrees(d[2])) > lim.max_stereo_gap_deg:
                    return Fix(False, f'left and right fixes {gap:.2f} m, {math.degrees(d[2]):.1f} deg '
                               f'apart > {lim.max_stereo_gap_m} m, {lim.max_stereo_gap_deg} deg',
                               tags=ids, reprojection_px=rms, range_m=rng, stereo_gap_m=gap)
                # two views: average, and count their disagreement as error
                est = est + d / 2
                cov = cov / 2 + np.diag((d / 2) ** 2)
        floor = np.array([RANGE_SD_M_PER_M2, RANGE_SD_M_PER_M2, RANGE_SD_RAD_PER_M2]) * rng ** 2
        cov = cov + np.diag(floor ** 2)
        return Fix(True, '', float(est[0]), float(est[1]), _wrap(float(est[2])), cov, ids, rms, rng, gap)
