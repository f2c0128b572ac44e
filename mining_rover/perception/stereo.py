"""Stereo: rectification, SGBM disparity, disparity -> 3-D points, and the depth error model.

Pure numpy/OpenCV (no rclpy, no message types). Frames: every point is in the left
*rectified* optical frame (z forward, x right, y down; metres). Disparity is in pixels,
d = u_left - u_right, float32 with NaN where there is no valid match.

Camera models are duck-typed: anything with ``width, height, K (3x3), D, R (3x3), P (3x4)``
as sensor_msgs/CameraInfo defines them (mining_rover.ros.camera_info.CameraModel fits).

Error model (Gallup et al., "Variable baseline/resolution stereo", CVPR 2008, eq. 1; any
stereo text): z = f B / d, so dz/dd = -z^2 / (f B) and

    sigma_z = z^2 * sigma_d / (f * B)

with sigma_d the disparity noise in pixels (SGBM's sub-pixel fit on textured regolith:
0.1-0.3 px, Hirschmueller 2008 sec. 4; we default to 0.25 px).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

#: SGBM fixed-point disparity scale (cv::StereoMatcher::DISP_SCALE = 16).
DISP_SCALE = 16
MODES = {'sgbm': cv2.STEREO_SGBM_MODE_SGBM, 'sgbm_3way': cv2.STEREO_SGBM_MODE_SGBM_3WAY,
         'hh': cv2.STEREO_SGBM_MODE_HH, 'hh4': cv2.STEREO_SGBM_MODE_HH4}
_IDENTITY_TOL = 1e-9


@dataclass(frozen=True)
class StereoParams:
    """Everything the stereo pipeline is configured by (config/stereo.yaml).

    SGBM fields follow cv2.StereoSGBM_create. p1/p2 = 0 picks 8*bs^2 and 32*bs^2 (the
    OpenCV sample's values for one channel). ``disp12_max_diff`` is SGBM's left-right
    consistency check: the max allowed difference (px) between the left->right and the
    right->left disparity; < 0 disables it.
    """
    num_disparities: int = 112   # the mast camera (0.8 m, pitched 0.45 rad) sees flat ground at
    #                              0.9 m depth in its bottom row: 105 px at 640x480. Fewer
    #                              disparities alias those pixels to far, wrong depths.
    min_disparity: int = 0
    block_size: int = 5
    p1: int = 0
    p2: int = 0
    uniqueness_ratio: int = 10
    speckle_window_size: int = 100
    speckle_range: int = 2
    disp12_max_diff: int = 1
    pre_filter_cap: int = 63
    texture_threshold: float = 2.0  # grey-level std in the matching window below which
    #                               a pixel has no texture (shadow): no disparity; 0 = off
    impulse_threshold: int = 40     # grey levels a pixel may stand above/below its 3x3
    #                                 median before it counts as a radiation hit; 0 = off
    mode: str = 'sgbm_3way'
    downscale: int = 1          # 1: full resolution, 2: match on a half-size pair
    threads: int = 0            # cv2.setNumThreads; 0 keeps OpenCV's default
    min_range_m: float = 0.85   # depth (z) limits of the published cloud
    max_range_m: float = 12.0
    pixel_stride: int = 1       # keep every n-th row and column in the cloud
    sigma_disparity_px: float = 0.25
    voxel_size_m: float = 0.0   # > 0: voxel down-sampling of the cloud
    outlier_neighbors: int = 0  # > 0: statistical outlier removal (Open3D)
    outlier_std_ratio: float = 2.0

    def __post_init__(self):
        problems = []
        if self.num_disparities <= 0 or self.num_disparities % 16:
            problems.append(f'num_disparities must be a positive multiple of 16, got {self.num_disparities}')
        if self.block_size < 1 or self.block_size % 2 == 0 or self.block_size > 11:
            problems.append(f'block_size must be odd in 1..11, got {self.block_size}')
        if self.mode not in MODES:
            problems.append(f'mode must be one of {sorted(MODES)}, got {self.mode!r}')
        if self.downscale not in (1, 2, 4):
            problems.append(f'downscale must be 1, 2 or 4, got {self.downscale}')
        if (self.num_disparities // self.downscale) % 16:
            problems.append(f'num_disparities / downscale must be a multiple of 16, got '
                            f'{self.num_disparities} / {self.downscale}')
        if self.p1 < 0 or self.p2 < 0 or (self.p1 or self.p2) and self.p2 <= self.p1:
            problems.append(f'need 0 <= p1 < p2 (or both 0 for defaults), got p1 {self.p1}, p2 {self.p2}')
        if not 0.0 < self.min_range_m < self.max_range_m:
            problems.append(f'need 0 < min_range_m < max_range_m, got {self.min_range_m}, {self.max_range_m}')
        if self.pixel_stride < 1:
            problems.append(f'pixel_stride must be >= 1, got {self.pixel_stride}')
        if not self.sigma_disparity_px > 0.0:
            problems.append(f'sigma_disparity_px must be > 0, got {self.sigma_disparity_px}')
        if not 0 <= self.impulse_threshold <= 255:
            problems.append(f'impulse_threshold must be in 0..255, got {self.impulse_threshold}')
        if self.texture_threshold < 0.0:
            problems.append(f'texture_threshold must be >= 0, got {self.texture_threshold}')
        if self.voxel_size_m < 0.0 or self.outlier_neighbors < 0 or self.outlier_std_ratio <= 0.0:
            problems.append('voxel_size_m and outlier_neighbors must be >= 0, outlier_std_ratio > 0')
        if problems:
            raise ValueError('; '.join(problems))

    @classmethod
    def from_dict(cls, values: dict) -> 'StereoParams':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


def depth_sigma_m(z_m, focal_px: float, baseline_m: float, sigma_disparity_px: float):
    """Standard deviation (m) of stereo depth z (m): z^2 * sigma_d / (f * B)."""
    z = np.asarray(z_m, dtype=np.float64)
    return z * z * (sigma_disparity_px / (focal_px * baseline_m))


def q_matrix(P_left, P_right) -> np.ndarray:
    """4x4 reprojection matrix Q of a rectified pair from its 3x4 projection matrices.

    OpenCV's convention: [X Y Z W]^T = Q [u v d 1]^T, point = (X, Y, Z) / W in the left
    rectified optical frame (m). Baseline B = -P_right[0,3] / P_right[0,0] (CameraInfo).
    """
    Pl, Pr = np.asarray(P_left, float).reshape(3, 4), np.asarray(P_right, float).reshape(3, 4)
    f, cx, cy = Pl[0, 0], Pl[0, 2], Pl[1, 2]
    baseline = -Pr[0, 3] / Pr[0, 0]
    if not (np.isfinite(baseline) and baseline > 0.0):
        raise ValueError(f'stereo baseline must be > 0 (P_right[0,3] < 0), got {baseline} m')
    return np.array([[1.0, 0.0, 0.0, -cx],
                     [0.0, 1.0, 0.0, -cy],
                     [0.0, 0.0, 0.0, f],
                     [0.0, 0.0, 1.0 / baseline, (Pr[0, 2] - cx) / baseline]])


def _needs_rectification(model) -> bool:
    D = np.asarray(model.D, float).reshape(-1)
    K, P, R = np.asarray(model.K, float), np.asarray(model.P, float).reshape(3, 4), np.asarray(model.R, float)
    return bool(np.any(np.abs(D) > _IDENTITY_TOL) or np.any(np.abs(R - np.eye(3)) > _IDENTITY_TOL)
                or np.any(np.abs(K - P[:, :3]) > _IDENTITY_TOL * max(1.0, abs(K[0, 0]))))


class Rectifier:
    """Undistorts and rectifies a stereo pair with maps computed once from the camera models.

    When both cameras are already rectified (zero distortion, R = I, K = P[:, :3], as a
    simulator's ideal cameras are) the images pass through untouched, at no cost.
    """

    def __init__(self, left, right):
        if (left.width, left.height) != (right.width, right.height):
            raise ValueError(f'left camera is {left.width}x{left.height}, right {right.width}x{right.height}')
        self.size = (int(left.width), int(left.height))
        self.Q = q_matrix(left.P, right.P)
        self.focal_px = float(np.asarray(left.P, float).reshape(3, 4)[0, 0])
        self.baseline_m = float(1.0 / self.Q[3, 2])
        self._maps = None
        if _needs_rectification(left) or _needs_rectification(right):
            self._maps = [cv2.initUndistortRectifyMap(
                np.asarray(m.K, float), np.asarray(m.D, float).reshape(-1), np.asarray(m.R, float),
                np.asarray(m.P, float).reshape(3, 4)[:, :3], self.size, cv2.CV_16SC2)
                for m in (left, right)]

    @property
    def passthrough(self) -> bool:
        return self._maps is None

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple:
        if self._maps is None:
            return left, right
        return tuple(cv2.remap(img, m1, m2, cv2.INTER_LINEAR)
                     for img, (m1, m2) in zip((left, right), self._maps))


def to_gray(image: np.ndarray, encoding: str = 'rgb8') -> np.ndarray:
    """uint8 grey image from mono8 / rgb8 / bgr8 / rgba8 / bgra8 (ValueError otherwise)."""
    if image.ndim == 2 and image.dtype == np.uint8:
        return image
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f'expected a uint8 mono or colour image, '
                         f'got shape {image.shape} dtype {image.dtype}')
    code = {'rgb8': cv2.COLOR_RGB2GRAY, 'bgr8': cv2.COLOR_BGR2GRAY, 'rgba8': cv2.COLOR_RGBA2GRAY,
            'bgra8': cv2.COLOR_BGRA2GRAY, '8UC3': cv2.COLOR_BGR2GRAY,
            '8UC4': cv2.COLOR_BGRA2GRAY}.get(encoding)
    if code is None:
        raise ValueError(f'cannot convert encoding {encoding!r} to grey')
    return cv2.cvtColor(image, code)


def remove_impulses(gray: np.ndarray, threshold: int) -> np.ndarray:
    """Replace isolated outlier pixels (radiation hits on the detector: single saturated
    or dead pixels) by their 3x3 median; texture within ``threshold`` grey levels of the
    median is left alone."""
    med = cv2.medianBlur(gray, 3)
    hit = cv2.absdiff(gray, med) > threshold
    if not hit.any():
        return gray
    out = gray.copy()
    out[hit] = med[hit]
    return out


def low_texture(gray: np.ndarray, window: int, threshold: float) -> np.ndarray:
    """Pixels whose grey-level standard deviation over a ``window`` square is below
    ``threshold`` (grey levels)."""
    g = gray.astype(np.float32)
    mean = cv2.blur(g, (window, window))
    mean_sq = cv2.blur(g * g, (window, window))
    return (mean_sq - mean * mean) < threshold * threshold


def make_matcher(p: StereoParams, num_disparities: int | None = None, min_disparity: int | None = None):
    """cv2.StereoSGBM configured from StereoParams (for one channel, grey input)."""
    bs = p.block_size
    return cv2.StereoSGBM_create(
        minDisparity=p.min_disparity if min_disparity is None else min_disparity,
        numDisparities=num_disparities or p.num_disparities, blockSize=bs,
        P1=p.p1 or 8 * bs * bs, P2=p.p2 or 32 * bs * bs, disp12MaxDiff=p.disp12_max_diff,
        preFilterCap=p.pre_filter_cap, uniquenessRatio=p.uniqueness_ratio,
        speckleWindowSize=p.speckle_window_size, speckleRange=p.speckle_range, mode=MODES[p.mode])


@dataclass
class StereoResult:
    """One processed pair. ``disparity`` is float32 (px at ``scale``), NaN = no match;
    ``points`` (N, 3) float32 in the left rectified optical frame (m); ``sigma_z`` (N,)
    float32 depth standard deviations (m); ``timing_ms`` per stage."""
    disparity: np.ndarray
    points: np.ndarray
    sigma_z: np.ndarray
    focal_px: float          # of the disparity image (divided by the downscale)
    baseline_m: float
    min_disparity: float
    max_disparity: float
    timing_ms: dict
    #: The grey left image after rectification, full size (what visual odometry tracks).
    left_rect: np.ndarray | None = None


def disparity_to_points(raw: np.ndarray, Q: np.ndarray, d_min_px: float, d_max_px: float,
                        stride: int = 1, scale: float = DISP_SCALE) -> tuple:
    """Valid pixels of a fixed-point (or float, scale=1) disparity -> ((N, 3) float32 points, (N,) depth).

    Only pixels with d_min_px <= d <= d_max_px are reprojected (direct math with Q on
    those pixels, which is cheaper than cv2.reprojectImageTo3D over the whole image when
    a fraction is valid). Frame: that of Q (left rectified optical), metres.
    """
    sub = raw[::stride, ::stride] if stride > 1 else raw
    lo, hi = d_min_px * scale, d_max_px * scale
    mask = (sub >= lo) & (sub <= hi)
    idx = np.flatnonzero(mask)
    w = sub.shape[1]
    v, u = np.divmod(idx, w)
    d = sub.reshape(-1)[idx].astype(np.float32) * np.float32(1.0 / scale)
    u = u.astype(np.float32) * stride
    v = v.astype(np.float32) * stride
    Wi = np.float32(1.0) / (np.float32(Q[3, 2]) * d + np.float32(Q[3, 3]))
    pts = np.empty((idx.size, 3), np.float32)
    pts[:, 0] = (u + np.float32(Q[0, 3])) * Wi
    pts[:, 1] = (v + np.float32(Q[1, 3])) * Wi
    pts[:, 2] = np.float32(Q[2, 3]) * Wi
    return pts, pts[:, 2]


class StereoPipeline:
    """Rectify -> SGBM (+ left-right check, speckle filter) -> cloud (+ optional filters).

    Build once per camera pair (maps and the matcher are cached); call ``process`` per
    frame with uint8 images (grey or colour).
    """

    def __init__(self, left_model, right_model, params: StereoParams = StereoParams()):
        self.params = params
        self.rectifier = Rectifier(left_model, right_model)
        s = params.downscale
        self.scale = s
        self.matcher = make_matcher(params, params.num_disparities // s, params.min_disparity // s)
        Q = self.rectifier.Q.copy()
        if s > 1:  # pixel (u', v') of the half-size image is ((u'+0.5)s-0.5, ...) at full size
            Q[0, 3] = -((-Q[0, 3] + 0.5) / s - 0.5)
            Q[1, 3] = -((-Q[1, 3] + 0.5) / s - 0.5)
            Q[2, 3] /= s
            Q[3, 3] /= s  # (cx_r - cx_l) / B in the scaled image's pixels
        self.Q = Q
        self.focal_px = self.rectifier.focal_px / s
        self.baseline_m = self.rectifier.baseline_m
        fB = self.focal_px * self.baseline_m
        self.d_min_px = max(fB / params.max_range_m, 1.0 / DISP_SCALE)
        self.d_max_px = fB / params.min_range_m
        if params.threads:
            cv2.setNumThreads(params.threads)

    @property
    def num_disparities(self) -> int:
        return self.params.num_disparities // self.scale

    def compute_raw(self, left_gray: np.ndarray, right_gray: np.ndarray) -> np.ndarray:
        """int16 SGBM disparity (px * 16) of rectified grey images at the working scale."""
        if self.scale > 1:
            size = (left_gray.shape[1] // self.scale, left_gray.shape[0] // self.scale)
            left_gray = cv2.resize(left_gray, size, interpolation=cv2.INTER_AREA)
            right_gray = cv2.resize(right_gray, size, interpolation=cv2.INTER_AREA)
        raw = self.matcher.compute(left_gray, right_gray)
        if self.params.texture_threshold > 0.0:
            # SGBM's path costs carry disparities into textureless (shadowed) areas;
            # there we know nothing, so we say nothing (StereoBM's textureThreshold idea).
            raw[low_texture(left_gray, self.params.block_size + 2, self.params.texture_threshold)] = \
                (self.matcher.getMinDisparity() - 1) * DISP_SCALE
        return raw

    def process(self, left: np.ndarray, right: np.ndarray, encoding: str = 'rgb8',
                want_disparity: bool = True) -> StereoResult:
        p = self.params
        if left.shape != right.shape or left.dtype != right.dtype:
            raise ValueError(f'left image {left.shape} {left.dtype} != right {right.shape} {right.dtype}')
        if (left.shape[1], left.shape[0]) != self.rectifier.size:
            raise ValueError(f'images are {left.shape[1]}x{left.shape[0]}, cameras '
                             f'{self.rectifier.size[0]}x{self.rectifier.size[1]}')
        t0 = time.perf_counter()
        lg, rg = to_gray(left, encoding), to_gray(right, encoding)
        if p.impulse_threshold > 0:
            lg, rg = remove_impulses(lg, p.impulse_threshold), remove_impulses(rg, p.impulse_threshold)
        lg, rg = self.rectifier.rectify(lg, rg)
        t1 = time.perf_counter()
        raw = self.compute_raw(lg, rg)
        t2 = time.perf_counter()
        pts, z = disparity_to_points(raw, self.Q, self.d_min_px, self.d_max_px, p.pixel_stride)
        if p.voxel_size_m > 0.0 or p.outlier_neighbors > 0:
            from mining_rover.perception.cloud_filters import statistical_outliers, voxel_downsample
            if p.voxel_size_m > 0.0:
                pts = voxel_downsample(pts, p.voxel_size_m)
            if p.outlier_neighbors > 0:
                pts = pts[~statistical_outliers(pts, p.outlier_neighbors, p.outlier_std_ratio)]
            z = pts[:, 2]
        sigma = (z * z * np.float32(p.sigma_disparity_px / (self.focal_px * self.baseline_m))
                 ).astype(np.float32)
        t3 = time.perf_counter()
        disp = None
        if want_disparity:
            disp = raw.astype(np.float32) * np.float32(1.0 / DISP_SCALE)
            disp[raw < self.d_min_px * DISP_SCALE] = np.nan
        t4 = time.perf_counter()
        return StereoResult(disparity=disp, points=pts, sigma_z=sigma, focal_px=self.focal_px,
                            baseline_m=self.baseline_m, min_disparity=float(p.min_disparity // self.scale),
                            max_disparity=float((p.min_disparity + p.num_disparities) // self.scale),
                            timing_ms={'rectify': 1e3 * (t1 - t0), 'sgbm': 1e3 * (t2 - t1),
                                       'cloud': 1e3 * (t3 - t2), 'disparity_image': 1e3 * (t4 - t3)},
                            left_rect=lg)
