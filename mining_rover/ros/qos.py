"""QoS profiles by role (STYLE.md): sensor streams, latched maps/plans, commands, state."""
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

#: Images, camera infos, point clouds, IMU: best effort, keep last 5.
SENSOR = qos_profile_sensor_data

#: Maps, plans, routes, the robot description: late joiners get the last one.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
MAP = LATCHED

#: Actuator and velocity commands: reliable, shallow, never stale history.
COMMAND = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)

#: Odometry, joint states, diagnostics, status: reliable, volatile.
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)

#: /clock from the simulator.
CLOCK = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
