"""Reading a portfolio: bank files with Chinese or English headers to the validated portfolio frame."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts.numbers import PatentNumberError, parse_number
from ipvalue.facts.patent import (
    COLUMN_KINDS,
    COUNT_COLUMNS,
    LEGAL_STATUSES,
    PATENT_TYPES,
    Patent,
    patents_to_frame,
)

__all__ = [
    "read_portfolio",
    "read_json_rows",
    "PortfolioError",
    "ReadIssue",
    "HEADER_ALIASES",
    "parse_date",
    "header_key",
    "load_table",
    "is_blank",
    "ColumnReader",
    "map_values",
]


@dataclass(frozen=True)
class ReadIssue:
    """One problem found while reading: the row (1-based, as in the file, after the header), patent and field."""

    row: int
    patent: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, patent {self.patent}, field {self.field}: {self.message}"


class PortfolioError(InputError):
    """The portfolio could not be read; ``issues`` lists every problem found (row, patent, field)."""

    def __init__(self, issues: Sequence[ReadIssue]):
        self.issues = list(issues)
        head = "; ".join(str(i) for i in self.issues[:20])
        more = f" (and {len(self.issues) - 20} more)" if len(self.issues) > 20 else ""
        super().__init__(
            [Problem(i.patent or None, i.field, str(i)) for i in self.issues],
            message=f"{len(self.issues)} problem(s) in the portfolio: {head}{more}",
        )


# Header aliases: CNIPA-style Chinese headers and common English variants -> canonical names.
# Keys are compared after _header_key() (lower case, spaces / dashes / brackets removed).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "patent_id": (
        "patent_id",
        "专利号",
        "公告号",
        "授权公告号",
        "公开号",
        "公开(公告)号",
        "公开公告号",
        "文献号",
        "patentnumber",
        "patentno",
        "publicationnumber",
        "publicationno",
        "pubno",
        "number",
        "patent",
    ),
    "application_number": (
        "application_number",
        "申请号",
        "专利申请号",
        "applicationnumber",
        "applicationno",
        "appno",
    ),
    "jurisdiction": (
        "jurisdiction",
        "国家",
        "国别",
        "国家/地区",
        "国家地区",
        "受理局",
        "country",
        "office",
        "countrycode",
    ),
    "patent_type": ("patent_type", "专利类型", "类型", "专利种类", "type", "patenttype", "kind"),
    "title": ("title", "专利名称", "名称", "发明名称", "标题", "inventiontitle"),
    "owner": (
        "owner",
        "专利权人",
        "权利人",
        "申请人",
        "申请(专利权)人",
        "申请专利权人",
        "当前权利人",
        "assignee",
        "assignees",
        "currentassignee",
        "owners",
        "applicant",
        "patentee",
    ),
    "filing_date": ("filing_date", "申请日", "申请日期", "filingdate", "applicationdate", "appdate", "filed"),
    "priority_date": ("priority_date", "优先权日", "最早优先权日", "prioritydate", "earliestprioritydate"),
    "earliest_filing_date": (
        "earliest_filing_date",
        "最早非临时申请日",
        "earliestfilingdate",
        "earliestnonprovisionalfilingdate",
    ),
    "grant_date": (
        "grant_date",
        "授权公告日",
        "授权日",
        "授权日期",
        "公告日",
        "grantdate",
        "issuedate",
        "issued",
        "grantpublicationdate",
    ),
    "expiry_date": (
        "expiry_date",
        "到期日",
        "届满日",
        "失效日",
        "预估到期日",
        "expirydate",
        "expirationdate",
        "anticipatedexpiry",
    ),
    "term_adjustment_days": (
        "term_adjustment_days",
        "期限补偿天数",
        "pta",
        "ptadays",
        "termadjustment",
        "patenttermadjustment",
    ),
    "legal_status": ("legal_status", "法律状态", "当前法律状态", "专利状态", "状态", "legalstatus", "status"),
    "fees_paid_through": (
        "fees_paid_through",
        "年费缴至",
        "年费缴纳至",
        "年费已缴至",
        "feespaidthrough",
        "feespaiduntil",
        "paidthrough",
    ),
    "claims": (
        "claims",
        "权利要求数",
        "权利要求项数",
        "权项数",
        "numberofclaims",
        "claimcount",
        "claimscount",
    ),
    "independent_claims": ("independent_claims", "独立权利要求数", "独权数", "independentclaims"),
    "forward_citations": (
        "forward_citations",
        "被引用次数",
        "被引次数",
        "被引证次数",
        "forwardcitations",
        "citedby",
        "timescited",
        "citedbycount",
    ),
    "backward_citations": (
        "backward_citations",
        "引用次数",
        "引证次数",
        "引用文献数",
        "backwardcitations",
        "referencescited",
        "citations",
    ),
    "family_id": ("family_id", "同族号", "同族id", "familyid", "simplefamilyid"),
    "family_size": ("family_size", "同族数", "同族专利数", "同族数量", "familysize", "simplefamilysize"),
    "family_jurisdictions": (
        "family_jurisdictions",
        "同族国家",
        "同族国家/地区",
        "familyjurisdictions",
        "familycountries",
    ),
    "cpc": (
        "cpc",
        "分类号",
        "ipc",
        "ipc分类号",
        "主分类号",
        "cpc分类号",
        "classification",
        "cpcclasses",
        "ipcclasses",
    ),
    "entity_size": ("entity_size", "实体规模", "entitysize", "entitystatus"),
    "pledged": ("pledged", "是否质押", "已质押", "质押状态", "质押", "alreadypledged", "encumbered"),
    "invalidation_pending": (
        "invalidation_pending",
        "无效宣告中",
        "是否无效宣告",
        "无效宣告请求",
        "invalidationpending",
        "oppositionpending",
    ),
    "in_litigation": ("in_litigation", "诉讼", "是否诉讼", "涉诉", "inlitigation", "litigation"),
    "licensed": ("licensed", "许可", "是否许可", "已许可", "licenced"),
    "source": ("source", "数据来源", "来源"),
    "fetched_at": ("fetched_at", "获取时间", "fetchedat"),
    "group": ("group", "产品线", "产品", "productline", "product"),
    "currency": ("currency", "币种", "货币"),
    "revenue": ("revenue", "收入", "营业收入", "销售收入", "年收入", "sales", "annualrevenue"),
    "revenue_growth": ("revenue_growth", "收入增长率", "增长率", "growth", "revenuegrowth"),
    "royalty_rate": ("royalty_rate", "提成率", "许可费率", "royaltyrate", "royalty"),
    "income_method": ("income_method", "收益法", "收益法类型", "收益方法", "incomemethod"),
    "profit_share": ("profit_share", "利润分成率", "profitshare", "profitsplit"),
    "profit_margin": ("profit_margin", "利润率", "profitmargin", "margin"),
    "tax_rate": ("tax_rate", "税率", "所得税率", "taxrate"),
    "discount_rate": ("discount_rate", "折现率", "discountrate"),
    "economic_life_years": (
        "economic_life_years",
        "经济寿命",
        "经济寿命年限",
        "economiclife",
        "economiclifeyears",
    ),
    "rd_cost": ("rd_cost", "研发成本", "研发投入", "rdcost", "developmentcost"),
    "rd_year": ("rd_year", "研发年份", "rdyear"),
    "commercialization_cost": ("commercialization_cost", "产业化投资", "商业化成本", "commercializationcost"),
    "volatility": ("volatility", "波动率"),
    "industry": ("industry", "行业", "所属行业"),
    "commercialized": ("commercialized", "是否实施", "已实施", "已产业化", "commercialised", "inuse"),
}


def _header_key(name: object) -> str:
    s = str(name).strip().lower()
    s = s.translate(str.maketrans("（）：", "():"))
    return re.sub(r"[\s_\-.:#]", "", s)


_ALIAS_INDEX: dict[str, str] = {
    _header_key(a): canon for canon, aliases in HEADER_ALIASES.items() for a in aliases
}

PATENT_TYPE_VALUES: dict[str, str] = {
    "invention": "invention",
    "发明": "invention",
    "发明专利": "invention",
    "发明授权": "invention",
    "发明申请": "invention",
    "utility": "invention",
    "utilitypatent": "invention",
    "patent": "invention",
    "utility_model": "utility_model",
    "utilitymodel": "utility_model",
    "实用新型": "utility_model",
    "实用新型专利": "utility_model",
    "um": "utility_model",
    "gebrauchsmuster": "utility_model",
    "design": "design",
    "外观设计": "design",
    "外观": "design",
    "外观设计专利": "design",
    "designpatent": "design",
    "industrialdesign": "design",
}

LEGAL_STATUS_VALUES: dict[str, str] = {
    **{s: s for s in LEGAL_STATUSES},
    "有效": "granted",
    "授权": "granted",
    "专利权维持": "granted",
    "维持": "granted",
    "在保护期": "granted",
    "active": "granted",
    "alive": "granted",
    "inforce": "granted",
    "valid": "granted",
    "issued": "granted",
    "审中": "pending",
    "审查中": "pending",
    "实质审查": "pending",
    "实审": "pending",
    "公开": "pending",
    "在审": "pending",
    "application": "pending",
    "published": "pending",
    "underexamination": "pending",
    "失效": "lapsed",
    "未缴年费终止": "lapsed",
    "未缴年费专利权终止": "lapsed",
    "年费终止": "lapsed",
    "专利权终止": "lapsed",
    "终止": "lapsed",
    "放弃": "lapsed",
    "abandoned": "lapsed",
    "inactive": "lapsed",
    "dead": "lapsed",
    "lapse": "lapsed",
    "届满": "expired",
    "期限届满": "expired",
    "专利权期限届满": "expired",
    "到期": "expired",
    "无效": "revoked",
    "全部无效": "revoked",
    "宣告无效": "revoked",
    "宣告专利权全部无效": "revoked",
    "invalidated": "revoked",
    "revocation": "revoked",
    "撤回": "withdrawn",
    "视为撤回": "withdrawn",
    "主动撤回": "withdrawn",
    # CNIPA legal-status wording (the headings of the 专利公报 sections: 专利权的主动放弃, 权利的恢复, 无效公告 of a
    # partial invalidation; Patent Law Art. 38 驳回 of an application): a surrendered right has ended early, a
    # restored one is in force again, a right invalidated in part stays in force for the rest, and a rejected
    # application gives no right (treated as withdrawn, as an EP refusal is)
    "主动放弃": "lapsed",
    "专利权的主动放弃": "lapsed",
    "权利恢复": "granted",
    "权利的恢复": "granted",
    "部分无效": "granted",
    "驳回": "withdrawn",
    "申请驳回": "withdrawn",
}

_TRUE = {"1", "true", "t", "yes", "y", "是", "有", "已质押", "质押", "已许可", "√", "x"}
_FALSE = {"0", "false", "f", "no", "n", "否", "无", "未质押", "未许可", ""}

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value: object) -> dt.date | None:
    """Read a date in the forms banks use.

    Accepts ``2015-06-01``, ``2015/6/1``, ``2015.6.1``, ``20150601``, ``2015年6月1日``, date and datetime
    objects. Blank gives None.

    Raises
    ------
    ValueError
        The text is not one of those forms or names an impossible date.
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | np.integer):
        value = str(value)
    if isinstance(value, float):
        if value.is_integer():
            value = str(int(value))
        else:
            raise ValueError(f"not a date: {value!r}")
    s = str(value).strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not s:
        return None
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d)
            except ValueError as exc:
                raise ValueError(f"impossible date {value!r}: {exc}") from None
    raise ValueError(f"not a date in a known form (2015-06-01, 2015/6/1, 20150601, 2015年6月1日): {value!r}")


def _is_blank(v: object) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _load(source: Any, sheet: str | int | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.reset_index(
            drop=source.index.name is None or source.index.name in source.columns
        ).copy()
    if isinstance(source, list | tuple):
        if all(isinstance(p, Patent) for p in source):
            return patents_to_frame(list(source)).reset_index(drop=True)
        if all(isinstance(p, dict) for p in source):
            return pd.DataFrame(list(source))
        raise TypeError("read_portfolio takes a list of Patent objects or of dicts")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"portfolio file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else None
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(
                    path, dtype=str, keep_default_na=False, sep=sep, engine="python", encoding=enc
                )
            except UnicodeDecodeError:
                continue
        raise ValueError(f"{path}: neither UTF-8 nor GB18030 text")
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, sheet_name=sheet or 0, dtype=object)
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "patents" in data:
            data = data["patents"]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of patents or an object with a 'patents' list")
        return pd.DataFrame(data)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise ValueError(f"{path}: unsupported file type {suffix!r} (CSV, XLSX, JSON or Parquet)")


def _map_headers(raw: pd.DataFrame) -> tuple[dict[str, str], list[str]]:
    return _map_header_names(raw.columns)


def _map_header_names(names: Iterable[Any]) -> tuple[dict[str, str], list[str]]:
    """File header -> canonical name (the first header of each canonical name), and the headers left as they are."""
    mapping: dict[str, str] = {}
    unmapped: list[str] = []
    taken: set[str] = set()
    for col in names:
        canon = _ALIAS_INDEX.get(_header_key(col))
        if canon is None or canon in taken:
            unmapped.append(str(col))
            continue
        mapping[col] = canon
        taken.add(canon)
    return mapping, unmapped


