"""Load a benchmark module from bench/ (a developer tool in the source tree, not installed)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_bench(name: str):
    """The module bench/<name>.py, imported under the name bench_<name>."""
    spec = importlib.util.spec_from_file_location(f'bench_{name}', REPO / 'bench' / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
