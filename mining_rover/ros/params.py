"""Declare, describe, validate and read node parameters in one place.

A node lists its parameters as ``Param`` entries; ``declare_and_read`` declares each
with a ParameterDescriptor that rclpy enforces (static type, range, read-only), reads
the values into a dict, and raises ``ParameterError`` naming the bad parameter when a
start-up value (a launch override or a parameters file) is out of range, of the wrong
type or fails the Param's own check. Nodes turn the dict into a frozen dataclass
(``config_from``) and refuse to start on error, as joy_teleop does.

Policy, the same on every node:

* **Types and ranges are rclpy's.** No ``dynamic_typing``: ``ros2 param set
  /drive_node control_rate_hz hello`` is refused by rclpy itself ("Wrong parameter type,
  expected 'Type.DOUBLE' got 'Type.STRING'"), and a value outside the declared range
  is refused with the range. The one leniency: an integer given at start-up for a
  float parameter (``control_rate_hz: 50`` in a YAML file) is widened to float.
* **Read-only unless it can change.** A parameter is declared ``read_only`` unless it
  is marked ``runtime=True`` (the node applies it live through a validating
  set-callback, ``make_set_callback``) or the node is a lifecycle node that re-reads
  its parameters in ``on_configure`` (``reconfigurable=True``): there a change is
  accepted only while the node is unconfigured and takes effect at the next configure.
"""
from __future__ import annotations

import array
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)


class ParameterError(ValueError):
    """A parameter value is invalid; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    """One ROS parameter: name, default, description, range or choices, and whether it is read-only."""
    name: str
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    #: never changes after start, even on a lifecycle node (e.g. ``autostart``)
    read_only: bool = False
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    #: may change while the node runs: the node's set-callback applies it
    runtime: bool = False

    def descriptor(self, read_only: bool | None = None) -> ParameterDescriptor:
        """The descriptor rclpy enforces: type from the default, range, read-only."""
        d = ParameterDescriptor(description=self.description,
                                read_only=self.read_only if read_only is None else read_only)
        if self.choices:
            d.additional_constraints = 'one of: ' + ', '.join(map(str, self.choices))
        if self.min is not None and self.max is not None and not isinstance(self.default, bool):
            if isinstance(self.default, int):
                d.integer_range = [IntegerRange(from_value=int(self.min), to_value=int(self.max), step=0)]
            elif isinstance(self.default, float):
                d.floating_point_range = [FloatingPointRange(
                    from_value=float(self.min), to_value=float(self.max), step=0.0)]
        elif self.min is not None or self.max is not None:
            bound = 'minimum' if self.min is not None else 'maximum'
            d.additional_constraints = (d.additional_constraints + '; ' if d.additional_constraints
                                        else '') + f'{bound} {self.min if self.min is not None else self.max}'
        return d

    def widen(self, value: Any) -> Any:
        """An int where the default is a float (and int lists for float lists) as float;
        rclpy arrays as lists."""
        if isinstance(value, array.array):
            value = list(value)
        if isinstance(self.default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if (isinstance(self.default, (list, tuple)) and self.default
                and all(isinstance(v, float) for v in self.default) and isinstance(value, (list, tuple))
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            return [float(v) for v in value]
        return value

    def validate(self, value: Any) -> Any:
        """Return the value (ints widened to float where the default is float) or raise."""
        value = self.widen(value)
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


def declare_and_read(node, params: list, *, reconfigurable: bool = False) -> dict:
    """Declare every Param on the node with its enforced descriptor and return
    {name: validated value}.

    ``reconfigurable``: the node is a lifecycle node that reads its parameters again in
    ``on_configure`` (``read``), so every parameter not marked ``read_only`` stays
    settable (the node's set-callback refuses changes while it is configured).
    """
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
    from rclpy.parameter import Parameter
    # rclpy keeps the launch/YAML overrides here (Humble and Jazzy alike); checking them
    # first lets the refusal name the value, the range and the file's key the way a
    # user reads it, and widens an integer written for a float.
    overrides = getattr(node, '_parameter_overrides', {})
    values = {}
    for p in params:
        if p.name in overrides:
            given = overrides[p.name].value
            value = p.validate(given)
            if type(value) is not type(given) or value != given:
                overrides[p.name] = Parameter(p.name, value=value)
        read_only = p.read_only or not (p.runtime or reconfigurable)
        try:
            node.declare_parameter(p.name, p.default, p.descriptor(read_only=read_only))
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(f"parameter '{p.name}': {exc}") from None
        values[p.name] = p.validate(node.get_parameter(p.name).value)
    return values


def read(node, params: list) -> dict:
    """{name: validated value} of parameters already declared (a lifecycle node's
    ``on_configure`` re-reads them: a change made while unconfigured takes effect)."""
    return {p.name: p.validate(node.get_parameter(p.name).value) for p in params}


def config_from(cls, values: dict, **derived):
    """The frozen config dataclass ``cls`` from {parameter: value} (+ ``derived`` fields).

    Every field must be a parameter or derived and every parameter a field: a mismatch is
    a programming error, raised as TypeError naming the names.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    given = set(values) | set(derived)
    if names != given:
        raise TypeError(f'{cls.__name__}: fields without a parameter {sorted(names - given)}, '
                        f'parameters without a field {sorted(given - names)}')
    return cls(**values, **derived)


def make_set_callback(params: list, apply: Callable[[dict], None] | None = None,
                      runtime: set | None = None, unconfigured: Callable[[], bool] | None = None):
    """An on-set-parameters callback that validates each change with its Param.

    Names in ``runtime`` (default: the Params marked ``runtime=True``) may change at any
    time; ``apply`` gets the validated {name: value} of a runtime change (and refuses it by
    raising ParameterError). With
    ``unconfigured`` (a lifecycle node), every other parameter may change while
    ``unconfigured()`` is true and takes effect at the next configure.
    """
    by_name = {p.name: p for p in params}
    live = {p.name for p in params if p.runtime} if runtime is None else set(runtime)

    def callback(changes) -> SetParametersResult:
        accepted = {}
        for c in changes:
            p = by_name.get(c.name)
            if p is None:
                continue  # parameters we do not own (use_sim_time, qos overrides)
            if c.name not in live:
                if unconfigured is None:
                    return SetParametersResult(
                        successful=False, reason=f"parameter '{c.name}' cannot change at run time")
                if not unconfigured():
                    return SetParametersResult(
                        successful=False,
                        reason=f"parameter '{c.name}' takes effect at configure: deactivate and "
                               'clean up the node, set it, then configure')
            try:
                value = p.validate(c.value)
            except ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            if c.name in live:
                accepted[c.name] = value
        if apply and accepted:
            try:
                apply(accepted)   # may refuse a combination, raising ParameterError
            except ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    return callback
