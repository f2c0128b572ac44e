"""Point-cloud filters: range/validity, voxel down-sampling, statistical outlier removal.

Arrays are (N, 3) float32 in metres, any frame. Measured on a 640x480 SGBM cloud
(~150k points, bench/stereo_pipeline): the voxel filter and especially Open3D's
statistical outlier removal cost more than the elevation-map update they would save,
and SGBM's uniqueness + speckle + left-right checks already remove most outliers, so the
stereo pipeline leaves both off by default (config/stereo.yaml) and the map's per-cell
fusion and Mahalanobis gate absorb the rest.
"""
from __future__ import annotations

import numpy as np


def finite_points(points: np.ndarray) -> np.ndarray:
    """Rows with three finite coordinates (ValueError unless the input is (N, 3))."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f'points must be (N, 3), got shape {pts.shape}')
    return pts[np.isfinite(pts).all(axis=1)]


def range_filter(points: np.ndarray, min_range_m: float, max_range_m: float) -> np.ndarray:
    """Points whose Euclidean distance from the frame origin is within [min, max] m."""
    r2 = np.einsum('ij,ij->i', points, points)
    return points[(r2 >= min_range_m ** 2) & (r2 <= max_range_m ** 2)]


def voxel_downsample(points: np.ndarray, voxel_m: float) -> np.ndarray:
    """One point per occupied voxel (the centroid of its points), voxel edge ``voxel_m``.

    numpy only (np.unique on packed voxel keys + np.bincount), no Open3D import cost.
    """
    if len(points) == 0:
        return points
    keys = np.floor(points / voxel_m).astype(np.int64)
    keys -= keys.min(axis=0)
    span = keys.max(axis=0) + 1
    packed = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    _, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    out = np.empty((len(counts), 3), np.float32)
    for k in range(3):
        out[:, k] = np.bincount(inverse, weights=points[:, k], minlength=len(counts)) / counts
    return out


def statistical_outliers(points: np.ndarray, neighbors: int = 20, std_ratio: float = 2.0) -> np.ndarray:
    """Boolean mask of outliers by Open3D's statistical rule: mean distance to the
    ``neighbors`` nearest points more than ``std_ratio`` standard deviations above the
    cloud's mean of that distance (Rusu et al. 2008, Open3D remove_statistical_outlier)."""
    mask = np.zeros(len(points), bool)
    if len(points) <= neighbors:
        return mask
    import open3d as o3d
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    _, keep = cloud.remove_statistical_outlier(nb_neighbors=neighbors, std_ratio=std_ratio)
    mask[:] = True
    mask[np.asarray(keep, dtype=np.int64)] = False
    return mask
