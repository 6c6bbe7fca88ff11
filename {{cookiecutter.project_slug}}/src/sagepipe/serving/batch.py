"""Batch transform with SageMaker's semantics, streamed so memory stays bounded.

Reads a file or every file under a folder, line by line (``SplitType=Line``), sends
records to the model handler one at a time (``SingleRecord``) or packed up to
``MaxPayloadInMB`` (``MultiRecord``), and writes ``<output>/<relative path>.out`` with
one output line per input line (``AssembleWith=Line``). ``InputFilter``, ``JoinSource`` and
``OutputFilter`` follow SageMaker's data-processing rules. The handler is the same code the
online endpoint runs, so predictions equal the endpoint's.

For ``application/json`` input a MultiRecord batch is sent as one JSON array of the
records (SageMaker would concatenate the lines, which only a JSON-lines handler reads).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import jsonpath
from .content_types import CSV, JSON, media_type
from .errors import ServingError, TransformError
from .handler import ModelHandler

MB = 1024 * 1024


@dataclass
class TransformConfig:
    """The TransformJob options we honour (SageMaker's names in the docstrings)."""

    content_type: str = CSV
    accept: str = CSV
    split_type: str = "Line"  # SplitType: Line or None
    batch_strategy: str = "MultiRecord"  # BatchStrategy: MultiRecord or SingleRecord
    max_payload_mb: float = 6.0  # MaxPayloadInMB
    assemble_with: str = "Line"  # AssembleWith: Line or None
    input_filter: str = "$"  # DataProcessing.InputFilter
    join_source: str = "None"  # DataProcessing.JoinSource: Input or None
    output_filter: str = "$"  # DataProcessing.OutputFilter

    def validate(self) -> None:
        """Refuse options SageMaker would refuse, with the allowed values."""
        for name, value, allowed in (
            ("split_type", self.split_type, ("Line", "None")),
            ("batch_strategy", self.batch_strategy, ("MultiRecord", "SingleRecord")),
            ("assemble_with", self.assemble_with, ("Line", "None")),
            ("join_source", self.join_source, ("Input", "None")),
        ):
            if value not in allowed:
                raise TransformError(
                    f"{name}={value!r} is not valid; use one of {', '.join(allowed)}"
                )
        if not 0 < self.max_payload_mb <= 100:
            raise TransformError(
                f"max_payload_mb={self.max_payload_mb} must be in (0, 100], like SageMaker's"
            )
        if media_type(self.content_type) not in (CSV, JSON):
            raise TransformError(
                f"content_type {self.content_type!r} is not supported; "
                "use text/csv or application/json"
            )
        if self.split_type == "None" and (self.join_source == "Input" or self.input_filter != "$"):
            raise TransformError("filters and join_source=Input need split_type=Line")


@dataclass
class TransformResult:
    """What a transform wrote."""

    files: list[Path]
    records: int
    requests: int


def transform(
    handler: ModelHandler,
    source: Path,
    output: Path,
    config: TransformConfig,
    *,
    progress: bool = True,
) -> TransformResult:
    """Transform ``source`` (a file or folder) into ``output``; nothing half-written on failure."""
    config.validate()
    source = Path(source)
    if not source.exists():
        raise TransformError(f"input {source} does not exist; pass a file or a folder of files")
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise TransformError(f"input folder {source} holds no files")
    in_filter = jsonpath.compile_path(config.input_filter)
    out_filter = jsonpath.compile_path(config.output_filter)
    total = sum(p.stat().st_size for p in files)
    from tqdm import tqdm  # imported on use: the server never needs it

    bar = tqdm(total=total, unit="B", unit_scale=True, desc="batch-transform", disable=not progress)
    result = TransformResult(files=[], records=0, requests=0)
    try:
        for path in files:
            relative = path.name if source.is_file() else str(path.relative_to(source))
            target = Path(output) / f"{relative}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            try:
                with (
                    path.open("rb") as reader,
                    partial.open("w", encoding="utf-8", newline="") as writer,
                ):
                    job = _FileJob(handler, config, in_filter, out_filter, path, writer)
                    for batch in _batches(reader, config, path):
                        job.run(batch)
                        bar.update(sum(len(raw) for _, raw in batch))
                    result.records += job.records
                    result.requests += job.requests
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            result.files.append(target)
    finally:
        bar.close()
    return result


def _batches(
    reader: IO[bytes], config: TransformConfig, path: Path
) -> Iterator[list[tuple[int, bytes]]]:
    """Yield lists of (line number, raw line) sized by the strategy and payload limit."""
    limit = int(config.max_payload_mb * MB)
    if config.split_type == "None":
        body = reader.read(limit + 1)
        if len(body) > limit:
            raise TransformError(
                f"{path} is larger than max_payload_mb={config.max_payload_mb:g}; "
                "use split_type=Line"
            )
        yield [(1, body)]
        return
    batch: list[tuple[int, bytes]] = []
    size = 0
    for number, raw in enumerate(reader, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        if len(line) > limit:
            raise TransformError(
                f"{path} line {number} is {len(line)} bytes, "
                f"over max_payload_mb={config.max_payload_mb:g}; "
                "raise max_payload_mb"
            )
        if batch and (config.batch_strategy == "SingleRecord" or size + len(line) + 1 > limit):
            yield batch
            batch, size = [], 0
        batch.append((number, line))
        size += len(line) + 1
    if batch:
        yield batch


class _FileJob:
    """Turns batches of one input file into output lines."""

    def __init__(
        self,
        handler: ModelHandler,
        config: TransformConfig,
        in_filter: list[tuple[str, Any]],
        out_filter: list[tuple[str, Any]],
        path: Path,
        writer: IO[str],
    ) -> None:
        self.handler = handler
        self.config = config
        self.in_filter = in_filter
        self.out_filter = out_filter
        self.path = path
        self.writer = writer
        self.csv_in = media_type(config.content_type) == CSV
        self.records = 0
        self.requests = 0
        self.raw_output = config.split_type == "None" or (
            config.join_source == "None"
            and config.input_filter == "$"
            and config.output_filter == "$"
        )

    def run(self, batch: list[tuple[int, bytes]]) -> None:
        where = f"{self.path} lines {batch[0][0]}-{batch[-1][0]}"
        try:
            records = [self._parse(raw) for _, raw in batch]
            sent = [jsonpath.apply(self.in_filter, record) for record in records]
            body = self._body(sent, batch)
            answer = self.handler.invoke(body, self.config.content_type, self.config.accept)
        except (ServingError, jsonpath.JsonPathError, ValueError) as err:
            raise TransformError(f"{where}: {err}") from err
        self.requests += 1
        self.records += len(batch)
        if self.raw_output and self.config.assemble_with == "None":
            self.writer.write(answer.body.decode("utf-8"))
            return
        outputs = _split_output(answer.body, answer.content_type, len(batch), where)
        for record, output in zip(records, outputs, strict=True):
            if self.config.join_source == "Input":
                output = _join(record, output)
            if self.out_filter:
                output = jsonpath.apply(self.out_filter, output)
            self.writer.write(
                _format(
                    output,
                    answer.content_type
                    if self.config.join_source != "Input"
                    else self.config.content_type,
                )
                + "\n"
            )

    def _parse(self, raw: bytes) -> Any:
        text = raw.decode("utf-8")
        if self.config.split_type == "None":
            return text
        if self.csv_in:
            return next(csv.reader([text]))
        return json.loads(text)

    def _body(self, sent: list[Any], batch: list[tuple[int, bytes]]) -> bytes:
        if self.config.split_type == "None" or (self.config.input_filter == "$" and self.csv_in):
            return b"\n".join(raw for _, raw in batch)  # the bytes exactly as read
        if self.csv_in:
            return "\n".join(_csv_line(record) for record in sent).encode()
        payload = sent[0] if self.config.batch_strategy == "SingleRecord" else sent
        return json.dumps(payload).encode()


def _split_output(body: bytes, content_type: str, count: int, where: str) -> list[Any]:
    kind = media_type(content_type)
    if kind == JSON:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("predictions"), list):
            data = data["predictions"]
        items = data if isinstance(data, list) and (count > 1 or len(data) == 1) else [data]
    else:
        items = [
            next(csv.reader([line])) for line in body.decode("utf-8").splitlines() if line.strip()
        ]
        items = [row[0] if len(row) == 1 else row for row in items]
    if len(items) != count:
        raise TransformError(
            f"{where}: the model returned {len(items)} records for {count} inputs; "
            "AssembleWith=Line needs one output per input line"
        )
    return items


def _join(record: Any, output: Any) -> Any:
    """JoinSource=Input: CSV appends the output columns; JSON adds ``SageMakerOutput``."""
    if isinstance(record, list):
        if isinstance(output, dict):
            output = list(output.values())
        return record + (output if isinstance(output, list) else [output])
    if isinstance(record, dict):
        return {**record, "SageMakerOutput": output}
    return {"SageMakerInput": record, "SageMakerOutput": output}


def _format(value: Any, content_type: str) -> str:
    if media_type(content_type) == CSV and not isinstance(value, dict):
        return _csv_line(value if isinstance(value, list) else [value])
    return json.dumps(value, separators=(",", ":"))


def _csv_line(fields: Any) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields if isinstance(fields, list) else [fields])
    return out.getvalue()
