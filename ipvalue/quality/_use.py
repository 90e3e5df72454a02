"""How the quality score feeds valuation and collateral: royalty position, allocation weights, legal input."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd

__all__ = ["royalty_position", "allocation_weights", "legal_haircut_input", "DEAD_STATUSES"]

#: legal statuses of a right that no longer exists; such patents get no share of a group's value
DEAD_STATUSES: tuple[str, ...] = ("lapsed", "expired", "revoked", "withdrawn")


@overload
def royalty_position(score: float, coverage: float | None = None, *, missing: float = 0.5) -> float: ...
@overload
def royalty_position(score: np.ndarray, coverage: object = None, *, missing: float = 0.5) -> np.ndarray: ...
@overload
def royalty_position(score: pd.Series, coverage: object = None, *, missing: float = 0.5) -> pd.Series: ...


def royalty_position(score: Any, coverage: Any = None, *, missing: float = 0.5) -> Any:
    """Where a patent's royalty rate sits inside its comparable range, from its quality score.

    ``position = 0.5 + c * (score / 100 - 0.5)`` clipped to [0, 1], with ``c = coverage`` when given (1 when
    not), so a patent with little observed data is pulled towards the middle of the range rather than to an end.
    The valuation then uses ``low + position * (high - low)`` (reference notes 5.4: place the royalty rate
    within the comparable range by score).

    Parameters
    ----------
    score : float, array or Series
        Quality score, 0-100 (``quality_score``).
    coverage : float, array or Series, optional
        ``quality_coverage`` (0-1); shrinks the position towards 0.5.
    missing : float
        Position used where the score is NaN (default 0.5, the middle of the range).

    Returns
    -------
    float, ndarray or Series
        In [0, 1], same shape (and index) as ``score``. Non-decreasing in ``score``.

    Examples
    --------
    >>> royalty_position(75.0)
    0.75
    >>> royalty_position(75.0, 0.5)
    0.625
    """
    index = score.index if isinstance(score, pd.Series) else None
    s = np.asarray(score.to_numpy(dtype=float, na_value=np.nan) if index is not None else score, dtype=float)
    if np.any(s[~np.isnan(s)] < 0) or np.any(s[~np.isnan(s)] > 100):
        raise ValueError("royalty_position: score must lie in [0, 100]")
    pos = s / 100.0 - 0.5
    if coverage is not None:
        c = coverage.to_numpy(dtype=float, na_value=np.nan) if isinstance(coverage, pd.Series) else coverage
        c = np.asarray(c, dtype=float)
        if np.any(c[~np.isnan(c)] < 0) or np.any(c[~np.isnan(c)] > 1):
            raise ValueError("royalty_position: coverage must lie in [0, 1]")
        pos = pos * np.where(np.isnan(c), 0.0, c)
    out = np.where(np.isnan(s), float(missing), np.clip(0.5 + pos, 0.0, 1.0))
    if index is not None:
        return pd.Series(out, index=index, name="royalty_position")
    if np.ndim(out) == 0:
        return float(out)
    return out


def allocation_weights(
    frame_with_scores: pd.DataFrame,
    group_col: str = "group",
    *,
    score_col: str = "quality_score",
    exclude_dead: bool = True,
) -> pd.Series:
    """Share of its group's value that each patent carries, proportional to its quality score.

    Parameters
    ----------
    frame_with_scores : DataFrame
        Portfolio with ``score_col`` (0-100) and, optionally, ``group_col`` and ``legal_status``.
    group_col : str
        Column naming the product line whose value the patents share. A patent without a group (or a frame
        without the column) forms a group of its own and gets weight 1.
    score_col : str
        Column with the score.
    exclude_dead : bool
        Patents whose ``legal_status`` is lapsed, expired, revoked or withdrawn get weight 0.

    Returns
    -------
    Series
        Named ``allocation_weight``, indexed like the input; weights are >= 0 and sum to 1 within each group.
        A NaN score is replaced by the mean score of the group's scored live patents; a group where no live
        patent has a positive score splits evenly among its live patents (among all if none is live).
    """
    if score_col not in frame_with_scores.columns:
        raise KeyError(f"allocation_weights: column {score_col!r} not in the frame; run score_quality first")
    n = len(frame_with_scores)
    score = frame_with_scores[score_col].to_numpy(dtype=float, na_value=np.nan)
    if np.any(score[~np.isnan(score)] < 0):
        raise ValueError(f"allocation_weights: {score_col} must be >= 0")
    if group_col in frame_with_scores.columns:
        g = frame_with_scores[group_col].astype(object).to_numpy()
        codes, _ = pd.factorize(pd.Series(g), use_na_sentinel=True)
        lone = codes < 0
        codes = np.where(lone, codes.max(initial=-1) + 1 + np.cumsum(lone) - 1, codes)
    else:
        codes = np.arange(n)
    live = np.ones(n, dtype=bool)
    if exclude_dead and "legal_status" in frame_with_scores.columns:
        live = ~frame_with_scores["legal_status"].astype(object).isin(DEAD_STATUSES).to_numpy(dtype=bool)
    df = pd.DataFrame({"g": codes, "s": np.where(live, score, np.nan), "live": live})
    mean = df.groupby("g")["s"].transform("mean").to_numpy(dtype=float)
    s = np.where(live, np.where(np.isnan(score), mean, score), 0.0)
    s = np.nan_to_num(s, nan=0.0)
    df["s"] = s
    tot = df.groupby("g")["s"].transform("sum").to_numpy(dtype=float)
    n_live = df.groupby("g")["live"].transform("sum").to_numpy(dtype=float)
    size = df.groupby("g")["g"].transform("size").to_numpy(dtype=float)
    even = np.where(n_live > 0, live / np.maximum(n_live, 1.0), 1.0 / size)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(tot > 0, s / np.where(tot > 0, tot, 1.0), even)
    return pd.Series(w, index=frame_with_scores.index, name="allocation_weight")


def legal_haircut_input(scored: pd.DataFrame) -> pd.Series:
    """The legal-quality input to the collateral haircut: ``quality_legal`` on 0-100 (100 = legally sound).

    What the collateral engine can rely on:

    - scale 0-100, higher is better; it rises with grant status (examined invention > utility model / design >
      pending), an unchallenged or upheld validity record, remaining life against the statutory term, fees paid
      up to ``as_of``, claim counts, and absence of litigation; a lapsed / expired / revoked / withdrawn patent
      scores at most what its claims can give it (status, life and fees all count 0);
    - NaN only when no legal indicator was observed at all; use ``quality_coverage`` to tell a well-documented
      patent from a sparse one;
    - it is a quality signal, not an eligibility gate: hard fails (lapsed, invalidation pending, fees unpaid,
      term shorter than the loan) stay with the eligibility checks, and the mapping score -> haircut should be
      monotone (a higher ``quality_legal`` never gives a larger haircut) and tabulated in the policy file.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`score_quality` (or a frame carrying its columns).

    Returns
    -------
    Series
        ``quality_legal`` as float, indexed like ``scored``.
    """
    if "quality_legal" not in scored.columns:
        raise KeyError("legal_haircut_input: column 'quality_legal' missing; run score_quality first")
    s = scored["quality_legal"].astype(float)
    bad = s.notna() & ((s < 0) | (s > 100))
    if bad.any():
        raise ValueError(f"legal_haircut_input: quality_legal outside [0, 100] for {list(s.index[bad][:5])}")
    return s.rename("quality_legal")
