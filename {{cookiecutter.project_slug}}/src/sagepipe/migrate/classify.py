"""Decide each cell's role: preprocess, train, evaluate, register or skip.

The evidence is taken in order: explicit cell tags or a ``# step: NAME`` comment, then
the nearest heading above the cell matched by meaning, then what the code calls
(``fit`` means training, metric calls mean evaluation).
"""

from __future__ import annotations

import ast
import re

from .analysis import (
    REGISTER_CALLS,
    TRAINING_METHODS,
    calls_in,
    is_display_statement,
    is_metric_call,
)

ROLES = ("preprocess", "train", "evaluate", "register", "skip")
# Checked in this order; the first role with a matching word wins, so "model evaluation"
# is evaluate (not train) and "explore the data" is skip (not preprocess).
_PHRASES = (
    ("preprocess", ("train test split", "train/test split", "train-test split", "split")),
    (
        "register",
        (
            "register",
            "save the model",
            "saving",
            "export",
            "persist",
            "deploy",
            "publish",
            "serializ",
            "store the model",
            "save model",
        ),
    ),
    (
        "evaluate",
        (
            "evaluat",
            "metric",
            "score",
            "validat",
            "assess",
            "performance",
            "compar",
            "accuracy",
            "result",
            "test set",
        ),
    ),
    (
        "train",
        (
            "train",
            "fit",
            "model",
            "learn",
            "tuning",
            "hyperparam",
            "estimator",
            "classifier",
            "regressor",
            "candidate",
        ),
    ),
    (
        "skip",
        (
            "plot",
            "visuali",
            "explor",
            "eda",
            "chart",
            "graph",
            "figure",
            "inspect",
            "look at",
            "overview",
            "sanity",
            "display",
        ),
    ),
    (
        "preprocess",
        (
            "load",
            "read",
            "clean",
            "prepar",
            "preprocess",
            "feature",
            "engineer",
            "transform",
            "encod",
            "imput",
            "wrangl",
            "data",
            "ingest",
            "merge",
            "filter",
            "missing",
        ),
    ),
)
_STEP_COMMENT = re.compile(r"^\s*#\s*step\s*:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$", re.M)
_STEP_TAG = re.compile(r"^step[:=](?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_HEADING = re.compile(r"^\s{0,3}(?P<level>#{1,6})\s+(?P<text>.+?)\s*#*\s*$", re.M)
_HTML_HEADING = re.compile(r"<h(?P<level>[1-6])[^>]*>(?P<text>.*?)</h[1-6]\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
# In a percent script a code cell may open with a comment heading: "# ## Train" or
# "# --- Train ---"; the "# %% Train" marker's title is one too (see notebook.py).
_COMMENT_HEADING = re.compile(
    r"^#\s*(?:(?P<level>#{1,6})\s+(?P<text>.+?)|-{2,}\s*(?P<dashed>[^-].*?)\s*-{2,})\s*$"
)


def role_from_words(text: str) -> str | None:
    """The role whose words occur in ``text`` (a heading or step name), or None."""
    lowered = " " + re.sub(r"[_\-]+", " ", text.lower()) + " "
    for role, words in _PHRASES:
        if any(word in lowered for word in words):
            return role
    return None


def explicit_step(tags: list[str], source: str) -> tuple[str, str] | None:
    """(step name, evidence) from a ``step:NAME`` / role tag or a ``# step: NAME`` comment."""
    for tag in tags:
        match = _STEP_TAG.match(tag)
        if match:
            return match.group("name"), f"cell tag {tag!r}"
        if tag in ROLES:
            return tag, f"cell tag {tag!r}"
    comment = _STEP_COMMENT.search(source)
    if comment:
        return comment.group("name"), f"comment '# step: {comment.group('name')}'"
    return None


def headings(markdown: str) -> list[str]:
    """Heading texts of a markdown cell, any level (``#`` .. ``######``, ``<h1>``..``<h6>``)."""
    return [text for _, text in leveled_headings(markdown)]


def leveled_headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of each heading of a markdown cell, markdown or HTML, in order."""
    found: list[tuple[int, int, str]] = []
    for match in _HEADING.finditer(markdown):
        found.append((match.start(), len(match.group("level")), match.group("text")))
    for match in _HTML_HEADING.finditer(markdown):
        text = " ".join(_TAG.sub(" ", match.group("text")).split())
        if text:
            found.append((match.start(), int(match.group("level")), text))
    return [(level, text) for _, level, text in sorted(found)]


def comment_heading(source: str) -> str | None:
    """The heading a code cell opens with as a comment (``# ## Train the model``), or None."""
    for line in source.splitlines():
        if not line.strip():
            continue
        match = _COMMENT_HEADING.match(line.strip())
        if not match:
            return None
        return match.group("text") or match.group("dashed")
    return None


def role_from_code(statements: list[ast.stmt]) -> tuple[str, str]:
    """(role, evidence) from what the code calls."""
    if statements and all(is_display_statement(s) for s in statements):
        return "skip", "only displays or plots"
    calls: list[str] = []
    metric = False
    for statement in statements:
        calls.extend(calls_in(statement))
        metric = metric or any(is_metric_call(node) for node in ast.walk(statement))
    fits = sorted({c for c in calls if c in TRAINING_METHODS})
    if fits:
        return "train", f"calls {fits[0]}()"
    if metric:
        return "evaluate", "calls a metric function"
    saves = sorted({c for c in calls if c in REGISTER_CALLS})
    if saves:
        return "register", f"calls {saves[0]}()"
    return "preprocess", "changes data (no fit or metric call)"
