"""Stereo visual odometry: the rover's motion between two stereo frames from the ground.

Wheel odometry cannot see the rover slide: on loose regolith in low gravity a turn in
place moves a skid-steer rover sideways by decimetres (measured in the embedded Mars
world: 0.35 m over the first survey turn, none of it in the wheel odometry), and on a
slope it creeps downhill while its wheels stand still. The ground seen by the stereo
camera does move in the image, so the camera's motion is measured from it, as planetary
rovers do (Maimone, Cheng & Matthies, "Two years of visual odometry on the Mars
Exploration Rovers", J. Field Robotics 24(3), 2007: features with stereo depth tracked
frame to frame, motion from 3-D to 2-D correspondences with RANSAC).

Per frame, with OpenCV throughout:

1. features (Shi-Tomasi corners, ``cv2.goodFeaturesToTrack``) on the left rectified
   image, only where the disparity gives a depth in [min_range_m, max_range_m] and the
   point lies outside the rover's own body (the drums and arms move with the camera);
2. their 3-D points from the disparity (the 3x3 median, so one bad pixel does not
   place a corner on the background);
3. next frame: the corners tracked with pyramidal Lucas-Kanade
   (``cv2.calcOpticalFlowPyrLK``), kept when tracking back lands within
   ``forward_backward_px`` of where they started;
4. the camera motion from the previous 3-D points and their tracked pixels:
   ``cv2.solvePnPRansac`` then Levenberg-Marquardt on the inliers
   (``cv2.solvePnPRefineLM``);
5. the motion checked against what a rover can do (``max_speed_mps``,
   ``max_yaw_rate_radps``) and expressed in base_link.

A frame that fails any step gives no motion (``VoStep.ok`` False with the reason) and
becomes the reference for the next one: nothing from it is guessed.

Pure numpy/OpenCV (no rclpy). Frames: images and points in the left rectified optical
frame; the motion is base_link at the previous frame -> base_link at this one (4x4).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np


@dataclass(frozen=True)
class VoParams:
    """Everything visual odometry is configured by (stereo_node's ``vo_*`` parameters)."""
    #: Under the raking polar sun most of the ground is dim: relative to the strongest
    #: corner (a sunlit rock edge) the regolith's corners score low, and with 0.01 and 300
    #: features a third of the frames taken while turning at 0.4-0.7 rad/s kept fewer than
    #: 25 tracks (15-minute lunar mission); 0.001 and 400 track through those turns.
    max_features: int = 400
    quality_level: float = 0.001         # of the strongest corner's score
    min_feature_distance_px: int = 6
    lk_window_px: int = 21
    lk_levels: int = 3                   # pyramid levels: 2^3 * 21 px of motion at most
    forward_backward_px: float = 1.0
    min_range_m: float = 0.8
    #: Depth error grows with z^2 (sigma_z = z^2 sigma_d / (f B)): at 320 px wide, B =
    #: 0.2 m, 0.25 px, 6 m is already +-0.3 m; far points weigh in through RANSAC's
    #: pixel error anyway, but their outliers are wild.
    max_range_m: float = 6.0
    #: Points within this horizontal distance of base_link are the rover itself (the
    #: drums reach ~0.9 m out): never a feature.
    body_radius_m: float = 1.1
    ransac_reprojection_px: float = 2.0
    ransac_iterations: int = 100
    min_inliers: int = 25
    min_inlier_ratio: float = 0.3
    max_speed_mps: float = 1.0           # 3x the rover's top speed
    max_yaw_rate_radps: float = 1.5

    def __post_init__(self):
        checks = {
            'max_features': self.max_features >= 10,
            'quality_level': 0.0 < self.quality_level < 1.0,
            'min_feature_distance_px': self.min_feature_distance_px >= 1,
            'lk_window_px': self.lk_window_px >= 5 and self.lk_window_px % 2 == 1,
            'lk_levels': 0 <= self.lk_levels <= 6,
            'forward_backward_px': self.forward_backward_px > 0.0,
            'min_range_m': self.min_range_m > 0.0,
            'max_range_m': self.max_range_m > self.min_range_m,
            'body_radius_m': self.body_radius_m >= 0.0,
            'ransac_reprojection_px': self.ransac_reprojection_px > 0.0,
            'ransac_iterations': self.ransac_iterations >= 10,
            'min_inliers': self.min_inliers >= 6,
            'min_inlier_ratio': 0.0 < self.min_inlier_ratio <= 1.0,
            'max_speed_mps': self.max_speed_mps > 0.0,
            'max_yaw_rate_radps': self.max_yaw_rate_radps > 0.0,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f'visual odometry: {name} = {value!r} is out of range')

    @classmethod
    def from_dict(cls, values: dict) -> 'VoParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VoStep:
    """One frame's result. ``motion``: base_link at the previous frame -> base_link at
    this one (4x4, metres), None when not ``ok``; ``reason`` says why not."""
    ok: bool
    motion: np.ndarray | None
    dt_s: float
    tracked: int
    inliers: int
    rms_px: float
    reason: str = ''


def _se3(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, np.asarray(t).reshape(3)
    return T


def _inverse(T: np.ndarray) -> np.ndarray:
    R, t = T[:3, :3], T[:3, 3]
    return _se3(R.T, -R.T @ t)


class StereoVisualOdometry:
    """Frame-to-frame stereo VO (see the module docstring).

    ``K``: 3x3 intrinsics of the left rectified image the features live in;
    ``Q_disparity``: the 4x4 reprojection matrix of the disparity image (which may be a
    downscaled copy: ``scale`` = full size / disparity size); ``T_base_opt``: base_link ->
    left rectified optical frame (4x4).
    """

    def __init__(self, K, Q_disparity, scale: int, T_base_opt, params: VoParams = VoParams()):
        self.K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        self.Q = np.asarray(Q_disparity, dtype=np.float64).reshape(4, 4)
        self.scale = int(scale)
        if self.scale < 1:
            raise ValueError(f'disparity scale must be >= 1, got {scale}')
        self.T_bo = np.asarray(T_base_opt, dtype=np.float64).reshape(4, 4)
        self.T_ob = _inverse(self.T_bo)
        self.params = params
        self._prev = None            # (stamp_s, gray, (N,2) float32 px, (N,3) float64 points)

    @classmethod
    def from_pipeline(cls, pipeline, T_base_opt, params: VoParams = VoParams()):
        """For the images and disparity of a mining_rover.perception.stereo.StereoPipeline."""
        Qf = pipeline.rectifier.Q
        K = np.array([[Qf[2, 3], 0.0, -Qf[0, 3]], [0.0, Qf[2, 3], -Qf[1, 3]], [0.0, 0.0, 1.0]])
        return cls(K, pipeline.Q, pipeline.scale, T_base_opt, params)

    def reset(self) -> None:
        self._prev = None

    # -- features with depth ---------------------------------------------------------
    def _depth_mask(self, disparity: np.ndarray) -> tuple:
        """(points (H', W', 3) in the optical frame, mask of usable pixels) at disparity scale."""
        p, Q = self.params, self.Q
        h, w = disparity.shape
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        d = disparity.astype(np.float64)
        W = Q[3, 2] * d + Q[3, 3]
        with np.errstate(invalid='ignore', divide='ignore'):
            inv = 1.0 / W
            pts = np.stack([(u + Q[0, 3]) * inv, (v + Q[1, 3]) * inv, Q[2, 3] * inv], axis=-1)
        z = pts[..., 2]
        ok = np.isfinite(d) & (d > 0) & np.isfinite(z) & (z >= p.min_range_m) & (z <= p.max_range_m)
        if p.body_radius_m > 0.0:
            b = pts @ self.T_bo[:3, :3].T + self.T_bo[:3, 3]
            with np.errstate(invalid='ignore'):
                ok &= np.hypot(b[..., 0], b[..., 1]) >= p.body_radius_m
        return pts, ok

    def _features(self, gray: np.ndarray, disparity: np.ndarray) -> tuple:
        """Corners of the full-size image with a trusted 3-D point: ((N,2) px, (N,3) m)."""
        p, s = self.params, self.scale
        pts, ok = self._depth_mask(disparity)
        mask = ok.astype(np.uint8) * 255
        if s > 1:
            mask = cv2.resize(mask, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)
        corners = cv2.goodFeaturesToTrack(gray, p.max_features, p.quality_level,
                                          p.min_feature_distance_px, mask=mask, blockSize=5)
        if corners is None:
            return np.empty((0, 2), np.float32), np.empty((0, 3))
        uv = corners.reshape(-1, 2)
        # full-size pixel -> disparity pixel (the centre convention of StereoPipeline's Q)
        h, w = ok.shape
        cu = np.clip(np.rint((uv[:, 0] + 0.5) / s - 0.5).astype(int), 1, w - 2)
        cv_ = np.clip(np.rint((uv[:, 1] + 0.5) / s - 0.5).astype(int), 1, h - 2)
        # 3x3 median of the neighbourhood's valid points: a corner sits on an edge, where
        # one pixel's disparity may belong to the background
        nb = []
        for dv in (-1, 0, 1):
            for du in (-1, 0, 1):
                q = pts[cv_ + dv, cu + du].copy()
                q[~ok[cv_ + dv, cu + du]] = np.nan
                nb.append(q)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)      # all-NaN neighbourhoods
            xyz = np.nanmedian(np.stack(nb), axis=0)
        good = np.all(np.isfinite(xyz), axis=1) & ok[cv_, cu]
        return uv[good].astype(np.float32), xyz[good]

    # -- one frame -------------------------------------------------------------------
    def update(self, stamp_s: float, gray: np.ndarray, disparity: np.ndarray) -> VoStep:
        """Process one frame (grey uint8 left rectified image at full size, its disparity
        in px at 1/scale size, NaN = none). Returns the motion since the previous frame."""
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f'visual odometry needs a grey uint8 image, got {gray.dtype} {gray.shape}')
        expect = (gray.shape[0] // self.scale, gray.shape[1] // self.scale)
        if disparity.shape != expect:
            raise ValueError(f'disparity is {disparity.shape}, expected {expect} for a '
                             f'{gray.shape} image at scale {self.scale}')
        prev, self._prev = self._prev, None
        uv, xyz = self._features(gray, disparity)
        step = self._track(prev, stamp_s, gray) if prev is not None else \
            VoStep(False, None, 0.0, 0, 0, 0.0, 'first frame')
        self._prev = (float(stamp_s), gray, uv, xyz)
        return step

    def _track(self, prev, stamp_s: float, gray: np.ndarray) -> VoStep:
        p = self.params
        t0, g0, uv0, xyz0 = prev
        dt = float(stamp_s) - t0

        def fail(reason, tracked=0, inliers=0, rms=0.0):
            return VoStep(False, None, dt, tracked, inliers, rms, reason)

        if not dt > 0.0:
            return fail(f'frame not after the previous one (dt {dt:.3f} s)')
        if len(uv0) < p.min_inliers:
            return fail(f'{len(uv0)} features with depth in the previous frame (< {p.min_inliers})')
        lk = dict(winSize=(p.lk_window_px, p.lk_window_px), maxLevel=p.lk_levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        uv1, st1, _ = cv2.calcOpticalFlowPyrLK(g0, gray, uv0.reshape(-1, 1, 2), None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, g0, uv1, None, **lk)
        uv1, back = uv1.reshape(-1, 2), back.reshape(-1, 2)
        h, w = gray.shape
        keep = ((st1.ravel() == 1) & (st2.ravel() == 1)
                & (np.linalg.norm(back - uv0, axis=1) <= p.forward_backward_px)
                & (uv1[:, 0] >= 0) & (uv1[:, 0] <= w - 1) & (uv1[:, 1] >= 0) & (uv1[:, 1] <= h - 1))
        n = int(keep.sum())
        if n < p.min_inliers:
            return fail(f'{n} of {len(uv0)} features tracked (< {p.min_inliers})', n)
        obj, img = xyz0[keep].astype(np.float64), uv1[keep].astype(np.float64)
        ok, rvec, tvec, inl = cv2.solvePnPRansac(
            obj, img, self.K, None, iterationsCount=p.ransac_iterations,
            reprojectionError=p.ransac_reprojection_px, confidence=0.999, flags=cv2.SOLVEPNP_EPNP)
        ni = 0 if inl is None else len(inl)
        if not ok or ni < max(p.min_inliers, p.min_inlier_ratio * n):
            return fail(f'{ni} RANSAC inliers of {n} tracked features', n, ni)
        idx = inl.ravel()
        rvec, tvec = cv2.solvePnPRefineLM(obj[idx], img[idx], self.K, None, rvec, tvec)
        proj, _ = cv2.projectPoints(obj[idx], rvec, tvec, self.K, None)
        rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img[idx]) ** 2, axis=1))))
        R, _ = cv2.Rodrigues(rvec)
        T_cur_prev = _se3(R, tvec)                 # optical(prev) -> optical(now) coordinates
        motion = self.T_bo @ _inverse(T_cur_prev) @ self.T_ob
        dist = float(np.linalg.norm(motion[:2, 3]))
        yaw = abs(math.atan2(motion[1, 0], motion[0, 0]))
        if dist > p.max_speed_mps * dt or yaw > p.max_yaw_rate_radps * dt:
            return fail(f'implausible motion {dist:.2f} m, {math.degrees(yaw):.0f} deg in {dt:.2f} s',
                        n, ni, rms)
        return VoStep(True, motion, dt, n, ni, rms)
