"""A small rendered stereo scene for tests and benchmarks: a textured MuJoCo height field
with known craters and rocks, seen by an ideal stereo pair with the rover's mast geometry.

Pure MuJoCo/numpy (no rclpy). It stands in for the embedded simulator where only the
perception stack is under test: the terrain is known exactly (``true_height``) and the
cameras are ideal pinholes (no distortion, already rectified).

Frames: ``map`` (z up); camera poses are map -> optical frame (z forward, x right, y down).
MuJoCo cameras look along their -z with y up, i.e. the optical frame turned 180 deg about x.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np

from mining_rover.mapping.hazards import Crater, Rock

#: optical frame (z fwd, y down) -> MuJoCo camera frame (-z fwd, y up)
_R_OPT_MJ = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class SceneConfig:
    """Synthetic stereo scene: terrain size and spacing (m), image size (px), field of view and sun (rad)."""
    size_m: float = 24.0          # square terrain, centred on the origin
    resolution_m: float = 0.04    # height-field spacing
    width: int = 640
    height: int = 480
    hfov_rad: float = 1.2         # config/sim_contract.yaml
    baseline_m: float = 0.2       # config/rover.yaml
    sun_elevation_rad: float = 0.35
    seed: int = 0


def make_terrain(cfg: SceneConfig, craters=(), rocks=()) -> np.ndarray:
    """Height grid (m), row 0 = lowest y: gentle undulation + bowl craters with rims +
    spherical-cap rocks."""
    n = int(round(cfg.size_m / cfg.resolution_m)) + 1
    c = np.linspace(-cfg.size_m / 2, cfg.size_m / 2, n)
    X, Y = np.meshgrid(c, c)
    rng = np.random.default_rng(cfg.seed)
    h = np.zeros_like(X)
    for _ in range(6):  # long-wavelength relief, a few cm
        k = rng.uniform(0.15, 0.6, 2)
        h += 0.04 * np.sin(k[0] * X + rng.uniform(0, 6)) * np.cos(k[1] * Y + rng.uniform(0, 6))
    for cr in craters:
        r = np.hypot(X - cr.x, Y - cr.y) / cr.radius
        h += np.where(r < 1.0, -cr.depth * (1.0 - r ** 2), 0.0)
        h += 0.15 * cr.depth * np.exp(-((r - 1.0) / 0.25) ** 2)
    for rk in rocks:
        d2 = ((X - rk.x) ** 2 + (Y - rk.y) ** 2) / rk.radius ** 2
        h = np.maximum(h, np.where(d2 < 1.0, h + rk.height * np.sqrt(np.clip(1.0 - d2, 0, 1)), h))
    return h


def _texture_png(path: str, seed: int, size: int = 2048) -> None:
    """Regolith-like albedo: multi-scale noise, grey, saved as PNG for MuJoCo."""
    rng = np.random.default_rng(seed + 1)
    img = np.zeros((size, size), np.float32)
    for cells, weight in ((size // 4, 0.5), (size // 16, 0.3), (size // 64, 0.2)):
        layer = rng.random((cells, cells)).astype(np.float32)
        img += weight * cv2.resize(layer, (size, size), interpolation=cv2.INTER_CUBIC)
    img = np.clip((img - img.min()) / (img.max() - img.min()) * 200 + 30, 0, 255).astype(np.uint8)
    cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))


class StereoScene:
    """Render left/right images of a known terrain from any rover pose."""

    def __init__(self, cfg: SceneConfig = SceneConfig(), craters=(), rocks=()):
        import mujoco
        self.cfg = cfg
        self.craters, self.rocks = list(craters), list(rocks)
        self.heights = make_terrain(cfg, craters, rocks)
        self.focal_px = cfg.width / (2.0 * math.tan(cfg.hfov_rad / 2.0))
        fovy = math.degrees(2.0 * math.atan(cfg.height / (2.0 * self.focal_px)))
        zmin, zmax = float(self.heights.min()), float(self.heights.max())
        self._zmin, self._span = zmin - 0.1, max(zmax - zmin + 0.1, 0.2)
        n = self.heights.shape[0]
        self._tmp = tempfile.TemporaryDirectory()
        tex = os.path.join(self._tmp.name, 'regolith.png')
        _texture_png(tex, cfg.seed)
        half = cfg.size_m / 2
        sun = (math.cos(cfg.sun_elevation_rad), 0.3, -math.sin(cfg.sun_elevation_rad))
        xml = f"""
