"""Bucket-drum cutting: the soil force on each engaged bucket, summed into the drum's
force and torque. The simulator calls ``bucket_loads`` with the drum's real phase, depth
and velocity and the world's true soil; the planner calls ``drum_load_mean`` (the same
function averaged over the bucket phase) with its estimated soil.

Drum geometry after RASSOR (Mueller et al. 2013, "Design of an excavation robot:
Regolith Advanced Surface Systems Operations Robot (RASSOR) 1.0", ASCE Earth & Space;
NASA NTRS 20130008972): two counter-rotating drums, each with rows of scoops ("buckets")
across its length, on arms at either end of the rover.

Frame (one drum, in the plane perpendicular to its axle): x horizontal, z up, origin on
the axle. A bucket's angle psi is measured from straight down, + towards +x; it sits at
R (sin psi, -cos psi). ``drum_radps`` is signed: > 0 turns psi up, so the bucket at the
bottom moves towards +x. Buckets are ``bucket_rows`` evenly spaced: psi_k = phase + 2 pi
k / n.

Per bucket (milling kinematics, the chip a bucket takes is what the drum advanced since
the previous bucket passed): the feed per bucket pass is f = u 2 pi / (|omega| n), u the
axle's velocity through the soil (x advance, z sink); the chip thickness is the feed's
component along the bucket's outward radius, h = f . (sin psi, -cos psi), clipped to the
soil left above the bucket (the face is ``depth_m`` above the drum bottom). A bucket is
engaged where h > 0 and it is below the face. Each engaged bucket meets Reece's equation
(physics/soil.py) for a blade of width ``length_m`` cutting a chip h at the bucket rake
(measured from the bucket's cutting direction, its path's tangent, as a flat blade's is
from the horizontal), the tip speed |omega| R, the soil density at the bucket's depth and
no surcharge (the chip's free surface is the previous bucket's cut, unloaded in vacuum;
``surcharge_pa`` adds one). The draft D resists the bucket's motion along the tangent
t = sign(omega) (cos psi, sin psi); the normal component N pushes the bucket outward
(into the uncut soil). Force of the soil on the drum: sum of (-D t + N r); moment about
the axle sum of -sign(omega) D R, the drum torque ``torque_nm`` = sum D R the motor must
add to keep turning.

Counter-rotation: a drum turning so its bottom bucket moves against the advance
("down-cut", the rover's front drum) is pushed forwards and up by its buckets' drafts;
one turning with it ("up-cut", the rear drum) backwards and down. Summing the two drums'
vectors cancels the draft's horizontal parts when their cuts match, and leaves what the
normal forces and any difference in depth or soil give: geometry, not a constant.

Units SI (m, s, rad, N, N m, kg/m^3). Inputs broadcast; outputs have the broadcast shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mining_rover.physics.soil import BETA_COARSE, RegolithParams, blade_force

#: Slowest drum turning that still cuts (rad/s): slower, the drum is a blade dragged by
#: the rover, which this model does not cover (the simulator lets it pass through).
MIN_CUT_RADPS = 0.1
#: Bucket angles on the engaged arc over which drum_load_mean integrates (midpoint rule;
#: test_physics.py compares with a dense phase average of bucket_loads). Only the side of
#: the arc the feed faces is engaged and the chip has a kink where it meets the face, so 12
#: points were up to 6 % off at 7.5 rad/s; 48 are within 1 % (plan_cut: 0.14 s).
MEAN_POINTS = 48


@dataclass(frozen=True)
class DrumGeometry:
    """One bucket drum (config/rover.yaml drum; RASSOR: 4 scoop rows)."""
    radius_m: float = 0.16
    length_m: float = 0.45
    bucket_rows: int = 4
    rake_rad: float = math.radians(60.0)


@dataclass(frozen=True)
class DrumLoad:
    """Soil on one drum (drum frame of the module docstring)."""
    fx_n: np.ndarray        # horizontal force on the drum, N (+x)
    fz_n: np.ndarray        # vertical force on the drum, N (+ up, lifts)
    torque_nm: np.ndarray   # cutting torque the motor must add, N m (>= 0)
    chip_m: np.ndarray      # thickest chip a bucket takes, m
    engaged: np.ndarray     # buckets engaged (a mean where averaged over phase)


def _prepare(depth_m, feed_x_mps, feed_z_mps, drum_radps, face_depth_m, drum: DrumGeometry):
    """Clean broadcast inputs: depth clipped to [0, R], non-finite values as 0, the feed
    per bucket pass (m) and whether the drum turns fast enough to cut."""
    d, vx, vz, w, d0 = np.broadcast_arrays(*(np.nan_to_num(np.asarray(a, dtype=float), nan=0.0, posinf=0.0,
                                                            neginf=0.0)
                                             for a in (depth_m, feed_x_mps, feed_z_mps, drum_radps,
                                                       face_depth_m)))
    dd = np.clip(d, 0.0, drum.radius_m)
    aw = np.abs(w)
    spinning = aw >= MIN_CUT_RADPS
    pass_s = np.where(spinning, 2.0 * math.pi / (np.maximum(aw, MIN_CUT_RADPS) * drum.bucket_rows), 0.0)
    return dd, vx * pass_s, vz * pass_s, np.sign(w), aw, spinning, np.maximum(d0, 0.0)


def _buckets(psi, dd, fx_pass, fz_pass, sign, aw, spinning, d0, drum: DrumGeometry,
             soil: RegolithParams, gravity_mps2: float, surcharge_pa: float):
    """Per bucket at angle psi (arrays of one shape): (fx, fz, draft, chip, engaged)."""
    R = drum.radius_m
    s, c = np.sin(psi), np.cos(psi)
    above = dd - R * (1.0 - c)                  # soil over the bucket, m
    h = np.minimum(fx_pass * s - fz_pass * c, above)
    on = (h > 1e-9) & (above > 0.0) & spinning
    D = np.zeros(h.shape)
    N = np.zeros(h.shape)
    if np.any(on):
        z_mid = np.broadcast_to(np.maximum(d0 + above - 0.5 * h, 0.0), h.shape)
        bf = blade_force(h[on], drum.length_m, soil, gravity_mps2, rake_rad=drum.rake_rad,
                         surcharge_pa=surcharge_pa, density_kgm3=soil.density_point(z_mid[on]),
                         speed_mps=np.broadcast_to(aw * R, h.shape)[on], beta_grid=BETA_COARSE)
        D[on], N[on] = bf.draft_n, bf.normal_n
    fx = -D * sign * c + N * s
    fz = -D * sign * s - N * c
    return fx, fz, D, np.where(on, h, 0.0), on


def bucket_loads(depth_m, feed_x_mps, feed_z_mps, drum_radps, phase_rad, drum: DrumGeometry,
                 soil: RegolithParams, gravity_mps2: float, face_depth_m=0.0,
                 surcharge_pa: float = 0.0) -> DrumLoad:
    """Force and torque of the soil on one drum at one instant (module docstring).

    depth_m: face height above the drum bottom (m; clipped to [0, radius]); feed_x_mps,
    feed_z_mps: the axle's velocity through the soil (m/s); drum_radps: signed spin
    (rad/s); phase_rad: angle psi of bucket 0 (rad); face_depth_m: how far the top of the
    face already lies below the original surface (m; for the density profile). Zero
    depth, |spin| < MIN_CUT_RADPS or no feed into the soil gives zero load; non-finite
    inputs count as zero (never NaN)."""
    dd, fxp, fzp, sign, aw, spinning, d0 = _prepare(depth_m, feed_x_mps, feed_z_mps, drum_radps,
                                                    face_depth_m, drum)
    shape = np.broadcast_shapes(dd.shape, np.shape(phase_rad))
    n = int(drum.bucket_rows)
    ph = np.nan_to_num(np.broadcast_to(np.asarray(phase_rad, dtype=float), shape), nan=0.0)
    psi = np.mod(ph[..., None] + 2.0 * math.pi * np.arange(n) / n + math.pi, 2.0 * math.pi) - math.pi
    ex = (lambda a: np.broadcast_to(a, shape)[..., None])
    fx, fz, D, h, on = _buckets(psi, ex(dd), ex(fxp), ex(fzp), ex(sign), ex(aw), ex(spinning), ex(d0),
                                drum, soil, gravity_mps2, surcharge_pa)
    return DrumLoad(fx.sum(axis=-1), fz.sum(axis=-1), D.sum(axis=-1) * drum.radius_m, h.max(axis=-1),
                    on.sum(axis=-1).astype(float))


def drum_load_mean(depth_m, feed_x_mps, feed_z_mps, drum_radps, drum: DrumGeometry,
                   soil: RegolithParams, gravity_mps2: float, face_depth_m=0.0,
                   points: int = MEAN_POINTS, surcharge_pa: float = 0.0) -> DrumLoad:
    """bucket_loads averaged over the bucket phase: what a drum delivers over a bucket
    pitch, and what a torque averaged over a turn measures. The mean over the phase of
    the sum over n buckets is n / (2 pi) times the integral of one bucket's load over its
    angle; the integral runs over the engaged arc [-theta_e, theta_e] (cos theta_e =
    1 - depth / R) by the midpoint rule on ``points`` angles, so a cut of any depth is
    resolved. chip_m is the largest chip on those angles."""
    dd, fxp, fzp, sign, aw, spinning, d0 = _prepare(depth_m, feed_x_mps, feed_z_mps, drum_radps,
                                                    face_depth_m, drum)
    R, n = drum.radius_m, int(drum.bucket_rows)
    theta = np.arccos(np.clip(1.0 - dd / R, 0.0, 1.0))
    u = (np.arange(points) + 0.5) / points * 2.0 - 1.0          # midpoints on (-1, 1)
    psi = theta[..., None] * u
    ex = (lambda a: a[..., None])
    fx, fz, D, h, on = _buckets(psi, ex(dd), ex(fxp), ex(fzp), ex(sign), ex(aw), ex(spinning), ex(d0),
                                drum, soil, gravity_mps2, surcharge_pa)
    wgt = (2.0 * theta / points * n / (2.0 * math.pi))[..., None]
    return DrumLoad((fx * wgt).sum(axis=-1), (fz * wgt).sum(axis=-1), (D * wgt).sum(axis=-1) * R,
                    h.max(axis=-1), (on * wgt).sum(axis=-1))


def swept_mass_rate(depth_m, advance_mps, soil: RegolithParams, length_m: float, face_depth_m=0.0):
    """Regolith a drum takes in while advancing (kg/s): the face (depth x length) swept at
    the advance, at the density of that layer (RegolithParams.density_point integrated)."""
    from mining_rover.physics.soil import layer_mass_per_area
    ratio = soil.density_deep_kgm3 / soil.density_kgm3
    kg_m2 = layer_mass_per_area(soil.density_kgm3, ratio, soil.density_scale_m, face_depth_m,
                                np.asarray(face_depth_m, dtype=float) + np.maximum(depth_m, 0.0))
    return kg_m2 * length_m * np.maximum(np.asarray(advance_mps, dtype=float), 0.0)


class PassFeed:
    """The feed per bucket pass from the drum's own history: how far the axle moved
    through the soil since the previous bucket passed the angle this one is at now.

    Milling kinematics (module docstring): a bucket's chip is the soil between its path
    and the previous bucket's, so it is set by the axle's *displacement* over the last
    bucket pitch of drum rotation, not by its velocity at this instant. A drum on a
    compliant arm bobs at the bucket frequency (each bite lifts or pulls it); using the
    instantaneous velocity, the bite itself would thin or thicken its own chip (a
    feedback the soil does not have: the chip was laid out by the previous bucket before
    this one arrived). ``update`` takes the drum's unwrapped angle (rad, the joint
    position) and the axle's position (m, world frame) and returns the displacement since
    the angle was one pitch (2 pi / bucket_rows) ago, linearly interpolated; until one
    pitch of history exists it scales the displacement over the history it has to a
    pitch, and with no history it returns None (the caller uses the velocity x pass time).
    """

    def __init__(self, bucket_rows: int, keep: int = 256):
        self.pitch_rad = 2.0 * math.pi / int(bucket_rows)
        self._keep = int(keep)
        self.clear()

    def clear(self):
        """Forget the history (the drum stopped, reversed or left the soil)."""
        self._angle: list = []
        self._pos: list = []

    def update(self, angle_rad: float, pos_m) -> np.ndarray | None:
        """Record (angle, position) and return the displacement over the last bucket
        pitch (3-vector, m), or None without history. The angle must move one way; a
        turn back clears the history."""
        pos = np.array(pos_m, dtype=float)     # a copy: MuJoCo's arrays change under us
        a = float(angle_rad)
        if self._angle and abs(a - self._angle[-1]) > 0.0 and (
                len(self._angle) >= 2 and (a - self._angle[-1]) * (self._angle[-1] - self._angle[-2]) < 0.0):
            self.clear()
        self._angle.append(a)
        self._pos.append(pos)
        if len(self._angle) > self._keep:
            del self._angle[0], self._pos[0]
        if len(self._angle) < 2:
            return None
        ang = np.abs(np.asarray(self._angle) - a)      # angle turned since each sample, >= 0
        span = float(ang[0])
        if span <= 1e-9:
            return None
        if span < self.pitch_rad:
            return (pos - self._pos[0]) * (self.pitch_rad / span)
        # newest sample at least one pitch back: ang decreases along the list
        k = int(np.flatnonzero(ang >= self.pitch_rad)[-1])
        a0, a1 = ang[k], ang[k + 1]
        f = (a0 - self.pitch_rad) / (a0 - a1) if a0 > a1 else 0.0
        then = self._pos[k] + f * (self._pos[k + 1] - self._pos[k])
        if k > 0:       # older samples are no longer needed
            del self._angle[:k], self._pos[:k]
        return pos - then
