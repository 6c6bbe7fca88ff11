"""The pipeline: a graph of steps, validated as a whole (the public names: ``sagepipe``).

Edges are attribute references (``prep.outputs.train``, ``fit.model_artifacts``,
``JsonGet(report, "metrics.accuracy.value")``), so a typo fails when the graph is built.
:class:`Pipeline` checks the whole graph: duplicate names, undeclared parameters, steps
used but not listed, property files that no step writes, and cycles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import GraphError
from .parameters import Parameter
from .properties import JsonGet
from .steps import Condition, FunctionStep, Step, walk_values

# SageMaker's rule for pipeline names.
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,255}$")


class Pipeline:
    """A named graph of steps with its parameters, validated as a whole on creation.

    ``steps`` are the top-level steps; steps inside a Condition's branches are listed
    there only. Every step that another step reads from must be part of the pipeline,
    and every parameter a step reads must be in ``parameters``.
    """

    def __init__(
        self,
        name: str,
        *,
        parameters: Sequence[Parameter] = (),
        steps: Sequence[Step] = (),
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not _PIPELINE_NAME.match(name):
            raise GraphError(
                f"pipeline name {name!r} is invalid: use letters, digits and single '-' "
                "(for example 'churn-model')"
            )
        self.name = name
        self.parameters = list(parameters)
        self.steps = list(steps)
        self.description = description
        if not self.steps:
            raise GraphError(f"pipeline {name!r} has no steps; pass steps=[...]")
        self._check_parameters()
        self.all_steps = self._collect_steps()
        self._check_references()
        self._check_cycles()

    def step(self, name: str) -> Step:
        """Return the step called ``name`` (top level or inside a branch)."""
        for step in self.all_steps:
            if step.name == name:
                return step
        raise GraphError(
            f"pipeline {self.name!r} has no step {name!r}; steps: "
            f"{', '.join(sorted(s.name for s in self.all_steps))}"
        )

    def function_steps(self) -> list[FunctionStep]:
        """Return the Processing and Training steps, in definition order."""
        return [s for s in self.all_steps if isinstance(s, FunctionStep)]

    def _check_parameters(self) -> None:
        seen: set[str] = set()
        for parameter in self.parameters:
            if not isinstance(parameter, Parameter):
                raise GraphError(
                    f"pipeline {self.name!r}: parameters entry {parameter!r} is not a Parameter"
                )
            if parameter.name in seen:
                raise GraphError(
                    f"pipeline {self.name!r}: parameter name {parameter.name!r} is used twice"
                )
            seen.add(parameter.name)

    def _collect_steps(self) -> list[Step]:
        collected: list[Step] = []
        where: dict[str, str] = {}

        def add(step: Step, place: str) -> None:
            if not isinstance(step, Step):
                raise GraphError(f"pipeline {self.name!r}: {place} entry {step!r} is not a step")
            if any(step is seen for seen in collected):
                raise GraphError(
                    f"step {step.name!r} is listed twice ({where[step.name]} and {place}); "
                    "list each step once"
                )
            if step.name in where:
                raise GraphError(
                    f"duplicate step name {step.name!r} ({where[step.name]} and {place}); "
                    "step names must be unique in a pipeline"
                )
            where[step.name] = place
            collected.append(step)
            if isinstance(step, Condition):
                for branch_step in step.if_steps:
                    add(branch_step, f"if_steps of {step.name!r}")
                for branch_step in step.else_steps:
                    add(branch_step, f"else_steps of {step.name!r}")

        for step in self.steps:
            add(step, "steps")
        return collected

    def _check_references(self) -> None:
        declared = {id(p) for p in self.parameters}
        declared_names = {p.name: p for p in self.parameters}
        members = {id(s) for s in self.all_steps}
        for step in self.all_steps:
            for parameter in step.parameters():
                if id(parameter) in declared:
                    continue
                if parameter.name in declared_names:
                    raise GraphError(
                        f"step {step.name!r} uses a second parameter object named "
                        f"{parameter.name!r}; reuse the one in Pipeline(parameters=...)"
                    )
                raise GraphError(
                    f"step {step.name!r} uses parameter {parameter.name!r}, which the pipeline "
                    "does not declare; add it to Pipeline(parameters=...)"
                )
            for value in walk_values(step.values()):
                if isinstance(value, JsonGet) and value.property_file.step is None:
                    raise GraphError(
                        f"step {step.name!r} reads property file {value.property_file.name!r}, "
                        "but no step writes it; add property_files=[...] to the Processing "
                        f"step with output {value.property_file.output!r}"
                    )
            for upstream in step.upstream():
                if id(upstream) not in members:
                    raise GraphError(
                        f"step {step.name!r} uses step {upstream.name!r}, which is not in "
                        f"pipeline {self.name!r}; add it to steps=[...]"
                    )

    def _check_cycles(self) -> None:
        # Edges: step -> what it needs. A branch step also needs its Condition.
        needs: dict[int, list[Step]] = {id(s): list(s.upstream()) for s in self.all_steps}
        for step in self.all_steps:
            if isinstance(step, Condition):
                for branch_step in step.branch_steps():
                    needs[id(branch_step)].append(step)
        state: dict[int, int] = {}  # 1 = on the current path, 2 = done
        path: list[Step] = []

        def visit(step: Step) -> None:
            state[id(step)] = 1
            path.append(step)
            for upstream in needs[id(step)]:
                mark = state.get(id(upstream))
                if mark == 1:
                    start = next(i for i, s in enumerate(path) if s is upstream)
                    loop = [s.name for s in path[start:]] + [upstream.name]
                    raise GraphError(
                        "steps form a cycle: "
                        + " -> ".join(reversed(loop))
                        + "; remove one of these dependencies"
                    )
                if mark is None:
                    visit(upstream)
            path.pop()
            state[id(step)] = 2

        for step in self.all_steps:
            if id(step) not in state:
                visit(step)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={[s.name for s in self.steps]})"
