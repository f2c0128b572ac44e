"""Site map (mapping/global_map.py) against the fine map alone: per-cloud cost and what
is kept after a 60 m drive.

A rover drives 60 m across synthetic undulating terrain (known heights), fusing one
60 000-point cloud (config/mapping.yaml max_points) every 0.25 m of a 5 m view ahead,
with the stereo error model's range-dependent height variance, into the fine 20 m map
(5 cm, following the rover, with its visibility clean-up: MapParams defaults, as
config/mapping.yaml), exactly as mapping_node does per cloud. The site map absorbs
the fine map's cells seen since its last update at its own publish period
(mapping_node: global_publish_period_s 5 s; stereo clouds come at ~2 Hz, so once per
CLOUDS_PER_PUBLISH clouds).

* fuse_ms: the fine map's fusion per cloud (the baseline: today's cost);
* absorb_ms: one site-map update from the fine cells fused since the last one (their
  bounding box, MARGIN_M wider: global_update_margin_m); absorb_whole_ms: from the whole
  fine map, and window_same = 1 where both site maps end equal;
* per_cloud_ms: fuse_ms + absorb_ms / CLOUDS_PER_PUBLISH, and per_cloud_ratio to the
  baseline (goal: within 10 %);
* kept_fraction / fine_kept_fraction: of the site cells the rover saw (the fine map
  knew their centre at some snapshot), the share the site map / the fine map still
  knows at the end;
* site_rmse_m: the site map's heights against the true terrain's mean over each cell;
  within_3sigma: share of cells whose error is within 3 of the site map's own sigma.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from mining_rover.benchmarking import metric
from mining_rover.mapping.elevation_map import ElevationMap, MapParams
from mining_rover.mapping.global_map import GlobalMap, GlobalMapParams

NAME = 'site_map'
DESCRIPTION = 'site map fed from the fine map: per-cloud cost vs the fine map alone, cells kept, height error'
CLOUDS_PER_PUBLISH = 10      # stereo ~2 Hz; mapping_node's global_publish_period_s 5
CAMERA_HEIGHT_M = 0.8       # mast camera above the ground (config/rover.yaml order)
MARGIN_M = 2.0               # mapping_node's margin around the fused cells (hazard windows)
POINTS = 60000
SIGMA_D_OVER_FB = 0.25 / (470.0 * 0.20)   # px / (px m): StereoErrorModel defaults


def terrain(x, y):
    """Heights (m): metre-scale undulation and 10 cm bumps."""
    return 0.3 * np.sin(0.15 * x) * np.cos(0.11 * y) + 0.05 * np.sin(1.3 * x + 0.7 * y)


def run(quick: bool = False) -> dict:
    rng = np.random.default_rng(4)
    fine = ElevationMap(MapParams(resolution_m=0.05, size_m=20.0), centre_xy=(-30.0, 0.0))
    site = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=96.0))
    seen = np.zeros((site.n, site.n), bool)
    xs = site.origin[0] + (np.arange(site.n) + 0.5) * site.resolution
    ys = site.origin[1] + (np.arange(site.n) + 0.5) * site.resolution
    X, Y = np.meshgrid(xs, ys)
    site_all = GlobalMap(GlobalMapParams(resolution_m=0.25, size_m=96.0))   # whole fine map each time
    fuse_ms, absorb_ms, whole_ms = [], [], []
    last = -np.inf
    steps = 80 if quick else 240
    for k, x in enumerate(np.linspace(-30.0, 30.0, steps)):
        fine.move_to(x, 0.0)
        rng_m = rng.uniform(1.0, 5.0, POINTS)
        bearing = rng.uniform(-0.6, 0.6, POINTS)
        px, py = x + rng_m * np.cos(bearing), rng_m * np.sin(bearing)
        sigma = SIGMA_D_OVER_FB * rng_m ** 2 * (0.8 / rng_m) + 0.01   # height error of a mast camera
        pts = np.column_stack([px, py, terrain(px, py) + rng.normal(0.0, sigma)])
        t0 = time.process_time()
        fine.fuse(pts, sigma ** 2, stamp_s=float(k), sensor_xyz=(x, 0.0, CAMERA_HEIGHT_M + terrain(x, 0.0)))
        fuse_ms.append((time.process_time() - t0) * 1e3)
        if k % CLOUDS_PER_PUBLISH == CLOUDS_PER_PUBLISH - 1:
            cost = np.where(fine.known(), 0, -1)
            t0 = time.process_time()
            site.absorb(fine.height, fine.variance, cost, fine.origin, fine.resolution, float(k),
                        changed=fine.last_seen_s > last, margin_m=MARGIN_M)
            absorb_ms.append((time.process_time() - t0) * 1e3)
            t0 = time.process_time()
            site_all.absorb(fine.height, fine.variance, cost, fine.origin, fine.resolution, float(k))
            whole_ms.append((time.process_time() - t0) * 1e3)
            last = float(k)
            # seen: site cells whose centre the fine map knows at this snapshot
            seen |= np.isfinite(fine.height_at(X, Y))
    base = statistics.median(fuse_ms)
    absorb = statistics.median(absorb_ms)
    per_cloud = base + absorb / CLOUDS_PER_PUBLISH
    # what each map still knows of the ground seen
    kept = float(np.mean(site.known()[seen]))
    fine_known = np.isfinite(fine.height_at(X[seen], Y[seen]))
    # truth: the terrain's mean over each 0.25 m cell (5 x 5 samples)
    off = (np.arange(5) - 2) * 0.05
    truth = np.mean([terrain(X + a, Y + b) for a in off for b in off], axis=0)
    known = site.known() & seen
    err = site.height[known] - truth[known]
    sd = np.sqrt(site.variance[known])
    return {
        'fuse_ms': metric(base, 'ms'),
        'absorb_ms': metric(absorb, 'ms'),
        'absorb_whole_ms': metric(statistics.median(whole_ms), 'ms'),
        'window_same': metric(float(np.array_equal(site.cost, site_all.cost) and np.allclose(
            site.height, site_all.height, rtol=0.0, atol=1e-6, equal_nan=True)), "", "== 1"),
        'per_cloud_ms': metric(per_cloud, 'ms'),
        'per_cloud_ratio': metric(per_cloud / base, '', '<= 1.1'),
        'kept_fraction': metric(kept, '', '>= 0.99'),
        'fine_kept_fraction': metric(float(np.mean(fine_known)), ''),
        'site_rmse_m': metric(float(np.sqrt(np.mean(err ** 2))), 'm', '<= 0.05'),
        'within_3sigma': metric(float(np.mean(np.abs(err) <= 3.0 * sd)), '', '>= 0.95'),
    }


if __name__ == '__main__':
    for k, m in run().items():
        print(f'{k:20s} {m.value:10.4g} {m.unit:3s} {m.goal:8s} {m.met}')
