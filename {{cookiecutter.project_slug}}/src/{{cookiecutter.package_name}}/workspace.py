"""The local workspace and the project pipeline's raw data in its local "S3".

The local executor reads ``s3://bucket/key`` from ``<workspace>/s3/bucket/key``; this
module puts the raw export there, the way a CI job would upload it to the real bucket
before starting the SageMaker pipeline. Compiling and writing the code objects is the
engine's ``sagepipe.prepare``, which calls :func:`stage_input` through the adapter.
"""

from __future__ import annotations

from pathlib import Path

from sagepipe.storage import workspace as engine_workspace

from . import settings as project_settings


def default_workspace() -> Path:
    """``$SAGEPIPE_WORKSPACE`` if set, else ``<project root>/.mlops``."""
    return engine_workspace.default_workspace(project_settings.project_root())


def check_header(file: Path) -> None:
    """Refuse a CSV whose header lacks needed columns, naming the user's file (not the copy
    a job would see in its sandbox). Headers that are not text are left to the job."""
    import csv

    from . import columns

    try:
        with file.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error, OSError):
        return  # the preprocess step reports unreadable files with their reason
    if not header or any("\x00" in name for name in header):
        return
    missing = columns.missing_columns(header)
    if missing:
        raise ValueError(columns.missing_columns_message(file, missing))


def stage_data(workspace: Path, source: Path, input_data_url: str) -> list[Path]:
    """Mirror the CSV file(s) at ``source`` (a file or a folder) to ``input_data_url``.

    Unchanged files are left alone, so concurrent runs on the same data never race, and
    each file is replaced atomically. CSVs that are no longer in ``source`` are removed,
    so the input prefix holds exactly the chosen data.
    """
    from sagepipe.storage import objects as s3
    from sagepipe.storage.digests import file_sha256

    source = Path(source)
    files = [source] if source.is_file() else sorted(source.glob("*.csv"))
    if not files:
        raise FileNotFoundError(
            f"{source}: no CSV data found; run 'make-data -o {source}/churn.csv' or pass --data"
        )
    for file in files:
        check_header(file)
    s3_root = Path(workspace) / "s3"
    target = s3.uri_to_path(s3_root, input_data_url)
    staged = []
    for file in files:
        destination = target / file.name
        if not (destination.is_file() and file_sha256(destination) == file_sha256(file)):
            s3.put_file(s3_root, f"{input_data_url.rstrip('/')}/{file.name}", file)
        staged.append(destination)
    if target.is_dir():
        keep = {file.name for file in files}
        for stale in target.glob("*.csv"):
            if stale.name not in keep:
                stale.unlink(missing_ok=True)
    return staged


def stage_input(
    workspace: Path, settings: project_settings.Settings, data: Path | None = None
) -> list[Path]:
    """Stage what the project pipeline reads: ``data`` (``run --data``) or the settings'
    data folder, to the input prefix its ``InputDataUrl`` parameter names."""
    source = data if data is not None else project_settings.project_root() / settings.data_dir
    return stage_data(Path(workspace), source, settings.input_data_url)
