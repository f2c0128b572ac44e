"""The simulator's hazard-contact counter: how often the rover's bodies enter a hazard.

Only hazards by the shared definition (mining_rover.sim.hazard_truth) count: rocks that
stand >= 0.2 m above the ground around them and craters >= 1 m across whose wall is
steeper than the rover's slope rating; a degraded bowl a few centimetres deep is ground.
"""
from __future__ import annotations

import numpy as np

from mining_rover.sim.hazard_truth import hazard_craters, hazard_rocks

#: A body is in a crater when its centre is within this fraction of the rim radius of the
#: crater's centre: in the bowl, past the rim (the rim itself is gentle).
CRATER_CONTACT_FRACTION = 0.7


class HazardContacts:
    """Counts new contacts of the rover's bodies with the world's hazards (vectorised).

    A body touches a crater when its centre is within CRATER_CONTACT_FRACTION crater radii
    of the crater's centre, a rock when within the rock's base radius. ``height_at(x, y)``
    is the terrain as simulated (m), from which each rock's protrusion is judged once."""

    def __init__(self, craters, rocks, height_at):
        craters = hazard_craters(craters)
        rocks = hazard_rocks(rocks, height_at)
        f = CRATER_CONTACT_FRACTION
        c = np.array([[k['x'], k['y'], f * k['radius']] for k in craters]).reshape(-1, 3)
        r = np.array([[k['x'], k['y'], k['radius']] for k in rocks]).reshape(-1, 3)
        self._xy = np.concatenate([c[:, :2], r[:, :2]])
        self._r2 = np.concatenate([c[:, 2], r[:, 2]]) ** 2
        self.n_craters, self.n_rocks = len(c), len(r)
        self._inside = np.zeros(len(self._xy), bool)

    def reset(self) -> None:
        """Forget which hazards the rover is in."""
        self._inside[:] = False

    def update(self, body_xy: np.ndarray) -> int:
        """Hazards entered since the last update by any of the bodies at body_xy (B, 2), m."""
        if not len(self._xy):
            return 0
        d2 = ((body_xy[:, None, :] - self._xy[None, :, :]) ** 2).sum(axis=-1)
        now = (d2 < self._r2[None, :]).any(axis=0)
        new = int(np.count_nonzero(now & ~self._inside))
        self._inside = now
        return new