#: a day as JSON requests carry it (``2015-06-01``, ASCII digits only)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: the days a ``datetime64[ns]`` column holds (pandas' nanosecond range), as numpy days
_NS_DAYS = (np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-10", "D"))


def _iso_days(values: pd.Series) -> pd.Series | None:
    """A date column whose values are all ISO days or blank, read in one numpy step; else ``None``.

    The general reader (:func:`parse_date` per value) gives the same column for such values; anything else
    (other forms, impossible or out-of-range days, blank text) returns ``None`` and is read by it, with its
    messages.
    """
    days = _iso_day_array(values.tolist())
    return None if days is None else pd.Series(days, index=values.index)


def _iso_day_array(values: list[Any]) -> np.ndarray | None:
    """:func:`_iso_days` of a list of values, as a ``datetime64[ns]`` array (or ``None``)."""
    text = []
    for v in values:
        if type(v) is str and _ISO_DAY.fullmatch(v):
            text.append(v)
        elif v is None or (type(v) is float and v != v):
            text.append("NaT")
        else:
            return None
    try:
        days = np.array(text, dtype="datetime64[D]")
    except ValueError:  # an impossible day (2015-02-30): the general reader names it
        return None
    present = days[~np.isnat(days)]
    if present.size and (present.min() < _NS_DAYS[0] or present.max() > _NS_DAYS[1]):
        return None
    return days.astype("datetime64[ns]")


def _whole_counts(num: pd.Series) -> tuple[Any, np.ndarray] | None:
    """Floats as an ``Int64`` array in one numpy step (fractions blanked, their rows returned), or ``None``.

    The same array as ``num.where(~fractional).round().astype("Int64")`` for values below 2**53 in size
    (exact in both types); larger or infinite values return ``None`` and take that pandas path.
    """
    return _whole_count_array(num.to_numpy(dtype=float, na_value=np.nan))


def _whole_count_array(arr: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """:func:`_whole_counts` of a float array."""
    present = ~np.isnan(arr)
    frac = present & (arr != np.floor(arr))
    keep = present & ~frac
    if not (np.abs(arr[keep]) < 2.0**53).all():
        return None
    ints = np.where(keep, arr, 0.0).astype(np.int64)
    return pd.arrays.IntegerArray(ints, ~keep), np.flatnonzero(frac)


def _in_range(day: Any) -> Any:
    """``day`` itself, or ValueError when it lies outside the dates a frame holds (nanosecond timestamps).

    A year like 3018 or 1500 in a bank's file is a typing error far more often than a real date; pandas cannot hold
    it (``datetime64[ns]`` spans 1677-09-22 to 2262-04-11), so the row gets a problem naming the field.
    """
    if day is None:
        return None
    d = np.datetime64(day, "D")
    if np.isnat(d) or _NS_DAYS[0] <= d <= _NS_DAYS[1]:
        return day
    raise ValueError(
        f"date {d} is outside the dates a portfolio can hold ({_NS_DAYS[0]} to {_NS_DAYS[1]}); a typing error?"
    )


def _list_separator(name: str) -> re.Pattern[str]:
    """What separates the items of a list column's text."""
    # owner names contain commas ("Acme Co., Ltd."), so only ; | and 、 separate owners
    return _OWNER_SEP if name == "owner" else _LIST_SEP


_OWNER_SEP = re.compile(r"[;；|、]")
_LIST_SEP = re.compile(r"[;；,，、|]")


def _join_list(v: object, sep: re.Pattern[str]) -> str | None:
    """A list column's value as ``;``-joined text (``None`` when it holds nothing)."""
    if isinstance(v, list | tuple | np.ndarray):
        parts = [str(p).strip() for p in v if not _is_blank(p)]
    elif _is_blank(v):
        return None
    else:
        parts = [p.strip() for p in sep.split(str(v))]
    return ";".join(p for p in parts if p) or None


@dataclass
class _Reader:
    raw: pd.DataFrame
    ids: list[str]
    issues: list[ReadIssue] = field(default_factory=list)
    bad_rows: dict[int, list[str]] = field(default_factory=dict)

    def fail(self, i: int, fld: str, msg: str) -> None:
        self.issues.append(ReadIssue(row=i + 1, patent=self.ids[i], field=fld, message=msg))
        self.bad_rows.setdefault(i, []).append(f"{fld}: {msg}")

    def column(self, name: str, kind: str, values: pd.Series) -> pd.Series:
        if kind == "date":
            return self._dates(name, values)
        if kind in ("int", "float"):
            return self._numbers(name, kind, values)
        if kind == "bool":
            return self._bools(name, values)
        if kind == "list":
            sep = _list_separator(name)
            return values.map(lambda v: _join_list(v, sep)).astype(object)
        return values.map(lambda v: None if _is_blank(v) else str(v).strip()).astype(object)

    def _dates(self, name: str, values: pd.Series) -> pd.Series:
        iso = _iso_days(values)
        if iso is not None:
            return iso
        cache: dict[object, object] = {}
        out = []
        for i, v in enumerate(values.tolist()):
            key = v if isinstance(v, str | int | float) else repr(v)
            if key not in cache:
                try:
                    cache[key] = _in_range(parse_date(v))
                except ValueError as exc:
                    cache[key] = exc
            r = cache[key]
            if isinstance(r, ValueError):
                self.fail(i, name, str(r))
                r = None
            out.append(pd.Timestamp(r) if r is not None else pd.NaT)
        return pd.Series(
            pd.to_datetime(pd.Series(out, dtype="datetime64[ns]")).to_numpy(), index=values.index
        )

    def _numbers(self, name: str, kind: str, values: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            # numbers already (JSON, a numeric frame): no text to clean, no percent signs, nothing unreadable
            return self._whole(name, kind, values, values.astype(float))
        text = values.map(
            lambda v: (
                np.nan if _is_blank(v) else (str(v).strip().replace(",", "") if isinstance(v, str) else v)
            )
        )
        pct = text.map(lambda v: isinstance(v, str) and v.endswith("%"))
        text = text.where(~pct, text[pct].map(lambda v: v[:-1]) if pct.any() else text)
        num = pd.to_numeric(text, errors="coerce")
        bad = num.isna() & text.notna()
        for i in np.flatnonzero(bad.to_numpy()):
            self.fail(int(i), name, f"not a number: {values.iloc[i]!r}")
        num = num.astype(float)
        if pct.any():
            num = num.where(~pct, num / 100.0)
        return self._whole(name, kind, values, num)

    def _whole(self, name: str, kind: str, values: pd.Series, num: pd.Series) -> pd.Series:
        """``num`` (floats) as the column's kind: an ``int`` column refuses fractions and becomes ``Int64``."""
        if kind == "int":
            whole = _whole_counts(num)
            if whole is not None:
                array, frac_rows = whole
                for i in frac_rows:
                    self.fail(int(i), name, f"not a whole number: {values.iloc[i]!r}")
                return pd.Series(array, index=num.index, name=num.name)
            frac = num.notna() & (num != np.floor(num))
            for i in np.flatnonzero(frac.to_numpy()):
                self.fail(int(i), name, f"not a whole number: {values.iloc[i]!r}")
            num = num.where(~frac)
            return num.round().astype("Int64")
        return num

    def _bools(self, name: str, values: pd.Series) -> pd.Series:
        out = []
        for i, v in enumerate(values.tolist()):
            if isinstance(v, bool | np.bool_):
                out.append(bool(v))
                continue
            s = "" if _is_blank(v) else str(v).strip().lower()
            if s in _TRUE:
                out.append(True)
            elif s in _FALSE:
                out.append(False)
            else:
                self.fail(i, name, f"not a yes/no value: {v!r}")
                out.append(False)
        return pd.Series(out, index=values.index, dtype=bool)


def read_portfolio(
    source: Any,
    *,
    errors: Literal["raise", "collect"] = "raise",
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a portfolio into the validated portfolio frame.

    Parameters
    ----------
    source : path, DataFrame, list of Patent or list of dict
        CSV (UTF-8 or GB18030), XLSX, JSON (a list, or an object with a ``patents`` list) or Parquet file.
    errors : {"raise", "collect"}
        ``"raise"`` (default) raises :class:`PortfolioError` listing every problem (row, patent, field).
        ``"collect"`` keeps every row: a row with problems has them in ``input_errors`` and the offending
        fields left blank, so later stages report it as a failure instead of losing it.
    sheet : str or int, optional
        Worksheet of an XLSX file (first by default).

    Returns
    -------
    pandas.DataFrame
        Indexed by canonical ``patent_id`` (kept as a column too), canonical column names and values.
        ``attrs["ipvalue_read"]`` records the header mapping, the unmapped columns (kept as they are) and
        the issues found.

    Raises
    ------
    PortfolioError
        With ``errors="raise"``, when any row has a problem: unreadable or duplicate numbers, unknown
        types or statuses, dates that cannot be read or are impossible (grant before filing, expiry before
        grant), negative counts, rates that are not numbers.
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    if isinstance(source, list):
        fast = read_json_rows(source)
        if fast is not None:
            return fast
    raw = _load(source, sheet)
    mapping, unmapped = _map_headers(raw)
    df = _with_number_column(raw.rename(columns=mapping))
    reader, parsed_types, parsed_cc = _read_numbers(df)
    out = _canonical_values(reader, df)
    _fill_from_numbers(reader, out, parsed_types, parsed_cc)
    out = _add_default_columns(out)
    _check_rows(reader, out)
    return _finish(reader, out, errors, mapping, unmapped)


#: a key no row holds (a row without the column: blank, as pandas frames it)
_ABSENT: Any = float("nan")
#: the columns :func:`_check_rows` checks against a range (counts: ``COUNT_COLUMNS``, amounts, rates)
_AMOUNT_COLUMNS = ("revenue", "rd_cost", "commercialization_cost")
_RATE_COLUMNS = ("royalty_rate", "profit_share", "tax_rate", "discount_rate", "profit_margin", "volatility")


class _NotPlain(Exception):
    """A row value the one-pass reader leaves to the general reader."""


def read_json_rows(rows: list[Any]) -> pd.DataFrame | None:
    """:func:`read_portfolio` of JSON-like rows in one pass over Python lists, or ``None``.

    The rows a JSON request carries (dicts whose keys are known headers, each a different canonical column,
    with a ``patent_id``; texts as ``str``, days as ISO ``str``, numbers as ``int`` or ``float``, flags as
    ``bool``; an absent key is a blank) are read column by column as lists, checked as the general reader
    checks them, and framed once: the same frame as the general reader's (values, dtypes, column order,
    index, ``attrs``), without its pandas work per column. Anything else (another value type, an unknown or
    doubled header, a problem in any row) returns ``None``, and the general reader reads the rows and names
    every problem.

    Parameters
    ----------
    rows : list
        Patent dictionaries.

    Returns
    -------
    pandas.DataFrame or None
        The portfolio frame, or ``None`` where the general reader must read the rows.
    """
    if not rows or any(type(r) is not dict for r in rows):
        return None
    names: dict[Any, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    if any(type(k) is not str for k in names):
        return None
    mapping, unmapped = _map_header_names(names)
    canon = [mapping[k] for k in names if k in mapping]
    if unmapped or "patent_id" not in canon or any(c not in COLUMN_KINDS for c in canon):
        return None
    try:
        return _frame_json_rows(rows, list(names), mapping)
    except _NotPlain:
        return None


def _frame_json_rows(rows: list[dict[str, Any]], names: list[str], mapping: dict[str, str]) -> pd.DataFrame:
    """The frame of :func:`read_json_rows` (raises :class:`_NotPlain` where it returns ``None``)."""
    n = len(rows)
    raw = {mapping[k]: [r.get(k, _ABSENT) for r in rows] for k in names}
    ids, types, offices = _plain_numbers(raw["patent_id"])
    cols: dict[str, Any] = {"patent_id": np.array(ids, dtype=object)}
    for col, values in raw.items():
        if col != "patent_id":
            cols[col] = _plain_column(col, COLUMN_KINDS[col], values)
    # what the numbers tell (as _fill_from_numbers does): the office, the type, a blank status
    given = cols.get("jurisdiction")
    cols["jurisdiction"] = np.array(
        offices
        if given is None
        else [g if type(g) is str else o for g, o in zip(given, offices, strict=True)],
        dtype=object,
    )
    given = cols.get("patent_type")
    if given is not None and any(
        g is not None and t is not None and g != t for g, t in zip(given, types, strict=True)
    ):
        raise _NotPlain  # a type that contradicts the number: a problem
    cols["patent_type"] = np.array(
        [
            (g if g is not None else t if t is not None else "invention")
            for g, t in zip(given if given is not None else [None] * n, types, strict=True)
        ],
        dtype=object,
    )
    status = cols.get("legal_status")
    index = pd.Index(ids, name="patent_id")
    if status is None:  # no status column: every patent granted, the column as the general reader sets it
        cols["legal_status"] = pd.Series("granted", index=index)
    else:
        granted = ~np.isnat(cols["grant_date"]) if "grant_date" in cols else np.zeros(n, dtype=bool)
        status = [
            s if s is not None else "granted" if g else "pending"
            for s, g in zip(status, granted, strict=True)
        ]
        cols["legal_status"] = np.array(status, dtype=object)
    _add_plain_defaults(cols, n)
    _check_plain(cols)
    # object columns as such (a frame made from an object array of texts would infer pandas' text dtype)
    frame = {
        c: pd.Series(v, index=index, dtype=object, copy=False)
        if isinstance(v, np.ndarray) and v.dtype == object
        else v
        for c, v in cols.items()
    }
    out = pd.DataFrame(frame, index=index)
    out.attrs["ipvalue_read"] = {
        "header_mapping": {str(k): v for k, v in mapping.items()},
        "unmapped_columns": [],
        "issues": [],
    }
    return out


def _plain_numbers(values: list[Any]) -> tuple[list[str], list[str | None], list[str]]:
    """Canonical numbers, the types and offices they tell; a blank, unreadable or repeated number is not plain."""
    ids: list[str] = []
    types: list[str | None] = []
    offices: list[str] = []
    for v in values:
        if type(v) is not str or not v.strip():
            raise _NotPlain
        try:
            p = parse_number(v)
        except PatentNumberError:
            raise _NotPlain from None
        ids.append(p.canonical)
        types.append(p.patent_type)
        offices.append(p.country)
    if len(set(ids)) < len(ids) or any(type(o) is not str for o in offices):
        raise _NotPlain
    return ids, types, offices


def _plain_texts(values: list[str | None]) -> list[Any]:
    """A text column's cleaned values as pandas frames them: blanks ``None``, or ``nan`` beside any text."""
    if any(v is not None for v in values):
        return [_ABSENT if v is None else v for v in values]
    return values


def _plain_column(col: str, kind: str, values: list[Any]) -> Any:
    """One column of plain values read as the general reader reads it (:class:`_NotPlain` otherwise)."""
    if kind == "date":
        days = _iso_day_array(values)
        if days is None:
            raise _NotPlain
        return days
    if kind in ("int", "float"):
        nums = []
        for v in values:
            t = type(v)
            if t is float:
                nums.append(v)
            elif t is int and -(2**53) < v < 2**53:
                nums.append(float(v))
            else:
                raise _NotPlain
        arr = np.array(nums, dtype=float)
        if kind == "float":
            return arr
        whole = _whole_count_array(arr)
        if whole is None or len(whole[1]):
            raise _NotPlain
        return whole[0]
    if kind == "bool":
        flags = []
        for v in values:
            if type(v) is bool:
                flags.append(v)
            elif v is _ABSENT:
                flags.append(False)
            else:
                raise _NotPlain
        return np.array(flags, dtype=bool)
    if any(v is not _ABSENT and type(v) is not str for v in values):
        raise _NotPlain
    if col in ("patent_type", "legal_status"):
        table = PATENT_TYPE_VALUES if col == "patent_type" else LEGAL_STATUS_VALUES
        seen: dict[str, str] = {}
        mapped: list[str | None] = []
        for v in values:
            if v is _ABSENT or not v.strip():
                mapped.append(None)
                continue
            hit = seen.get(v)
            if hit is None:
                hit = _lookup_value(v, table)
                if hit is None:
                    raise _NotPlain  # an unknown value: a problem
                seen[v] = hit
            mapped.append(hit)
        return mapped
    if col == "jurisdiction":
        return [None if v is _ABSENT or not v.strip() else v.strip().upper() for v in values]
    if kind == "list":
        sep = _list_separator(col)
        return np.array(
            _plain_texts([None if v is _ABSENT else _join_list(v, sep) for v in values]), dtype=object
        )
    return np.array(
        _plain_texts([None if v is _ABSENT or not v.strip() else v.strip() for v in values]), dtype=object
    )


def _add_plain_defaults(cols: dict[str, Any], n: int) -> None:
    """The missing canonical columns with their defaults, as :func:`_add_default_columns` adds them."""
    cols.update(_default_columns(cols, n))
    tad = cols["term_adjustment_days"]
    if tad.isna().any():
        cols["term_adjustment_days"] = tad.fillna(0)


def _check_plain(cols: dict[str, Any]) -> None:
    """:func:`_check_rows`'s checks on the columns: any problem is not plain (the general reader names it)."""

    def get(name: str) -> pd.Series | None:
        return pd.Series(cols[name]) if name in cols else None

    with np.errstate(invalid="ignore"):
        if any(bad.any() for _, bad, _, _ in _row_checks(get)):
            raise _NotPlain


def _with_number_column(df: pd.DataFrame) -> pd.DataFrame:
    """Make sure the frame (canonical headers) has a ``patent_id`` column, and number its rows from 0.

    Parameters
    ----------
    df : pandas.DataFrame
        The file's table with its headers mapped to canonical names.

    Returns
    -------
    pandas.DataFrame
        ``df`` with a default index; ``patent_id`` taken from ``application_number`` when there is none.

    Raises
    ------
    PortfolioError
        When there is neither column.
    """
    if "patent_id" not in df.columns:
        if "application_number" in df.columns:
            df["patent_id"] = df["application_number"]
        else:
            raise PortfolioError(
                [ReadIssue(0, "-", "patent_id", "no patent number column (专利号 / 申请号 / patent_id ...)")]
            )
    return df.reset_index(drop=True)


def _read_numbers(df: pd.DataFrame) -> tuple[_Reader, list[str | None], list[str | None]]:
    """Read every row's patent number; blank, unreadable and duplicate numbers are the rows' problems.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`_with_number_column`.

    Returns
    -------
    reader : _Reader
        Collects the problems; its ``ids`` are the canonical numbers (an unreadable number as written, a
        blank one as ``<row N>``).
    parsed_types : list
        The patent type each number tells (None where it tells none or cannot be read).
    parsed_cc : list
        The office (country code) of each number (None where it cannot be read).
    """
    raw_ids = df["patent_id"].tolist()
    reader = _Reader(
        raw=df, ids=[str(v) if not _is_blank(v) else f"<row {i + 1}>" for i, v in enumerate(raw_ids)]
    )
    ids: list[str] = []
    parsed_types: list[str | None] = []
    parsed_cc: list[str | None] = []
    for i, v in enumerate(raw_ids):
        if _is_blank(v):
            reader.fail(i, "patent_id", "blank patent number")
            ids.append(f"<row {i + 1}>")
            parsed_types.append(None)
            parsed_cc.append(None)
            continue
        try:
            p = parse_number(str(v))
        except PatentNumberError as exc:
            reader.fail(i, "patent_id", exc.reason)
            ids.append(str(v).strip())
            parsed_types.append(None)
            parsed_cc.append(None)
            continue
        ids.append(p.canonical)
        parsed_types.append(p.patent_type)
        parsed_cc.append(p.country)
    reader.ids = ids
    seen: dict[str, int] = {}
    for i, pid in enumerate(ids):
        if pid in seen:
            reader.fail(i, "patent_id", f"duplicate of row {seen[pid] + 1} ({pid})")
        else:
            seen[pid] = i
    return reader, parsed_types, parsed_cc


def _canonical_values(reader: _Reader, df: pd.DataFrame) -> pd.DataFrame:
    """Parse each known column into its kind, in the file's column order; other columns are kept as they are.

    Parameters
    ----------
    reader : _Reader
        From :func:`_read_numbers` (its ``ids`` become ``patent_id``; it collects the values' problems).
    df : pandas.DataFrame
        From :func:`_with_number_column`.

    Returns
    -------
    pandas.DataFrame
        ``patent_id`` (canonical), then the columns of ``df``: types and statuses mapped to their canonical
        names, jurisdictions upper-cased, dates, numbers, flags and lists parsed.
    """
    # the columns gathered, then framed once (inserting them one by one was a third of the reading time)
    cols: dict[Any, Any] = {"patent_id": pd.Series(reader.ids, dtype=object)}
    for col in df.columns:
        if col == "patent_id":
            continue
        kind = COLUMN_KINDS.get(col)
        if kind is None:
            cols[col] = df[col]
            continue
        if col == "patent_type":
            cols[col] = _map_values(reader, col, df[col], PATENT_TYPE_VALUES)
        elif col == "legal_status":
            cols[col] = _map_values(reader, col, df[col], LEGAL_STATUS_VALUES)
        elif col == "jurisdiction":
            cols[col] = df[col].map(lambda v: None if _is_blank(v) else str(v).strip().upper()).astype(object)
        else:
            cols[col] = reader.column(col, kind, df[col])
    return pd.DataFrame(cols, index=df.index)


def _fill_from_numbers(
    reader: _Reader, out: pd.DataFrame, parsed_types: list[str | None], parsed_cc: list[str | None]
) -> None:
    """Fill what the numbers tell (office, type) and a blank status, and check a given type agrees.

    Parameters
    ----------
    reader : _Reader
        Collects a type that contradicts the number.
    out : pandas.DataFrame
        From :func:`_canonical_values`; changed in place.
    parsed_types, parsed_cc : list
        From :func:`_read_numbers`.

    Notes
    -----
    A blank jurisdiction is the number's office; a blank type is the number's, else ``invention``; a blank
    status is ``granted`` with a grant date, else ``pending`` (``granted`` when there is no status column).
    """
    if "jurisdiction" not in out.columns:
        out["jurisdiction"] = pd.Series(parsed_cc, dtype=object)
    else:
        out["jurisdiction"] = out["jurisdiction"].where(
            out["jurisdiction"].notna(), pd.Series(parsed_cc, dtype=object)
        )
    from_number = pd.Series(parsed_types, dtype=object)
    if "patent_type" not in out.columns:
        out["patent_type"] = from_number.fillna("invention")
    else:
        given = out["patent_type"]
        clash = given.notna() & from_number.notna() & (given != from_number)
        for j in np.flatnonzero(clash.to_numpy()):
            reader.fail(
                int(j),
                "patent_type",
                f"{given.iloc[j]!r} contradicts the number, which says {from_number.iloc[j]!r}",
            )
        out["patent_type"] = given.where(given.notna(), from_number).fillna("invention")
    if "legal_status" not in out.columns:
        out["legal_status"] = "granted"
    else:
        blank = out["legal_status"].isna()
        out["legal_status"] = out["legal_status"].where(
            ~blank,
            np.where(out.get("grant_date", pd.Series(pd.NaT, index=out.index)).notna(), "granted", "pending"),
        )


def _add_default_columns(out: pd.DataFrame) -> pd.DataFrame:
    """Add every canonical column that is missing, with its default; economics stay absent unless given.

    Parameters
    ----------
    out : pandas.DataFrame
        From :func:`_fill_from_numbers`.

    Returns
    -------
    pandas.DataFrame
        ``out`` with the missing columns after its own, in :data:`COLUMN_KINDS` order (framed once and joined,
        not inserted one by one).

    Notes
    -----
    The four flags default to False and ``term_adjustment_days`` to 0 (a blank one too); missing dates,
    whole numbers, texts and lists are blank columns, except ``group``, ``currency`` and ``industry``,
    which, like ``commercialized``, ``rd_year`` and the rates and amounts, stay absent.
    """
    added = _default_columns(out.columns, len(out))
    if added:
        out = pd.concat([out, pd.DataFrame(added, index=out.index)], axis=1)
    if out["term_adjustment_days"].isna().any():
        out["term_adjustment_days"] = out["term_adjustment_days"].fillna(0)
    return out


def _default_columns(present: Container[str], n: int) -> dict[str, Any]:
    """The canonical columns not in ``present`` that have a default, as arrays of ``n`` rows.

    The defaults are those of :func:`_add_default_columns` (its Notes); the one-pass reader
    (:func:`_add_plain_defaults`) takes them from here too.
    """
    added: dict[str, Any] = {}
    for col, kind in COLUMN_KINDS.items():
        if col in present:
            continue
        if col in ("pledged", "invalidation_pending", "in_litigation", "licensed"):
            added[col] = np.zeros(n, dtype=bool)
        elif col == "term_adjustment_days":
            added[col] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))
        elif col in ("commercialized",) or kind in ("float",) or col in ("rd_year",):
            continue  # economics stay absent unless given
        elif kind == "date":
            added[col] = np.full(n, np.datetime64("NaT", "ns"))
        elif kind == "int":
            added[col] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        elif kind in ("str", "list") and col not in ("group", "currency", "industry"):
            added[col] = np.full(n, None, dtype=object)
    return added


def _finish(
    reader: _Reader,
    out: pd.DataFrame,
    errors: Literal["raise", "collect"],
    mapping: dict[str, str],
    unmapped: list[str],
) -> pd.DataFrame:
    """Write the rows' problems into ``input_errors`` (or raise them), index by number, record the reading.

    Parameters
    ----------
    reader : _Reader
        The problems found, by row.
    out : pandas.DataFrame
        The checked frame.
    errors : {"raise", "collect"}
        As given to :func:`read_portfolio`.
    mapping : dict
        File header -> canonical name.
    unmapped : list of str
        File headers kept as they are.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``patent_id``; ``input_errors`` only when there is a problem; ``attrs["ipvalue_read"]``.

    Raises
    ------
    PortfolioError
        With ``errors="raise"``, when there is any problem.
    """
    # every problem is a row's (fail() records both), so only then is there a column to write
    if reader.issues:
        out["input_errors"] = pd.Series([""] * len(out), dtype=object)
        for i, msgs in reader.bad_rows.items():
            out.loc[i, "input_errors"] = "; ".join(msgs)
        if errors == "raise":
            raise PortfolioError(reader.issues)
    out = out.set_index(pd.Index(out["patent_id"].to_list(), name="patent_id"))
    out.attrs["ipvalue_read"] = {
        "header_mapping": {str(k): v for k, v in mapping.items()},
        "unmapped_columns": unmapped,
        "issues": [str(i) for i in reader.issues],
    }
    return out


def _lookup_value(text: str, table: dict[str, str]) -> str | None:
    """The canonical value ``table`` gives a cell's text (case, spaces, ``_`` and ``-`` aside), or None."""
    return table.get(re.sub(r"[\s_\-]", "", text.strip().lower())) or table.get(text.strip())


def _map_values(reader: _Reader, col: str, values: pd.Series, table: dict[str, str]) -> pd.Series:
    out: list[str | None] = []
    for i, v in enumerate(values.tolist()):
        if _is_blank(v):
            out.append(None)
            continue
        hit = _lookup_value(str(v), table)
        if hit is None:
            known = sorted(set(table.values()))
            reader.fail(
                i, col, f"unknown value {v!r} (expected one of {', '.join(known)} or their Chinese names)"
            )
        out.append(hit)
    return pd.Series(out, index=values.index, dtype=object)


def _says(template: str, *cols: pd.Series, dates: bool = False) -> Callable[[int], str]:
    """The message of row ``i``: ``template`` filled with the row's values of ``cols`` (their days when ``dates``)."""

    def text(i: int) -> str:
        return template.format(*(c.iloc[i].date() if dates else c.iloc[i] for c in cols))

    return text


def _row_checks(
    get: Callable[[str], pd.Series | None],
) -> Iterator[tuple[str, np.ndarray, Callable[[int], str], bool]]:
    """The checks of a patent table's rows, one at a time: ``(field, rows that fail, message of row i, clear)``.

    ``get`` gives a column as a Series (None when the table has none). It is called as each check comes, so a
    consumer that clears the rows of a failing count (``clear``) before going on has the later checks read them
    cleared. The portfolio reader names each failing row (:func:`_check_rows`); the one-pass reader only asks
    whether any row fails (:func:`_check_plain`).
    """
    for col in COUNT_COLUMNS:
        v = get(col)
        if v is not None:
            neg = v.to_numpy(dtype=float, na_value=0.0) < 0
            yield col, neg, _says("negative count {}", v), True
    ind, tot = get("independent_claims"), get("claims")
    if ind is not None and tot is not None:
        more = ind.to_numpy(dtype=float, na_value=0.0) > tot.to_numpy(dtype=float, na_value=np.inf)
        yield "independent_claims", more, _says("more independent claims than claims"), False
    for col in _AMOUNT_COLUMNS:
        v = get(col)
        if v is not None:
            yield col, (v < 0).to_numpy(dtype=bool), _says("negative amount {}", v), False
    for col in _RATE_COLUMNS:
        v = get(col)
        if v is not None:
            bad = ((v < 0) | (v > (5.0 if col == "volatility" else 1.0))).to_numpy(dtype=bool)
            yield col, bad, _says("rate {} outside [0, 1]", v), False
    f, g, e, p = (get(c) for c in ("filing_date", "grant_date", "expiry_date", "priority_date"))
    # (the date, the date it may not come before / after, its field, what it would be)
    pairs: Iterable[tuple[pd.Series | None, pd.Series | None, str, str]] = (
        (g, f, "grant_date", "before filing_date"),
        (e, g, "expiry_date", "before grant_date"),
        (e, f, "expiry_date", "before filing_date"),
        (p, f, "priority_date", "after filing_date"),
    )
    for date, other, fld, what in pairs:
        if date is not None and other is not None:
            bad = ((date > other) if what.startswith("after") else (date < other)).to_numpy(dtype=bool)
            yield (
                fld,
                bad,
                _says("{} is " + what + " {}", date, other, dates=True),
                False,
            )
    t = get("patent_type")
    if t is not None:
        unknown = (~t.isin(PATENT_TYPES)).to_numpy(dtype=bool)
        yield "patent_type", unknown, _says("unknown patent type {!r}", t), False


def _check_rows(reader: _Reader, out: pd.DataFrame) -> None:
    """Name every row that fails a check (:func:`_row_checks`); a negative count is cleared once named."""
    for fld, bad, message, clear in _row_checks(out.get):
        for i in np.flatnonzero(bad):
            reader.fail(int(i), fld, message(int(i)))
            if clear:
                out.loc[i, fld] = pd.NA


# Public names of the reading machinery, for readers of other bank tables (comparable transactions) that share
# its header keys, file loading, blank test, column parsing (dates, numbers, flags) and value mapping.
header_key = _header_key
load_table = _load
is_blank = _is_blank
ColumnReader = _Reader
map_values = _map_values
