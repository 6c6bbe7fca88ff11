"""Step functions with signatures the contract rejects or treats specially (for tests)."""

from __future__ import annotations

from pathlib import Path


def takes_varargs(*folders: Path) -> None:
    """Not a step function: positional varargs cannot be bound by name."""


def takes_list(data: Path, columns: list[str]) -> None:
    """Not a step function: list annotations have no text form in the contract."""


def optional_input(data: Path, out: Path, extra: Path | None = None, flag: bool = False) -> None:
    """A step function with an optional folder and an optional flag."""


def make_nested():
    """Return a function that is not importable by module and name."""

    def nested(data: Path) -> None:
        return None

    return nested


def train_with_notes(train: Path, model_dir: Path, output_data_dir: Path) -> None:
    """A training step that keeps a file out of its model: in output_data_dir."""
    (model_dir / "model.txt").write_text("the model\n")
    rows = (train / "rows.csv").read_text() if (train / "rows.csv").is_file() else ""
    (output_data_dir / "notes.csv").write_text(f"seen\n{len(rows.splitlines())}\n")


def read_notes(notes: Path, out: Path) -> None:
    """A processing step that reads a training job's output.tar.gz."""
    import tarfile

    (archive,) = notes.iterdir()
    with tarfile.open(archive) as packed:
        member = packed.extractfile("notes.csv")
        assert member is not None
        (out / "notes.csv").write_bytes(member.read())
