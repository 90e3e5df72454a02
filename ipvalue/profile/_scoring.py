"""Peer cohorts, percentiles and scores of the technology profile.

A firm's peers are the reference firms that share its key at the finest cohort level holding at least
``min_firms`` of them: ``industry+size`` (the 国民经济行业 division most of its patents in force point to, through
:func:`ipvalue.facts.industry.industry_for_ipc`, and the size bucket), then ``class+size`` (core CPC class), then
``section+size``, then ``size``, then ``all`` (the whole reference book, used whatever its size). The percentile of a value ``x`` among the ``n``
peer values ``y`` is the mid-rank ``100 * (#{y < x} + 0.5 #{y == x}) / n`` (a firm profiled inside its own book
counts itself once). A score orients the percentile so that higher is better: ``P`` for an indicator where more
is better, ``100 - P`` where less is better. Dimension scores are weighted means of the indicator scores, the
overall score the weighted mean of the dimension scores; a missing indicator's weight goes to the others of its
dimension, a missing dimension's to the other dimensions.

Everything here is vectorised over firms; nothing depends on the order of the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ipvalue.profile._weights import ProfileWeights

__all__ = [
    "COHORT_LEVELS",
    "cohort_keys",
    "assign_cohorts",
    "cohort_quality_thresholds",
    "top_decile_shares",
    "cohort_percentiles",
    "score_firms",
]

#: cohort levels from the finest to the whole book
COHORT_LEVELS: tuple[str, ...] = ("industry+size", "class+size", "section+size", "size", "all")


def cohort_keys(firms: pd.DataFrame) -> pd.DataFrame:
    """The key of each firm at every cohort level (``""`` where the level does not apply: no industry, no class)."""
    size = firms["size"].astype(str).to_numpy(dtype=object)
    ind = firms["core_industry"].to_numpy(dtype=object)
    cls = firms["core_class"].to_numpy(dtype=object)
    sec = firms["core_section"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "industry+size": np.where(ind != "", ind + "|" + size, ""),
            "class+size": np.where(cls != "", cls + "|" + size, ""),
            "section+size": np.where(sec != "", sec + "|" + size, ""),
            "size": size,
            "all": np.full(len(firms), "all", dtype=object),
        },
        index=firms.index,
    )


def assign_cohorts(
    subject_keys: pd.DataFrame, reference_keys: pd.DataFrame, min_firms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each subject's cohort level, key and number of peers among the reference firms.

    Returns
    -------
    level : array of str
    key : array of str
    n_peers : array of int
    """
    m = len(subject_keys)
    level = np.full(m, "all", dtype=object)
    key = np.full(m, "all", dtype=object)
    n_peers = np.full(m, len(reference_keys), dtype=np.int64)
    chosen = np.zeros(m, dtype=bool)
    for lev in COHORT_LEVELS[:-1]:
        sizes = reference_keys[lev][reference_keys[lev] != ""].value_counts()
        mine = subject_keys[lev].to_numpy(dtype=object)
        n = pd.Series(mine).map(sizes).fillna(0).to_numpy(dtype=np.int64)
        take = ~chosen & (mine != "") & (n >= min_firms)
        level[take], key[take], n_peers[take] = lev, mine[take], n[take]
        chosen |= take
    return level, key, n_peers


def _level_codes(ref_keys: np.ndarray, subj_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(np.concatenate([ref_keys, subj_keys]), dtype=object), sort=True)
    return codes[: len(ref_keys)], codes[len(ref_keys) :], len(uniques)


def cohort_quality_thresholds(
    quality: pd.DataFrame,
    reference_keys: pd.DataFrame,
    quantile: float,
    levels: tuple[str, ...] = COHORT_LEVELS,
) -> dict[str, pd.Series]:
    """Each cohort's quality threshold (the ``quantile`` of its reference firms' patents in force), per level.

    Parameters
    ----------
    quality : DataFrame
        ``firm`` and ``quality_score`` of patents in force; rows of firms outside ``reference_keys`` are left out.
    reference_keys : DataFrame
        :func:`cohort_keys` of the reference firms (indexed by firm).
    quantile : float
        E.g. 0.9 (linear interpolation).
    levels : tuple of str
        The cohort levels to compute.

    Returns
    -------
    dict
        ``{level: Series(threshold, index=cohort key)}``.
    """
    q = quality["quality_score"].to_numpy(dtype=float)
    ref_rows = quality["firm"].isin(reference_keys.index).to_numpy()
    firms = quality["firm"][ref_rows]
    out = {}
    for lev in levels:
        keys = reference_keys[lev].reindex(firms).to_numpy(dtype=object)
        out[lev] = pd.Series(q[ref_rows]).groupby(keys).quantile(quantile)
    return out


