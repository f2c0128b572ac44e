"""The map-frame pose filter: odometry increments in, absolute fixes in, map -> odom out.

An extended Kalman filter (filterpy's ``ExtendedKalmanFilter``; Labbe, "Kalman and
Bayesian Filters in Python") on base_link's planar pose (x, y m, yaw rad) in ``map``.
Prediction: each odometry increment (drive_node's odom, which fuses the wheels, the IMU
yaw rate and stereo visual odometry over each camera interval) composed onto the state,
with process noise that grows with the distance driven and the angle turned. Update:
an absolute fix (perception/fiducials.py) with its covariance, gated by its Mahalanobis
distance (chi-square, 3 degrees of freedom), so a fix that contradicts a confident
estimate is refused and counted; but when ``rejections_to_reset`` fixes in a row are
refused and agree with each other, the estimate is what is wrong (a slide the odometry
never saw): the covariance is widened to take the innovation and the fix is fused (a
``resets`` count), so odometry is never trusted more than the boards. Between fixes the
covariance only grows (every prediction adds process noise); ``status`` reports it, with
the time and distance since the last fix. Fixes carry their source ('fiducial': the
boards; 'map': a match against the rover's own map, localization/relocalization.py),
counted apart; only fiducial fixes may override the estimate. ``map_to_odom`` is REP-105's
correction: map <- odom such that
map <- odom <- base_link is the filter's pose.

Pure Python (numpy, filterpy); no rclpy.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from filterpy.kalman import ExtendedKalmanFilter

#: Odometry poses kept to carry a late fix (an image's stamp) forward to now: 10 s at 50 Hz.
HISTORY_LEN = 500
#: chi-square 3-dof quantile at 0.999: a consistent fix is refused once in 1000.
CHI2_3DOF_999 = 16.27


def wrap(a: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


@dataclass(frozen=True)
class FilterConfig:
    """Process noise as random walks (variance per metre driven and per radian turned, so
    it does not depend on how often odometry arrives): along- and cross-track position
    sd m per sqrt(m), heading sd rad per sqrt(m) and per sqrt(rad) turned, position sd m
    per sqrt(rad) turned; the fix gate; the start pose's sd; refused fixes in a row that,
    agreeing, override the estimate.

    Defaults: wheel + IMU odometry of this rover drifted 19 cm over a 30 m haul in the
    lunar simulator (bench/localization.py, 2026-12-07): 0.03 m per sqrt(m) gives 16 cm;
    turning in place its centre wanders where the odometry sees none (a lunar mission's
    dump: 6 cm over a half turn): 0.035 m per sqrt(rad) gives 6.2 cm; the gate is
    chi-square 3 dof at 0.999."""
    along_track_m_per_sqrt_m: float = 0.03
    cross_track_m_per_sqrt_m: float = 0.03
    yaw_rad_per_sqrt_m: float = 0.01
    yaw_rad_per_sqrt_rad: float = 0.02
    turn_m_per_sqrt_rad: float = 0.035
    gate_chi2: float = CHI2_3DOF_999
    initial_sd_m: float = 0.05
    initial_sd_rad: float = 0.02
    rejections_to_reset: int = 3

    def __post_init__(self):
        for k, v in self.__dict__.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f'localization filter: {k} must be a finite number > 0, got {v!r}')


def _delta(T0: np.ndarray, T1: np.ndarray) -> np.ndarray:
    """(dx, dy, dyaw) of planar pose T1 in T0's body frame (3-vectors x, y, yaw)."""
    c, s = math.cos(T0[2]), math.sin(T0[2])
    dx, dy = T1[0] - T0[0], T1[1] - T0[1]
    return np.array([c * dx + s * dy, -s * dx + c * dy, wrap(T1[2] - T0[2])])


class _Ekf(ExtendedKalmanFilter):
    """filterpy's EKF with the odometry-composition motion model as predict_x."""

    def predict_x(self, u=0):
        dx, dy, dyaw = u
        x, y, yaw = self.x.ravel()
        c, s = math.cos(yaw), math.sin(yaw)
        self.x = np.array([[x + c * dx - s * dy], [y + s * dx + c * dy], [wrap(yaw + dyaw)]])


@dataclass
class FilterStatus:
    """What the filter reports: position sd (m, the larger axis), heading sd (rad), time
    (s) and distance (m) since the last accepted fix (inf: none yet), fix counts."""
    sigma_xy_m: float
    sigma_yaw_rad: float
    since_fix_s: float
    since_fix_m: float
    fixes_accepted: int
    fixes_rejected: int
    last_reject_reason: str
    resets: int = 0


