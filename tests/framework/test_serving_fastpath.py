"""The single-row fast path: compiled pipelines give predict_proba's answers or nothing.

Real scikit-learn pipelines, fitted here; the last test runs the example project's handler
in SageMaker's scikit-learn 1.2-1 runtime (Python 3.9, built with uv into the shared
runtime cache), with the engine and without it.
"""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from framework_paths import FRAMEWORK_SRC, TEMPLATE_ROOT
from sagepipe import runtimes
from sagepipe.runtimes.table import framework_runtime
from sagepipe.serving import compile_pipeline
from sagepipe.serving.fastpath import predict_proba, probe_rows

NUMERIC = ["age", "charges"]
CATEGORICAL = ["plan", "region"]
FEATURES = ["age", "plan", "charges", "region"]  # mixed order: rows follow FEATURES
HANDLER = (
    TEMPLATE_ROOT
    / "{{cookiecutter.project_slug}}"
    / "src"
    / "{{cookiecutter.package_name}}"
    / "deploy"
    / "inference.py"
)


def _frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows).astype(object),
            "charges": rng.gamma(2.0, 30.0, rows),
            "region": rng.choice(["north", "south"], rows).astype(object),
        }
    )[FEATURES]
    frame.loc[::17, "age"] = np.nan
    frame.loc[::23, "plan"] = None
    target = ((frame["charges"] > 60) ^ (frame["plan"] == "pro")).astype(int).to_numpy()
    return frame, target


def _pipeline(classifier: object | None = None, **encoder: object) -> Pipeline:
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False, **encoder),
    )
    columns = ColumnTransformer(
        [("numeric", SimpleImputer(strategy="median"), NUMERIC), ("cat", categorical, CATEGORICAL)]
    )
    model = classifier or HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0)
    frame, target = _frame()
    return Pipeline([("columns", columns), ("classifier", model)]).fit(frame, target)


def test_the_compiled_pipeline_gives_predict_proba_bit_for_bit_on_unseen_rows() -> None:
    pipeline = _pipeline()
    fast = compile_pipeline(pipeline, FEATURES)
    assert fast is not None
    frame, _ = _frame(rows=200, seed=7)
    rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    rows = [[math.nan if v is None and i in (0, 2) else v for i, v in enumerate(r)] for r in rows]
    rows[0][1], rows[1][3], rows[2][0] = "never-seen", None, math.nan
    expected = predict_proba(pipeline, rows, FEATURES, CATEGORICAL).tolist()
    assert [fast(row) for row in rows] == expected
    assert len(set(expected)) > 10  # the rows really reach different leaves


def test_probe_rows_visit_every_category_and_missing_and_unknown_values() -> None:
    rows = probe_rows(FEATURES, {"plan": ["basic", "plus"], "region": ["north"]})
    plans = {row[1] for row in rows}
    assert plans == {"basic", "plus", "never-seen", None}
    assert any(math.isnan(row[0]) for row in rows) and all(
        isinstance(row[2], float) for row in rows
    )


@pytest.mark.parametrize(
    "pipeline",
    [
        pytest.param(lambda: _pipeline(LogisticRegression(max_iter=200)), id="another model"),
        pytest.param(lambda: _pipeline(drop="first"), id="an encoder that drops a category"),
        pytest.param(
            lambda: Pipeline([("classifier", HistGradientBoostingClassifier(max_iter=3))]).fit(
                _frame()[0][NUMERIC], _frame()[1]
            ),
            id="no column transformer",
        ),
    ],
)
def test_a_pipeline_the_compiler_does_not_know_gives_none(pipeline: object) -> None:
    assert compile_pipeline(pipeline(), FEATURES) is None


def test_a_compiled_form_that_disagrees_with_predict_proba_is_never_returned() -> None:
    # add_indicator appends "was missing" columns the compiler does not model: its trees
    # would read other columns than the fitted ones, and the probe check must catch that.
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    columns = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median", add_indicator=True), NUMERIC),
            ("cat", categorical, CATEGORICAL),
        ]
    )
    frame, target = _frame()
    classifier = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    pipeline = Pipeline([("columns", columns), ("classifier", classifier)]).fit(frame, target)
    assert compile_pipeline(pipeline, FEATURES) is None


_IN_RUNTIME = textwrap.dedent(
    """
    import importlib.util, json, math, os, shutil, sys, tempfile
    import joblib, numpy as np, pandas as pd, sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    handler_file, features = sys.argv[1], ["age", "plan", "charges"]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 12, 300),
                          "plan": rng.choice(["basic", "pro"], 300).astype(object),
                          "charges": rng.gamma(2.0, 30.0, 300)})
    target = ((frame["charges"] > 60) ^ (frame["plan"] == "pro")).astype(int)
    categorical = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    columns = ColumnTransformer([("n", SimpleImputer(strategy="median"), ["age", "charges"]),
                                 ("c", categorical, ["plan"])])
    model = Pipeline([("columns", columns),
                      ("classifier", HistGradientBoostingClassifier(max_iter=20, random_state=0))])
    model.fit(frame, target)
    model_dir = tempfile.mkdtemp()
    joblib.dump(model, os.path.join(model_dir, "model.joblib"))
    with open(os.path.join(model_dir, "model.json"), "w") as fh:
        json.dump({"features": features, "categorical_features": ["plan"]}, fh)
    os.makedirs(os.path.join(model_dir, "code"))
    shutil.copyfile(handler_file, os.path.join(model_dir, "code", "inference.py"))
    spec = importlib.util.spec_from_file_location(
        "inference", os.path.join(model_dir, "code", "inference.py"))
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    loaded = handler.model_fn(model_dir)
    rows = [[float(a) if i % 5 else None, p, float(c)]
            for i, (a, p, c) in enumerate(frame.head(40).itertuples(index=False))]
    batch = handler.predict_fn({"rows": rows}, loaded)[:, 1].tolist()
    single = [handler.predict_fn({"rows": [row]}, loaded)[0, 1] for row in rows]
    body, media = handler.output_fn(
        handler.predict_fn(handler.input_fn("30,pro,10\\n", "text/csv"), loaded), "text/csv")
    print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "sklearn": sklearn.__version__,
                      "fast": loaded["fast"] is not None, "equal": batch == single,
                      "csv": body.decode(), "media": media}))
    """
)


@pytest.mark.parametrize("with_engine", [True, False], ids=["engine on the path", "no engine"])
def test_the_example_handler_serves_in_the_sklearn_1_2_runtime(
    with_engine: bool, tmp_path: Path
) -> None:
    image = runtimes.framework_image_uri("sklearn", "eu-west-1", "1.2-1")
    runtime = framework_runtime(image)
    assert runtime is not None
    environment = runtimes.build_environment(
        runtimes.find_interpreter(runtime.python), list(runtime.packages), what=image
    )
    script = tmp_path / "serve_in_runtime.py"
    script.write_text(_IN_RUNTIME)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # nothing of this interpreter's
    if with_engine:
        env["PYTHONPATH"] = str(FRAMEWORK_SRC)
    done = subprocess.run(
        [str(environment.python), str(script), str(HANDLER)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["python"], report["sklearn"]) == ("3.9", "1.2.1")
    # Without sagepipe the handler still answers, every request through predict_proba.
    assert report["fast"] is with_engine
    assert report["equal"] is True
    label, probability = report["csv"].strip().split(",")
    assert report["media"] == "text/csv" and label in {"0", "1"} and 0 <= float(probability) <= 1
