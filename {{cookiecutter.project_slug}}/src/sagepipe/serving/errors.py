"""Serving's errors: those that map to an HTTP status, and the one-line failures of commands.

Raise a ``ServingError`` subclass from a handler to answer 4xx, not 500. ``ModelLoadError``,
``EndpointError`` and ``TransformError`` are what deploy, endpoint and batch commands turn
into one line on stderr.
"""

from __future__ import annotations


class ServingError(Exception):
    """An error with the HTTP status it answers and a one-line message."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\n", " "))
        self.message = message.replace("\n", " ")


class BadRequest(ServingError):
    """The body could not be parsed or does not fit the model (400)."""

    status = 400


class NotFound(ServingError):
    """No such route (404)."""

    status = 404


class MethodNotAllowed(ServingError):
    """The route exists but not for this method (405)."""

    status = 405


class NotAcceptable(ServingError):
    """No response content type satisfies the Accept header (406)."""

    status = 406


class PayloadTooLarge(ServingError):
    """The body is larger than the endpoint's payload limit (413)."""

    status = 413


class UnsupportedContentType(ServingError):
    """The request's Content-Type cannot be decoded (415)."""

    status = 415


class InferenceTimeout(ServingError):
    """The request took longer than the per-request timeout (504)."""

    status = 504


class ModelLoadError(Exception):
    """The model artifact or its handler cannot be loaded (deploy refuses, nothing serves)."""


class EndpointError(Exception):
    """An endpoint could not be started, reached or stopped (one-line message)."""


class TransformError(Exception):
    """The job cannot run or a record failed; one-line message naming file and line."""
