"""A neighbour module of the scripts: it travels with them in the code tree."""


def scale(value: float, factor: float) -> float:
    """Multiply ``value`` by ``factor``."""
    return value * factor
