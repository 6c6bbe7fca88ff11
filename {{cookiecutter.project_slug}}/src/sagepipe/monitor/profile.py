"""Streaming per-feature statistics in Model Monitor's ``statistics.json`` layout.

Values arrive in chunks (lists of raw values: CSV text, JSON numbers or strings, None for
missing). Each feature keeps counts, a mean/variance merged chunk by chunk, min/max,
up to ``MAX_CATEGORIES`` category counts and a uniform sample of ``SKETCH_SIZE`` values
(the ``sketch``), so memory is the same for a thousand records or a billion.

The ``kll`` block keeps Model Monitor's shape. Its ``sketch`` is a uniform reservoir
sample stored as one compactor level (parameters ``k`` = sample size, ``c`` = 1.0), not
Apache DataSketches' multi-level KLL; bucket counts are exact when the bucket edges were
known before the data was read (monitoring against a baseline) and estimated from the
sample otherwise (baselining), as Model Monitor's own are estimated from its sketch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

INTEGRAL = "Integral"
FRACTIONAL = "Fractional"
STRING = "String"
UNKNOWN = "Unknown"
SKETCH_SIZE = 2048
MAX_CATEGORIES = 1000
BUCKETS = 10
# A string feature with at most this many distinct values is categorical: it gets
# ``string_constraints.domains`` and a categorical drift check.
DOMAIN_MAX_VALUES = 50


class FeatureProfile:
    """Accumulates one feature's statistics over chunks of raw values."""

    def __init__(
        self, name: str, *, edges: Mapping[str, Sequence[float]] | None = None, seed: int = 0
    ) -> None:
        self.name = name
        self.present = 0
        self.missing = 0
        self.integral = 0
        self.fractional = 0
        self.strings = 0
        self.numeric = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.categories: dict[str, int] = {}
        self.categories_overflow = False
        self.sample = np.empty(0, dtype=float)
        self._rng = np.random.default_rng(seed)
        # Edge sets known before the data is read (a baseline's bucket and drift edges)
        # get exact histogram counts; see :func:`slot_counts` for the slot layout.
        self.edges = {key: np.asarray(v, dtype=float) for key, v in (edges or {}).items()}
        self.edge_counts = {
            key: np.zeros(len(v) + 1, dtype=np.int64) for key, v in self.edges.items()
        }

    # -- accumulation ------------------------------------------------------------------
    def add(self, values: Sequence[Any]) -> None:
        """Add one chunk of raw values (None or '' is missing)."""
        if not len(values):
            return
        series = pd.Series(values, dtype=object)
        missing = (series.isna() | (series == "")).to_numpy()
        present = series[~missing]
        self.missing += int(missing.sum())
        self.present += len(present)
        if not len(present):
            return
        numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        # NaN/inf spelled out as text are not numbers a model can take.
        is_number = np.isfinite(numbers)
        texts = present[~is_number]
        self.strings += len(texts)
        if len(texts):
            self._add_categories(texts.astype(str))
        if is_number.any():
            fractional = np.fromiter(
                (_looks_fractional(v) for v in present[is_number].tolist()),
                dtype=bool,
                count=int(is_number.sum()),
            )
            self.fractional += int(fractional.sum())
            self.integral += int((~fractional).sum())
            self._add_numbers(numbers[is_number])

    def _add_categories(self, texts: pd.Series) -> None:
        for value, count in texts.value_counts(sort=False).items():
            key = str(value)
            if key in self.categories:
                self.categories[key] += int(count)
            elif len(self.categories) < MAX_CATEGORIES:
                self.categories[key] = int(count)
            else:
                self.categories_overflow = True

    def _add_numbers(self, values: np.ndarray) -> None:
        n = len(values)
        chunk_mean = float(values.mean())
        chunk_m2 = float(((values - chunk_mean) ** 2).sum())
        total = self.numeric + n
        delta = chunk_mean - self.mean
        # Chan et al.'s pairwise merge: stable for any number of chunks.
        self.m2 += chunk_m2 + delta * delta * self.numeric * n / total
        self.mean += delta * n / total
        self.numeric = total
        self.total += float(values.sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        self._add_sample(values)
        for key, edges in self.edges.items():
            # Drift edges need a strict "below the edge" count at every edge.
            self.edge_counts[key] += slot_counts(edges, values, closed=key != "drift")

    def _add_sample(self, values: np.ndarray) -> None:
        seen = self.numeric - len(values)
        room = SKETCH_SIZE - len(self.sample)
        if room > 0:
            self.sample = np.concatenate([self.sample, values[:room]])
            values = values[room:]
            seen += room
        if not len(values):
            return
        # Reservoir sampling, vectorised: item t (1-based) replaces a slot with p = k/t.
        positions = seen + np.arange(1, len(values) + 1)
        keep = self._rng.random(len(values)) < SKETCH_SIZE / positions
        if keep.any():
            slots = self._rng.integers(0, SKETCH_SIZE, size=int(keep.sum()))
            self.sample[slots] = values[keep]

    # -- results -----------------------------------------------------------------------
    @property
    def inferred_type(self) -> str:
        """Integral, Fractional or String, as Model Monitor infers it from the values."""
        if self.present == 0:
            return UNKNOWN
        if self.strings:
            return STRING
        return INTEGRAL if self.fractional == 0 else FRACTIONAL

    def conforming(self, expected: str) -> int:
        """How many present values fit ``expected`` (an Integral value fits Fractional)."""
        if expected in (STRING, UNKNOWN):
            return self.present
        if expected == FRACTIONAL:
            return self.integral + self.fractional
        return self.integral

    def category_counts(self) -> dict[str, int]:
        """Category counts, numbers included (as text) for a categorical numeric feature."""
        return dict(self.categories)

    def to_statistics(self, buckets: Sequence[float] | None = None) -> dict[str, Any]:
        """This feature's entry of ``statistics.json``.

        ``buckets``: bucket edges to report counts on (a baseline's, so the two can be
        plotted together); default: ``BUCKETS`` equal-width buckets over min..max.
        """
        common = {"num_present": self.present, "num_missing": self.missing}
        kind = self.inferred_type
        if kind in (INTEGRAL, FRACTIONAL):
            std = math.sqrt(self.m2 / self.numeric) if self.numeric else 0.0
            return {
                "name": self.name,
                "inferred_type": kind,
                "numerical_statistics": {
                    "common": common,
                    "mean": self.mean,
                    "sum": self.total,
                    "std_dev": std,
                    "min": self.min,
                    "max": self.max,
                    "distribution": {
                        "kll": {
                            "buckets": self.buckets(buckets),
                            "sketch": {
                                "parameters": {"c": 1.0, "k": float(SKETCH_SIZE)},
                                "data": [[float(v) for v in self.sample]],
                            },
                        }
                    },
                },
            }
        ordered = sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "name": self.name,
            "inferred_type": kind,
            "string_statistics": {
                "common": common,
                "distinct_count": float(len(self.categories)),
                "distribution": {
                    "categorical": {
                        "buckets": [{"value": value, "count": count} for value, count in ordered]
                    }
                },
            },
        }

    def buckets(self, edges: Sequence[float] | None = None) -> list[dict[str, float]]:
        """Histogram buckets: exact on a fixed edge set, else estimated from the sample.

        Values below the first or above the last edge get an extra bucket reaching to
        this data's min or max, so drift outside the baseline's range stays visible.
        """
        if not self.numeric:
            return []
        chosen = np.asarray(
            equal_width_edges(self.min, self.max) if edges is None else edges, dtype=float
        )
        if len(chosen) < 2:
            return []
        counts = None
        for key, known in self.edges.items():
            if len(known) == len(chosen) and np.array_equal(known, chosen):
                counts = self.edge_counts[key].astype(float)
        if counts is None:
            scale = self.numeric / max(len(self.sample), 1)
            counts = slot_counts(chosen, self.sample).astype(float) * scale
        result = [
            {
                "lower_bound": float(chosen[i]),
                "upper_bound": float(chosen[i + 1]),
                "count": float(counts[i + 1]),
            }
            for i in range(len(chosen) - 1)
        ]
        if counts[0]:
            result.insert(
                0,
                {
                    "lower_bound": self.min,
                    "upper_bound": float(chosen[0]),
                    "count": float(counts[0]),
                },
            )
        if counts[-1]:
            result.append(
                {
                    "lower_bound": float(chosen[-1]),
                    "upper_bound": self.max,
                    "count": float(counts[-1]),
                }
            )
        return result

    def cdf(self, edges: Sequence[float], key: str = "drift") -> np.ndarray:
        """Fraction of numeric values below each edge: exact if ``key``'s edges match."""
        points = np.asarray(edges, dtype=float)
        known = self.edges.get(key)
        if known is not None and np.array_equal(known, points) and self.numeric:
            below = np.cumsum(self.edge_counts[key])[:-1]
            return below / self.numeric
        if not len(self.sample):
            return np.zeros(len(points))
        return np.searchsorted(np.sort(self.sample), points, side="left") / len(self.sample)


