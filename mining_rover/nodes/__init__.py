"""One module per ROS node. Thin: parameters, QoS, subscriptions, timers; converts with ros/,
calls the domain."""
