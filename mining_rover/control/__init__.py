"""control domain package (pure Python: no rclpy, no message types)."""
