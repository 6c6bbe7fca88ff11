"""Pre- and post-training bias metrics, as smclarify and AWS's Clarify docs define them.

Facet ``d`` is the sensitive group (rows whose facet matches the configured values or is
above the threshold), ``a`` the rest. Labels are collapsed to positive (the configured
label values, or above the threshold) and negative. Ratios with a zero denominator
follow smclarify's ``divide``: 0 when the numerator is 0 too, else +/-infinity (written
as ``null`` with an error in ``analysis.json``, since JSON has no infinity).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

INFINITY = math.inf
PRE_TRAINING = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "RD", "SD", "TE")
DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "TE": "Treatment Equality (TE)",
    "FT": "Flip Test (FT)",
}
# smclarify's flip test: 5 neighbours, or 1 when facet a has 10 rows or fewer.
FT_NEIGHBOURS, FT_FEW_NEIGHBOURS, FT_FEW_ROWS = 5, 1, 10


class MetricError(ValueError):
    """A metric that cannot be computed on this data (reported, not raised, by callers)."""


@dataclass(frozen=True)
class Groups:
    """Boolean masks of one facet split: sensitive rows, positive labels, predictions."""

    facet: np.ndarray
    label: np.ndarray
    predicted: np.ndarray | None = None
    group: np.ndarray | None = None
    features: np.ndarray | None = None  # numeric features without facet and label, for FT

    def __post_init__(self) -> None:
        if not self.facet.any():
            raise MetricError("facet set is empty: no row has the facet value")
        if self.facet.all():
            raise MetricError("negated facet set is empty: every row has the facet value")


def divide(a: float, b: float) -> float:
    """``a / b`` with smclarify's conventions for a zero denominator."""
    if b == 0:
        if a == 0:
            return 0.0
        return -INFINITY if a < 0 else INFINITY
    return a / b


def _difference(x: float, y: float) -> float:
    # Both infinite (both groups have empty denominators): smclarify reports 0.
    if x == y and x == INFINITY:
        return 0.0
    return x - y


def _distributions(g: Groups) -> tuple[np.ndarray, np.ndarray]:
    """Label distributions of a and d over the categories both have (pdfs_aligned_nonzero)."""
    label_a, label_d = g.label[~g.facet], g.label[g.facet]
    p_a = np.array([np.mean(~label_a), np.mean(label_a)])
    p_d = np.array([np.mean(~label_d), np.mean(label_d)])
    keep = (p_a > 0) & (p_d > 0)
    if not keep.any():
        raise MetricError("no label value is common to both facet groups")
    return p_a[keep], p_d[keep]


def _counts(mask: np.ndarray, g: Groups) -> tuple[int, int]:
    return int((mask & ~g.facet).sum()), int((mask & g.facet).sum())


def ci(g: Groups) -> float:
    """CI = (n_a - n_d) / (n_a + n_d)."""
    n_a, n_d = int((~g.facet).sum()), int(g.facet.sum())
    return (n_a - n_d) / (n_a + n_d)


def dpl(g: Groups, positive: np.ndarray | None = None) -> float:
    """DPL = q_a - q_d, q the proportion of positive labels (predictions for DPPL)."""
    positive = g.label if positive is None else positive
    return float(positive[~g.facet].mean() - positive[g.facet].mean())


def kl(g: Groups) -> float:
    """KL(Pa || Pd) = sum Pa log(Pa / Pd) over the label values."""
    p_a, p_d = _distributions(g)
    return float(np.sum(p_a * np.log(p_a / p_d)))


def js(g: Groups) -> float:
    """JS = 0.5 [KL(Pa || P) + KL(Pd || P)], P = (Pa + Pd) / 2."""
    p_a, p_d = _distributions(g)
    p = (p_a + p_d) / 2
    return float(0.5 * (np.sum(p_a * np.log(p_a / p)) + np.sum(p_d * np.log(p_d / p))))


def lp(g: Groups) -> float:
    """LP = the L2 norm of Pa - Pd."""
    p_a, p_d = _distributions(g)
    return float(np.linalg.norm(p_a - p_d, 2))


