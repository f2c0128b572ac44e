"""The fiducial boards in the embedded simulator: one static textured box (a geom of the
world body) per board of the world's ``<mining:fiducials>`` (sim/fiducials.py), the tag
image on its front face. A mixin of sim.simulator.Simulator, which calls
``_add_fiducial_boards(spec)`` before it compiles the model and owns ``world``.

The boards are light boxes (back-lit faces, ``BOARD_EMISSION``): near the lunar poles the
sun stands a few degrees above the horizon and may be behind a board, and with no sky
light a board in its own shadow would be black. They collide with the rover like the
terrain does (a board is a real obstacle the map must see).
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

from mining_rover.sim.fiducials import BOARD_THICKNESS_M, FiducialMap, load_fiducials, tag_image

#: Emission of a board's face (MuJoCo material emission, fraction of its texture colour):
#: a light box's white reads ~0.6 of full scale however the sun stands.
BOARD_EMISSION = 0.6


class FiducialBoardsMixin:
    """Add the world's boards to the MuJoCo model and keep their map."""

    fiducials: FiducialMap | None = None

    def _add_fiducial_boards(self, spec) -> None:
        """A static textured box (a world geom) for each board of the world file."""
        self.fiducials = load_fiducials(self.world.sdf_path)
        if self.fiducials is None:
            return
        for b in self.fiducials.boards:
            img = tag_image(b.tag_id)
            rgb = np.repeat(img[:, :, None], 3, axis=2)
            name = f'fiducial_tag_{b.tag_id}'
            tex = spec.add_texture(name=name, type=mujoco.mjtTexture.mjTEXTURE_2D,
                                   width=img.shape[1], height=img.shape[0], nchannel=3)
            tex.data = rgb.tobytes()
            spec.add_material(name=name, textures=['', name], texuniform=False, texrepeat=[1, 1],
                              rgba=[1, 1, 1, 1], emission=BOARD_EMISSION, specular=0.0, shininess=0.0)
            t, s = BOARD_THICKNESS_M, b.board_size_m
            yaw = b.yaw_rad
            # static geoms of the world body: no mass (the rover's mass telemetry sums bodies)
            # box x = outward normal, y = the viewer's right: the texture reads as the tag
            spec.worldbody.add_geom(
                name=f'fiducial_board_{b.tag_id}', type=mujoco.mjtGeom.mjGEOM_BOX,
                pos=[b.x - math.cos(yaw) * t / 2, b.y - math.sin(yaw) * t / 2, b.z],
                quat=[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)],
                size=[t / 2, s / 2, s / 2], material=name, contype=1, conaffinity=2, group=2)
