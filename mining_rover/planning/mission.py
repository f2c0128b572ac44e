"""Former home of the executive, now the package mining_rover.planning.executive.

Kept so that ``from mining_rover.planning.mission import MissionConfig`` (drive_node,
mining_rover/site.py) goes on working; new code imports the package.
"""
from mining_rover.planning.executive import *  # noqa: F401,F403
from mining_rover.planning.executive import __all__  # noqa: F401
