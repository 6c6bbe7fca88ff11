"""Every condition shape the compiler emits is one the local executor evaluates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagepipe import (
    Condition,
    Fail,
    ParameterBoolean,
    ParameterFloat,
    ParameterString,
    Pipeline,
    and_,
    compile_pipeline,
    eq,
    ge,
    gt,
    in_,
    le,
    lt,
    ne,
    not_,
    or_,
)
from sagepipe.local import execute
from sagepipe_example.pipeline import ROLE

STAGE = ParameterString("Stage", default="dev")
SCORE = ParameterFloat("Score", default=0.5)
STRICT = ParameterBoolean("Strict", default=False)

CASES = [
    (eq(STAGE, "dev"), True),
    (ne(STAGE, "dev"), False),
    (gt(SCORE, 0.4), True),
    (ge(SCORE, 0.5), True),
    (lt(SCORE, 0.5), False),
    (le(SCORE, 0.5), True),
    (in_(STAGE, ["dev", "test"]), True),
    (in_(STAGE, ["prod"]), False),
    (not_(eq(STRICT, True)), True),
    (or_(eq(STAGE, "prod"), gt(SCORE, 0.1)), True),
    (or_(eq(STAGE, "prod"), gt(SCORE, 0.9)), False),
    (or_(and_(eq(STAGE, "dev"), ge(SCORE, 0.5)), eq(STAGE, "prod")), True),
    (or_(and_(eq(STAGE, "dev"), ge(SCORE, 0.6)), eq(STAGE, "prod")), False),
]


@pytest.mark.parametrize(("condition", "expected"), CASES)
def test_condition_outcome_matches_python(tmp_path: Path, condition, expected: bool) -> None:
    gate = Condition(
        "Gate",
        conditions=[condition],
        if_steps=[Fail("WentIf", message="if")],
        else_steps=[Fail("WentElse", message="else")],
    )
    pipeline = Pipeline("conditions", parameters=[STAGE, SCORE, STRICT], steps=[gate])
    definition = json.loads(compile_pipeline(pipeline, bucket="bucket", role=ROLE).to_json())
    execution = execute(definition, workspace=tmp_path)
    taken = "WentIf" if expected else "WentElse"
    assert execution.steps[taken].status == "Failed", execution.failure_reason
    assert execution.failure_reason is not None
    assert execution.failure_reason.endswith("if" if expected else "else")
