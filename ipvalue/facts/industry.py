"""IPC / CPC codes: their hierarchy levels, and the industry (国民经济行业分类, GB/T 4754-2017) they point to.

:func:`ipc_levels` splits codes into section, class, subclass and main group, vectorised over many codes (each
distinct code is parsed once). :func:`industry_for_ipc` looks codes up in an IPC -> industry concordance: by
default the bundled, partial ``ipvalue/data/industry_ipc_concordance.json`` (read its ``status``: the CNIPA 2018
table was not found, the bundled rows are an ipvalue construction by IPC title); a bank holding the CNIPA table
loads it with :func:`load_concordance` and passes it as ``table``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ipc_levels", "industry_for_ipc", "concordance", "concordance_info", "load_concordance", "LEVELS"]

#: the IPC / CPC hierarchy levels, nearest first
LEVELS: tuple[str, ...] = ("group", "subclass", "class", "section")

_CODE = re.compile(r"^([A-H])(\d{2})([A-Z])?\s*(\d{1,4})?")
_FIXED = re.compile(r"^([A-H])(\d{2})([A-Z])(\d{4})\d{6}$")  # G06F0017300000: main group in characters 5-8


def _first_code(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    s = str(v).strip().upper()
    return re.split(r"[;；,，|]", s, maxsplit=1)[0].strip()


def _parse(code: str) -> tuple[str, str, str, str]:
    m = _FIXED.match(code) or _CODE.match(code)
    if m is None:
        return ("", "", "", "")
    sec, cls, sub, grp = m.groups()
    klass = f"{sec}{cls}"
    subclass = f"{klass}{sub}" if sub else ""
    group = f"{subclass}{int(grp)}" if sub and grp else ""
    return (group, subclass, klass, sec)


def ipc_levels(codes: Any) -> pd.DataFrame:
    """The hierarchy keys of IPC / CPC codes: main group, subclass, class and section.

    Parameters
    ----------
    codes : sequence of str or Series
        One entry per patent; several codes separated by ``;`` use the first (the main classification).
        Accepts ``G06F 17/30``, ``G06F17/30``, ``G06F0017300000`` (the 14-character form), ``G06F``, ``G06``.

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (``G06F17``), ``subclass`` (``G06F``), ``class`` (``G06``), ``section`` (``G``); ``""``
        where the code does not reach that level or cannot be read. Same index as ``codes`` when it is a Series.
    """
    s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    inv, uniq = pd.factorize(s.astype(object), use_na_sentinel=False)
    parsed = np.array([_parse(_first_code(u)) for u in uniq] + [("", "", "", "")], dtype=object).reshape(
        -1, 4
    )
    out = parsed[np.where(inv < 0, len(uniq), inv)]
    return pd.DataFrame(out, columns=list(LEVELS), index=s.index)


def _data_path() -> Any:
    return resources.files("ipvalue") / "data" / "industry_ipc_concordance.json"


@lru_cache(maxsize=1)
def _bundled() -> tuple[dict[str, Any], pd.DataFrame]:
    doc = json.loads(_data_path().read_text(encoding="utf-8"))
    table = pd.DataFrame(doc.pop("rows"), columns=doc["columns"])
    return doc, table


def concordance() -> pd.DataFrame:
    """The bundled IPC -> industry rows (a copy); see :func:`concordance_info` for what they are and are not."""
    return _bundled()[1].copy()


def concordance_info() -> dict[str, Any]:
    """Name, version, status, intended source, coverage and basis of the bundled concordance."""
    return dict(_bundled()[0])


def load_concordance(path: str | Path) -> pd.DataFrame:
    """Read a concordance table (CSV or XLSX) with columns ``ipc_prefix``, ``industry_code``, ``industry_label``.

    An optional ``royalty_industry`` column names the industry key of the royalty ranges. Use it to pass the
    CNIPA table, converted to one row per IPC prefix, to :func:`industry_for_ipc`.
    """
    p = Path(path)
    df = pd.read_excel(p, dtype=str) if p.suffix.lower() in (".xlsx", ".xls") else pd.read_csv(p, dtype=str)
    missing = {"ipc_prefix", "industry_code", "industry_label"} - set(df.columns)
    if missing:
        raise ValueError(f"{p}: concordance lacks columns {sorted(missing)}")
    df["ipc_prefix"] = df["ipc_prefix"].str.replace(r"\s+", "", regex=True).str.upper()
    if "royalty_industry" not in df.columns:
        df["royalty_industry"] = None
    if "basis" not in df.columns:
        df["basis"] = f"loaded from {p.name}"
    return df


def industry_for_ipc(codes: Any, *, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The industry each IPC / CPC code points to, by the longest matching prefix in the concordance.

    Vectorised: each distinct code is matched once (main group, then subclass, then class prefix).

    Parameters
    ----------
    codes : sequence of str or Series
        One entry per patent (the first of several ``;``-separated codes is used).
    table : DataFrame, optional
        A concordance from :func:`load_concordance`; the bundled partial one by default.

    Returns
    -------
    pandas.DataFrame
        ``ipc_prefix`` (the matched prefix), ``industry_code`` (GB/T 4754 division such as ``C27``),
        ``industry_label``, ``royalty_industry`` and ``basis``; missing (None) where no row matches.

    Examples
    --------
    >>> industry_for_ipc(["A61K 31/00", "H04W 4/00;G06F 1/00", "G06F 17/30"])["industry_code"].tolist()
    ['C27', 'C39', None]
    """
    lut = _bundled_lookup() if table is None else _prefix_lookup(table)
    levels = ipc_levels(codes)
    joined = (levels["group"] + "|" + levels["subclass"] + "|" + levels["class"]).to_numpy(dtype=object)
    inv, uniq = pd.factorize(pd.Series(joined, dtype=object))
    empty = (None, None, None, None, None)
    found = [next((lut[p] for p in u.split("|") if p and p in lut), empty) for u in uniq]
    rows = np.array([*found, empty], dtype=object).reshape(-1, 5)[np.where(inv < 0, len(uniq), inv)]
    # the lookup's missing cells are None already: the columns as they are (no pass turning NaN into None)
    return pd.DataFrame(
        {c: rows[:, j] for j, c in enumerate(_MATCH_COLUMNS)}, index=levels.index, dtype=object
    )


_MATCH_COLUMNS = ("ipc_prefix", "industry_code", "industry_label", "royalty_industry", "basis")


def _prefix_lookup(table: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
    """``{prefix: (ipc_prefix, industry_code, industry_label, royalty_industry, basis)}``, missing cells None."""
    out = {}
    for r in table.drop_duplicates("ipc_prefix").itertuples():
        cells = (r.ipc_prefix, r.industry_code, r.industry_label, r.royalty_industry, r.basis)
        out[str(r.ipc_prefix)] = tuple(None if pd.isna(v) else v for v in cells)
    return out


@lru_cache(maxsize=1)
def _bundled_lookup() -> dict[str, tuple[Any, ...]]:
    """:func:`_prefix_lookup` of the bundled concordance (built once a process; read only)."""
    return _prefix_lookup(_bundled()[1])
