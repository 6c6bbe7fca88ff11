"""The one schema of a stage: every key of ``stages/<stage>.toml`` and every ``MLOPS_*`` variable.

Each key is declared once below (where it lives, type, rule, default, meaning), and its
environment variable follows from its place by one rule: ``MLOPS_`` + the key's dotted
path in capitals with dots as underscores (``bucket`` -> ``MLOPS_BUCKET``, ``[server]
port`` -> ``MLOPS_SERVER_PORT``). ``MLOPS_STAGE`` chooses the stage file. An empty variable
counts as unset (CI systems pass unset variables as empty strings).

Checked before any value is used, with strict types (``enabled = "false"`` is an error,
not "true"), no unknown sections, keys or ``MLOPS_*`` names (a misspelt ``[servr]`` or
``MLOPS_BUKET`` would otherwise silently fall back to defaults), ranges and the AWS
services' own naming rules. Every problem is one line naming the file and line or the
variable, the rule and the fix.

Standard library only and no template placeholders: docs/gen_options.py in the template
reads this module to list the settings in docs/options.md.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "MLOPS_"
STAGE_VARIABLE = ENV_PREFIX + "STAGE"
DERIVED = object()  # default computed by settings.py from the project, stage and other keys


@dataclass(frozen=True)
class Rule:
    """A check on one value: ``problem(value)`` says what is wrong, or None."""

    describe: str  # the rule, for docs/options.md and error messages
    problem: Callable[[Any], str | None]


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip() and "\0" not in value:
        return None
    return "must be non-empty text"


def _integer(low: int, high: int | None = None) -> Rule:
    def problem(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, not {type(value).__name__} {value!r}"
        if value < low or (high is not None and value > high):
            return f"must be between {low} and {high}" if high else f"must be at least {low}"
        return None

    span = f"{low}-{high}" if high is not None else f">= {low}"
    return Rule(f"whole number {span}", problem)


def _number(low: float, high: float | None = None, *, above: bool = False) -> Rule:
    def problem(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, not {type(value).__name__} {value!r}"
        if not math.isfinite(value):
            return "must be a finite number"
        if (value <= low if above else value < low) or (high is not None and value > high):
            edge = "above" if above else "at least"
            return f"must be {edge} {low:g}" + (f" and at most {high:g}" if high else "")
        return None

    edge = ">" if above else ">="
    return Rule(f"number {edge} {low:g}" + (f", <= {high:g}" if high else ""), problem)


def _boolean() -> Rule:
    def problem(value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"

    return Rule("true or false", problem)


def _choice(*allowed: str) -> Rule:
    def problem(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return Rule("one of " + ", ".join(f"`{a}`" for a in allowed), problem)


def _pattern(
    regex: str, what: str, rule: str, *, empty: bool = False, extra: Callable[[str], bool] = bool
) -> Rule:
    """Text that fully matches ``regex`` (and ``extra``); ``empty`` also allows ''."""
    compiled = re.compile(regex)

    def problem(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be text, not {type(value).__name__} {value!r}"
        if empty and value == "":
            return None
        if compiled.fullmatch(value) and extra(value):
            return None
        return f"is not {what}: {rule}"

    return Rule(rule + (" (or empty)" if empty else ""), problem)


def _list_of(item: Rule, what: str, example: str, *, limit: int, non_empty: bool = False) -> Rule:
    """A list (comma-separated in the environment) whose every item passes ``item``."""

    def problem(value: Any) -> str | None:
        if not isinstance(value, list) or (non_empty and not value):
            some = "a non-empty" if non_empty else "a"
            return f"must be {some} list of {what}, e.g. {example}" + (
                "" if non_empty else " (or [])"
            )
        if len(value) > limit:
            return f"has {len(value)} entries; at most {limit} are allowed"
        for entry in value:
            why = item.problem(entry)
            if why:
                return f"entry {entry!r} {why}"
        return None

    return Rule(f"list of up to {limit}, each {item.describe}", problem)


def _version() -> Rule:
    def problem(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return None
        if isinstance(value, str) and (
            value in ("latest", "latest-approved", "promoted")
            or (value.isascii() and value.isdigit() and int(value) >= 1)
        ):
            return None
        return "must be 'latest-approved', 'latest', 'promoted' or a version number"

    return Rule("`latest-approved`, `latest`, `promoted` or a version number", problem)


def _bucket_ok(name: str) -> bool:
    # S3's general purpose bucket naming rules beyond the character set (AWS S3 user guide,
    # "Bucket naming rules"): no '..', not an IP address, reserved prefixes and suffixes.
    return (
        ".." not in name
        and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
    )


def _prefix_ok(prefix: str) -> bool:
    return all(part not in ("", ".", "..") for part in prefix.split("/"))


def _relative_ok(path: str) -> bool:
    return not path.startswith("/") and all(p not in ("", ".", "..") for p in path.split("/"))


def _tags_ok(text: str) -> bool:
    # AWS tags: key 1-128 characters, value up to 256; 'aws:' keys are reserved.
    for item in text.split(","):
        key, _, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not key or len(key) > 128 or len(value) > 256 or key.lower().startswith("aws:"):
            return False
    return True


BUCKET = _pattern(
    r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "a valid S3 bucket name",
    "3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or "
    "digit, no '..', not an IP address",
    extra=_bucket_ok,
)
REGION = _pattern(
    r"[a-z]{2}(-[a-z]+)+-\d{1,2}",
    "an AWS region name",
    "an AWS region such as eu-west-1 or us-gov-west-1",
    empty=True,
)
ROLE_ARN = _pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}",
    "an IAM role ARN",
    "arn:aws:iam::<12-digit account>:role/<name>",
)
SCHEDULER_ROLE_ARN = _pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}",
    "an IAM role ARN",
    "arn:aws:iam::<12-digit account>:role/<name>",
    empty=True,
)
IMAGE_URI = _pattern(
    r"[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?",
    "a container image reference",
    "<registry>/<repository>:<tag> (lowercase repository, e.g. an ECR URI)",
)
INSTANCE_TYPE = _pattern(
    r"ml\.[a-z0-9-]+\.[a-z0-9]+",
    "a SageMaker instance type",
    "a SageMaker instance type such as ml.m5.large",
)
# SageMaker's patterns for PipelineName and ModelPackageGroupName.
PIPELINE_NAME = _pattern(
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}",
    "a SageMaker pipeline name",
    "1-256 letters, digits and '-', starting with a letter or digit",
)
GROUP_NAME = _pattern(
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    "a SageMaker model package group name",
    "1-63 letters, digits and '-', starting with a letter or digit",
)
SUBNETS = _pattern(
    r"subnet-[0-9a-f]{8}([0-9a-f]{9})?(,subnet-[0-9a-f]{8}([0-9a-f]{9})?){0,15}",
    "a list of subnet ids",
    "comma-separated subnet ids (up to 16) such as subnet-0abc1234",
    empty=True,
)
SECURITY_GROUPS = _pattern(
    r"sg-[0-9a-f]{8}([0-9a-f]{9})?(,sg-[0-9a-f]{8}([0-9a-f]{9})?){0,4}",
    "a list of security group ids",
    "comma-separated security group ids (up to 5) such as sg-0abc1234",
    empty=True,
)
_KEY_ID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
KMS_KEY = _pattern(
    _KEY_ID + "|" + _ALIAS + r"|arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:"
    "(key/" + _KEY_ID + "|" + _ALIAS + ")",
    "a KMS key id, key ARN or alias",
    "a KMS key id, key ARN, alias/<name> or alias ARN",
    empty=True,
)
PREFIX = _pattern(
    r"[A-Za-z0-9!_.*'()/-]{1,512}",
    "a valid S3 key prefix",
    "letters, digits and !_.*'()-, segments separated by '/', no empty, '.' or '..' segment",
    extra=_prefix_ok,
)
DATA_DIR = _pattern(
    r"[A-Za-z0-9_.\-/]{1,255}",
    "a folder inside the project",
    "a relative path inside the project such as data/raw (no '..')",
    extra=_relative_ok,
)
PIPELINE_MODULE = _pattern(
    r"[a-z_][a-z0-9_]{0,63}",
    "a migrated pipeline's name",
    "the module name of a pipeline in <package>/pipelines/ (lowercase, digits, '_')",
    empty=True,
)
TAGS = _pattern(
    r"[^,=]+=[^,=]*(,[^,=]+=[^,=]*)*",
    "a list of tags",
    "key=value pairs separated by ',' such as team=ml,cost=churn (no aws: keys)",
    empty=True,
    extra=_tags_ok,
)
ALARM = _pattern(r"[^\0\n]{1,255}", "a CloudWatch alarm name", "1-255 characters, no newline")
METRIC = _pattern(r"[A-Za-z0-9_.-]{1,64}", "a metric name", "letters, digits and _.-")
# What MLflow's client reaches without a plugin of ours: a sqlite file, an MLflow server, or
# (with the sagemaker-mlflow plugin) a SageMaker managed MLflow tracking server or app by ARN.
# MLflow 3 refuses its old file store unless told otherwise, so it is not offered.
TRACKING_URI = _pattern(
    r"sqlite:///[^\0\s]+|https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?"
    r"|arn:aws[a-z-]*:sagemaker:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:"
    r"mlflow-(tracking-server|app)/[A-Za-z0-9-]{1,256}",
    "an MLflow tracking URI",
    "sqlite:///<path>, http(s)://<host>[:port] or a SageMaker MLflow tracking server ARN "
    "arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>",
    empty=True,
)
EXPERIMENT = _pattern(
    r"[^\0\n/]{1,256}",
    "an MLflow experiment name",
    "1-256 characters, no '/' or newline",
    empty=True,
)


@dataclass(frozen=True)
class Key:
    """One setting: where it lives in the stage file, its type, rule, default and meaning."""

    section: str  # "" for a top-level key, else the [section]
    name: str
    kind: type  # str, int, float, bool or list: how an environment value is read
    rule: Rule
    default: Any  # the value when neither the file nor the environment sets it
    doc: str
    default_doc: str = ""  # how a DERIVED default is computed, for the docs

    @property
    def path(self) -> str:
        """``section.name`` (or ``name`` at the top level), as error messages write it."""
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def variable(self) -> str:
        """The environment variable that overrides the key: ``MLOPS_`` + the path."""
        return ENV_PREFIX + self.path.upper().replace(".", "_")


KEYS: tuple[Key, ...] = (
    # Pipeline: where and on what the pipeline's jobs run. Infrastructure only, no ML choices.
    Key(
        "",
        "pipeline_name",
        str,
        PIPELINE_NAME,
        DERIVED,
        "SageMaker pipeline name",
        default_doc="`<project>-<stage>`",
    ),
    Key(
        "",
        "bucket",
        str,
        BUCKET,
        DERIVED,
        "S3 bucket for code, data, capture and batch files (the stack's BucketName)",
        default_doc="`<project>-<stage>`",
    ),
    Key(
        "",
        "prefix",
        str,
        PREFIX,
        DERIVED,
        "key prefix of everything in the bucket",
        default_doc="`<project>`",
    ),
    Key(
        "",
        "region",
        str,
        REGION,
        DERIVED,
        "AWS region of the SageMaker target",
        default_doc="`AWS_REGION`, else the template's `aws_region`",
    ),
    Key(
        "",
        "role_arn",
        str,
        ROLE_ARN,
        "arn:aws:iam::000000000000:role/SageMakerExecutionRole",
        "execution role of jobs and endpoints (the stack's SageMakerExecutionRoleArn)",
    ),
    Key(
        "",
        "scheduler_role_arn",
        str,
        SCHEDULER_ROLE_ARN,
        "",
        "role EventBridge Scheduler starts monitoring jobs as (the stack's "
        "MonitoringSchedulerRoleArn); needed by `monitor --schedule`",
    ),
    Key(
        "",
        "image_uri",
        str,
        IMAGE_URI,
        DERIVED,
        "image the pipeline's steps run on",
        default_doc="the project image in the role's account, tagged by requirements.lock",
    ),
    Key(
        "",
        "processing_instance_type",
        str,
        INSTANCE_TYPE,
        "ml.m5.large",
        "instance type of processing jobs",
    ),
    Key(
        "",
        "training_instance_type",
        str,
        INSTANCE_TYPE,
        "ml.m5.large",
        "instance type of training jobs",
    ),
    Key(
        "",
        "inference_instance_type",
        str,
        INSTANCE_TYPE,
        "ml.m5.large",
        "instance type registered for inference and used by batch transform",
    ),
    Key(
        "",
        "model_package_group",
        str,
        GROUP_NAME,
        DERIVED,
        "model registry group (the stack's ModelPackageGroupName)",
        default_doc="`<project>-models`",
    ),
    Key("", "data_dir", str, DATA_DIR, "data/raw", "local folder of the raw export"),
    Key(
        "",
        "subnets",
        str,
        SUBNETS,
        "",
        "private subnets of every job (the stack's PrivateSubnetIds); empty: SageMaker's network",
    ),
    Key(
        "",
        "security_group_ids",
        str,
        SECURITY_GROUPS,
        "",
        "security groups of every job (the stack's JobSecurityGroupId)",
    ),
    Key(
        "",
        "kms_key_id",
        str,
        KMS_KEY,
        "",
        "KMS key of volumes and outputs (the stack's DataKeyArn)",
    ),
    Key(
        "",
        "default_pipeline",
        str,
        PIPELINE_MODULE,
        "",
        "a migrated pipeline that `run` and `compile` use instead of pipeline.py",
    ),
    Key(
        "",
        "target",
        str,
        _choice("local", "sagemaker"),
        "local",
        "where pipeline, registry and endpoint commands act by default",
    ),
    Key("", "tags", str, TAGS, "", "extra AWS tags; project and stage are always tagged"),
    # Endpoint: what `deploy --stage` serves and how.
    Key(
        "",
        "model_version",
        str,
        _version(),
        "latest-approved",
        "registry version a deploy serves; `promoted` = the last promote or rollback",
    ),
    Key(
        "server",
        "host",
        str,
        Rule("non-empty text", _text),
        "127.0.0.1",
        "local endpoint's address; 0.0.0.0 exposes it to your network",
    ),
    Key(
        "server",
        "port",
        int,
        _integer(1, 65535),
        0,
        "local endpoint's port; unset: a free port kept by redeploys (SAGEMAKER_BIND_TO_PORT wins)",
    ),
    Key(
        "server",
        "workers",
        int,
        _integer(0),
        0,
        "server processes; 0 = one per core (SAGEMAKER_MODEL_SERVER_WORKERS wins)",
    ),
    Key(
        "server",
        "timeout_seconds",
        float,
        _number(0, 3600, above=True),
        60,
        "per request, then 504 (SAGEMAKER_MODEL_SERVER_TIMEOUT wins)",
    ),
    Key(
        "server",
        "max_payload_mb",
        float,
        _number(0, 1024, above=True),
        6,
        "larger request bodies get 413, like SageMaker real-time endpoints",
    ),
    Key(
        "variant",
        "name",
        str,
        Rule("non-empty text", _text),
        "AllTraffic",
        "production variant name",
    ),
    Key(
        "variant",
        "instance_type",
        str,
        INSTANCE_TYPE,
        "ml.m5.large",
        "instance type of the SageMaker endpoint",
    ),
    Key(
        "variant",
        "initial_instance_count",
        int,
        _integer(1),
        1,
        "instances of the SageMaker endpoint",
    ),
    Key("capture", "enabled", bool, _boolean(), False, "keep requests and responses"),
    Key(
        "capture", "sampling_percentage", float, _number(0, 100), 100, "share of requests captured"
    ),
    Key(
        "shadow",
        "variant_name",
        str,
        Rule("non-empty text", _text),
        "Shadow",
        "shadow variant name (`deploy --shadow-version N`)",
    ),
    Key(
        "shadow",
        "sampling_percentage",
        float,
        _number(0, 100),
        100,
        "share of traffic copied to the shadow variant",
    ),
    Key(
        "smoke_test",
        "latency_requests",
        int,
        _integer(1),
        20,
        "single-row requests timed against max_latency_ms",
    ),
    Key(
        "smoke_test", "max_latency_ms", float, _number(0, above=True), 1000, "p99 limit for one row"
    ),
    Key(
        "smoke_test",
        "batch_rows",
        int,
        _integer(1),
        100,
        "rows per request when scoring the held-out set",
    ),
    Key(
        "smoke_test",
        "tolerance",
        float,
        _number(0),
        0.02,
        "allowed |served metric - registered metric|",
    ),
    Key(
        "smoke_test",
        "metrics",
        list,
        _list_of(METRIC, "metric names", '["accuracy", "auc"]', limit=20, non_empty=True),
        ["accuracy", "auc"],
        "metrics compared with the registered ones",
    ),
    # SageMaker only (`deploy --target sagemaker`): the blue/green update policy.
    Key(
        "deployment",
        "strategy",
        str,
        _choice("all-at-once", "canary", "linear"),
        "all-at-once",
        "how an update moves traffic to the new version",
    ),
    Key(
        "deployment",
        "canary_percentage",
        float,
        _number(0, 100, above=True),
        10,
        "capacity sent to the new version first (canary)",
    ),
    Key(
        "deployment",
        "linear_step_percentage",
        float,
        _number(0, 100, above=True),
        25,
        "capacity moved per step (linear)",
    ),
    Key(
        "deployment",
        "wait_seconds",
        int,
        _integer(0, 3600),
        300,
        "wait between steps, watching the alarms",
    ),
    Key(
        "deployment",
        "termination_wait_seconds",
        int,
        _integer(0, 3600),
        0,
        "wait before the old fleet is removed",
    ),
    Key(
        "deployment",
        "alarms",
        list,
        _list_of(ALARM, "alarm names", '["prod-5xx"]', limit=10),
        [],
        "CloudWatch alarms that roll an update back (e.g. on 5XX and latency)",
    ),
    # Experiments: every run is also an MLflow run when on (needs the `mlflow` extra).
    Key(
        "mlflow",
        "enabled",
        bool,
        _boolean(),
        False,
        "log each pipeline run (local, or on SageMaker with --wait) to MLflow tracking "
        "(install the `mlflow` extra)",
    ),
    Key(
        "mlflow",
        "tracking_uri",
        str,
        TRACKING_URI,
        "",
        "MLflow tracking URI; empty: a sqlite store in the workspace (.mlops/mlflow/mlflow.db)",
    ),
    Key(
        "mlflow",
        "experiment",
        str,
        EXPERIMENT,
        "",
        "MLflow experiment the runs go to; empty: the pipeline's name",
    ),
)
SECTIONS = tuple(dict.fromkeys(k.section for k in KEYS if k.section))
BY_PATH = {k.path: k for k in KEYS}
BY_VARIABLE = {k.variable: k for k in KEYS}
# SageMaker's own serving variables: they win over the stage file on an endpoint.
SAGEMAKER_VARIABLES: tuple[Key, ...] = (
    Key("", "SAGEMAKER_MODEL_SERVER_TIMEOUT", float, _number(0, 3600, above=True), None, ""),
    Key("", "SAGEMAKER_MODEL_SERVER_WORKERS", int, _integer(1), None, ""),
    Key("", "SAGEMAKER_BIND_TO_PORT", int, _integer(1, 65535), None, ""),
)
if len(BY_VARIABLE) != len(KEYS) or STAGE_VARIABLE in BY_VARIABLE:  # pragma: no cover
    raise RuntimeError("two stage keys map to the same MLOPS_* variable; rename one")


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _line(text: str, section: str, name: str) -> int:
    """The line of ``name`` in ``[section]`` of a TOML text (0 when not found)."""
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]\s*(#.*)?", stripped)
        if header:
            current = header.group(1)
            if not name and current == section:
                return number
            continue
        if (
            current == section
            and name
            and re.match(rf"['\"]?{re.escape(name)}['\"]?\s*=", stripped)
        ):
            return number
    return 0


def file_problems(raw: Mapping[str, Any], path: Path, text: str = "") -> list[str]:
    """Every rule ``raw`` (a parsed stage file) breaks, one line each, with its line number."""
    found: list[str] = []

    def where(section: str, name: str) -> str:
        line = _line(text, section, name) if text else 0
        return f"{path}:{line}" if line else str(path)

    top = [k.name for k in KEYS if not k.section]
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                found.append(f"{where('', key)}: {key} must be a [{key}] section")
                continue
            known = sorted(k.name for k in KEYS if k.section == key)
            for name, item in value.items():
                spec = BY_PATH.get(f"{key}.{name}")
                if spec is None:
                    found.append(
                        f"{where(key, '')}: [{key}] has no key {name!r}; "
                        f"{_suggest(name, known)}keys are {', '.join(known)}"
                    )
                    continue
                why = spec.rule.problem(item)
                if why:
                    found.append(f"{where(key, name)}: {key}.{name} = {item!r} {why}; fix the file")
        elif key in top:
            why = BY_PATH[key].rule.problem(value)
            if isinstance(value, Mapping):
                found.append(f"{where(key, '')}: {key} is a key, not a section; write {key} = ...")
            elif why:
                found.append(f"{where('', key)}: {key} = {value!r} {why}; fix the file")
        else:
            kind = "section" if isinstance(value, Mapping) else "key"
            found.append(
                f"{where(key if kind == 'section' else '', '' if kind == 'section' else key)}: "
                f"unknown {kind} {key!r}; {_suggest(key, list(SECTIONS) + top)}"
                f"sections are {', '.join(f'[{s}]' for s in SECTIONS)}, top-level keys "
                "are the pipeline settings and model_version"
            )
    return found


_NUMBER = re.compile(
    r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE
)


def parse(key: Key, text: str) -> Any:
    """An environment value as the key's type; ValueError with the rule when it is not one."""
    if key.kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("must be true or false")
    # ASCII digits only: int() and float() also take other scripts' digits, '_' and spaces.
    if key.kind is int:
        if re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            return int(text)
        raise ValueError("must be a whole number")
    if key.kind is float:
        if _NUMBER.fullmatch(text):
            return float(text)
        raise ValueError("must be a number")
    if key.kind is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def environment_problems(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The values ``MLOPS_*`` variables set (by key path), and every bad variable, one line each."""
    values: dict[str, Any] = {}
    found: list[str] = []
    names = sorted([*BY_VARIABLE, STAGE_VARIABLE])
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == STAGE_VARIABLE:
            continue
        key = BY_VARIABLE.get(name)
        if key is None:
            found.append(
                f"environment {name} is not a setting; {_suggest(name, names)}"
                "unset it, or use one of the MLOPS_* names in stage_schema.py"
            )
            continue
        text = environ[name]
        if text == "":
            continue  # empty counts as unset
        try:
            value = parse(key, text)
        except ValueError as err:
            why: str | None = f"{err} ({key.rule.describe})"
        else:
            why = key.rule.problem(value)
        if why:
            found.append(f"environment {name}={text!r} {why}; fix or unset it")
        else:
            values[key.path] = value
    for key in SAGEMAKER_VARIABLES:
        text = environ.get(key.name, "").strip()
        if not text:
            continue
        try:
            why = key.rule.problem(parse(key, text))
        except ValueError as err:
            why = str(err)
        if why:
            found.append(f"environment {key.name}={text!r} {why}; fix or unset it")
    return values, found


def raise_first(found: list[str]) -> None:
    """Raise ValueError with the first problem, and how many more there are."""
    if found:
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ValueError(found[0] + more)
