"""Regolith physics shared by the simulator (with a world's true soil) and the planner
(with its estimate): soil strength and the fundamental earthmoving equation (soil.py),
bucket-drum cutting (drum.py), and the per-world soil table with sources (world_soil.py).
Pure numpy; imports nothing from planning/, sim/ or ROS."""
