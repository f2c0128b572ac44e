"""The executive: map, select a site, drive, excavate, haul, dump, repeat.

A small machine (machine.py) runs one phase per state (phases/), walks the interrupts,
and keeps a versioned typed record (record.py) that a restarted executive resumes.
Settings: config.py; inputs and outputs: io.py; the costmap queries: costmap.py; route
following shared by the driving phases: route.py.
"""
from mining_rover.planning.executive.config import MissionConfig, arm_angle_for_depth, setting
from mining_rover.planning.executive.costmap import Costmap
from mining_rover.planning.executive.io import (DigSite, DumpResponse, ExcavationPlan,
                                                ExcavatorReport, Goal, MissionInputs,
                                                MissionOutputs, Pose2D, Route)
from mining_rover.planning.executive.machine import (DISPATCH, INTERRUPTS, TRANSITIONS, WORKING,
                                                     Interrupt, Mission)
from mining_rover.planning.executive.phase import State
from mining_rover.planning.executive.record import (RECORD_VERSION, CycleRecord, MissionRecord,
                                                    migrate_v0)

__all__ = ['MissionConfig', 'arm_angle_for_depth', 'setting', 'Costmap', 'DigSite',
           'DumpResponse', 'ExcavationPlan', 'ExcavatorReport', 'Goal', 'MissionInputs',
           'MissionOutputs', 'Pose2D', 'Route', 'DISPATCH', 'INTERRUPTS', 'TRANSITIONS', 'WORKING',
           'Interrupt', 'Mission', 'State', 'RECORD_VERSION', 'CycleRecord', 'MissionRecord',
           'migrate_v0']
