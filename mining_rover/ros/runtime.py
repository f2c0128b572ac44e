"""Helpers every node's main() shares: init, spin, clean shutdown on Ctrl-C."""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from mining_rover.ros.params import ParameterError


def run_node(factory, args=None, executor_cls=SingleThreadedExecutor) -> int:
    """rclpy.init, build the node with factory(), spin until shutdown; returns an exit code.

    A ParameterError (bad configuration) ends with exit code 2 after logging the reason.
    The node's ``shutdown()`` method, if any, runs before the node is destroyed so that
    drivers can command zero on Ctrl-C.
    """
    # No rclpy signal handler: Ctrl-C raises KeyboardInterrupt here while the context is
    # still valid, so the node's shutdown() can still publish zero to every actuator.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    try:
        try:
            node = factory()
        except ParameterError as exc:
            rclpy.logging.get_logger('mining_rover').fatal(f'refusing to start: {exc}')
            return 2
        executor = executor_cls()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if hasattr(node, 'shutdown'):
                try:
                    node.shutdown()
                except Exception as exc:  # still destroy the node
                    node.get_logger().error(f'shutdown hook failed: {exc}')
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def main_wrapper(factory):
    """main() for a console script: ``def main(args=None): return main_wrapper(MyNode)``."""
    def main(args=None):
        sys.exit(run_node(factory, args))
    return main