def _looks_fractional(value: Any) -> bool:
    """A float, or text with a decimal point or exponent ("45.0" is Fractional, "45" not)."""
    if isinstance(value, str):
        return "." in value or "e" in value or "E" in value
    return isinstance(value, float)


def slot_counts(edges: np.ndarray, values: np.ndarray, *, closed: bool = True) -> np.ndarray:
    """Counts in ``len(edges) + 1`` slots: 0 below ``edges[0]``, i in [e[i-1], e[i]), the
    last at or above ``edges[-1]``. ``closed``: a value equal to the last edge counts in the
    last bucket (slot ``len(edges) - 1``), as in a closed histogram."""
    slots = np.searchsorted(edges, values, side="right")
    if closed and len(edges):
        slots[values == edges[-1]] = len(edges) - 1
    return np.bincount(slots, minlength=len(edges) + 1)


def equal_width_edges(low: float, high: float, buckets: int = BUCKETS) -> list[float]:
    """``buckets`` + 1 equal-width edges over [low, high] (one bucket if low == high)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        return [low, low + 1.0] if buckets else [low]
    return [float(v) for v in np.linspace(low, high, buckets + 1)]


class DatasetProfile:
    """Per-feature profiles of a table, fed in chunks of rows."""

    def __init__(
        self,
        names: Sequence[str] = (),
        *,
        edges: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    ) -> None:
        self.items = 0
        self.edges = dict(edges or {})
        self.features: dict[str, FeatureProfile] = {}
        for name in names:
            self.feature(name)

    def feature(self, name: str) -> FeatureProfile:
        """The profile of ``name`` (created on first sight, e.g. an extra column)."""
        profile = self.features.get(name)
        if profile is None:
            seed = sum(ord(ch) for ch in name)  # deterministic samples for equal input
            profile = FeatureProfile(name, edges=self.edges.get(name), seed=seed)
            self.features[name] = profile
        return profile

    def add_columns(self, columns: dict[str, list[Any]], rows: int) -> None:
        """Add ``rows`` rows given as column lists; absent columns count as missing."""
        self.items += rows
        for name, values in columns.items():
            profile = self.feature(name)
            profile.add(values)
            short = rows - len(values)
            if short > 0:
                profile.missing += short

    def add_frame(self, frame: pd.DataFrame) -> None:
        """Add a pandas chunk (e.g. from ``read_csv(chunksize=...)``)."""
        columns = {
            str(name): frame[name].astype(object).where(frame[name].notna(), None).tolist()
            for name in frame.columns
        }
        self.add_columns(columns, len(frame))

    def to_statistics(self, buckets: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
        """The whole ``statistics.json`` document."""
        buckets = buckets or {}
        return {
            "version": 0.0,
            "dataset": {"item_count": self.items},
            "features": [
                profile.to_statistics(buckets.get(name)) for name, profile in self.features.items()
            ],
        }
