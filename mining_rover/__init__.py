"""mining_rover: an autonomous regolith-mining rover for the Moon, asteroids and Mars.

Layers (the arrow points one way): ``nodes`` -> ``ros`` -> domain packages
(``perception``, ``mapping``, ``planning``, ``control``, ``drivers``, ``sim``).
Domain packages never import rclpy or message types.
"""
__version__ = '0.1.0'