def top_decile_shares(
    quality: pd.DataFrame,
    subject_level: np.ndarray,
    subject_key: np.ndarray,
    reference_keys: pd.DataFrame,
    quantile: float,
    thresholds: dict[str, pd.Series] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cohort quality threshold of each subject and the share of its patents at or above it.

    Parameters
    ----------
    quality : DataFrame
        ``firm``, ``quality_score`` and ``subject`` (0-based subject row) of every patent in force with a
        score, for the reference firms (``subject`` -1) and the subjects (a reference firm profiled in its own
        book has its patents listed once, with its subject row).
    subject_level, subject_key : arrays
        From :func:`assign_cohorts`.
    reference_keys : DataFrame
        :func:`cohort_keys` of the reference firms (indexed by firm).
    quantile : float
        E.g. 0.9: the threshold is the cohort's 90th percentile of patent quality (linear interpolation).
    thresholds : dict, optional
        :func:`cohort_quality_thresholds` computed before (a prepared peer book); computed here when absent.
    """
    m = len(subject_level)
    thr = np.full(m, np.nan)
    q = quality["quality_score"].to_numpy(dtype=float)
    used = tuple(lev for lev in COHORT_LEVELS if (subject_level == lev).any())
    if thresholds is None:
        thresholds = cohort_quality_thresholds(quality, reference_keys, quantile, used)
    for lev in used:
        on = subject_level == lev
        thr[on] = pd.Series(subject_key[on]).map(thresholds[lev]).to_numpy(dtype=float)
    subj = quality["subject"].to_numpy(dtype=np.int64)
    mine = subj >= 0
    above = (q[mine] >= thr[subj[mine]]).astype(float)
    hits = np.bincount(subj[mine], weights=above, minlength=m)
    total = np.bincount(subj[mine], minlength=m).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where((total > 0) & ~np.isnan(thr), hits / np.where(total > 0, total, 1.0), np.nan)
    return thr, share


def cohort_percentiles(
    reference: pd.DataFrame,
    reference_keys: pd.DataFrame,
    subjects: pd.DataFrame,
    subject_level: np.ndarray,
    subject_key: np.ndarray,
    indicators: list[str],
) -> pd.DataFrame:
    """Mid-rank percentile (0-100) of every subject's indicator among its cohort's reference values.

    Vectorised per cohort level: each (cohort key, value) pair becomes one integer, the reference pairs are
    sorted once, and ``searchsorted`` counts the smaller and the equal values inside the subject's cohort.
    A missing subject value, or a cohort without any reference value of that indicator, gives NaN.
    """
    out = np.full((len(subjects), len(indicators)), np.nan)
    for lev in COHORT_LEVELS:
        on = np.flatnonzero(subject_level == lev)
        if not len(on):
            continue
        ref_codes, subj_codes, _ = _level_codes(
            reference_keys[lev].to_numpy(dtype=object), subject_key[on].astype(object)
        )
        for j, name in enumerate(indicators):
            rv = reference[name].to_numpy(dtype=float)
            sv = subjects[name].to_numpy(dtype=float)[on]
            ok = ~np.isnan(rv)
            vals, inv = np.unique(np.concatenate([rv[ok], sv[~np.isnan(sv)]]), return_inverse=True)
            width = np.int64(len(vals) + 1)
            ref_pair = np.sort(ref_codes[ok].astype(np.int64) * width + inv[: ok.sum()] + 1)
            s_ok = ~np.isnan(sv)
            s_rank = np.zeros(len(sv), dtype=np.int64)
            s_rank[s_ok] = inv[ok.sum() :] + 1
            s_pair = subj_codes.astype(np.int64) * width + s_rank
            start = np.searchsorted(ref_pair, subj_codes.astype(np.int64) * width, side="left")
            stop = np.searchsorted(ref_pair, (subj_codes.astype(np.int64) + 1) * width, side="left")
            less = np.searchsorted(ref_pair, s_pair, side="left") - start
            upto = np.searchsorted(ref_pair, s_pair, side="right") - start
            n = stop - start
            with np.errstate(invalid="ignore", divide="ignore"):
                p = 100.0 * (less + 0.5 * (upto - less)) / n
            out[on, j] = np.where(s_ok & (n > 0), p, np.nan)
    return pd.DataFrame(out, index=subjects.index, columns=indicators)


def score_firms(
    percentiles: pd.DataFrame, weights: ProfileWeights
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Indicator scores, dimension scores and the overall score (all 0-100, higher is better).

    Returns
    -------
    scores : DataFrame
        One column per indicator: the percentile oriented by the indicator's direction.
    dimensions : DataFrame
        One column per dimension: the weighted mean of its scored indicators (NaN when none is available).
    overall : ndarray
        The weighted mean of the available dimensions.
    """
    names = list(percentiles.columns)
    direction = np.array([weights.indicators[n]["direction"] for n in names])
    p = percentiles.to_numpy(dtype=float)
    s = np.where(direction > 0, p, 100.0 - p)
    scores = pd.DataFrame(s, index=percentiles.index, columns=names)
    dims = {}
    for dim, members in weights.dimensions.items():
        w = np.array([weights.weights[f"{dim}/{n}"] for n in members])
        v = scores[members].to_numpy(dtype=float)
        have = ~np.isnan(v) & (w > 0)
        den = (have * w).sum(axis=1)
        num = np.where(have, v, 0.0) @ w
        with np.errstate(invalid="ignore", divide="ignore"):
            dims[dim] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    dim_frame = pd.DataFrame(dims, index=percentiles.index)
    wd = np.array([weights.weights[d] for d in weights.dimensions])
    v = dim_frame.to_numpy(dtype=float)
    have = ~np.isnan(v) & (wd > 0)
    den = (have * wd).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(den > 0, (np.where(have, v, 0.0) @ wd) / np.where(den > 0, den, 1.0), np.nan)
    return scores, dim_frame, overall
