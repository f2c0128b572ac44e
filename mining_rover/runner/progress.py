"""A one-line progress bar on stderr: sim time / duration, cycles, kg delivered, state."""
from __future__ import annotations

import sys
import time


class Progress:
    """On a terminal the line is redrawn in place; elsewhere (CI logs, pipes) a line is
    printed every ``log_every`` of the mission or every ``log_wall_s`` of wall time."""

    def __init__(self, duration_s: float, stream=None, enabled: bool = True, width: int = 28,
                 log_every: float = 0.1, log_wall_s: float = 5.0):
        self.duration_s = max(float(duration_s), 1e-9)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.width = width
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.log_every = log_every
        self._next_log = 0.0
        self.log_wall_s = log_wall_s
        self._next_log_wall = 0.0
        self._t0 = time.monotonic()
        self._drawn = False

    def line(self, sim_s: float, cycles, delivered_kg, state: str = '', rtf=None) -> str:
        frac = min(max(sim_s / self.duration_s, 0.0), 1.0)
        filled = int(round(frac * self.width))
        bar = '#' * filled + '-' * (self.width - filled)
        rtf_text = f' rtf {rtf:.2f}' if rtf else ''
        kg = f'{delivered_kg:.1f}' if isinstance(delivered_kg, (int, float)) else '-'
        return (f'[{bar}] {sim_s:6.1f}/{self.duration_s:.0f} s  '
                f'cycles {cycles if cycles is not None else "-"}'
                f'  delivered {kg} kg  {state}{rtf_text}  wall {time.monotonic() - self._t0:.0f} s')

    def update(self, sim_s: float, cycles=None, delivered_kg=None, state: str = '', rtf=None):
        if not self.enabled:
            return
        text = self.line(sim_s, cycles, delivered_kg, state, rtf)
        if self.tty:
            self.stream.write('\r' + text.ljust(120)[:160])
            self._drawn = True
        elif sim_s / self.duration_s >= self._next_log or time.monotonic() >= self._next_log_wall:
            self.stream.write(text + '\n')
            self._next_log = sim_s / self.duration_s + self.log_every
            self._next_log_wall = time.monotonic() + self.log_wall_s
        self.stream.flush()

    def message(self, text: str):
        """A line of its own (a node died, the mission stops) without breaking the bar."""
        if not self.enabled:
            return
        if self.tty and self._drawn:
            self.stream.write('\n')
            self._drawn = False
        self.stream.write(text + '\n')
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self._drawn:
            self.stream.write('\n')
            self.stream.flush()
            self._drawn = False
