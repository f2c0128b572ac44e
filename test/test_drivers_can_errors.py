"""A CAN bus that cannot open is reported in one line naming the interface, the channel
and the likely fix (drivers/backend.py can_open_error), through the ODrive backend's
start() problems as drive_node and excavator_node log them."""
import errno
import os

import pytest

from mining_rover.drivers.backend import BusOpenError, can_open_error, open_can_bus
from mining_rover.drivers.odrive_can import AxisConfig, OdriveCanBackend, bus_factory


def _refuses(code):
    def opener(**kwargs):
        raise OSError(code, os.strerror(code))
    return opener


@pytest.mark.parametrize('code,fix', [
    (errno.EAFNOSUPPORT, 'sudo modprobe can_raw'),
    (errno.ENODEV, 'sudo modprobe gs_usb'),
    (errno.ENETDOWN, 'sudo ip link set can1 up type can bitrate 250000'),
])
def test_each_socketcan_failure_names_interface_channel_and_fix(code, fix):
    with pytest.raises(BusOpenError) as info:
        open_can_bus('socketcan', 'can1', 0, opener=_refuses(code))
    text = str(info.value)
    assert text.startswith("socketcan channel 'can1': ")
    assert f'[Errno {code}]' in text and fix in text
    assert 'sudo ip link set can1 up type can bitrate 250000' in text
    assert '\n' not in text


def test_the_configured_bit_rate_is_the_one_suggested():
    text = can_open_error('socketcan', 'can0', 500000, OSError(errno.ENETDOWN, 'Network is down'))
    assert 'bitrate 500000' in text and '250000' not in text


def test_a_missing_python_interface_names_its_package():
    text = can_open_error('gs_usb', '0', 0, ImportError("No module named 'usb'"))
    assert text.startswith("gs_usb channel '0'") and 'pyusb' in text and 'modprobe gs_usb' in text


def test_a_real_socketcan_interface_that_fails_reaches_the_backend_problems():
    """A channel that exists on no machine: whatever the kernel says (no SocketCAN at
    all: errno 97; no such device: 19), start() names it and the fix."""
    axes = [AxisConfig('front_left_wheel_joint', 'wheel', 0)]
    backend = OdriveCanBackend(axes, bus_factory('socketcan', 'mrtestcan9', 0), startup_timeout_s=0.1)
    try:
        problems = backend.start()
    finally:
        backend.close()
    text = ' '.join(problems)
    assert "cannot open CAN bus: socketcan channel 'mrtestcan9': [Errno" in text, problems
    assert 'sudo ip link set mrtestcan9 up type can bitrate 250000' in text, problems
    assert 'modprobe' in text, problems
