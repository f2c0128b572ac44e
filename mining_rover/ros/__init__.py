"""The only layer that knows both ROS messages and numpy arrays: conversions, QoS, parameters."""