def tvd(g: Groups) -> float:
    """TVD = 0.5 * L1(Pa - Pd)."""
    p_a, p_d = _distributions(g)
    return float(0.5 * np.linalg.norm(p_a - p_d, 1))


def ks(g: Groups) -> float:
    """KS = max |Pa - Pd| over the label values."""
    p_a, p_d = _distributions(g)
    return float(np.max(np.abs(p_a - p_d)))


def cdd(g: Groups, positive: np.ndarray | None = None) -> float:
    """CDD = sum_i n_i DD_i / n, DD_i = d's share of rejections - d's share of acceptances."""
    positive = g.label if positive is None else positive
    if g.group is None:
        raise MetricError("Group variable is empty or not provided (set group_name)")
    if not positive.any():
        raise MetricError("No positive labels in set")
    if positive.all():
        raise MetricError("No negative labels in set")
    total, weighted = 0, 0.0
    for value in np.unique(g.group):
        rows = g.group == value
        accepted, rejected = positive & rows, ~positive & rows
        share_a = divide(int((accepted & g.facet).sum()), int(accepted.sum()))
        share_r = divide(int((rejected & g.facet).sum()), int(rejected.sum()))
        weighted += int(rows.sum()) * (share_r - share_a)
        total += int(rows.sum())
    return divide(weighted, total)


def _predicted(g: Groups) -> np.ndarray:
    if g.predicted is None:
        raise MetricError("post-training metrics need the model's predicted labels")
    return g.predicted


def di(g: Groups) -> float:
    """DI = q^_d / q^_a, the ratio of predicted positive proportions."""
    p = _predicted(g)
    return divide(float(p[g.facet].mean()), float(p[~g.facet].mean()))


def dca_dcr(g: Groups) -> tuple[float, float]:
    """DCA = c_a - c_d (c = n(1) / n^(1)); DCR = r_d - r_a (r = n(0) / n^(0))."""
    p = _predicted(g)
    n1_a, n1_d = _counts(g.label, g)
    p1_a, p1_d = _counts(p, g)
    n0_a, n0_d = _counts(~g.label, g)
    p0_a, p0_d = _counts(~p, g)
    return (
        _difference(divide(n1_a, p1_a), divide(n1_d, p1_d)),
        _difference(divide(n0_d, p0_d), divide(n0_a, p0_a)),
    )


def _confusion(g: Groups) -> dict[str, tuple[int, int]]:
    p = _predicted(g)
    return {
        "TP": _counts(g.label & p, g),
        "FP": _counts(~g.label & p, g),
        "FN": _counts(g.label & ~p, g),
        "TN": _counts(~g.label & ~p, g),
    }


def rd_sd(g: Groups) -> tuple[float, float]:
    """RD = recall_a - recall_d; SD = specificity_d - specificity_a."""
    c = _confusion(g)
    rec = [divide(c["TP"][i], c["TP"][i] + c["FN"][i]) for i in (0, 1)]
    spec = [divide(c["TN"][i], c["TN"][i] + c["FP"][i]) for i in (0, 1)]
    return _difference(rec[0], rec[1]), _difference(spec[1], spec[0])


def dar_drr(g: Groups) -> tuple[float, float]:
    """DAR = precision_a - precision_d; DRR = TN_d / n^_d(0) - TN_a / n^_a(0)."""
    c = _confusion(g)
    p = _predicted(g)
    p1, p0 = _counts(p, g), _counts(~p, g)
    accept = [divide(c["TP"][i], p1[i]) for i in (0, 1)]
    reject = [divide(c["TN"][i], p0[i]) for i in (0, 1)]
    return _difference(accept[0], accept[1]), _difference(reject[1], reject[0])


def ad(g: Groups) -> float:
    """AD = accuracy_a - accuracy_d."""
    c = _confusion(g)
    acc = [
        divide(c["TP"][i] + c["TN"][i], sum(c[k][i] for k in ("TP", "TN", "FP", "FN")))
        for i in (0, 1)
    ]
    return _difference(acc[0], acc[1])


