"""Pass values between migrated steps as files, never as pickled globals.

``migrate apply`` copies this module into the generated steps package (as ``_io.py``),
so step code depends on nothing but pandas, numpy and joblib. The format follows the
value: tables (DataFrame, Series) as CSV plus a small JSON of their dtypes, arrays as
``.npy`` without pickle, plain values as JSON, fitted models (anything with ``fit`` or
``predict``) as ``.joblib`` files. Metrics go to ``evaluation.json``. Any other object
is refused with the variable's name, because a pickle of an arbitrary global is what
this migration exists to avoid.
"""

from __future__ import annotations

import contextlib
import json
import math
import tarfile
import tempfile
from pathlib import Path
from typing import Any

EVALUATION_FILE = "evaluation.json"
_TABLE = ".csv"
_DTYPES = ".dtypes.json"
_MODEL_ARCHIVE = "model.tar.gz"
_OUTPUT_ARCHIVE = "output.tar.gz"  # a Training job's output_data_dir, packed
# The rows requests to the model carry, for its data-quality baseline. A hyphen, so no
# variable's file (save_value names files after identifiers) can take its place.
REQUEST_ROWS_FILE = "request-rows.csv"
REQUEST_ROWS_SAMPLE = 10_000  # rows at most, a seeded sample of more: enough for statistics


def _is_model(value: Any) -> bool:
    return any(callable(getattr(value, name, None)) for name in ("fit", "predict", "transform"))


def _is_models(value: Any) -> bool:
    if isinstance(value, dict) and value:
        return all(_is_model(v) for v in value.values())
    if isinstance(value, (list, tuple)) and value:
        return all(_is_model(v) for v in value)
    return _is_model(value)


