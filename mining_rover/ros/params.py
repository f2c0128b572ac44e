"""Declare, describe, validate and read node parameters in one place.

A node lists its parameters as ``Param`` entries; ``declare_and_read`` declares each
with a ParameterDescriptor (description, range), reads the values into a dict, and
raises ``ParameterError`` naming the bad parameter when a value is out of range or of
the wrong type. Nodes turn the dict into a frozen dataclass and refuse to start on
error, as joy_teleop does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)


class ParameterError(ValueError):
    """A parameter value is invalid; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    read_only: bool = False
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(description=self.description, read_only=self.read_only)
        if self.choices:
            d.additional_constraints = 'one of: ' + ', '.join(map(str, self.choices))
        if self.min is not None and self.max is not None and not isinstance(self.default, bool):
            if isinstance(self.default, int):
                d.integer_range = [IntegerRange(from_value=int(self.min), to_value=int(self.max), step=0)]
            elif isinstance(self.default, float):
                d.floating_point_range = [FloatingPointRange(
                    from_value=float(self.min), to_value=float(self.max), step=0.0)]
        return d

    def validate(self, value: Any) -> Any:
        """Return the value (ints widened to float where the default is float) or raise."""
        if isinstance(self.default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(self.default, bool) != isinstance(value, bool) or (
                not isinstance(self.default, bool) and self.default is not None
                and type(value) is not type(self.default)
                and not (isinstance(self.default, (list, tuple)) and isinstance(value, (list, tuple)))):
            raise ParameterError(
                f"parameter '{self.name}': expected {type(self.default).__name__}, "
                f'got {type(value).__name__} ({value!r})')
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"parameter '{self.name}': must be finite, got {value}")
        if self.min is not None and isinstance(value, (int, float)) and value < self.min:
            raise ParameterError(f"parameter '{self.name}' = {value} is below its minimum {self.min}")
        if self.max is not None and isinstance(value, (int, float)) and value > self.max:
            raise ParameterError(f"parameter '{self.name}' = {value} is above its maximum {self.max}")
        if self.choices and value not in self.choices:
            raise ParameterError(f"parameter '{self.name}' = {value!r} is not one of {list(self.choices)}")
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ParameterError(f"parameter '{self.name}': {problem}")
        return value


def declare_and_read(node, params: list) -> dict:
    """Declare every Param on the node (without range enforcement by rclpy, so that we
    can name the bad value ourselves) and return {name: validated value}."""
    values = {}
    for p in params:
        desc = p.descriptor()
        # Range checks are ours (validate); keep the descriptor ranges for introspection
        # but let rclpy accept the override so our message names the problem.
        desc_no_range = ParameterDescriptor(description=desc.description,
                                            additional_constraints=desc.additional_constraints,
                                            read_only=desc.read_only,
                                            dynamic_typing=True)
        node.declare_parameter(p.name, p.default, desc_no_range)
        values[p.name] = p.validate(node.get_parameter(p.name).value)
    return values


def make_set_callback(params: list, apply: Callable[[dict], None] | None = None,
                      runtime: set | None = None):
    """An on-set-parameters callback that validates each change with its Param.

    Only names in ``runtime`` may change after start (all when None); ``apply`` gets
    the validated {name: value} of an accepted change.
    """
    by_name = {p.name: p for p in params}

    def callback(changes) -> SetParametersResult:
        accepted = {}
        for c in changes:
            p = by_name.get(c.name)
            if p is None:
                continue  # parameters we do not own (use_sim_time, qos overrides)
            if runtime is not None and c.name not in runtime:
                return SetParametersResult(successful=False,
                                           reason=f"parameter '{c.name}' cannot change at run time")
            try:
                accepted[c.name] = p.validate(c.value)
            except ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        if apply and accepted:
            apply(accepted)
        return SetParametersResult(successful=True)

    return callback
