"""Aggregation of the leaf indicators into dimension scores and the overall quality score."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.quality._indicators import compute_indicators
from ipvalue.quality._tree import DIMENSIONS, QualityTree, QualityTreeError, load_tree

__all__ = ["score_quality", "aggregate", "QUALITY_COLUMNS"]

#: the columns :func:`score_quality` returns, in order
QUALITY_COLUMNS: tuple[str, ...] = (
    "quality_legal",
    "quality_technical",
    "quality_economic",
    "quality_score",
    "quality_coverage",
    "quality_missing",
    "quality_explanation",
)

_CHUNK = 8_192  # rows per block: temporaries stay small enough to be reused, not page-faulted


@functools.lru_cache(maxsize=16)
def _packaged(scenario: str) -> tuple[QualityTree, dict[str, np.ndarray]]:
    """The packaged tree of ``scenario`` and its :func:`_layout`, read once a process (read only: never changed)."""
    tree = load_tree(scenario=scenario)
    lay = _layout(tree)
    for arr in lay.values():
        arr.setflags(write=False)
    return tree, lay


def _resolve_tree(scenario: str, weights: object) -> QualityTree:
    if isinstance(weights, QualityTree):
        return weights
    if isinstance(weights, str | Path):
        return load_tree(weights, scenario=scenario)
    tree = _packaged(scenario)[0]
    if weights is None:
        return tree
    if isinstance(weights, Mapping):
        return tree.with_weights(weights, label="weights argument")
    raise QualityTreeError(
        f"weights must be None, a mapping of node path to weight, a QualityTree or a JSON file path, got {weights!r}"
    )


def _layout(tree: QualityTree) -> dict[str, np.ndarray]:
    leaves = tree.leaf_names
    sub_paths = [f"{d}/{s}" for d, subs in tree.structure.items() for s in subs]
    leaf_sub = np.array(
        [sub_paths.index("/".join(tree.leaf_path(leaf).split("/")[:2])) for leaf in leaves], dtype=np.intp
    )
    sub_dim = np.array([DIMENSIONS.index(p.split("/")[0]) for p in sub_paths], dtype=np.intp)
    # leaves are listed sub-indicator by sub-indicator, and sub-indicators dimension by dimension, so the
    # children of a node are contiguous columns: sums over them are np.add.reduceat over column blocks
    return {
        "w_leaf": np.array([tree.weights[tree.leaf_path(leaf)] for leaf in leaves]),
        "w_sub": np.array([tree.weights[p] for p in sub_paths]),
        "w_dim": np.array([tree.weights[d] for d in DIMENSIONS]),
        "leaf_sub": leaf_sub,
        "sub_dim": sub_dim,
        "leaf_starts": np.flatnonzero(np.r_[True, np.diff(leaf_sub) != 0]),
        "sub_starts": np.flatnonzero(np.r_[True, np.diff(sub_dim) != 0]),
    }


def aggregate(values: np.ndarray, tree: QualityTree, *, _lay: dict | None = None) -> dict[str, np.ndarray]:
    """Weighted aggregation with missing weights redistributed; ``values`` is (patents x leaves), NaN = missing.

    Within a sub-indicator the observed leaves share its weight in proportion to their own weights; a
    sub-indicator with no observed leaf passes its weight to the observed sub-indicators of the same dimension;
    a dimension with nothing observed (NaN score) passes its weight to the other dimensions in the overall score.

    Returns
    -------
    dict
        ``dims`` (patents x 3, 0-1, NaN when nothing observed), ``score`` (0-1), ``coverage`` (nominal weight
        share observed), ``effective`` (patents x leaves: the weight each leaf finally carried in the overall
        score; rows sum to 1 where anything was observed).
    """
    lay = _lay if _lay is not None else _layout(tree)
    values = np.asarray(values, dtype=float)
    if values.shape[1:] != (len(lay["w_leaf"]),):
        raise ValueError(
            f"values must have one column per leaf ({len(lay['w_leaf'])}), got shape {values.shape}"
        )
    if values.shape[0] == 0:
        e = np.empty(0)
        return {"dims": np.empty((0, 3)), "score": e, "coverage": e, "effective": np.empty(values.shape)}
    leaf_sub, sub_dim = lay["leaf_sub"], lay["sub_dim"]
    obs = ~np.isnan(values)
    v = np.where(obs, values, 0.0)
    wl = obs * lay["w_leaf"]
    den_sub = np.add.reduceat(wl, lay["leaf_starts"], axis=1)
    num_sub = np.add.reduceat(wl * v, lay["leaf_starts"], axis=1)
    sub_obs = den_sub > 0
    safe_sub = np.where(sub_obs, den_sub, 1.0)
    s_sub = np.where(sub_obs, num_sub / safe_sub, 0.0)
    ws = sub_obs * lay["w_sub"]
    den_dim = np.add.reduceat(ws, lay["sub_starts"], axis=1)
    num_dim = np.add.reduceat(ws * s_sub, lay["sub_starts"], axis=1)
    dim_obs = den_dim > 0
    safe_dim = np.where(dim_obs, den_dim, 1.0)
    dims = np.where(dim_obs, num_dim / safe_dim, np.nan)
    wd = dim_obs * lay["w_dim"]
    den_tot = wd.sum(axis=1)
    any_obs = den_tot > 0
    safe_tot = np.where(any_obs, den_tot, 1.0)
    score = np.where(any_obs, (wd * np.where(dim_obs, dims, 0.0)).sum(axis=1) / safe_tot, np.nan)
    # effective weight of each leaf in the overall score: leaf share x sub share x dimension share
    share_dim = wd / safe_tot[:, None]
    share_sub = ws / np.take(safe_dim, sub_dim, axis=1) * np.take(share_dim, sub_dim, axis=1)
    effective = wl / np.take(safe_sub, leaf_sub, axis=1) * np.take(share_sub, leaf_sub, axis=1)
    nominal = lay["w_dim"][sub_dim][leaf_sub] * lay["w_sub"][leaf_sub] * lay["w_leaf"]
    coverage = (obs * nominal).sum(axis=1)
    return {"dims": dims, "score": score, "coverage": coverage, "effective": effective}


def _tokens(labels: list[str], tok_id: np.ndarray) -> np.ndarray:
    """The "label +x.y" token of each id ``leaf * 2001 + tenths + 1000`` (contributions -100.0 to +100.0).

    Only the distinct ids present are formatted (a book uses a few hundred of the 2,001 tokens per leaf).
    """
    uniq, inverse = np.unique(tok_id, return_inverse=True)
    texts = [f"{labels[u // 2001]} {(u % 2001 - 1000) / 10:+.1f}" for u in uniq.tolist()]
    return (
        np.array(texts, dtype=object)[inverse.reshape(tok_id.shape)]
        if texts
        else np.empty(tok_id.shape, object)
    )


_NONE_TEXT = {"en": "no indicator stands out", "zh": "无突出指标"}


def _explain(
    contrib: np.ndarray,
    labels: list[str],
    k: int = 3,
    *,
    none_text: str = _NONE_TEXT["en"],
) -> np.ndarray:
    n, n_leaf = contrib.shape
    mag = np.abs(np.nan_to_num(contrib, nan=0.0))
    kk = min(k, n_leaf)
    top = np.argsort(-mag, axis=1, kind="stable")[:, :kk]
    rows = np.arange(n)[:, None]
    c = contrib[rows, top]
    tenth = np.clip(np.rint(np.nan_to_num(c, nan=0.0) * 10), -1000, 1000).astype(np.int64)
    show = mag[rows, top] >= 0.05
    tokens = _tokens(labels, top * 2001 + (tenth + 1000))
    if kk == 0:
        return np.full(n, none_text, dtype=object)
    text = np.where(show[:, 0], tokens[:, 0], none_text).astype(object)
    for j in range(1, kk):
        # object arrays: the concatenation runs in numpy's loop over Python strings, no per-row Python code
        text = text + np.where(show[:, j], "; " + tokens[:, j], "").astype(object)
    return text


def _missing_column(
    miss_code: np.ndarray, leaves: list[str], invalid: Mapping[str, np.ndarray]
) -> pd.Categorical:
    """``;``-joined missing leaves (then ``field(invalid)`` entries) per patent, as a categorical.

    Patterns of missing data are few even in large portfolios, so each distinct text is built once and stored
    once; the column compares and prints like text.
    """
    names = sorted(invalid)
    if len(leaves) + len(names) > 62:  # pragma: no cover - the packaged tree has 31 leaves
        raise ValueError("too many leaves and fields for the missing-pattern encoding")
    key = miss_code << np.int64(len(names))
    for b, nm in enumerate(names):
        key = key | (invalid[nm].astype(np.int64) << np.int64(b))
    uniq, inv = np.unique(key, return_inverse=True)
    texts = []
    for u in uniq.tolist():
        m, i = u >> len(names), u & ((1 << len(names)) - 1)
        parts = [leaf for b, leaf in enumerate(leaves) if (m >> b) & 1]
        parts += [f"{nm}(invalid)" for b, nm in enumerate(names) if (i >> b) & 1]
        texts.append(";".join(parts))
    return pd.Categorical.from_codes(inv.reshape(-1), categories=pd.Index(texts, dtype=object))


def score_quality(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    scenario: str = "pledge",
    weights: Mapping[str, float] | QualityTree | str | Path | None = None,
    remaining_life_years: object = None,
    errors: str = "raise",
    lang: str = "en",
    cohort_reference: pd.DataFrame | None = None,
    cohort_quantiles: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Score patent quality on the legal, technical and economic dimensions (0-100).

    Parameters
    ----------
    frame : DataFrame
        Portfolio frame indexed by ``patent_id`` (see :mod:`ipvalue.facts.patent`). Optional extra inputs: expert
        scores on a 0-10 scale (``expert_advancement``, ``expert_maturity``, ``expert_design_around``, ... see
        ``docs/methodology/quality.md``), ``invalidation_survived``, ``commercialized``, ``generality`` /
        ``originality`` or ``forward_citation_classes`` / ``backward_citation_classes``, ``remaining_life_years``.
    as_of : datetime.date
        Valuation date, keyword-only and required.
    scenario : str
        Weight set from the tree file: ``"pledge"`` (default), ``"transaction"``, ``"licensing"``, ``"default"``.
    weights : mapping, QualityTree, str or Path, optional
        Node-path weight overrides applied on top of the scenario (``{"legal": 0.5, "technical": 0.2,
        "economic": 0.3}``), a ready :class:`QualityTree`, or another tree file. Refused with
        :class:`QualityTreeError` if any level stops summing to one.
    remaining_life_years : array-like, optional
        Remaining life per patent in years, aligned with ``frame``; else the ``remaining_life_years`` column,
        else :func:`ipvalue.terms.remaining_life`, else a coarse statutory fallback.
    errors : {"raise", "missing"}
        ``"raise"`` (default): a bad value (negative count, expert score outside 0-10, unknown legal status...)
        raises :class:`QualityInputError` naming the patents and the field. ``"missing"``: the bad value is
        treated as missing and listed in ``quality_missing`` as ``field(invalid)``; no row is dropped.
    lang : {"en", "zh"}
        Language of the indicator labels in ``quality_explanation``.
    cohort_reference : DataFrame, optional
        Forward-citation caps measured on a larger population than the portfolio: columns ``cpc_subclass``,
        ``filing_year``, ``rate_p99`` and optionally ``rate_p01`` (percentiles of forward citations per year of
        age). A patent whose cohort is listed is winsorised to and divided by these caps instead of its
        in-portfolio cohort; the others fall back as usual.
    cohort_quantiles : mapping, optional
        The in-portfolio cohort caps (``{"class_year": table, "year": table}`` from
        :func:`ipvalue.quality.cohort_quantiles`) computed over a whole book when ``frame`` is only one chunk
        of it; the chunk's patents are then normalised exactly as in a single run over the book. Omitted: the
        caps come from ``frame`` itself.

    Returns
    -------
    DataFrame
        Indexed like ``frame`` with every input row: ``quality_legal``, ``quality_technical``,
        ``quality_economic``, ``quality_score`` (0-100; NaN only where nothing was observed), ``quality_coverage``
        (0-1, share of nominal weight observed), ``quality_missing`` (``;``-joined leaves not observed),
        ``quality_explanation`` (the three leaves that move the score most, in points, measured against each leaf's
        neutral value: the state of an unremarkable patent, e.g. not in litigation, fees paid).
        ``attrs["ipvalue_quality"]`` records the scenario, tree version, weights, ``as_of`` and where remaining
        life came from.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from ipvalue.quality import score_quality
    >>> f = pd.DataFrame({"patent_type": ["invention"], "legal_status": ["granted"],
    ...                   "remaining_life_years": [10.0]}, index=pd.Index(["CN1"], name="patent_id"))
    >>> score_quality(f, as_of=dt.date(2025, 1, 1))["quality_score"].round(1).tolist()
    [75.0]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if not isinstance(as_of, dt.date):
        raise TypeError(f"as_of must be a datetime.date, got {as_of!r}")
    tree = _resolve_tree(scenario, weights)
    vals, inp, notes = compute_indicators(
        frame,
        tree,
        as_of=as_of,
        remaining_life_years=remaining_life_years,
        errors=errors,
        cohort_reference=cohort_reference,
        cohort_quantiles=None if cohort_quantiles is None else dict(cohort_quantiles),
    )
    leaves = tree.leaf_names
    n = len(frame)
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    labels = [tree.label(leaf, lang) for leaf in leaves]
    packaged = _packaged(scenario) if weights is None else None
    lay = packaged[1] if packaged is not None and packaged[0] is tree else _layout(tree)
    neutral = tree.neutral_values()
    out = {c: np.full(n, np.nan) for c in ("quality_legal", "quality_technical", "quality_economic")}
    score = np.full(n, np.nan)
    coverage = np.zeros(n)
    explanation = np.empty(n, dtype=object)
    miss_code = np.zeros(n, dtype=np.int64)
    bits = np.int64(1) << np.arange(len(leaves), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        mat = (
            np.column_stack([vals[leaf][sl] for leaf in leaves]) if leaves else np.empty((sl.stop - start, 0))
        )
        agg = aggregate(mat, tree, _lay=lay)
        for j, d in enumerate(DIMENSIONS):
            out[f"quality_{d}"][sl] = 100.0 * agg["dims"][:, j]
        score[sl] = 100.0 * agg["score"]
        coverage[sl] = agg["coverage"]
        contrib = 100.0 * agg["effective"] * (np.where(np.isnan(mat), neutral, mat) - neutral)
        explanation[sl] = _explain(contrib, labels, none_text=_NONE_TEXT[lang])
        miss_code[sl] = np.isnan(mat).astype(np.int64) @ bits
    result = pd.DataFrame(
        {
            **out,
            "quality_score": score,
            "quality_coverage": coverage,
            "quality_missing": _missing_column(miss_code, leaves, inp.invalid),
            "quality_explanation": pd.array(explanation, dtype="str") if n else pd.array([], dtype="str"),
        },
        index=frame.index,
    )
    info: dict[str, Any] = {
        **tree.to_dict(),
        "as_of": as_of.isoformat(),
        "remaining_life_source": notes.get("remaining_life_source"),
        "global_weights": tree.global_weights(),
    }
    result.attrs["ipvalue_quality"] = info
    return result
