"""Site bookkeeping every phase that picks or gives up a dig site shares: which sites are
excluded, how deep the ground around a point has been cut."""
from __future__ import annotations

import math

MAX_DUG_POINTS = 500      # cut strokes remembered (as points) for site exclusion


def excluded(ctx, xy) -> bool:
    """Given up here (unreachable, too little yield), or cut to max_dig_depth_m."""
    c, rec = ctx.cfg, ctx.record
    return (any(math.hypot(xy[0] - ex, xy[1] - ey) < c.site_exclusion_m
                for ex, ey in rec.excluded_sites)
            or dug_depth(ctx, xy, c.site_exclusion_m) >= c.max_dig_depth_m - 1e-9)


def exclude(ctx, xy) -> None:
    """Remember ``xy`` (odom frame, m: where the rover drives) as a site not to choose again."""
    ctx.record.excluded_sites.append((float(xy[0]), float(xy[1])))


def unexclude(ctx, xy) -> None:
    """Forget excluded sites within site_exclusion_m of ``xy`` (odom frame, m)."""
    c, rec = ctx.cfg, ctx.record
    rec.excluded_sites = [e for e in rec.excluded_sites
                          if math.hypot(xy[0] - e[0], xy[1] - e[1]) >= c.site_exclusion_m]


def dug_depth(ctx, xy, radius: float) -> float:
    """Deepest cut made within ``radius`` of xy, m (0: never dug)."""
    deepest = 0.0
    for x, y, depth in ctx.record.dug_sites:
        if math.hypot(xy[0] - x, xy[1] - y) < radius:
            deepest = max(deepest, depth)
    return deepest


def remember_stroke(ctx, a, b) -> None:
    """Points along the cut just made from a to b (map frame; b None: a alone), every
    half exclusion radius, each with the depth the ground there has now been cut to: the
    next cut near them goes that much deeper (the wheels stand on the ground either side
    of a drum-wide trench, the planner's map may not show a few centimetres of it), and
    ground cut to max_dig_depth_m is no site again. Kept for the mission."""
    c, dug = ctx.cfg, ctx.record.dug_sites
    if a is None:
        return
    b = b or a
    cut = ctx.cycle.cut_depth_m or c.default_depth_m
    step = 0.5 * c.site_exclusion_m
    n = max(1, int(math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / step)))
    points = [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(n + 1)]
    # depths before this stroke, then the stroke's own
    dug.extend([(x, y, dug_depth(ctx, (x, y), step) + cut) for x, y in points])
    del dug[:-MAX_DUG_POINTS]


def dig_zone(ctx) -> tuple:
    """(x, y, radius m) of the dig zone as grown so far (map frame)."""
    c, r = ctx.cfg, ctx.record.dig_zone_radius_m
    return (c.dig_zone_x, c.dig_zone_y, c.dig_zone_radius if r is None else r)


def local_dig_zone(ctx) -> tuple:
    """``dig_zone`` with its centre in the odom frame the rover drives and maps in."""
    x, y, r = dig_zone(ctx)
    return (*ctx.to_local(x, y), r)


def widest_radius(cfg) -> float:
    """The radius the dig zone may grow to: dig_zone_max_radius_m, never below its own."""
    return max(cfg.dig_zone_max_radius_m, cfg.dig_zone_radius)


def widen_dig_zone(ctx) -> float | None:
    """Grow the dig zone by dig_zone_growth up to its widest; the new radius (m), or None
    when it is at its widest already. Tells the planner (``out.dig_zone``)."""
    c, rec = ctx.cfg, ctx.record
    x, y, r = dig_zone(ctx)
    wider = min(widest_radius(c), r * c.dig_zone_growth)
    if wider <= r + 1e-9:
        return None
    rec.dig_zone_radius_m = wider
    ctx.out.dig_zone = (x, y, wider)
    ctx.persist()
    return wider
