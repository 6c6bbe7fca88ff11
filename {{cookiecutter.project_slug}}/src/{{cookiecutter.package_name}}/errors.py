"""Errors the project's steps raise on bad input: each message is one line that names
the value, the rule and the fix."""

from __future__ import annotations


class InputDataError(ValueError):
    """The input data cannot be used (missing file, unreadable CSV, missing columns)."""


class DataQualityError(RuntimeError):
    """A data-quality expectation failed; the message summarises every failure."""
