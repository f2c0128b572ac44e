"""The executive's phases, one module each; ``PHASES`` registers them with the machine
(machine.py checks at import that every State has exactly one)."""
from mining_rover.planning.executive.phases.drive_to_site import DriveToSite
from mining_rover.planning.executive.phases.dump import Dump
from mining_rover.planning.executive.phases.excavate import BackOff, Excavate
from mining_rover.planning.executive.phases.haul import Haul
from mining_rover.planning.executive.phases.holding import Done, Estop, Fault, Paused
from mining_rover.planning.executive.phases.recover import Recover
from mining_rover.planning.executive.phases.select_site import SelectSite
from mining_rover.planning.executive.phases.survey import Mapping

PHASES = (Mapping, SelectSite, DriveToSite, Excavate, BackOff, Haul, Dump, Recover,
          Estop, Paused, Fault, Done)
