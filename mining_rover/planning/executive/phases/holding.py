"""The phases an interrupt holds the rover in (ESTOP, PAUSED, FAULT) and DONE: all stop,
the drums too; each returns to the state it interrupted once its condition clears."""
from __future__ import annotations

from dataclasses import dataclass

from mining_rover.planning.executive.phase import Phase, State, resume


class Estop(Phase):
    """Latched: all zero until the e-stop has been clear for estop_clear_hold_s."""
    state = State.ESTOP
    autonomous = False
    holding = True

    @dataclass
    class Data:
        t0: float
        resume: bool
        clear_t: float | None = None   # the e-stop cleared at

    def step(self, ctx, d, inp, now):
        ctx.stop(arm=None, drum=0.0)
        if inp.estop:
            d.clear_t = None
            return None
        d.clear_t = d.clear_t or now
        if now - d.clear_t >= ctx.cfg.estop_clear_hold_s:
            return resume('e-stop cleared')
        return None


class Paused(Phase):
    """The operator's pause: stopped until it is lifted."""
    state = State.PAUSED
    autonomous = False
    holding = True

    def step(self, ctx, d, inp, now):
        ctx.stop(arm=None, drum=0.0)
        return None if inp.paused else resume('operator resume')


class Fault(Phase):
    """Safe stop (driver fault, no route, failed dump), then a retry after a back-off
    that doubles with every fault of the cycle (fault_backoff_s .. fault_backoff_max_s);
    a driver fault still standing then starts another back-off."""
    state = State.FAULT
    holding = True

    @dataclass
    class Data:
        t0: float
        resume: bool
        until: float = 0.0    # retry no earlier than this

    def enter(self, ctx, now, resume):
        d = self.Data(now, resume)
        self._back_off(ctx, d, now)
        return d

    @staticmethod
    def _back_off(ctx, d, now):
        c, rec = ctx.cfg, ctx.record
        wait = min(c.fault_backoff_max_s, c.fault_backoff_s * 2 ** rec.fault_count)
        rec.fault_count += 1
        d.until = now + wait
        ctx.event('warn', f'fault #{rec.fault_count} ({rec.fault_reason}): safe stop, '
                          f'retry in {wait:.0f} s')

    def step(self, ctx, d, inp, now):
        ctx.stop(arm=None, drum=0.0)
        if now < d.until:
            return None
        if inp.driver_fault:
            self._back_off(ctx, d, now)
            return None
        return resume(f'retrying after: {ctx.record.fault_reason}')


class Done(Phase):
    """max_cycles delivered: stopped for good."""
    state = State.DONE
    autonomous = False

    def step(self, ctx, d, inp, now):
        ctx.stop(arm=None, drum=0.0)
        return None
