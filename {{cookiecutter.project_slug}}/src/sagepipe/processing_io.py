"""The S3 input and output entries of a SageMaker Processing job request.

A Processing job (CreateProcessingJob, and the Arguments of a pipeline's Processing,
QualityCheck and ClarifyCheck steps, which are that request) names each folder it reads
as a ``ProcessingInput`` and each folder it writes as a ``ProcessingOutput``. The compiler,
the check step types and the monitoring job all use the same settings (a whole prefix,
copied in as files before the job starts; uploaded once it ends), so the shape is written
once, here. Imports nothing: the authoring API and the SageMaker backend both build on it.
"""

from __future__ import annotations

from typing import Any


def processing_input(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    """A ``ProcessingInput``: every object under ``uri`` copied to ``local_path`` first.

    ``uri`` is an ``s3://`` URI or, in a pipeline definition, an expression (``{"Get": ...}``,
    ``{"Std:Join": ...}``) that the pipeline resolves at run time; it is used as given.
    """
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def processing_output(name: str, uri: Any, local_path: str) -> dict[str, Any]:
    """A ``ProcessingOutput``: the files under ``local_path`` uploaded to ``uri`` at the end.

    ``uri`` is an ``s3://`` URI or a definition expression, as for :func:`processing_input`.
    """
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }
