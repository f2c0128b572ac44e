"""The pieces behind `mining-rover sim` (mining_rover.mission_runner).

``msgdefs``   ROS 2 message definitions (.msg text) for MCAP schemas
``recorder``  MCAP writer for raw CDR messages, with per-topic rate limits
``timeline``  the mission's time series and the summary figures (pure Python)
``report``    summary.json, report.png and report.html (matplotlib Agg)
``stack``     the ROS 2 node processes: command lines, logs, clean stop
``monitor``   the in-process rclpy node that records and watches the mission
``progress``  the progress bar on stderr
"""
