"""One pipeline: the generated project's five steps in its order, plus its baseline checks."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from bench_kedro import nodes


def register_pipelines() -> dict[str, Pipeline]:
    """Kedro orders nodes by their data: each step consumes the previous one's result."""
    steps = pipeline(
        [
            node(nodes.preprocess, ["params:paths", "params:preprocess"], "counts"),
            node(nodes.quality, ["params:paths", "counts"], "quality_passed"),
            node(nodes.train, ["params:paths", "params:train", "quality_passed"], "model_file"),
            node(nodes.evaluate, ["params:paths", "model_file"], "evaluation"),
            node(nodes.baselines, ["params:paths", "evaluation"], "baselines"),
            node(nodes.condition, ["evaluation", "params:threshold"], "accuracy"),
        ]
    )
    return {"__default__": steps}
