"""Serve registered models with SageMaker's inference contract, on this machine.

``app`` (WSGI: /ping, /invocations), ``handler`` (inference.py loading), ``content_types``,
``capture`` (data capture), ``server`` (gunicorn), ``endpoints`` (background endpoints),
``batch`` (batch transform), ``shadow`` (shadow-test report), ``history`` (deployments).
Nothing here does I/O at import time.
"""
