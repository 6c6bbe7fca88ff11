"""Parse a pipeline definition once into typed, immutable step plans.

The executor reads the definition in three phases (like Kedro's runner/task split):
:mod:`~sagepipe.local.validate` checks the JSON against the service's rules, this
module turns it into a :class:`PipelinePlan` (steps flattened out of Condition
branches, their dependencies found, the graph checked for cycles), and the scheduler
runs the plans. Nothing later digs in the raw JSON: a step's arguments, cache settings,
property files and place in a condition branch are fields here, and deeply frozen, so
a runner cannot change what another step (or the cache key) will see.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from .expressions import step_references

SUPPORTED_VERSION = "2020-12-01"


class DefinitionError(ValueError):
    """A definition the executor cannot run; the message names the step and the fix."""


class StepType(str, Enum):
    """Every step type the local executor runs (the ``Type`` of a definition's step)."""

    PROCESSING = "Processing"
    TRAINING = "Training"
    TRANSFORM = "Transform"
    MODEL = "Model"
    QUALITY_CHECK = "QualityCheck"
    CLARIFY_CHECK = "ClarifyCheck"
    CONDITION = "Condition"
    FAIL = "Fail"
    REGISTER_MODEL = "RegisterModel"

    def __str__(self) -> str:
        return str(self.value)


class FrozenDict(dict):
    """A ``dict`` that refuses changes; still a dict for ``json`` and ``isinstance``."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("a step plan is immutable: copy it (dict(...)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


class FrozenList(list):
    """A ``list`` that refuses changes (a tuple would not be resolved as a JSON array)."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("a step plan is immutable: copy it (list(...)) to change it")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


def freeze(value: Any) -> Any:
    """A deep copy of JSON data in which no dict or list can be changed."""
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class CacheConfig:
    """A step's ``CacheConfig``; ``expire_after`` stays ISO 8601 text, parsed when used."""

    enabled: bool = False
    expire_after: str | None = None


@dataclass(frozen=True)
class PropertyFileSpec:
    """A declared property file: a JSON document at ``file_path`` inside an output."""

    name: str | None
    output_name: str | None
    file_path: str | None


@dataclass(frozen=True)
class StepPlan:
    """One step, parsed: what the scheduler orders and what its runner executes."""

    name: str
    type: StepType
    arguments: Mapping[str, Any]
    depends_on: frozenset[str]
    parent: str | None = None  # the Condition step whose branch holds this step
    branch: bool | None = None  # which outcome of ``parent`` runs this step
    cache: CacheConfig = CacheConfig()
    property_files: tuple[PropertyFileSpec, ...] = ()
    # The step as written: QualityCheck keeps its settings beside Arguments, and the
    # cache key hashes PropertyFiles exactly as written so existing entries still match.
    raw: Mapping[str, Any] = FrozenDict()

    def property_file(self, name: str) -> PropertyFileSpec | None:
        """The declared property file called ``name`` (the last one, if repeated)."""
        found = None
        for spec in self.property_files:
            if spec.name == name:
                found = spec
        return found


@dataclass(frozen=True)
class PipelinePlan:
    """A whole definition, parsed: its steps in definition order, parents before children."""

    steps: Mapping[str, StepPlan]
    parameters: tuple[Mapping[str, Any], ...]
    definition_sha256: str

    def __iter__(self) -> Iterator[StepPlan]:
        return iter(self.steps.values())


def load_definition(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Accept a definition dict, a JSON text or a path to a JSON file."""
    if isinstance(source, Mapping):
        return dict(source)
    text: str
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        path = Path(source)
        if not path.is_file():
            raise DefinitionError(f"definition file {path} does not exist: pass a JSON file path")
        text = path.read_text()
    else:
        text = str(source)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"definition is not valid JSON ({exc}): fix the file") from None
    if not isinstance(data, dict):
        raise DefinitionError("definition must be a JSON object with 'Version' and 'Steps'")
    return data


def parse_definition(definition: Mapping[str, Any]) -> PipelinePlan:
    """Flatten the steps (Condition branches included) and find their dependencies.

    Expects a definition :func:`~sagepipe.local.validate.validate_definition` accepted;
    checks what validation cannot: the version, unique names, known dependencies and
    the absence of cycles. Raises :class:`DefinitionError`; writes nothing.
    """
    version = definition.get("Version")
    if version != SUPPORTED_VERSION:
        raise DefinitionError(
            f"definition Version {version!r} is not supported: use {SUPPORTED_VERSION!r}"
        )
    raw_steps = definition.get("Steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DefinitionError("definition has no Steps: add at least one step")
    entries: dict[str, tuple[Mapping[str, Any], StepType, str | None, bool | None]] = {}
    for raw in raw_steps:
        _flatten(raw, None, None, entries)
    steps = {name: _step_plan(name, *entry) for name, entry in entries.items()}
    for step in steps.values():
        unknown = sorted(step.depends_on - set(steps))
        if unknown:
            raise DefinitionError(
                f"step {step.name} depends on unknown step {unknown[0]!r}: "
                f"steps are {', '.join(sorted(steps))}"
            )
    _check_acyclic(steps)
    canonical = json.dumps(definition, sort_keys=True).encode()
    return PipelinePlan(
        steps=MappingProxyType(steps),
        parameters=tuple(freeze(p) for p in definition.get("Parameters") or []),
        definition_sha256=hashlib.sha256(canonical).hexdigest(),
    )


def _flatten(
    raw: Mapping[str, Any],
    parent: str | None,
    branch: bool | None,
    into: dict[str, tuple[Mapping[str, Any], StepType, str | None, bool | None]],
) -> None:
    name, kind = raw.get("Name"), raw.get("Type")
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"a step has no Name: {json.dumps(raw)[:80]}")
    if name in into:
        raise DefinitionError(f"step name {name!r} is used twice: step names must be unique")
    try:
        step_type = StepType(kind)
    except ValueError:
        raise DefinitionError(
            f"step {name} has Type {kind!r}, which runs neither locally nor here: "
            f"use one of {', '.join(t.value for t in StepType)}"
        ) from None
    into[name] = (raw, step_type, parent, branch)
    if step_type is StepType.CONDITION:
        args = raw.get("Arguments") or {}
        for child in args.get("IfSteps") or []:
            _flatten(child, name, True, into)
        for child in args.get("ElseSteps") or []:
            _flatten(child, name, False, into)


def _step_plan(
    name: str,
    raw: Mapping[str, Any],
    step_type: StepType,
    parent: str | None,
    branch: bool | None,
) -> StepPlan:
    arguments = raw.get("Arguments") or {}
    declared = set(raw.get("DependsOn") or [])
    if step_type is StepType.CONDITION:
        # A condition's own dependencies come from its conditions, not its branches.
        deps = declared | step_references(arguments.get("Conditions") or [])
    else:
        deps = declared | step_references(arguments)
        # Check steps name steps outside Arguments too (ClarifyCheck's ModelName).
        deps |= step_references({k: v for k, v in raw.items() if k != "Arguments"})
        if parent is not None:
            deps.add(parent)
    deps.discard(name)
    cache = raw.get("CacheConfig") or {}
    return StepPlan(
        name=name,
        type=step_type,
        arguments=freeze(arguments),
        depends_on=frozenset(deps),
        parent=parent,
        branch=branch,
        cache=CacheConfig(
            enabled=bool(cache.get("Enabled")),
            expire_after=cache.get("ExpireAfter"),
        ),
        property_files=tuple(_property_files(raw.get("PropertyFiles") or [])),
        raw=freeze(raw),
    )


def _property_files(specs: Iterable[Mapping[str, Any]]) -> Iterable[PropertyFileSpec]:
    for spec in specs:
        if not isinstance(spec, Mapping):
            continue  # validation reports it for Processing steps; nothing can read it
        yield PropertyFileSpec(
            name=spec.get("PropertyFileName"),
            output_name=spec.get("OutputName"),
            file_path=spec.get("FilePath"),
        )


def _check_acyclic(steps: Mapping[str, StepPlan]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            raise DefinitionError(
                f"steps form a cycle: {' -> '.join(cycle)}; remove one of these dependencies"
            )
        state[name] = 1
        for dep in sorted(steps[name].depends_on):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in steps:
        visit(name, [])