def te(g: Groups) -> float:
    """TE = FN_d / FP_d - FN_a / FP_a."""
    c = _confusion(g)
    tau = [divide(c["FN"][i], c["FP"][i]) for i in (0, 1)]
    return _difference(tau[1], tau[0])


def ft(g: Groups) -> float:
    """FT = (F+ - F-) / n_d with a k-NN over facet a's predictions (smclarify's flip test).

    For each row of d, the majority predicted label of its k nearest rows of a (Euclidean
    distance on the numeric features) is what d "would have got as a"; F+ counts rows
    flipped from negative to positive, F- the reverse; rows with a missing feature are
    left out (n_d counts the rows of d that take part). The neighbours come from
    scikit-learn's KNeighborsClassifier, as in smclarify: a tree search, where comparing
    every row of d with every row of a took hours on a 200,000-row test split.
    """
    p = np.asarray(_predicted(g), dtype=bool)
    if g.features is None or g.features.size == 0:
        raise MetricError("FlipTest needs numeric features besides the facet and the label")
    try:
        from sklearn.neighbors import KNeighborsClassifier
    except ImportError:
        raise MetricError("FlipTest needs scikit-learn (pip install scikit-learn)") from None
    # A row with a missing feature has no distance to anything: it takes no part.
    whole = ~np.isnan(g.features).any(axis=1)
    x_a, y_a = g.features[~g.facet & whole], p[~g.facet & whole]
    x_d, y_d = g.features[g.facet & whole], p[g.facet & whole]
    if not len(x_a) or not len(x_d):
        raise MetricError("FlipTest needs rows of both facet groups with every feature present")
    k = FT_NEIGHBOURS if len(x_a) > FT_FEW_ROWS else FT_FEW_NEIGHBOURS
    k = min(k, len(x_a))
    # predict() breaks a tie towards the smaller class label (False), as smclarify does.
    as_a = KNeighborsClassifier(n_neighbors=k).fit(x_a, y_a).predict(x_d).astype(bool)
    flipped_up = int(np.sum(as_a & ~y_d))
    flipped_down = int(np.sum(y_d & ~as_a))
    return (flipped_up - flipped_down) / len(x_d)


METRICS: dict[str, Callable[[Groups], float]] = {
    "CI": ci,
    "DPL": dpl,
    "KL": kl,
    "JS": js,
    "LP": lp,
    "TVD": tvd,
    "KS": ks,
    "CDDL": cdd,
    "DPPL": lambda g: dpl(g, _predicted(g)),
    "DI": di,
    "DCA": lambda g: dca_dcr(g)[0],
    "DCR": lambda g: dca_dcr(g)[1],
    "RD": lambda g: rd_sd(g)[0],
    "SD": lambda g: rd_sd(g)[1],
    "DAR": lambda g: dar_drr(g)[0],
    "DRR": lambda g: dar_drr(g)[1],
    "AD": ad,
    "CDDPL": lambda g: cdd(g, _predicted(g)),
    "TE": te,
    "FT": ft,
}


def select(methods: str | Sequence[str], available: Sequence[str]) -> list[str]:
    """The metric names ``methods`` asks for (``"all"`` or a list), refusing unknown ones."""
    if methods == "all":
        return list(available)
    names = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in names if m not in available]
    if unknown:
        raise ValueError(
            f"bias methods {unknown} are not among {', '.join(available)}; use 'all' or a subset"
        )
    return sorted(names)


def report(names: Sequence[str], g: Groups) -> list[dict[str, object]]:
    """Clarify's metric list: ``name``, ``description``, ``value`` and ``error`` if any."""
    out: list[dict[str, object]] = []
    for name in names:
        entry: dict[str, object] = {"name": name, "description": DESCRIPTIONS[name]}
        try:
            value = METRICS[name](g)
        except MetricError as err:
            entry.update(value=None, error=str(err))
        else:
            if math.isinf(value) or math.isnan(value):
                entry.update(value=None, error=f"{name} is undefined on this data ({value})")
            else:
                entry["value"] = float(value)
        out.append(entry)
    return out
