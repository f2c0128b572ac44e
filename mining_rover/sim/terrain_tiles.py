"""The simulator's terrain as the cameras see it (the hazard-contact counter is in
sim/hazard_contacts.py).

A 64 m operational site at 12.5 cm is a 513 x 513 height field: MuJoCo collides with it
cheaply (contacts are found locally), but drawing all of it for every stereo frame and
re-uploading it after every dig change costs more than the cameras' 2 Hz allow on a small
machine. So the collision height field stays whole (hidden from the cameras) and the
cameras see tiles of it (``TILE_CELLS`` cells square), each in two levels of detail:
full resolution within ``FINE_RANGE_M`` of the camera, every ``COARSE_STEP``-th vertex
beyond, nothing behind the camera (outside its horizontal field of view plus a margin),
except within ``NEAR_M``, where tiles always draw (they cast the shadows the low sun
throws into view). A dig or dump re-uploads only the tiles it touched.

Both are mixins of sim.simulator.Simulator, which owns ``model``, ``data``, ``heights``,
``world`` and the renderer.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

TILE_CELLS = 64            # cells per tile side: divides n - 1 of every world (128, 256, 512)
COARSE_STEP = 8            # far tiles: every 8th vertex (1 m on a 64 m site)
#: Beyond, stereo (the map fuses it to ~6 m) sees texture, not relief. Measured in one run
#: on the lunar operational site (2 shared cores, under contention): a stereo pair took
#: 0.82-1.07 x the compact world's time with every 4th vertex beyond 20 m, 0.53-0.71 x with
#: every 8th beyond 16 m, 2.1-2.5 x with every tile in front at full detail.
FINE_RANGE_M = 16.0
NEAR_M = 8.0               # always drawn: 0.5 m of relief at a 5 deg sun casts ~6 m shadows
CULL_MARGIN_RAD = math.radians(15.0)
HIDDEN_GROUP = 5           # a geom group the cameras never draw
TILE_GROUP = 2             # the group the terrain has always been drawn in
TILE_BASE_M = 0.05         # hfield base thickness below z0 (skirt), drawn only at cracks


def regolith_texture(n: int) -> np.ndarray:
    """n x n x 3 uint8: grey multi-octave noise with small bright grains (stereo needs
    texture to match)."""
    from mining_rover.sim.terrain import value_noise
    rng = np.random.default_rng(12345)
    f = value_noise((n, n), rng, n / 4, 6, persistence=0.65)
    grains = (rng.random((n, n)) < 0.03) * rng.uniform(0.1, 0.3, (n, n))
    v = np.clip(0.5 + 0.35 * f + grains, 0.05, 1.0)
    rgb = np.stack([v * 0.95, v * 0.93, v * 0.88], axis=-1)
    return (rgb * 255).astype(np.uint8)


class TerrainTilesMixin:
    """Visual terrain tiles: built with the model, chosen per frame, uploaded when dug."""

    def _add_terrain_tiles(self, spec, material: str, z0: float, z1: float) -> None:
        """Add the visual tile height fields and geoms to ``spec`` (before compile)."""
        H, W = self._init_heights.shape
        res = self.world.resolution_m
        ox, oy = self.world.origin_xy
        self._tile_n = (H - 1) // TILE_CELLS, (W - 1) // TILE_CELLS
        self._tile_geoms = []       # (fine geom name, coarse geom name, r0, c0)
        half = TILE_CELLS * res / 2
        for i in range(self._tile_n[0]):
            for j in range(self._tile_n[1]):
                r0, c0 = i * TILE_CELLS, j * TILE_CELLS
                for kind, step in (('fine', 1), ('coarse', COARSE_STEP)):
                    name = f'terrain_{kind}_{i}_{j}'
                    k = TILE_CELLS // step + 1
                    hf = spec.add_hfield(name=name, nrow=k, ncol=k, size=[half, half, z1 - z0, TILE_BASE_M])
                    block = self._init_heights[r0:r0 + TILE_CELLS + 1:step, c0:c0 + TILE_CELLS + 1:step]
                    hf.userdata = np.clip((block - z0) / (z1 - z0), 0.0, 1.0).ravel().tolist()
                    spec.worldbody.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=name,
                                            pos=[ox + c0 * res + half, oy + r0 * res + half, z0],
                                            material=material, contype=0, conaffinity=0,
                                            group=TILE_GROUP if kind == 'fine' else HIDDEN_GROUP)
                self._tile_geoms.append((f'terrain_fine_{i}_{j}', f'terrain_coarse_{i}_{j}', r0, c0))
        # 3 x 3 sample points per tile for the field-of-view test
        s = np.linspace(0.0, TILE_CELLS * res, 3)
        pts = []
        for _, _, r0, c0 in self._tile_geoms:
            gx, gy = np.meshgrid(ox + c0 * res + s, oy + r0 * res + s)
            pts.append(np.stack([gx.ravel(), gy.ravel()], axis=-1))
        self._tile_pts = np.array(pts)                           # (T, 9, 2)
        self._tile_lo = self._tile_pts.min(axis=1)               # (T, 2) bounding boxes
        self._tile_hi = self._tile_pts.max(axis=1)

    def _bind_terrain_tiles(self) -> None:
        """Ids of the tile geoms and height fields in the compiled model."""
        m = self.model
        gid = lambda n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n)   # noqa: E731
        hid = lambda n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_HFIELD, n)  # noqa: E731
        self._tile_ids = np.array([(gid(f), gid(c), hid(f), hid(c)) for f, c, _, _ in self._tile_geoms])
        self._tiles_dirty = set(range(len(self._tile_geoms)))

    def _mark_tiles(self, rows, cols) -> None:
        """Tiles holding any of these cells (a vertex on a tile edge belongs to both)."""
        nt_r, nt_c = self._tile_n
        for r in (rows // TILE_CELLS, (rows - 1) // TILE_CELLS):
            for c in (cols // TILE_CELLS, (cols - 1) // TILE_CELLS):
                ok = (r >= 0) & (r < nt_r) & (c >= 0) & (c < nt_c)
                self._tiles_dirty.update(np.unique(r[ok] * nt_c + c[ok]).tolist())

    def _mark_all_tiles(self) -> None:
        self._tiles_dirty = set(range(len(self._tile_geoms)))

    def _upload_tiles(self, ctx) -> int:
        """Copy the dug/dumped heights into the dirty tiles and upload them; returns how many."""
        if not self._tiles_dirty:
            return 0
        z0, z1 = self._z_range()
        m = self.model
        for t in self._tiles_dirty:
            _, _, r0, c0 = self._tile_geoms[t]
            for hid, step in ((self._tile_ids[t, 2], 1), (self._tile_ids[t, 3], COARSE_STEP)):
                block = self.heights[r0:r0 + TILE_CELLS + 1:step, c0:c0 + TILE_CELLS + 1:step]
                adr, n = m.hfield_adr[hid], block.size
                m.hfield_data[adr:adr + n] = np.clip((block - z0) / (z1 - z0), 0.0, 1.0).ravel()
                if ctx is not None:
                    mujoco.mjr_uploadHField(m, ctx, int(hid))
        count = len(self._tiles_dirty)
        self._tiles_dirty = set()
        return count

    def _choose_tiles(self, cam_pos, cam_forward) -> np.ndarray:
        """Per tile 0 hidden, 1 coarse, 2 fine for a camera at cam_pos (map, m) looking along
        cam_forward (unit, map); sets the geoms' groups accordingly."""
        c = np.asarray(cam_pos[:2], dtype=float)
        f = np.asarray(cam_forward[:2], dtype=float)
        nf = np.linalg.norm(f)
        gap = np.maximum(np.maximum(self._tile_lo - c, c - self._tile_hi), 0.0)
        dist = np.hypot(gap[:, 0], gap[:, 1])                     # camera to tile box, m
        v = self._tile_pts - c                                   # (T, 9, 2)
        d = np.linalg.norm(v, axis=-1)
        if nf < 1e-6:                                            # looking straight down
            seen = np.ones(len(dist), bool)
        else:
            half = self.contract.camera_hfov_rad / 2 + CULL_MARGIN_RAD
            seen = ((v @ (f / nf)) > d * math.cos(min(half, math.pi))).any(axis=1)
        zfar = float(self.model.vis.map.zfar) * float(self.model.stat.extent)
        seen |= dist < NEAR_M
        level = np.where(seen & (dist < FINE_RANGE_M), 2, np.where(seen & (dist < zfar), 1, 0))
        g = self.model.geom_group
        g[self._tile_ids[:, 0]] = np.where(level == 2, TILE_GROUP, HIDDEN_GROUP)
        g[self._tile_ids[:, 1]] = np.where(level == 1, TILE_GROUP, HIDDEN_GROUP)
        return level