<mujoco>
  <visual><headlight ambient="0 0 0" diffuse="0 0 0" specular="0 0 0"/>
          <global offwidth="{cfg.width}" offheight="{cfg.height}"/>
          <quality shadowsize="4096"/></visual>
  <asset>
    <texture name="regolith" type="2d" file="{tex}"/>
    <material name="regolith" texture="regolith" texrepeat="6 6" specular="0" shininess="0"/>
    <hfield name="terrain" nrow="{n}" ncol="{n}" size="{half} {half} {self._span} 0.1"/>
  </asset>
  <worldbody>
    <light directional="true" castshadow="true" dir="{sun[0]} {sun[1]} {sun[2]}" diffuse="1 1 1"
           ambient="0.02 0.02 0.02" specular="0 0 0"/>
    <geom type="hfield" hfield="terrain" material="regolith" pos="0 0 {self._zmin}"/>
    <camera name="left" pos="0 0 1" fovy="{fovy}"/>
    <camera name="right" pos="0 0 1" fovy="{fovy}"/>
  </worldbody>
</mujoco>"""
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.model.hfield_data[:] = ((self.heights - self._zmin) / self._span).reshape(-1)
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, cfg.height, cfg.width)
        self._mujoco = mujoco

    def true_height(self, x, y) -> np.ndarray:
        """Bilinear height of the terrain at map (x, y), m."""
        n = self.heights.shape[0]
        fx = (np.asarray(x) + self.cfg.size_m / 2) / self.cfg.resolution_m
        fy = (np.asarray(y) + self.cfg.size_m / 2) / self.cfg.resolution_m
        i0 = np.clip(np.floor(fx).astype(int), 0, n - 2)
        j0 = np.clip(np.floor(fy).astype(int), 0, n - 2)
        ax, ay = np.clip(fx - i0, 0, 1), np.clip(fy - j0, 0, 1)
        h = self.heights
        return ((1 - ax) * (1 - ay) * h[j0, i0] + ax * (1 - ay) * h[j0, i0 + 1]
                + (1 - ax) * ay * h[j0 + 1, i0] + ax * ay * h[j0 + 1, i0 + 1])

    def camera_pose(self, T_map_base, T_base_left, side: str = 'left') -> np.ndarray:
        """4x4 map -> optical frame of one camera (right = left shifted by -baseline in x_opt)."""
        T = np.asarray(T_map_base) @ np.asarray(T_base_left)
        if side == 'right':
            shift = np.eye(4)
            shift[0, 3] = self.cfg.baseline_m
            T = T @ shift
        return T

    def render_stereo(self, T_map_base, T_base_left) -> tuple:
        """(left, right) rgb8 images from the rover at T_map_base (camera extrinsics
        T_base_left: base_link -> left optical frame)."""
        mj = self._mujoco
        for side in ('left', 'right'):
            T = self.camera_pose(T_map_base, T_base_left, side)
            cid = mj.mj_name2id(self.model, mj.mjtObj.mjOBJ_CAMERA, side)
            self.model.cam_pos[cid] = T[:3, 3]
            q = np.empty(4)
            mj.mju_mat2Quat(q, (T[:3, :3] @ _R_OPT_MJ).reshape(-1))
            self.model.cam_quat[cid] = q
        mj.mj_forward(self.model, self.data)
        out = []
        for side in ('left', 'right'):
            self.renderer.update_scene(self.data, side)
            out.append(self.renderer.render().copy())
        return out[0], out[1]

    def intrinsics(self) -> dict:
        c = self.cfg
        return dict(fx=self.focal_px, fy=self.focal_px, cx=(c.width - 1) / 2.0, cy=(c.height - 1) / 2.0,
                    width=c.width, height=c.height, baseline_m=c.baseline_m)

    def close(self):
        self.renderer.close()
        self._tmp.cleanup()


def rover_camera_extrinsics(mast_x=0.3, height_m=0.8, pitch_rad=0.45, baseline_m=0.2) -> np.ndarray:
    """base_link -> left optical frame as urdf/rover.urdf.xacro builds it from rover.yaml."""
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    R_pitch = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    R_link_opt = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)
    T = np.eye(4)
    T[:3, :3] = R_pitch @ R_link_opt
    T[:3, 3] = (mast_x, baseline_m / 2, height_m)
    return T


DEFAULT_CRATERS = (Crater(4.0, 0.8, 0.8, 0.25), Crater(3.0, -1.6, 0.4, 0.15), Crater(5.6, -0.5, 1.2, 0.35))
DEFAULT_ROCKS = (Rock(2.6, 0.4, 0.22, 0.18), Rock(3.6, 1.8, 0.3, 0.25), Rock(5.0, 1.5, 0.18, 0.15),
                 Rock(2.4, -0.8, 0.16, 0.14))
