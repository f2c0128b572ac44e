"""Earth-rover communications: a deterministic model of a deep-space link (pure Python).

``link.py`` holds the one-way link model (light-time latency, jitter, loss, bandwidth with
priorities, outages) and the helpers that shrink what goes over it (thumbnails, coarse
costmaps). ``mining_rover.nodes.ground_link_node`` puts one model in each direction
between the rover's topics and the operator's ``/ground/*`` topics.
"""
from mining_rover.comms.link import (EARTH_MOON_LIGHT_TIME_S, Link, LinkConfig, LinkStats,
                                     Priority, downsample_costmap, light_time_s, make_thumbnail)

__all__ = ['EARTH_MOON_LIGHT_TIME_S', 'Link', 'LinkConfig', 'LinkStats', 'Priority',
           'downsample_costmap', 'light_time_s', 'make_thumbnail']
