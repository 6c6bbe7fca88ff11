"""One runner per step type; the scheduler looks them up by :class:`~..plan.StepType`.

A new step type (or a backend that runs a type elsewhere) is a new entry here and a
runner class; the scheduler does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..plan import StepType
from ..session import RunSession
from .base import BaseRunner
from .clarify import ClarifyCheckRunner
from .condition import ConditionRunner
from .fail import FailRunner
from .jobs import ProcessingRunner, TrainingRunner
from .model import ModelRunner
from .quality import QualityCheckRunner
from .register import RegisterModelRunner
from .transform import TransformRunner

RUNNERS: Mapping[StepType, Callable[[RunSession], BaseRunner]] = MappingProxyType(
    {
        StepType.PROCESSING: ProcessingRunner,
        StepType.TRAINING: TrainingRunner,
        StepType.TRANSFORM: TransformRunner,
        StepType.MODEL: ModelRunner,
        StepType.QUALITY_CHECK: QualityCheckRunner,
        StepType.CLARIFY_CHECK: ClarifyCheckRunner,
        StepType.CONDITION: ConditionRunner,
        StepType.FAIL: FailRunner,
        StepType.REGISTER_MODEL: RegisterModelRunner,
    }
)


def runners_for(session: RunSession) -> dict[StepType, BaseRunner]:
    """A runner for every step type, bound to one execution's session."""
    return {step_type: make(session) for step_type, make in RUNNERS.items()}


__all__ = ["RUNNERS", "BaseRunner", "runners_for"]
