"""Benchmark: command watchdog through the real stack.

drive_node (in-process, real rclpy/DDS) with the odrive_can backend on a python-can
virtual bus against the fake ODrive (test/fake_odrive.py). Each trial streams /cmd_vel
at 20 Hz until every wheel turns, then stops the stream; the latency is the time from
the last published Twist until the fake ODrive has received a zero setpoint (or is
disarmed) on every wheel axis. The watchdog timeout itself is part of the latency, so
the comparison is against ``timeout_s`` (within 2x = at most 2 * timeout_s).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

NAME = 'watchdog'
DESCRIPTION = ('/cmd_vel stream stops -> every wheel command zero; drive_node + odrive_can backend '
               'against the fake ODrive on a virtual CAN bus, 100 trials (20 with --quick)')

TIMEOUT_S = 0.2
WHEEL_IDS = [0, 1, 2, 3]


def run(quick: bool = False) -> dict:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from fake_odrive import FakeOdrive
    from mining_rover.benchmarking import metric
    from mining_rover.nodes.drive_node import DriveNode
    from mining_rover.ros import qos

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    trials = 20 if quick else 100
    channel = f'bench_watchdog_{os.getpid()}'
    context = Context()
    rclpy.init(context=context)
    fake = FakeOdrive(channel, WHEEL_IDS, watchdog_timeout_s=0.5).start()
    node = DriveNode(context=context, parameter_overrides=[
        Parameter('backend', value='odrive_can'), Parameter('can_interface', value='virtual'),
        Parameter('can_channel', value=channel), Parameter('cmd_timeout_s', value=TIMEOUT_S),
        Parameter('control_rate_hz', value=50.0), Parameter('heartbeat_timeout_s', value=0.2)])
    helper = rclpy.create_node('watchdog_bench', context=context)
    pub = helper.create_publisher(Twist, '/cmd_vel', qos.COMMAND)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(helper)
    cmd = Twist()
    cmd.linear.x = 0.3

    def spin_until(predicate, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not predicate():
            executor.spin_once(timeout_sec=0.002)
        return predicate()

    latencies, failures = [], 0
    try:
        for _ in range(trials):
            next_pub = time.monotonic()
            deadline = next_pub + 3.0
            while time.monotonic() < deadline:
                if time.monotonic() >= next_pub:
                    pub.publish(cmd)
                    last = time.monotonic()
                    next_pub += 0.05
                    if all(fake.axis(i).input_vel != 0.0 for i in WHEEL_IDS):
                        break
                executor.spin_once(timeout_sec=0.005)
            if not spin_until(lambda: fake.all_stopped(WHEEL_IDS), 2.0):
                failures += 1
                continue
            latencies.append(fake.last_stop_time(WHEEL_IDS) - last)
            spin_until(lambda: False, 0.05)
    finally:
        node.shutdown()
        executor.shutdown()
        node.destroy_node()
        helper.destroy_node()
        fake.stop()
        rclpy.try_shutdown(context=context)
    within = sum(1 for x in latencies if x <= 2 * TIMEOUT_S)
    return {
        'trials': metric(trials, 'count'),
        'timeout_s': metric(TIMEOUT_S, 's'),
        'stop_latency_median_s': metric(statistics.median(latencies) if latencies else float('nan'), 's',
                                        f'<= {2 * TIMEOUT_S}'),
        'stop_latency_max_s': metric(max(latencies) if latencies else float('nan'), 's'),
        'trials_within_2x': metric(within, 'count', f'>= {trials}'),
        'trials_never_stopped': metric(failures, 'count', '== 0'),
    }


if __name__ == '__main__':
    for k, m in run(quick='--quick' in sys.argv).items():
        print(f'{k:28s} {m.value!s:>12} {m.unit:6s} {m.goal}')
