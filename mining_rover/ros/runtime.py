"""The one way every node's main() runs: init, spin, clean shutdown on SIGINT/SIGTERM.

Every node's console script is ``def main(args=None): node_main(MyNode, args)``.

Shutdown contract (docs/readme/nodes.md): SIGINT or SIGTERM, to the process or to its
whole process group, once or several times, at any moment after main() starts, ends the
node with exit code 0: the node's ``shutdown()`` hook runs (drivers: every actuator to
its safe state, backend closed), the node lingers so those last commands reach their
readers, it is destroyed, and one line ``clean shutdown (SIGINT)`` is logged. No
KeyboardInterrupt is ever raised, so no traceback.
"""
from __future__ import annotations

import signal
import sys
import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from mining_rover.config_check import ConfigError
from mining_rover.ros.params import ParameterError


SPIN_PERIOD_S = 0.1   # longest wait before a stop request is seen
#: How long a node with a shutdown() hook lingers after it, before it is destroyed, so
#: that what the hook published (drivers: zero to every actuator) reaches the readers.
#: Destroyed at once, the last sample is lost when the participant goes before a reader
#: has it: measured here (Fast DDS, one host), a zero published just before exit never
#: arrived in 14 of 25 runs, and in 0 of 20 with a 0.1 s linger; a mission that ended
#: mid-dump left the drum commanded to reverse. (rclpy's wait_for_all_acked is no help:
#: it timed out with the reader present and spinning.)
SHUTDOWN_LINGER_S = 0.25
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by SIGINT/SIGTERM; remembers the first signal for the shutdown log line."""

    def __init__(self):
        self.event = threading.Event()
        self.signal_name = ''

    def handler(self, signum, _frame):
        if not self.event.is_set():
            self.signal_name = signal.Signals(signum).name
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def _install_stop_handlers(stop: StopRequest) -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}     # signals are only delivered to the main thread
    return {sig: signal.signal(sig, stop.handler) for sig in _STOP_SIGNALS}


def _restore_handlers(previous: dict):
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def run_node(factory, args=None, executor_cls=SingleThreadedExecutor, keep_handlers: bool = False) -> int:
    """rclpy.init, build the node with factory(), spin until stopped; returns an exit code.

    A ParameterError or ConfigError (bad parameters, a bad config/rover.yaml) ends with exit
    code 2 after logging the reason in one line.
    The node's ``shutdown()`` method, if any, runs before the node is destroyed so that
    drivers command zero on Ctrl-C. ``keep_handlers``: leave the stop handlers installed
    on return (a process about to exit: a late second signal must not kill it with the
    default disposition, -15, or raise KeyboardInterrupt in the interpreter's exit).
    """
    # No rclpy signal handler (it would shut the context down before the node could
    # command zero) and no KeyboardInterrupt either: raised at an arbitrary bytecode it can
    # land inside a pybind11 call or in the middle of the clean-up below. SIGINT/SIGTERM
    # only set a flag, from before the node exists until after it is destroyed: ros2
    # launch forwards a second SIGINT (and a shell sends one to the whole group) while the
    # node is already shutting down, and that one must not interrupt the clean-up.
    stop = StopRequest()
    previous = _install_stop_handlers(stop)
    node = None
    name = 'mining_rover'
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        try:
            try:
                node = factory()
            except (ParameterError, ConfigError) as exc:
                rclpy.logging.get_logger(name).fatal(f'refusing to start: {exc}')
                return 2
            name = node.get_name()
            executor = executor_cls()
            executor.add_node(node)
            while not stop.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=SPIN_PERIOD_S)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            if node is not None:
                if hasattr(node, 'shutdown'):
                    try:
                        node.shutdown()
                    except Exception as exc:  # still destroy the node
                        node.get_logger().error(f'shutdown hook failed: {exc}')
                    time.sleep(SHUTDOWN_LINGER_S)
                node.destroy_node()
                why = stop.signal_name or ('context shut down' if not rclpy.ok() else 'exit')
                rclpy.logging.get_logger(name).info(f'clean shutdown ({why})')
            rclpy.try_shutdown()
    finally:
        if not keep_handlers:
            _restore_handlers(previous)
    return 0


def node_main(factory, args=None):
    """The whole main() of a node's console script: run the node, exit with its code.

    ``def main(args=None): node_main(MyNode, args)``
    """
    code = run_node(factory, args, keep_handlers=True)
    # The node is gone; what is left is the interpreter's and the DDS threads' exit. Python
    # resets signals with Python handlers to the default disposition as it finalises, so
    # a late second Ctrl-C would end the process with -2/-15 (seen: launch's forwarded
    # SIGINT after a fast node's clean shutdown); ignored signals stay ignored.
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)
