"""Energy account: trapezoid integration of electrical power, productivity figures."""
import math

import pytest

from mining_rover.planning.energy import EnergyAccount, kg_per_hour, kg_per_wh, total_power_w


def test_constant_power_for_an_hour_is_its_watt_hours():
    acc = EnergyAccount()
    for i in range(3601):
        acc.add(float(i), 120.0)
    assert acc.energy_wh == pytest.approx(120.0, rel=1e-12)


def test_linear_ramp_is_exact_with_the_trapezoid_rule():
    # P(t) = 10 t W over 0..60 s (1 s samples): integral = 5 * 60^2 J = 18000 J = 5 Wh;
    # the trapezoid rule is exact for a linear function.
    acc = EnergyAccount()
    for t in range(61):
        acc.add(float(t), 10.0 * t)
    assert acc.energy_wh == pytest.approx(5.0, rel=1e-12)


def test_uneven_samples_gaps_clock_resets_and_nan():
    acc = EnergyAccount(initial_wh=1.0, max_gap_s=5.0)
    acc.add(0.0, 360.0)
    acc.add(2.0, 360.0)             # 720 J = 0.2 Wh
    acc.add(3.0, math.nan)          # skipped
    acc.add(12.0, 360.0)            # 10 s gap > max_gap: unknown, adds nothing
    acc.add(10.0, 360.0)            # back in time: restart from here, adds nothing
    acc.add(11.0, 0.0)              # 0.5 * 360 * 1 J = 0.05 Wh
    assert acc.energy_wh == pytest.approx(1.25, rel=1e-12)
    with pytest.raises(ValueError):
        EnergyAccount(initial_wh=-1.0)


def test_total_power_and_productivity():
    assert total_power_w({'a': 10.0, 'b': 2.5, 'c': math.nan}) == 12.5
    assert kg_per_hour(30.0, 1800.0) == pytest.approx(60.0)
    assert kg_per_wh(30.0, 15.0) == pytest.approx(2.0)
    assert kg_per_hour(5.0, 0.0) == 0.0 and kg_per_wh(5.0, 0.0) == 0.0