def _plain(value: Any) -> Any:
    """Convert numpy scalars and nested containers to JSON types; raise on anything else."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return _plain(value.item())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    raise TypeError(type(value).__name__)


def save_value(folder: Path, name: str, value: Any) -> Path:
    """Write ``value`` into ``folder`` under ``name``; return the file written."""
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        meta = {
            "kind": "series" if isinstance(value, pd.Series) else "frame",
            "name": value.name if isinstance(value, pd.Series) else None,
            "index_name": frame.index.name,
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
        }
        path = folder / f"{name}{_TABLE}"
        frame.to_csv(path, index=True)
        (folder / f"{name}{_DTYPES}").write_text(json.dumps(meta, indent=2) + "\n")
        return path
    module = type(value).__module__
    if module == "numpy" and type(value).__name__ == "ndarray":
        import numpy as np

        if value.dtype == object:
            raise TypeError(
                f"{name}: an object array cannot be saved without pickle; "
                "convert it to a DataFrame or a list first"
            )
        path = folder / f"{name}.npy"
        np.save(path, value, allow_pickle=False)
        return path
    state = _random_state(value)
    if state is not None:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(state) + "\n")
        return path
    try:
        plain = _plain(value)
    except TypeError:
        plain = None
    else:
        path = folder / f"{name}.json"
        kind = "tuple" if isinstance(value, tuple) else "value"
        path.write_text(json.dumps({"kind": kind, "value": plain}, indent=2) + "\n")
        return path
    if _is_models(value):
        import joblib

        path = folder / f"{name}.joblib"
        joblib.dump(value, path)
        return path
    raise TypeError(
        f"variable {name!r} is a {type(value).__name__}: only tables, arrays, JSON values and "
        "models can pass between steps as files; compute it inside the step that uses it"
    )


def load_value(folder: Path, name: str) -> Any:
    """Read the value ``save_value`` wrote under ``name`` (also from a packed model folder)."""
    folder = _unpacked(Path(folder))
    for suffix in (_TABLE, ".npy", ".json", ".joblib"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            break
    else:
        raise FileNotFoundError(
            f"{folder}: no file for variable {name!r}; run the step that produces it first"
        )
    if suffix == _TABLE:
        import pandas as pd

        meta = json.loads((folder / f"{name}{_DTYPES}").read_text())
        # pandas 3 reads floats exactly by default; older versions need round_trip.
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        frame = pd.read_csv(path, index_col=0, **exact)
        frame.columns = meta["columns"]
        frame.index.name = meta["index_name"]
        for column, dtype in meta["dtypes"].items():
            if str(frame[column].dtype) != dtype:
                # If a dtype cannot be restored, keep what CSV gave; the file documents it.
                with contextlib.suppress(TypeError, ValueError):
                    frame[column] = frame[column].astype(dtype)
        if meta["kind"] == "series":
            series = frame.iloc[:, 0]
            series.name = meta["name"]
            return series
        return frame
    if suffix == ".npy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if suffix == ".json":
        document = json.loads(path.read_text())
        if document.get("kind") in ("RandomState", "Generator", "Random"):
            return _restore_random_state(document)
        value = document["value"]
        return tuple(value) if document.get("kind") == "tuple" else value
    import joblib

    return joblib.load(path)


_RECORDED: dict[str, Any] = {}
_SHOWN: set[str] = set()  # keys recorded because they were printed
OTHER_OUTPUTS = "notebook_outputs"


def record_metric(key: str, value: Any, shown: bool = False) -> Any:
    """Remember a metric the notebook code computed (``acc``, ``acc_2``, ... in a loop);
    return ``value`` unchanged, so the wrapped expression still prints or is assigned.

    ``shown``: a printed variable, kept only when it is a number not recorded already.
    """
    if shown:
        if not _is_number(value):
            return value
        _SHOWN.add(key)
        number_value = _plain(value)
        for name, recorded in _RECORDED.items():
            if (name == key or name.startswith(key + "_")) and recorded == number_value:
                return value
    name, number = key, 2
    while name in _RECORDED:
        name, number = f"{key}_{number}", number + 1
    try:
        _RECORDED[name] = _plain(value)
    except TypeError:
        _RECORDED[name] = str(value)
    return value


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (
        type(value).__module__ == "numpy"
        and getattr(value, "shape", None) == ()
        and (getattr(getattr(value, "dtype", None), "kind", "") in "iuf")
    )


def reset_metrics() -> None:
    """Forget recorded metrics (a step starts with none)."""
    _RECORDED.clear()
    _SHOWN.clear()


def _key(text: str) -> str:
    key = "".join(c if c.isalnum() else "_" for c in text)
    while "__" in key:
        key = key.replace("__", "_")
    return key.strip("_") or "value"


def _leaves(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _leaves(item, f"{prefix}_{_key(str(key))}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _leaves(item, f"{prefix}_{index}", out)
    else:
        name, number = prefix, 2
        while name in out:
            name, number = f"{prefix}_{number}", number + 1
        out[name] = value


def collect_metrics(containers: dict[str, Any]) -> dict[str, Any]:
    """Flat ``{key: number or text}``: the containers (dicts, lists of metrics) and every
    value recorded since the step started, in that order; nested keys joined with ``_``."""
    flat: dict[str, Any] = {}
    for name, value in containers.items():
        try:
            plain = _plain(value)
        except TypeError:
            plain = str(value)
        _leaves(plain, _key(name), flat)
    for name, value in list(_RECORDED.items()):
        if name in _SHOWN and _key(name) in flat and flat[_key(name)] == value:
            continue  # print(acc) of a variable recorded whole below
        _leaves(value, name, flat)
    _RECORDED.clear()
    _SHOWN.clear()
    return flat


def export_model(folder: Path, model: Any) -> Path:
    """Write ``model.joblib``: the file the default inference handler serves (the
    scikit-learn container's convention), so the registered model can be deployed."""
    import joblib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    return path


def export_handler(
    folder: Path,
    program: Path,
    fitted: dict[str, Any],
    source: Any,
    parameters: dict[str, Any] | None = None,
) -> Path:
    """Pack a generated serving handler with the model: ``code/inference.py``, the
    notebook's fitted objects (``fitted.joblib``, never refit), the request columns
    (those of ``source``, the table the notebook prepared features from) and the values
    of the pipeline parameters its code reads, as this run used them."""
    import joblib

    folder = Path(folder)
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(Path(program).read_text(encoding="utf-8"))
    joblib.dump(fitted, folder / "fitted.joblib")
    # A DataFrame's column names, or None for an array: requests are then plain rows.
    columns = [str(c) for c in source.columns] if hasattr(source, "columns") else None
    recorded = {"columns": columns, "parameters": dict(parameters or {})}
    (folder / "handler.json").write_text(json.dumps(recorded) + "\n")
    return code / "inference.py"


def export_request_rows(folder: Path, rows: Any, like: Any = None) -> Path:
    """Write ``request-rows.csv`` (a header row, no index): the rows of ``rows`` as requests
    to the model carry them, in ``like``'s columns and their order when ``like`` (the
    handler's request table) has columns. More than :data:`REQUEST_ROWS_SAMPLE` rows are
    sampled with a fixed seed, so a re-run writes the same file."""
    import numpy as np
    import pandas as pd

    if hasattr(rows, "toarray") and not isinstance(rows, (pd.DataFrame, pd.Series)):
        rows = rows.toarray()  # a sparse matrix: requests carry its dense rows
    if isinstance(rows, pd.Series):
        rows = rows.to_frame()
    elif not isinstance(rows, pd.DataFrame):
        array = np.asarray(rows)
        if array.ndim not in (1, 2):
            raise TypeError(
                f"request rows for the data-quality baseline: a {type(rows).__name__} of shape "
                f"{array.shape} is not a table of rows; remove export_request_rows from this "
                "step and the RequestRows and BaselineTrainingData steps from the pipeline "
                "module, then baseline by hand (`baseline`, `monitor --baseline DIR`)"
            )
        rows = pd.DataFrame(array.reshape(len(array), -1))
        rows.columns = [f"_c{i}" for i in range(rows.shape[1])]  # the analyzer's names
    columns = list(getattr(like, "columns", []))
    if columns and all(c in rows.columns for c in columns):
        rows = rows[columns]
    if len(rows) > REQUEST_ROWS_SAMPLE:
        picked = np.random.default_rng(0).choice(len(rows), REQUEST_ROWS_SAMPLE, replace=False)
        rows = rows.iloc[np.sort(picked)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REQUEST_ROWS_FILE
    rows.to_csv(path, index=False)
    return path


def copy_request_rows(folder: Path, output: Path) -> Path:
    """Copy ``request-rows.csv`` out of a training job's output data (a folder, or the
    job's output.tar.gz in it) into ``output``, where the data-quality check reads it."""
    source = _unpacked(Path(folder), _OUTPUT_ARCHIVE) / REQUEST_ROWS_FILE
    if not source.is_file():
        raise FileNotFoundError(
            f"{folder}: no {REQUEST_ROWS_FILE}; the training step writes it into its "
            "output_data_dir with export_request_rows (apply the migration again, or add "
            "that line)"
        )
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    target = output / REQUEST_ROWS_FILE
    target.write_bytes(source.read_bytes())
    return target


def write_metrics(
    folder: Path, containers: dict[str, Any], block: str = "multiclass_classification_metrics"
) -> Path:
    """Write ``folder/evaluation.json`` in SageMaker's ModelMetrics layout.

    Numbers go to ``{block: {key: {"value": n}}}`` (a Condition reads
    ``block.key.value`` with JsonGet); text such as a classification report goes to
    ``notebook_outputs`` so it is kept without breaking the layout.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EVALUATION_FILE
    numbers: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for name, value in collect_metrics(containers).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers[name] = {"value": value}
        else:
            other[name] = value
    document: dict[str, Any] = {block: numbers}
    if other:
        document[OTHER_OUTPUTS] = other
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def read_metrics(folder: Path) -> dict[str, Any]:
    """The flat ``{key: value}`` of a folder's ``evaluation.json`` (also inside a
    model.tar.gz); empty when there is none."""
    path = _unpacked(Path(folder)) / EVALUATION_FILE
    if not path.is_file():
        return {}
    document = json.loads(path.read_text())
    flat: dict[str, Any] = {}
    for block, entries in document.items():
        for name, entry in (entries or {}).items():
            is_entry = block != OTHER_OUTPUTS and isinstance(entry, dict) and "value" in entry
            flat[name] = entry["value"] if is_entry else entry
    return flat


def write_report(
    folder: Path, sources: dict[str, Path], block: str = "multiclass_classification_metrics"
) -> Path:
    """Merge the metrics of several steps into one ``evaluation.json``; a key two steps
    share is prefixed with the step's name."""
    found = {step: read_metrics(path) for step, path in sources.items()}
    counts: dict[str, int] = {}
    for metrics in found.values():
        for name in metrics:
            counts[name] = counts.get(name, 0) + 1
    merged: dict[str, Any] = {}
    for step, metrics in found.items():
        for name, value in metrics.items():
            merged[name if counts[name] == 1 else f"{step}_{name}"] = value
    reset_metrics()
    return write_metrics(folder, {}, block) if not merged else _write_flat(folder, merged, block)


def _write_flat(folder: Path, flat: dict[str, Any], block: str) -> Path:
    reset_metrics()
    for name, value in flat.items():
        _RECORDED[name] = value
    return write_metrics(folder, {}, block)


def _random_state(value: Any) -> dict[str, Any] | None:
    """A random generator as the exact state it has now, so the next step draws the
    numbers the notebook drew next (``np.random.RandomState``, ``Generator``, ``random.Random``)."""
    import random

    kind = type(value).__name__
    module = type(value).__module__
    if module.startswith("numpy.random") and kind == "RandomState":
        name, keys, position, has_gauss, gauss = value.get_state()
        return {
            "kind": kind,
            "state": [name, keys.tolist(), int(position), int(has_gauss), float(gauss)],
        }
    if module.startswith("numpy.random") and kind == "Generator":
        return {"kind": kind, "state": _plain(value.bit_generator.state)}
    if isinstance(value, random.Random):
        version, internal, gauss = value.getstate()
        return {"kind": "Random", "state": [version, list(internal), gauss]}
    return None


def _restore_random_state(document: dict[str, Any]) -> Any:
    kind, state = document["kind"], document["state"]
    if kind == "Random":
        import random

        generator = random.Random()
        generator.setstate((state[0], tuple(state[1]), state[2]))
        return generator
    import numpy as np

    if kind == "RandomState":
        restored = np.random.RandomState()
        name, keys, position, has_gauss, gauss = state
        restored.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
        return restored
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def describe_value(value: Any) -> dict[str, Any]:
    """Type and shape of a value, for comparing a notebook run with a pipeline run."""
    shape = getattr(value, "shape", None)
    if shape is not None and not callable(shape):
        return {"type": type(value).__name__, "shape": [int(n) for n in shape]}
    if isinstance(value, (list, tuple, dict, set)):
        return {"type": type(value).__name__, "shape": [len(value)]}
    return {"type": type(value).__name__, "shape": None}


def _unpacked(folder: Path, name: str = _MODEL_ARCHIVE) -> Path:
    # A training step's folders arrive packed (SageMaker contract): model.tar.gz, and the
    # output data as output.tar.gz.
    archive = folder / name
    if not archive.is_file() or any(
        p.suffix in (_TABLE, ".json", ".npy", ".joblib") for p in folder.iterdir()
    ):
        return folder
    target = Path(tempfile.mkdtemp(prefix="migrated-model-"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/" not in m.name.strip("./")]
        for member in members:
            extracted = tar.extractfile(member)
            if extracted is not None:
                (target / Path(member.name).name).write_bytes(extracted.read())
    return target
