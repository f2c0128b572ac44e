"""What a simulated rover senses of itself: joint states, the IMU (with noise) and the
ground truth used by evaluation. A mixin of sim.simulator.Simulator, which owns
``model`` and ``data`` and forwards the active rover's ids and noise generator
(sim/rover.py)."""
from __future__ import annotations

import mujoco
import numpy as np

#: IMU white noise per sample (standard deviation): gyro rad/s, accelerometer m/s^2
#: (moved unchanged from sim/simulator.py).
IMU_GYRO_STD, IMU_ACCEL_STD = 2e-4, 2e-3


def _mat_to_quat_xyzw(R) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=float).reshape(9))
    return np.array([q[1], q[2], q[3], q[0]])


class RoverSensorsMixin:
    """Joint states, IMU and ground truth of the active rover."""

    def joint_state(self) -> dict:
        """{joint: (position rad or m, velocity rad/s, actuator force N m)} in contract order."""
        d = self.data
        return {n: (float(d.qpos[self._qadr[n]]), float(d.qvel[self._vadr[n]]),
                    float(d.actuator_force[self._act[n]])) for n in self._act}

    def imu(self) -> dict:
        """IMU sample in imu_link: orientation (x, y, z, w in map), angular velocity rad/s,
        linear acceleration m/s^2 (noise from the rover's generator)."""
        d = self.data
        R = d.xmat[self._imu_body].reshape(3, 3)
        acc = d.sensordata[self._accel_adr:self._accel_adr + 3] + self._rng.normal(0, IMU_ACCEL_STD, 3)
        gyr = d.sensordata[self._gyro_adr:self._gyro_adr + 3] + self._rng.normal(0, IMU_GYRO_STD, 3)
        return dict(orientation_xyzw=_mat_to_quat_xyzw(R), angular_velocity=np.array(gyr),
                    linear_acceleration=np.array(acc))

    def ground_truth_pose(self) -> np.ndarray:
        """map -> base_link, 4x4."""
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[self._base_id].reshape(3, 3)
        T[:3, 3] = self.data.xpos[self._base_id]
        return T

    def ground_truth_twist(self) -> np.ndarray:
        """(vx, vy, vz m/s, wx, wy, wz rad/s) of base_link in base_link."""
        v = np.zeros(6)   # world-aligned (flg_local=0), rotated into base_link here
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_BODY, self._base_id, v, 0)
        R = self.data.xmat[self._base_id].reshape(3, 3)
        return np.concatenate([R.T @ v[3:], R.T @ v[:3]])   # (vx, vy, vz, wx, wy, wz) in base_link