class PoseFilter:
    """See the module docstring. ``start`` is the known start pose (x, y, yaw) in map."""

    def __init__(self, start, config: FilterConfig | None = None, t0: float = 0.0):
        self.config = cfg = config or FilterConfig()
        start = [float(v) for v in start]
        if len(start) != 3 or not all(math.isfinite(v) for v in start):
            raise ValueError(f'start pose must be 3 finite numbers (x m, y m, yaw rad), got {start!r}')
        self.ekf = _Ekf(dim_x=3, dim_z=3)
        self.ekf.x = np.array(start, dtype=float).reshape(3, 1)
        self.ekf.P = np.diag([cfg.initial_sd_m ** 2, cfg.initial_sd_m ** 2, cfg.initial_sd_rad ** 2])
        self._odom_last = None
        self._history = deque(maxlen=HISTORY_LEN)   # (t, odom pose)
        self._t_fix, self._d_fix = None, 0.0
        self._t_last = float(t0)
        self.accepted = 0
        self.rejected = 0
        self.resets = 0
        self._gated = []    # consecutive fixes refused by the gate: (z, cov)
        self.accepted_by = {}     # source -> fixes accepted
        self.last_fix_source = ''  # source of the newest accepted fix
        self._d_source = {}       # source -> distance driven since its last accepted fix, m
        self.last_reject_reason = ''

    # -- state ------------------------------------------------------------------------
    @property
    def pose(self) -> np.ndarray:
        """(x, y, yaw) of base_link in map."""
        return self.ekf.x.ravel().copy()

    @property
    def covariance(self) -> np.ndarray:
        """3x3 covariance of (x, y, yaw)."""
        return self.ekf.P.copy()

    def status(self, now: float | None = None) -> FilterStatus:
        """The filter's uncertainty and fix history at time ``now`` (s; default the last input)."""
        now = self._t_last if now is None else now
        P = self.ekf.P
        return FilterStatus(float(math.sqrt(max(np.linalg.eigvalsh(P[:2, :2])))), float(math.sqrt(P[2, 2])),
                            math.inf if self._t_fix is None else now - self._t_fix,
                            math.inf if self._t_fix is None else self._d_fix,
                            self.accepted, self.rejected, self.last_reject_reason, self.resets)

    # -- inputs -----------------------------------------------------------------------
    def predict_odometry(self, odom_pose, t: float) -> None:
        """Fold in the odometry pose (x, y, yaw in odom) at time ``t`` (s): the motion since
        the previous one, with process noise for its distance and turn."""
        p = np.asarray(odom_pose, dtype=float).ravel()
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ValueError(f'odometry pose must be 3 finite numbers, got {odom_pose!r}')
        self._t_last = max(self._t_last, float(t))
        self._history.append((float(t), p))
        if self._odom_last is None:
            self._odom_last = p
            return
        u = _delta(self._odom_last, p)
        self._odom_last = p
        dist = float(math.hypot(u[0], u[1]))
        cfg = self.config
        yaw = float(self.ekf.x[2, 0])
        c, s = math.cos(yaw), math.sin(yaw)
        # Jacobian of the composition with respect to the state
        self.ekf.F = np.array([[1.0, 0.0, -s * u[0] - c * u[1]],
                               [0.0, 1.0, c * u[0] - s * u[1]],
                               [0.0, 0.0, 1.0]])
        R = np.array([[c, -s], [s, c]])
        turn = abs(float(u[2]))
        Q = np.zeros((3, 3))
        Q[:2, :2] = R @ np.diag([cfg.along_track_m_per_sqrt_m ** 2 * dist,
                                 cfg.cross_track_m_per_sqrt_m ** 2 * dist]) @ R.T
        Q[:2, :2] += np.eye(2) * cfg.turn_m_per_sqrt_rad ** 2 * turn
        Q[2, 2] = cfg.yaw_rad_per_sqrt_m ** 2 * dist + cfg.yaw_rad_per_sqrt_rad ** 2 * turn
        self.ekf.Q = Q
        self.ekf.predict(u=u)
        self._d_fix += dist
        for k in self._d_source:
            self._d_source[k] += dist

    def distance_since(self, source: str) -> float:
        """Distance driven (m) since the last accepted fix from ``source`` (inf: none yet)."""
        return self._d_source.get(source, math.inf)

    def _odom_at(self, t: float):
        """The odometry pose nearest in time to ``t`` (s), None without history."""
        if not self._history:
            return None
        return min(self._history, key=lambda e: abs(e[0] - t))[1]

    def update_fix(self, z, cov, t: float, source: str = 'fiducial') -> bool:
        """Fuse an absolute fix (x, y, yaw in map) with 3x3 covariance ``cov`` measured at
        ``t`` (s; an image's stamp: the odometry's motion since then is composed onto it);
        False (and counted, with the reason) when it is refused by the gate or malformed.
        ``source`` names where it came from ('fiducial', 'map'): counted apart
        (``accepted_by``, ``distance_since``); only the fiducial boards may override a
        confident estimate (the reset below), a map match never does: the reference map
        is the rover's own and a wrong match must not drag the estimate."""
        z = np.asarray(z, dtype=float).reshape(3)
        cov = np.asarray(cov, dtype=float)
        if not np.all(np.isfinite(z)) or cov.shape != (3, 3) or not np.all(np.isfinite(cov)):
            return self._reject('fix or its covariance is not finite')
        then = self._odom_at(float(t))
        if then is not None and self._odom_last is not None:
            dx, dy, dyaw = _delta(then, self._odom_last)
            c, s = math.cos(z[2]), math.sin(z[2])
            z = np.array([z[0] + c * dx - s * dy, z[1] + s * dx + c * dy, wrap(z[2] + dyaw)])
        z = z.reshape(3, 1)
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            return self._reject('fix covariance is not positive definite')
        y = z - self.ekf.x
        y[2, 0] = wrap(y[2, 0])
        S = self.ekf.P + cov
        d2 = float((y.T @ np.linalg.solve(S, y))[0, 0])
        if d2 > self.config.gate_chi2:
            if source != 'fiducial':
                return self._reject(f'{source} fix {math.sqrt(d2):.1f} sigma from the estimate (gate '
                                    f'{math.sqrt(self.config.gate_chi2):.1f})')
            self._gated.append((z, cov, self._odom_last))
            if not self._gated_agree():
                return self._reject(f'fix {math.sqrt(d2):.1f} sigma from the estimate (gate '
                                    f'{math.sqrt(self.config.gate_chi2):.1f})')
            self.ekf.P = self.ekf.P + y @ y.T    # the estimate was wrong: widen, then fuse
            self.resets += 1
        if source == 'fiducial':
            self._gated = []

        def residual(a, b):
            r = a - b
            r[2, 0] = wrap(r[2, 0])
            return r
        self.ekf.update(z, HJacobian=lambda x: np.eye(3), Hx=lambda x: x, R=cov, residual=residual)
        self.ekf.x[2, 0] = wrap(self.ekf.x[2, 0])
        self.ekf.P = (self.ekf.P + self.ekf.P.T) / 2
        self._t_fix, self._d_fix = max(float(t), self._t_last), 0.0
        self._t_last = self._t_fix
        self.accepted += 1
        self.accepted_by[source] = self.accepted_by.get(source, 0) + 1
        self._d_source[source] = 0.0
        self.last_fix_source = source
        return True

    def _gated_agree(self) -> bool:
        """True when the last ``rejections_to_reset`` gated fixes agree with each other
        (each within the gate of the newest, by their own covariances)."""
        n = int(self.config.rejections_to_reset)
        if len(self._gated) < n:
            return False
        self._gated = self._gated[-n:]
        z1, c1, o1 = self._gated[-1]
        for z0, c0, o0 in self._gated[:-1]:
            if o0 is not None and o1 is not None:   # carry the older fix to the newest one's time
                dx, dy, dyaw = _delta(o0, o1)
                c, s = math.cos(z0[2, 0]), math.sin(z0[2, 0])
                z0 = np.array([[z0[0, 0] + c * dx - s * dy], [z0[1, 0] + s * dx + c * dy],
                               [wrap(z0[2, 0] + dyaw)]])
            d = z1 - z0
            d[2, 0] = wrap(d[2, 0])
            if float((d.T @ np.linalg.solve(c0 + c1, d))[0, 0]) > self.config.gate_chi2:
                return False
        return True

    def _reject(self, reason: str) -> bool:
        self.rejected += 1
        self.last_reject_reason = reason
        return False

    # -- output -----------------------------------------------------------------------
    def map_to_odom(self) -> np.ndarray:
        """(x, y, yaw) of odom in map: map <- odom <- base_link equals the filter's pose
        (identity before the first odometry pose)."""
        if self._odom_last is None:
            return np.zeros(3)
        x, y, yaw = self.pose
        ox, oy, oyaw = self._odom_last
        t = wrap(yaw - oyaw)
        c, s = math.cos(t), math.sin(t)
        return np.array([x - (c * ox - s * oy), y - (s * ox + c * oy), t])
