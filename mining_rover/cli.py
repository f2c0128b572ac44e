"""The `mining-rover` command: `sim` (an embedded autonomous mission), `sweep` (many
missions as Ray tasks) and `bench`."""
from __future__ import annotations

import argparse
import sys


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line costs one line on stderr (exit 2), not the usage."""

    def error(self, message):
        self.exit(2, f'{self.prog}: {message} (see {self.prog} --help)\n')


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog='mining-rover', description=__doc__)
    sub = p.add_subparsers(dest='command', required=True)

    s = sub.add_parser('sim', help='run an autonomous mining mission in the embedded simulator')
    s.add_argument('--world', default='moon_south_pole', help='world name (worlds/<name>.sdf)')
    s.add_argument('--site', default='compact', choices=('compact', 'operational'),
                   help="compact: the world's own clearing (berm a few metres from the dig zone); "
                        'operational: a 64 m site, dig zone 25-40 m from the base across a hazard '
                        'field (docs/readme/site.md)')
    s.add_argument('--site-seed', type=int, default=None, metavar='N',
                   help='operational site seed (default: the committed site of the world); other '
                        'seeds are generated once into $XDG_CACHE_HOME/mining_rover/worlds')
    s.add_argument('--duration', type=float, default=600.0, help='mission length, sim seconds')
    s.add_argument('--out', default='out/sim', help='output directory for the report')
    s.add_argument('--seed', type=int, default=1, help='random seed of the simulator')
    s.add_argument('--rtf', type=float, default=0.0,
                   help='real-time factor to hold (0 = as fast as possible)')
    s.add_argument('--no-record', action='store_true', help='do not write mission.mcap')
    s.add_argument('--faults', metavar='PLAN.yaml',
                   help='inject the timed faults of this plan (config/faults/, docs/readme/faults.md)')
    s.add_argument('--param', action='append', default=[], metavar='NODE.PARAM=VALUE',
                   help='set a node or simulator parameter (repeatable), e.g. '
                        'planner_node.drum_max_speed_radps=6; checked before anything starts')
    s.add_argument('--list-params', metavar='NODE', help="list a node's parameters and exit")

    from mining_rover.runner.sweep import add_sweep_arguments
    add_sweep_arguments(sub.add_parser(
        'sweep', help='many seeded missions across worlds and parameters, as Ray tasks'))

    b = sub.add_parser('bench', help='run benchmarks, print a table, write JSON')
    b.add_argument('names', nargs='*', help='benchmarks to run (default: all)')
    b.add_argument('--json', default='bench/results/bench.json', help='where to write the JSON')
    b.add_argument('--quick', action='store_true', help='smaller sizes, for a smoke run')
    b.add_argument('--list', action='store_true', help='list the benchmarks and exit')
    return p


def main(argv=None) -> int:
    """Entry point of the ``mining-rover`` command: run the chosen subcommand and return its exit code."""
    args = _parser().parse_args(argv)
    if args.command == 'bench':
        from mining_rover import benchmarking
        if args.list:
            for name in benchmarking.discover():
                print(name)
            return 0
        return benchmarking.run_benchmarks(args.names, args.json, quick=args.quick)
    if args.command == 'sweep':
        from mining_rover.runner.sweep import run_sweep_cli
        return run_sweep_cli(args)
    if args.command == 'sim':
        if args.list_params or args.param:
            from mining_rover.runner import node_params
            try:
                if args.list_params:
                    print('\n'.join(node_params.describe(args.list_params)))
                    return 0
                args.param_overrides = node_params.as_overrides(
                    {k: v[0] for k, v in node_params.parse_assignments(args.param, several=False).items()})
            except node_params.ParamSpecError as exc:
                print(f'mining-rover sim: {exc}', file=sys.stderr)
                return 2
        try:
            from mining_rover.mission_runner import run_mission_cli
        except ImportError as exc:
            print(f'mining-rover sim: the embedded mission is not available in this build '
                  f'({exc}); nothing was run.', file=sys.stderr)
            return 1
        return run_mission_cli(args)
    return 2


if __name__ == '__main__':
    sys.exit(main())
