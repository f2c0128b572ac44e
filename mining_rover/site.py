"""Site facts a mission needs, derived once from a world file (no rclpy).

Gravity, the dig and berm zones and the *prior* resource map are what a team knows
about a site before it lands (orbital data, competition rules). The simulator's
ground truth (regolith strength, true resource grades) is deliberately not here:
planning code never sees it. Used by stack.launch.py and `mining-rover sim` alike.
"""
from __future__ import annotations


def site_parameters(world: str) -> dict:
    """{'planner': {...}, 'mission': {...}, 'drive': {...}, 'excavator': {...}, 'gravity_mps2': g,
    'start_xy_yaw': (x, y, yaw)}: the node parameters that place one site's zones and the
    rover's start pose (odometry starts there) in the site frame.

    Raises ValueError (listing the known worlds) for an unknown world.
    """
    from mining_rover.sim.world import load_world

    spec = load_world(world)
    dx, dy, dr = spec.zones.dig_zone
    bx, by, br = spec.zones.berm_zone
    zones = {
        'dig_zone_x': float(dx), 'dig_zone_y': float(dy), 'dig_zone_radius': float(dr),
        'berm_x': float(bx), 'berm_y': float(by), 'berm_radius': float(br),
    }
    g = float(spec.gravity_mps2)
    mission, drive = gravity_limits(g)
    return {
        'gravity_mps2': g,
        'start_xy_yaw': tuple(float(v) for v in spec.zones.start_xy_yaw),
        'planner': {**zones, 'gravity_mps2': g, 'prior_map_path': str(spec.prior_map_path)},
        'mission': {**zones, **mission},
        'drive': {**drive, 'initial_x_m': float(spec.zones.start_xy_yaw[0]),
                  'initial_y_m': float(spec.zones.start_xy_yaw[1]),
                  'initial_yaw_rad': float(spec.zones.start_xy_yaw[2])},
        'excavator': {'gravity_mps2': g},   # the drums' static weigh, the arms' swing limits
    }


#: The drive limits drivers_*.yaml sets (drive_node's defaults): gravity only ever lowers them.
NOMINAL_DRIVE = {'max_linear_accel': 0.5, 'max_angular_accel': 2.0}


def gravity_limits(gravity_mps2: float) -> tuple:
    """(mission overrides, drive overrides): the executive's speed and turn-rate limits
    and the drive's acceleration limits, lowered to what this gravity allows
    (control/limits.py TraversalLimits; rover dimensions from config/rover.yaml). Only
    limits below the configured ones are returned: on the Moon, Mars and Earth the
    configuration stands."""
    from mining_rover.control.limits import TraversalLimits
    from mining_rover.paths import rover_config
    from mining_rover.planning.mission import MissionConfig

    wheel = rover_config()['wheel']
    lim = TraversalLimits.for_gravity(gravity_mps2, float(wheel['wheelbase']), float(wheel['track_width']))
    nominal = MissionConfig()
    mission = {k: float(f'{v:.4g}') for k, v in (('max_linear_mps', lim.max_linear_mps),
                                           ('max_angular_radps', lim.max_angular_radps))
               if v < getattr(nominal, k)}
    drive = {k: float(f'{v:.4g}') for k, v in (('max_linear_accel', lim.max_linear_accel),
                                         ('max_angular_accel', lim.max_angular_accel))
             if v < NOMINAL_DRIVE[k]}
    return mission, drive
