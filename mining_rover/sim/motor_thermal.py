"""The simulator's lumped motor model: output-referred torque constants and a one-node
thermal model per motor (copper losses in, conduction to the chassis, radiation and, where
there is an atmosphere, convection out). A mixin of sim.simulator.Simulator, which owns
``model``, ``data``, ``world``, ``_act``, ``joint_kind`` and ``_temp_k``."""
from __future__ import annotations

import math

#: Output-referred torque constants, N m/A: a brushless DC motor (k_t ~0.02-0.05 N m/A,
#: e.g. maxon EC-i 40 data sheet) behind a ~10:1 planetary gearbox; the arms behind the
#: 100:1 reduction of config/drivers_rover.yaml (arm_gear_ratio) at ~80 % efficiency:
#: 0.05 x 100 x 0.8 = 4 N m/A. At 0.5 N m/A an arm holding a full drum (~20 N m in
#: lunar gravity) drew 40 A and reached its 130 C thermal stop within five cycles.
KT = {'wheel': 0.5, 'arm': 4.0, 'drum': 0.3}
WINDING_OHM = 0.15             # phase resistance, ohm
HEAT_CAPACITY_J_PER_K = 400.0  # ~0.9 kg of aluminium housing (c = 900 J/kg/K)
CONDUCTANCE_W_PER_K = 0.4      # to the chassis, held at ambient
EMISSIVITY = 0.8               # anodised housing
RADIATING_AREA_M2 = 0.02
CONVECTION_W_PER_M2K = 5.0     # natural convection at 1 atm
STEFAN_BOLTZMANN = 5.670374419e-8
CHASSIS_K = 293.15             # thermally controlled chassis (conduction sink)


class MotorThermalMixin:
    """Motor current, torque and winding temperature of the simulated actuators."""

    def _thermal(self, dt):
        amb = self.world.ambient_temperature_k
        conv = 0.0 if self.world.vacuum else CONVECTION_W_PER_M2K * math.sqrt(
            self.world.atmosphere_pressure_pa / 101325.0)
        for n, a in self._act.items():
            i = abs(float(self.data.actuator_force[a])) / KT[self.joint_kind[n]]
            T = self._temp_k[n]
            q = (i * i * WINDING_OHM - CONDUCTANCE_W_PER_K * (T - CHASSIS_K)
                 - EMISSIVITY * STEFAN_BOLTZMANN * RADIATING_AREA_M2 * (T ** 4 - amb ** 4)
                 - conv * RADIATING_AREA_M2 * (T - amb))
            self._temp_k[n] = T + q * dt / HEAT_CAPACITY_J_PER_K

    def motor_state(self) -> dict:
        out = {}
        for n, a in self._act.items():
            tau = float(self.data.actuator_force[a])
            out[n] = dict(current_a=abs(tau) / KT[self.joint_kind[n]],
                          temperature_c=self._temp_k[n] - 273.15, torque_nm=tau)
        return out
