"""Read CloudFormation YAML: its short-form tags (`!Ref`, `!Sub`, ...) become the long form.

The result is the JSON form of the template, which is what moto's CloudFormation and the
security tests read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Tags whose long form is `Fn::<Name>`; `!Ref` and `!Condition` are the two exceptions.
_FUNCTIONS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
)


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that knows CloudFormation's intrinsic-function tags."""


def _node_value(loader: CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _long_form(key: str) -> Any:
    def construct(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _node_value(loader, node)}

    return construct


def _get_att(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}


CfnLoader.add_constructor("!Ref", _long_form("Ref"))
CfnLoader.add_constructor("!Condition", _long_form("Condition"))
CfnLoader.add_constructor("!GetAtt", _get_att)
for _name in _FUNCTIONS:
    CfnLoader.add_constructor(f"!{_name}", _long_form(f"Fn::{_name}"))


def load_template(path: Path) -> dict[str, Any]:
    """The template at path, in CloudFormation's JSON form."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # a SafeLoader subclass
