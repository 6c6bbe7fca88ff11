"""Conditions of a Condition step: comparisons, membership, and/or/not.

They render to the shapes the SageMaker SDK emits. SageMaker has no ``And`` type: a
Condition step's list of conditions is already a conjunction, and a nested
:func:`and_` renders as ``Not(Or(Not a, Not b))``.
"""

from __future__ import annotations

from typing import Any

from .errors import GraphError
from .expressions import Expression, Value, check_value, parameters_of, render, steps_of


class ConditionExpr:
    """Base class of everything a Condition step can test."""

    def to_request(self) -> dict[str, Any]:
        """Return the JSON form of the condition."""
        raise NotImplementedError

    def values(self) -> list[Any]:
        """Return the operand values, for dependency and parameter discovery."""
        raise NotImplementedError

    def referenced_steps(self) -> list[Any]:
        """Return the steps whose results this condition reads."""
        return steps_of(self.values())

    def referenced_parameters(self) -> list[Any]:
        """Return the parameters this condition reads."""
        return parameters_of(self.values())


class _Comparison(ConditionExpr):
    type_name = ""

    def __init__(self, left: Value, right: Value) -> None:
        check_value(left)
        check_value(right)
        self.left = left
        self.right = right

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": self.type_name,
            "LeftValue": render(self.left),
            "RightValue": render(self.right),
        }

    def values(self) -> list[Any]:
        return [self.left, self.right]


class ConditionEquals(_Comparison):
    """``left == right``."""

    type_name = "Equals"


class ConditionGreaterThan(_Comparison):
    """``left > right``."""

    type_name = "GreaterThan"


class ConditionGreaterThanOrEqualTo(_Comparison):
    """``left >= right``."""

    type_name = "GreaterThanOrEqualTo"


class ConditionLessThan(_Comparison):
    """``left < right``."""

    type_name = "LessThan"


class ConditionLessThanOrEqualTo(_Comparison):
    """``left <= right``."""

    type_name = "LessThanOrEqualTo"


class ConditionIn(ConditionExpr):
    """``value in in_values``."""

    def __init__(self, value: Value, in_values: list[Value]) -> None:
        if isinstance(in_values, (str, Expression)) or not in_values:
            raise GraphError(
                f"ConditionIn({value!r}, {in_values!r}): in_values must be a non-empty list"
            )
        check_value(value)
        for item in in_values:
            check_value(item)
        self.value = value
        self.in_values = list(in_values)

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": "In",
            "QueryValue": render(self.value),
            "Values": [render(v) for v in self.in_values],
        }

    def values(self) -> list[Any]:
        return [self.value, *self.in_values]


class ConditionNot(ConditionExpr):
    """The negation of another condition."""

    def __init__(self, expression: ConditionExpr) -> None:
        self.expression = _check_condition(expression, "ConditionNot")

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Not", "Expression": self.expression.to_request()}

    def values(self) -> list[Any]:
        return self.expression.values()


class ConditionOr(ConditionExpr):
    """True when any of the conditions is true."""

    def __init__(self, conditions: list[ConditionExpr]) -> None:
        if not conditions:
            raise GraphError("ConditionOr needs at least one condition")
        self.conditions = [_check_condition(c, "ConditionOr") for c in conditions]

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Or", "Conditions": [c.to_request() for c in self.conditions]}

    def values(self) -> list[Any]:
        return [v for c in self.conditions for v in c.values()]


class ConditionAnd(ConditionExpr):
    """True when all conditions are true (rendered with De Morgan when nested)."""

    def __init__(self, conditions: list[ConditionExpr]) -> None:
        if not conditions:
            raise GraphError("ConditionAnd needs at least one condition")
        self.conditions = [_check_condition(c, "ConditionAnd") for c in conditions]

    def to_request(self) -> dict[str, Any]:
        negated = ConditionOr([ConditionNot(c) for c in self.conditions])
        return ConditionNot(negated).to_request()

    def values(self) -> list[Any]:
        return [v for c in self.conditions for v in c.values()]


def _check_condition(value: Any, where: str) -> ConditionExpr:
    if not isinstance(value, ConditionExpr):
        raise GraphError(
            f"{where} got {value!r}, which is not a condition; build one with "
            "ge()/gt()/le()/lt()/eq()/ne()/in_()/not_()/or_()/and_()"
        )
    return value


def flatten(conditions: list[ConditionExpr]) -> list[ConditionExpr]:
    """Top-level conjunctions become separate entries of the step's condition list."""
    flat: list[ConditionExpr] = []
    for condition in conditions:
        if isinstance(condition, ConditionAnd):
            flat.extend(flatten(condition.conditions))
        else:
            flat.append(condition)
    return flat


def eq(left: Value, right: Value) -> ConditionEquals:
    """``left == right``."""
    return ConditionEquals(left, right)


def ne(left: Value, right: Value) -> ConditionNot:
    """``left != right`` (``Not(Equals)``, as SageMaker has no NotEquals in the SDK)."""
    return ConditionNot(ConditionEquals(left, right))


def gt(left: Value, right: Value) -> ConditionGreaterThan:
    """``left > right``."""
    return ConditionGreaterThan(left, right)


def ge(left: Value, right: Value) -> ConditionGreaterThanOrEqualTo:
    """``left >= right``."""
    return ConditionGreaterThanOrEqualTo(left, right)


def lt(left: Value, right: Value) -> ConditionLessThan:
    """``left < right``."""
    return ConditionLessThan(left, right)


def le(left: Value, right: Value) -> ConditionLessThanOrEqualTo:
    """``left <= right``."""
    return ConditionLessThanOrEqualTo(left, right)


def in_(value: Value, in_values: list[Value]) -> ConditionIn:
    """``value in in_values``."""
    return ConditionIn(value, in_values)


def not_(condition: ConditionExpr) -> ConditionNot:
    """``not condition``."""
    return ConditionNot(condition)


def or_(*conditions: ConditionExpr) -> ConditionOr:
    """``a or b or ...``."""
    return ConditionOr(list(conditions))


def and_(*conditions: ConditionExpr) -> ConditionAnd:
    """``a and b and ...``."""
    return ConditionAnd(list(conditions))
