"""Stamp pairing of left/right frames."""
import pytest

from mining_rover.perception.sync import StampPairer


def test_pairs_within_slop_and_drops_older():
    s = StampPairer(slop_s=0.01)
    assert s.add('left', 1.0, 'L1') is None
    assert s.add('left', 1.2, 'L2') is None
    assert s.add('right', 1.205, 'R2') == ('L2', 'R2', 1.2)
    assert s.add('right', 1.0, 'R1') is None       # L1 was dropped with the pair
    assert s.add('right', 1.4, 'R3') is None
    assert s.add('left', 1.4, 'L3') == ('L3', 'R3', 1.4)


def test_too_far_apart_reports_gap():
    s = StampPairer(slop_s=0.01)
    s.add('left', 1.0, 'L')
    assert s.add('right', 1.05, 'R') is None
    assert s.last_gap_s == pytest.approx(0.05)


def test_bad_arguments():
    with pytest.raises(ValueError):
        StampPairer(slop_s=-1)
    with pytest.raises(ValueError):
        StampPairer().add('middle', 0.0, None)
