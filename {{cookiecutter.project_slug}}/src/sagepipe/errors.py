"""The one exception type the authoring API and the compiler raise for user mistakes."""

from __future__ import annotations


class GraphError(ValueError):
    """A pipeline graph mistake found at build or compile time.

    The message is one line that names the value, the rule it breaks and the fix.
    """
