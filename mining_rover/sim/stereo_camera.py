"""The simulator's stereo pair: intrinsics from the sim contract's field of view, poses
from the camera bodies, off-screen MuJoCo rendering (the terrain height field uploaded
only when it changed) and radiation hits on the sensor. A mixin of
sim.simulator.Simulator, which owns ``model``, ``data``, ``width``, ``height``, the
camera ids and the renderer."""
from __future__ import annotations

import math

import mujoco
import numpy as np


class StereoCameraMixin:
    """Render the left/right cameras and describe them (intrinsics, poses in map)."""

    def camera_intrinsics(self) -> dict:
        fx = (self.width / 2) / math.tan(self.contract.camera_hfov_rad / 2)
        baseline = float(np.linalg.norm(self.camera_pose('left')[:3, 3] - self.camera_pose('right')[:3, 3]))
        return dict(fx=fx, fy=fx, cx=(self.width - 1) / 2, cy=(self.height - 1) / 2,
                    width=self.width, height=self.height, baseline_m=baseline)

    def camera_pose(self, side: str) -> np.ndarray:
        if side not in self._cam_body:
            raise KeyError(f"camera side must be 'left' or 'right', got {side!r}")
        b = self._cam_body[side]
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[b].reshape(3, 3)
        T[:3, 3] = self.data.xpos[b]
        return T

    def _ensure_renderer(self):
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            self._opt = mujoco.MjvOption()
            self._opt.geomgroup[3] = 0
            self._opt.geomgroup[5] = 0     # terrain tiles out of view (sim/terrain_tiles.py)
            self._terrain_dirty = True
        if getattr(self, '_tiled', False):
            self._upload_tiles(self._renderer._mjr_context)
            self._terrain_dirty = False
        elif self._terrain_dirty:
            ctx = self._renderer._mjr_context
            mujoco.mjr_uploadHField(self.model, ctx, self._hfield_id)
            self._terrain_dirty = False

    def render_stereo(self) -> tuple:
        self._ensure_renderer()
        if getattr(self, '_tiled', False):
            left = self.camera_pose('left')
            self._choose_tiles(left[:3, 3], left[:3, 2])   # optical z: where the camera looks
        out = []
        for side in ('left', 'right'):
            self._renderer.update_scene(self.data, camera=self._cam_ids[side], scene_option=self._opt)
            img = self._renderer.render().copy()
            if self.radiation_rate > 0:
                self._radiation(img)
            out.append(img)
        return out[0], out[1]

    def _radiation(self, img):
        H, W = img.shape[:2]
        k = self._rng.poisson(self.radiation_rate * H * W / 1e6)
        if k == 0:
            return
        ys = self._rng.integers(0, H, k)
        xs = self._rng.integers(0, W, k)
        img[ys, xs] = 255
        # a third of hits are short streaks (glancing tracks)
        for y, x in zip(ys[: k // 3], xs[: k // 3]):
            img[y, x:min(W, x + int(self._rng.integers(2, 6)))] = 255
