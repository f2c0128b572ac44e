"""run_node: on SIGINT a node's shutdown() runs, and the node lingers SHUTDOWN_LINGER_S
before it is destroyed, so what shutdown() published (a driver's zero to every actuator)
reaches its readers: destroyed at once, such a last sample was lost in about half of the
runs measured (mining_rover/ros/runtime.py)."""
import signal
import subprocess
import sys
import textwrap
import time

from std_msgs.msg import Float64

from mining_rover.ros import qos
from mining_rover.ros.runtime import SHUTDOWN_LINGER_S

# A driver-like node: commands -4 until stopped, then zero from its shutdown(), and exits.
NODE = textwrap.dedent('''
    import time
    from rclpy.node import Node
    from std_msgs.msg import Float64
    from mining_rover.ros import qos
    from mining_rover.ros.runtime import run_node

    class Driver(Node):
        def __init__(self):
            super().__init__('runtime_test_driver')
            self.pub = self.create_publisher(Float64, 'runtime_test/cmd', qos.COMMAND)
            self.create_timer(0.02, lambda: self.pub.publish(Float64(data=-4.0)))

        def shutdown(self):
            self.pub.publish(Float64(data=0.0))
            self.shutdown_at = time.monotonic()

        def destroy_node(self):
            print(f'linger {time.monotonic() - self.shutdown_at:.3f}', flush=True)
            super().destroy_node()

    raise SystemExit(run_node(Driver))
''')


def test_the_shutdown_command_arrives_before_the_node_is_destroyed(ros):
    helper = ros.node('runtime_test_reader')
    got = []
    helper.create_subscription(Float64, 'runtime_test/cmd', lambda m: got.append(m.data), qos.COMMAND)
    lost = 0
    runs = 5
    for _ in range(runs):
        got.clear()
        proc = subprocess.Popen([sys.executable, '-c', NODE], stdout=subprocess.PIPE, text=True)
        try:
            assert ros.spin_until(lambda: -4.0 in got, 20.0), 'the driver never commanded'
            proc.send_signal(signal.SIGINT)
            t0 = time.monotonic()
            while proc.poll() is None and time.monotonic() - t0 < 10.0:
                ros.spin_for(0.05)
            assert proc.returncode == 0
            linger = float(proc.stdout.read().split('linger ')[1].split()[0])
            assert linger >= SHUTDOWN_LINGER_S
            ros.spin_for(0.3)
        finally:
            if proc.poll() is None:
                proc.kill()
        lost += got[-1] != 0.0
    assert lost == 0, f'the shutdown zero was lost in {lost} of {runs} runs'
