"""The scikit-learn image's model server (script mode), served over stdin/stdout to a parent.

Runs in the image's runtime (Python 3.8 syntax, stdlib and numpy only, no sagepipe import),
speaking the framing of the sibling ``child_protocol`` module. It follows the contract of
the image's single-model server (aws/sagemaker-scikit-learn-container 1.2-1,
``serving.py`` on sagemaker-containers 2.8.6): the user module ``SAGEMAKER_PROGRAM`` is
imported from the unpacked ``SAGEMAKER_SUBMIT_DIRECTORY`` (which is on ``sys.path``, so
its sibling modules import), and

- ``model_fn(model_dir)`` is required: the image has no default and fails to start;
- ``transform_fn(model, body, content_type, accept)`` replaces the other three, and may not
  be combined with them;
- default ``input_fn``: ``text/csv``, ``application/json`` (bodies as text) and
  ``application/x-npy`` (bytes) into numpy, matched exactly (no parameters); CSV is
  ``squeeze()``-d, so a one-record request is a 1-D array, as in the image; CSV and JSON are
  cast to float32;
- default ``predict_fn``: ``model.predict(data)``;
- default ``output_fn``: the prediction encoded as the request's ``Accept`` (the same three
  types; no Accept or ``*/*`` means ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else JSON):
  JSON of ``tolist()``, CSV rows (a 1-D prediction is one value per line), or ``.npy``.

Usage: ``python sklearn_serve.py MODEL_DIR CODE_DIR PROGRAM``.
"""

import csv
import importlib
import io
import json
import os
import sys

import child_protocol  # the sibling module: this script's folder is sys.path[0]

CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
TEXT_TYPES = (CSV, JSON)
HANDLER_FUNCTIONS = ("input_fn", "predict_fn", "output_fn")


def _csv_to_numpy(text):
    import numpy as np

    rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', strict=True))
    try:
        array = np.array(rows)
    except ValueError as exc:  # ragged rows
        raise ValueError(f"the CSV records have different numbers of fields: {exc}") from None
    array = array.squeeze()
    try:
        return array.astype(None)  # numbers as float64, like the image's decoder
    except ValueError:
        return array  # kept as strings; default_input_fn's float32 cast then says why


def _decode(body, content_type):
    import numpy as np

    if content_type == CSV:
        return _csv_to_numpy(body)
    if content_type == JSON:
        return np.array(json.loads(body))
    if content_type == NPY:
        return np.load(io.BytesIO(body), allow_pickle=True)
    raise child_protocol.RequestError(
        415,
        f"content type {content_type!r}: the scikit-learn image's default input_fn reads "
        f"exactly {', '.join((CSV, JSON, NPY))}; define input_fn for others",
    )


def default_input_fn(body, content_type):
    """The image's default: decode, then float32 for CSV and JSON."""
    import numpy as np

    array = _decode(body, content_type)
    return array.astype(np.float32) if content_type in TEXT_TYPES else array


def default_predict_fn(data, model):
    """The image's default: ``model.predict(data)``."""
    return model.predict(data)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return json.JSONEncoder().default(value)


def _array_to_csv(prediction):
    import numpy as np

    array = np.array(prediction)
    if len(array.shape) == 1:
        array = np.reshape(array, (array.shape[0], 1))  # one value per line
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', strict=True)
    writer.writerows(array)
    return stream.getvalue()


def default_output_fn(prediction, accept):
    """The image's default: the prediction encoded as ``accept``."""
    if accept == JSON:
        return json.dumps(prediction, default=_json_default), accept
    if accept == CSV:
        return _array_to_csv(prediction), accept
    if accept == NPY:
        import numpy as np

        stream = io.BytesIO()
        np.save(stream, prediction)
        return stream.getvalue(), accept
    raise child_protocol.RequestError(
        406,
        f"Accept {accept!r}: the scikit-learn image's default output_fn writes exactly "
        f"{', '.join((CSV, JSON, NPY))}; define output_fn for others",
    )


class Served:
    """The user module's functions (or the image's defaults) and the loaded model."""

    def __init__(self, model_dir, code_dir, program):
        module_name = program[:-3] if program.endswith(".py") else program
        sys.path.insert(0, code_dir)
        module = importlib.import_module(module_name)
        model_fn = getattr(module, "model_fn", None)
        if model_fn is None:
            raise child_protocol.ModelError(
                f"{program} (SAGEMAKER_PROGRAM) defines no model_fn, and the scikit-learn "
                "image has no default one: add model_fn(model_dir) returning the loaded model"
            )
        self.transform_fn = getattr(module, "transform_fn", None)
        defined = [name for name in HANDLER_FUNCTIONS if getattr(module, name, None)]
        if self.transform_fn is not None and defined:
            raise child_protocol.ModelError(
                f"{program} defines transform_fn and {', '.join(defined)}: the image uses "
                "transform_fn alone; remove one or the other"
            )
        self.input_fn = getattr(module, "input_fn", None) or default_input_fn
        self.predict_fn = getattr(module, "predict_fn", None) or default_predict_fn
        self.output_fn = getattr(module, "output_fn", None) or default_output_fn
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or JSON
        self.model = model_fn(model_dir)

    def answer(self, body, content_type, accept):
        """One request, as the image's transformer handles it: ``(bytes, content type)``."""
        if not accept or accept == "*/*":
            accept = self.default_accept
        content = body.decode("utf-8") if content_type in TEXT_TYPES else body
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, content, content_type, accept)
        else:
            data = self.input_fn(content, content_type)
            result = self.output_fn(self.predict_fn(data, self.model), accept)
        # output_fn and transform_fn return (body, content type) or a bare body.
        data, kind = result if isinstance(result, tuple) else (result, accept)
        if isinstance(data, str):
            data = data.encode("utf-8")
        return bytes(data), str(kind)


def main():
    model_dir, code_dir, program = sys.argv[1:4]
    # This script's folder (the engine's algorithms) must not shadow the user's modules.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    return child_protocol.serve(
        lambda: Served(model_dir, code_dir, program),
        lambda served, body, content_type, accept: served.answer(body, content_type, accept),
    )


if __name__ == "__main__":
    sys.exit(main())
