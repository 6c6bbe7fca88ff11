"""The SageMaker backend: upload, upsert, start, watch; registry; endpoints; batch.

Everything here talks to AWS through **plain boto3** (the ``aws`` extra), imported
inside the functions that need it, so importing this package (or anything on the local
path) never loads boto3/botocore and never creates a client.

Why boto3 and not ``sagemaker-core`` (measured 2026-12-01, Python 3.11, fresh venvs
made with ``uv pip install``):

=====================  ==================  ===========================================
                       installed size      import + first SageMaker client
=====================  ==================  ===========================================
boto3 1.44             33 MB               1.2 s (``import boto3`` + ``client()``)
sagemaker-core 2.27    309 MB (pandas,     8.7 s (``import sagemaker.core.resources``)
                       scipy, paramiko...)
=====================  ==================  ===========================================

The typed resources and waiters of sagemaker-core would save a few lines each; they
cost 9x the disk and 7x the start-up time of every AWS command. The few waiters we need
are a bounded polling loop (:mod:`.poll`).

Modules: :mod:`.session` (clients, retries), :mod:`.errors` (one-line failures with
the likely fix), :mod:`.upload` (content-addressed code objects, data), :mod:`.pipelines`
(upsert, start, watch, stop, history), :mod:`.registry` (Model Registry),
:mod:`.endpoints` (models, endpoint configs, endpoints, invoke), :mod:`.batch`
(transform jobs), :mod:`.monitoring` (the monitoring job as a Processing job, once or on
an EventBridge Scheduler schedule), :mod:`.model_cards` (model cards linked to versions).
"""
