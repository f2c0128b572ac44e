"""Site facts a mission needs, derived once from a world file (no rclpy).

Gravity, the dig and berm zones and the *prior* resource map are what a team knows
about a site before it lands (orbital data, competition rules). The simulator's
ground truth (regolith strength, true resource grades) is deliberately not here:
planning code never sees it. Used by stack.launch.py and `mining-rover sim` alike.
"""
from __future__ import annotations


def site_parameters(world: str) -> dict:
    """{'planner': {...}, 'mission': {...}, 'drive': {...}, 'excavator': {...}, 'gravity_mps2': g,
    'holddown_n': F, 'start_xy_yaw': (x, y, yaw)}: the node parameters that place one site's
    zones and the rover's start pose (odometry starts there) in the site frame, and fit
    the rover's limits to the body's gravity. Where gravity alone cannot react a useful
    cut (a rubble pile) the hold-down thrusters fire (``site_holddown_n``) and every
    limit that depends on what presses the wheels down sees gravity + thrust / mass.

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
    from mining_rover.control.holddown import effective_gravity
    from mining_rover.paths import rover_mass_kg

    g = float(spec.gravity_mps2)
    thrust = site_holddown_n(g)
    mission, drive = gravity_limits(effective_gravity(g, thrust, rover_mass_kg()))
    held = {'holddown_n': thrust} if thrust > 0.0 else {}
    return {
        'gravity_mps2': g,
        'holddown_n': thrust,
        'start_xy_yaw': tuple(float(v) for v in spec.zones.start_xy_yaw),
        'planner': {**zones, 'gravity_mps2': g, 'prior_map_path': str(spec.prior_map_path), **held},
        'mission': {**zones, **mission},
        'drive': {**drive, 'initial_x_m': float(spec.zones.start_xy_yaw[0]),
                  'initial_y_m': float(spec.zones.start_xy_yaw[1]),
                  'initial_yaw_rad': float(spec.zones.start_xy_yaw[2]), **held},
        # the drums' static weigh (true g), the arms' swing limits (g + thrust / mass)
        'excavator': {'gravity_mps2': g, **held},
    }


def site_holddown_n(gravity_mps2: float) -> float:
    """Hold-down thrust this gravity needs, N (control/holddown.py thrust_for_site), judged
    as the planner will plan its cuts: with its nominal regolith
    (config/regolith_nominal.yaml) and the rover of config/rover.yaml. 0 on the Moon,
    Mars, Earth, Psyche, Vesta and Ceres; two of the four 4 N thrusters on a rubble pile,
    6.9 N net of their 30 deg cant."""
    from mining_rover.control.holddown import HoldDown, thrust_for_site
    from mining_rover.paths import config_path, rover_config, rover_mass_kg
    from mining_rover.planning.regolith import Rover, load_params, plan_cut

    rover = rover_config()
    nominal = load_params(config_path('regolith_nominal.yaml'))
    mass = rover_mass_kg(rover)
    return float(thrust_for_site(HoldDown.from_rover(rover), gravity_mps2,
                                 lambda thrust_n: plan_cut(Rover(mass_kg=mass, holddown_n=thrust_n),
                                                           nominal, gravity_mps2)))


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
