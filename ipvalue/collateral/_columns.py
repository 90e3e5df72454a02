"""The columns the collateral engine reads, as numpy arrays: text read once per book, reused by the stress shocks.

The engine's per-patent pass (eligibility, haircuts, the pledged pool) reads a dozen text columns (legal status,
patent type, office, owners, CPC, family, product line, currency) and three dates and three flags. Reading them
is most of a pass's time on a small book (pandas string operations), and a stress shock changes few of them:
values, the remaining life, the legal status of an invalidated family. :class:`EngineColumns` reads a checked
frame's columns into arrays, each text-derived array once (memoised under a key that names the policy terms
it depends on); read with ``like=`` the columns of another frame on the same patents (the base case), it reuses
every derived array whose source columns are unchanged (same dtype, same values) and derives the rest anew,
with the same code. Numbers are read from the frame each time (a copy of a float column).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._inputs import CollateralInputError, flag, num
from ipvalue.facts import columns
from ipvalue.facts.columns import text_series as text

__all__ = [
    "EngineColumns",
    "normalize_owner_series",
    "normalize_owner_text",
    "technology_classes",
    "subclass_of_texts",
]

_SUFFIXES = (
    (r"\blimited\b", "ltd"),
    (r"\bcompany\b", "co"),
    (r"\bcorporation\b", "corp"),
    (r"\bincorporated\b", "inc"),
    (r"有限责任公司", "有限公司"),
)


def normalize_owner_series(s: pd.Series) -> pd.Series:
    """Owner names reduced for comparison (see :func:`ipvalue.collateral.eligibility.normalize_owner`)."""
    out = s.astype("string").str.normalize("NFKC").str.casefold()
    for pat, rep in _SUFFIXES:
        out = out.str.replace(pat, rep, regex=True)
    return out.str.replace(r"[\W_]+", "", regex=True)


_SUFFIX_PATTERNS = tuple((re.compile(pat), rep) for pat, rep in _SUFFIXES)
_NOT_WORD = re.compile(r"[\W_]+")


def normalize_owner_text(name: str) -> str:
    r"""One owner name as :func:`normalize_owner_series` reduces it, in Python.

    pandas' string methods are Python's: ``str.normalize("NFKC")`` is ``unicodedata.normalize``, ``casefold``
    is ``str.casefold``, and a pattern whose meaning differs in arrow's RE2 (``\b``, ``\W`` on text that is
    not ASCII) runs on Python's ``re`` (pandas' own rule); so this gives the same text (a test compares the two on
    random Unicode names), for a few names in microseconds where the Series route costs about a millisecond.
    """
    out = unicodedata.normalize("NFKC", name).casefold()
    for pat, rep in _SUFFIX_PATTERNS:
        out = pat.sub(rep, out)
    return _NOT_WORD.sub("", out)


def _subclass_of_text(cpc: str | None) -> str:
    """:func:`subclass_of_texts` of one ASCII text (None: ``"unknown"``).

    On ASCII, Python's string methods are arrow's (``upper`` differs beyond it, e.g. for 'ß').
    """
    if cpc is None:
        return "unknown"
    return cpc.replace("；", ";").split(";")[0].replace(" ", "")[:4].upper()


def technology_classes(frame: pd.DataFrame) -> pd.Series:
    """The CPC subclass (first four characters) of each patent's first class, ``"unknown"`` when missing.

    Each distinct ``cpc`` text is read once (:func:`subclass_of_texts` on the distinct values, then taken back
    row by row): a book's classes repeat, and every step reads one value at a time.
    """
    cpc = text(frame, "cpc")
    codes, uniques = pd.factorize(cpc.array, use_na_sentinel=True)
    if (
        len(uniques) == 0
    ):  # nothing or only missing values: as it is (pandas infers the dtype from the values)
        return subclass_of_texts(cpc)
    missing = codes < 0
    cells = [*uniques, pd.NA] if missing.any() else list(uniques)  # the same values, each once
    classes = subclass_of_texts(pd.Series(pd.array(cells, dtype=cpc.dtype), name=cpc.name))
    out = classes.take(np.where(missing, len(uniques), codes))  # the dtype pandas gave the distinct values
    out.index = cpc.index
    return out


def subclass_of_texts(cpc: pd.Series) -> pd.Series:
    """The CPC subclass of each text (as :func:`~ipvalue.facts.columns.text_series` reads it), row by row."""
    first = cpc.str.replace("；", ";", regex=False).str.split(";").str[0]
    return first.str.replace(" ", "", regex=False).str[:4].str.upper().fillna("unknown")


def _missing(values: np.ndarray) -> np.ndarray:
    """Where an object array of text holds None."""
    return np.array([v is None for v in values.tolist()], dtype=bool)


def _isin(values: np.ndarray, choices: tuple[str, ...]) -> np.ndarray:
    """Where an object array of text (None where missing) holds one of ``choices`` (never where missing)."""
    wanted = set(choices)
    return np.array([v is not None and v in wanted for v in values.tolist()], dtype=bool)


def _same_column(x: pd.Series | None, y: pd.Series | None) -> bool:
    """Whether two columns are both absent, or present with the same dtype and values."""
    if x is None or y is None:
        return x is None and y is None
    if x.dtype != y.dtype:
        return False
    if x.array is y.array or _same_memory(x, y):  # one column shared by two frames (copy-on-write)
        return True
    return bool(x.equals(y))


def _same_memory(x: pd.Series, y: pd.Series) -> bool:
    """Whether two numpy-backed columns are views of the same memory, element for element."""
    if not (isinstance(x.dtype, np.dtype) and isinstance(y.dtype, np.dtype)):
        return False
    a, b = x.to_numpy(copy=False), y.to_numpy(copy=False)
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


class EngineColumns:
    """A checked frame's columns as the engine reads them (arrays), text-derived ones memoised.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame checked by :func:`~ipvalue.collateral._inputs.check_frame` (indexed by ``patent_id``).
    like : EngineColumns, optional
        The columns of another frame on the same patents (same index): every derived array whose source
        columns are the same in both frames is taken from it instead of being derived again.
    life_elapsed_years : float
        Years the remaining life has run down since the valuation (the assessment's date is later); the
        remaining life read is ``max(remaining_life_years - elapsed, 0)``.
    """

    def __init__(
        self, frame: pd.DataFrame, *, like: EngineColumns | None = None, life_elapsed_years: float = 0.0
    ) -> None:
        self.frame = frame
        self.index = frame.index
        self.ids = frame.index.to_numpy(dtype=object)
        self.n = len(frame)
        self.life_elapsed_years = float(life_elapsed_years)
        self._like = like if like is not None and like.index.equals(frame.index) else None
        self._memo: dict[Hashable, Any] = {}
        self._same: dict[str, bool] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._columns: dict[str, pd.Series | None] = {}
        self._arrays: dict[str, Any] | None = None

    def has(self, col: str) -> bool:
        """Whether the frame has the column."""
        return col in self.frame.columns

    def num(self, col: str) -> np.ndarray:
        """A number column as float64 (NaN where missing or absent); the remaining life aged to the assessment.

        Read once per column (the array is shared: do not write to it).
        """
        v = self._numbers.get(col)
        if v is None:
            arrays = self.arrays()
            a = None if arrays is None else arrays.get(col)
            if isinstance(a, np.ndarray) and a.dtype == np.float64:
                # what num() gives a float64 column (pandas' read-only view), from the arrays read once
                v = a.view()
                v.flags.writeable = False
            else:
                v = num(self.frame, col)
            if col == "remaining_life_years" and self.life_elapsed_years > 0:
                v = np.maximum(v - self.life_elapsed_years, 0.0)
            self._numbers[col] = v
        return v

    def column(self, col: str) -> pd.Series | None:
        """The frame's column (None when absent), taken out of the frame once."""
        if col not in self._columns:
            self._columns[col] = self.frame[col] if col in self.frame.columns else None
        return self._columns[col]

    def arrays(self) -> dict[str, Any] | None:
        """The frame's columns by name as arrays (:func:`~ipvalue.facts.columns.column_arrays`), read once.

        None when column names repeat (the Series route then decides).
        """
        if self._arrays is None:
            names = list(self.frame.columns)
            self._arrays = (
                dict(zip(names, columns.column_arrays(self.frame), strict=True))
                if len(set(names)) == len(names)
                else {}
            )
        return self._arrays or None

    def _unchanged(self, col: str) -> bool:
        if col not in self._same:
            like = self._like
            if like is None:
                same = False
            else:
                mine, theirs = self.arrays(), like.arrays()
                if mine is not None and theirs is not None:
                    # the same dtype and bits (stricter than equality: in doubt the array is derived anew)
                    x, y = mine.get(col), theirs.get(col)
                    same = (x is None and y is None) or (
                        x is not None and y is not None and columns.same_values(x, y)
                    )
                else:
                    same = _same_column(self.column(col), like.column(col))
            self._same[col] = same
        return self._same[col]

    def derived(self, key: Hashable, deps: tuple[str, ...], fn: Callable[[pd.DataFrame], Any]) -> Any:
        """``fn(frame)``, memoised under ``key`` (which names every non-column input, e.g. policy terms).

        Taken from ``like`` when it holds ``key`` and the columns ``deps`` (every column ``fn`` reads besides
        the index) are unchanged.
        """
        if key in self._memo:
            return self._memo[key]
        like = self._like
        if like is not None and key in like._memo and all(self._unchanged(c) for c in deps):
            out = like._memo[key]
        else:
            out = fn(self.frame)
        self._memo[key] = out
        return out

    # ---- text, dates and flags (each derived once) ---------------------------------------------------------

    def text(self, col: str) -> np.ndarray:
        """A text column as :func:`~ipvalue.facts.columns.text_series` reads it, in an object array.

        None where missing or blank; the comparisons below are on these arrays, element by element.
        """
        return self.derived(("text", col), (col,), lambda f: columns.text_values(f, col))

    def status(self) -> dict[str, np.ndarray]:
        """Masks of the legal status: ``na``, ``not_granted``, ``lapsed``, ``expired``, ``revoked``."""

        def read(frame: pd.DataFrame) -> dict[str, np.ndarray]:
            st = self.text("legal_status")
            return {
                "na": _missing(st),
                "not_granted": _isin(st, ("pending", "withdrawn")),
                "lapsed": _isin(st, ("lapsed",)),
                "expired": _isin(st, ("expired",)),
                "revoked": _isin(st, ("revoked",)),
            }

        return self.derived("status", ("legal_status",), read)

    def type_accepted(self, accepted: tuple[str, ...]) -> np.ndarray:
        """Whether the patent type is one of ``accepted``."""
        return self.derived(
            ("type_accepted", accepted), ("patent_type",), lambda f: _isin(self.text("patent_type"), accepted)
        )

    def pledge_rate_cap(self, caps: tuple[tuple[str, Any], ...]) -> np.ndarray:
        """The policy's pledge-rate cap for each patent's type (0 for a type without one, or a missing type)."""

        def read(frame: pd.DataFrame) -> np.ndarray:
            table = dict(caps)
            out = np.zeros(self.n)
            for i, t in enumerate(self.text("patent_type").tolist()):
                cap = None if t is None else table.get(t)
                if cap is not None and float(cap) == float(cap):  # NaN: 0, as a missing one
                    out[i] = float(cap)
            return out

        return self.derived(("pledge_rate_cap", caps), ("patent_type",), read)

    def office_accepted(self, offices: tuple[str, ...]) -> np.ndarray:
        """Whether the granting office (``jurisdiction``, else the number's first two letters) is accepted."""

        def read(frame: pd.DataFrame) -> np.ndarray:
            given = self.text("jurisdiction")
            ids = self.ids.tolist()
            if self.n < columns.ARROW_TEXT_ROWS and all(  # a short ASCII column: in Python (arrow beyond)
                (x is None or x.isascii()) and type(i) is str and i.isascii()
                for x, i in zip(given.tolist(), ids, strict=True)
            ):  # ASCII: Python's upper is arrow's (the office, else the number's first two letters)
                office = np.array(
                    [
                        (x if x is not None else i[:2]).upper()
                        for x, i in zip(given.tolist(), ids, strict=True)
                    ],
                    dtype=object,
                )
                return _isin(office, offices)
            office = text(frame, "jurisdiction").str.upper()
            if office.isna().any():  # take the office from the number (CN..., US..., EP...)
                office = office.fillna(
                    pd.Series(frame.index, index=frame.index, dtype="string").str[:2].str.upper()
                )
            return _isin(office.to_numpy(dtype=object, na_value=None), offices)

        return self.derived(("office_accepted", offices), ("jurisdiction",), read)

    def dates(self, col: str) -> np.ndarray:
        """A date column as ``datetime64[D]`` (NaT where missing or absent)."""
        return self.derived(
            ("dates", col),
            (col,),
            lambda f: columns.dates(f, col, ids=self.ids, error=CollateralInputError),
        )

    def flag(self, col: str) -> np.ndarray:
        """A yes/no column as bool (missing read as no)."""
        return self.derived(("flag", col), (col,), lambda f: flag(f, col))

    def owners(self, borrower: str | None) -> dict[str, Any]:
        """Owners per patent: ``count`` and, for ``borrower`` (None: not checked), ``hit`` (a listed owner is it).

        Owners are ``;``-separated (full-width too), each stripped (blank ones dropped), and compared after
        :func:`normalize_owner_series`, which runs once on the distinct names and the borrower together.
        """

        def read(frame: pd.DataFrame) -> dict[str, Any]:
            rows: list[int] = []
            parts: list[str] = []
            for i, owner in enumerate(self.text("owner").tolist()):
                if owner is not None:
                    split = owner.replace("；", ";").split(";")
                    rows += [i] * len(split)
                    parts += split
            # str.strip is arrow's utf8_trim_whitespace (see facts.columns.text_values)
            stripped = np.empty(len(parts), dtype=object)
            stripped[:] = [p.strip() for p in parts]
            keep = np.array([p != "" for p in stripped.tolist()], dtype=bool)
            where = np.asarray(rows, dtype=np.intp)[keep]
            names = stripped[keep]
            out: dict[str, Any] = {"count": np.bincount(where, minlength=self.n), "hit": None}
            if borrower is not None:
                distinct = list(dict.fromkeys(names.tolist()))
                target = normalize_owner_text(str(borrower))  # as pandas reads a name given as another type
                matches = {d for d in distinct if normalize_owner_text(d) == target}
                hit = np.zeros(self.n, dtype=bool)
                hit[where[np.array([x in matches for x in names.tolist()], dtype=bool)]] = True
                out["hit"] = hit
            return out

        return self.derived(("owners", borrower), ("owner",), read)

    def technology_class(self) -> np.ndarray:
        """:func:`technology_classes` as an object array."""

        def read(frame: pd.DataFrame) -> np.ndarray:
            cpc = self.text("cpc")
            if self.n < columns.ARROW_TEXT_ROWS and all(x is None or x.isascii() for x in cpc.tolist()):
                subclass: dict[str | None, str] = {}  # each distinct text once
                out = np.empty(self.n, dtype=object)
                out[:] = [
                    subclass.get(x) or subclass.setdefault(x, _subclass_of_text(x)) for x in cpc.tolist()
                ]
                return out
            return technology_classes(frame).to_numpy(dtype=object)

        return self.derived("technology_class", ("cpc",), read)

    def buckets(self) -> dict[str, np.ndarray]:
        """Concentration bucket label per patent: family (else the patent), technology class, product line."""

        def read(frame: pd.DataFrame) -> dict[str, np.ndarray]:
            family, line = self.text("family_id"), self.text("group")
            return {
                "family": np.where(pd.isna(family), self.ids.astype(str).astype(object), family),
                "technology_class": self.technology_class(),
                "product_line": np.where(pd.isna(line), "unknown", line).astype(object),
            }

        return self.derived("buckets", ("family_id", "cpc", "group"), read)

    def bucket_codes(self) -> dict[str, tuple[np.ndarray, int]]:
        """Per dimension of :meth:`buckets`: each patent's bucket number in sorted label order, and the count."""

        def read(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, int]]:
            out = {}
            for dim, labels in self.buckets().items():
                codes, uniques = pd.factorize(np.asarray(labels, dtype=object), sort=True)
                out[dim] = (codes, len(uniques))
            return out

        return self.derived("bucket_codes", ("family_id", "cpc", "group"), read)

    def packages(self, package_by: tuple[str, ...]) -> np.ndarray:
        """The disposal package of each patent (see :func:`ipvalue.collateral.kernel.disposal_packages`)."""

        def read(frame: pd.DataFrame) -> np.ndarray:
            out = ("patent:" + self.ids.astype(str).astype(object)).astype(object)
            tc = self.technology_class()
            given = {
                "product_line": self.text("group"),
                "family": self.text("family_id"),
                "technology_class": np.where(tc == "unknown", np.array(None, dtype=object), tc),
            }
            todo = np.ones(self.n, dtype=bool)
            for dim in package_by:  # the first dimension with a label decides
                label = given[dim]
                take = todo & ~pd.isna(label)
                out[take] = (dim + ":") + label[take].astype(str).astype(object)
                todo &= ~take
            return out

        return self.derived(("packages", package_by), ("family_id", "cpc", "group"), read)

    def currency(self, loan_currency: str) -> np.ndarray:
        """Each patent's valuation currency in upper case, the loan's where missing (object array)."""

        def read(frame: pd.DataFrame) -> np.ndarray:
            given = self.text("currency")
            if self.n < columns.ARROW_TEXT_ROWS and all(x is None or x.isascii() for x in given.tolist()):
                # a short ASCII column: Python's upper is arrow's, and costs less (arrow beyond)
                out = np.empty(self.n, dtype=object)
                out[:] = [loan_currency if x is None else x.upper() for x in given.tolist()]
                return out
            return text(frame, "currency").str.upper().fillna(loan_currency).to_numpy(dtype=object)

        return self.derived(("currency", loan_currency), ("currency",), read)
