"""Global localization: the map-frame pose filter (odometry + absolute fixes)."""
