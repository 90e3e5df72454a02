"""Reading comparable transactions (可比交易案例) for the market approach.

A bank or a valuer keeps a table of patent transactions: lump-sum prices of assignments or auctions, or royalty
rates of licences, each with its date, its technology (IPC / CPC), industry, patent type, remaining life at the
transaction, the kind of transaction, its territory and currency. :func:`read_comparables` reads such a table from
CSV, XLSX or a DataFrame, with Chinese or English headers, into one canonical frame; it shares the header, file,
date and number machinery of :func:`ipvalue.read_portfolio`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts.io import ColumnReader, ReadIssue, header_key, is_blank, load_table, map_values

__all__ = [
    "read_comparables",
    "is_read_comparables",
    "ComparablesError",
    "COMPARABLE_COLUMNS",
    "COMPARABLE_ALIASES",
    "TRANSACTION_KINDS",
    "TERRITORY_SCOPES",
    "JURISDICTION_NAMES",
]


class ComparablesError(InputError):
    """The comparables table could not be read; every problem names its row, comparable and field."""

    def __init__(self, issues: Sequence[ReadIssue]):
        self.issues = list(issues)
        texts = [f"row {i.row}, comparable {i.patent}, field {i.field}: {i.message}" for i in self.issues]
        more = f" (and {len(texts) - 20} more)" if len(texts) > 20 else ""
        super().__init__(
            [Problem(i.patent or None, i.field, t) for i, t in zip(self.issues, texts, strict=True)],
            message=f"{len(texts)} problem(s) in the comparables: {'; '.join(texts[:20])}{more}",
        )


#: canonical columns of the comparables frame and their kind
COMPARABLE_COLUMNS: dict[str, str] = {
    "comparable_id": "str",
    "price": "float",
    "royalty_rate": "float",
    "royalty_base": "str",
    "transaction_date": "date",
    "ipc": "list",
    "industry": "str",
    "patent_type": "str",
    "remaining_life_years": "float",
    "transaction_kind": "str",
    "territory": "str",
    "jurisdiction": "str",
    "currency": "str",
    "quality_score": "float",
    "conditions_factor": "float",
    "scale_factor": "float",
    "source": "str",
    "description": "str",
}

#: header spellings (compared after :func:`ipvalue.facts.io.header_key`) -> canonical column
COMPARABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "comparable_id": (
        "comparable_id",
        "案例编号",
        "案例",
        "交易编号",
        "可比案例",
        "编号",
        "序号",
        "id",
        "caseid",
        "transactionid",
        "deal",
        "dealid",
    ),
    "price": (
        "price",
        "交易价格",
        "成交价格",
        "成交价",
        "转让价格",
        "交易金额",
        "成交金额",
        "拍卖成交价",
        "transactionprice",
        "saleprice",
        "amount",
        "lumpsum",
    ),
    "royalty_rate": ("royalty_rate", "许可费率", "提成率", "销售提成率", "royaltyrate", "royalty"),
    "royalty_base": ("royalty_base", "提成基数", "许可费基数", "royaltybase", "base"),
    "transaction_date": (
        "transaction_date",
        "交易日期",
        "成交日期",
        "交易日",
        "合同日期",
        "签约日期",
        "transactiondate",
        "date",
        "dealdate",
    ),
    "ipc": ("ipc", "cpc", "分类号", "ipc分类号", "主分类号", "cpc分类号", "classification"),
    "industry": ("industry", "行业", "所属行业", "行业分类"),
    "patent_type": ("patent_type", "专利类型", "类型", "patenttype"),
    "remaining_life_years": (
        "remaining_life_years",
        "剩余寿命",
        "剩余经济寿命",
        "剩余年限",
        "剩余保护期",
        "remaininglife",
        "remaininglifeyears",
    ),
    "transaction_kind": (
        "transaction_kind",
        "交易类型",
        "交易方式",
        "许可方式",
        "许可类型",
        "kind",
        "transactiontype",
        "licencetype",
        "licensetype",
    ),
    "territory": ("territory", "地域", "许可地域", "地域范围", "实施地域", "region", "scope"),
    "jurisdiction": (
        "jurisdiction",
        "法域",
        "国家",
        "国别",
        "国家/地区",
        "国家地区",
        "专利国别",
        "country",
        "countrycode",
    ),
    "currency": ("currency", "币种", "货币"),
    "quality_score": ("quality_score", "质量得分", "专利质量", "质量评分", "qualityscore", "quality"),
    "conditions_factor": (
        "conditions_factor",
        "交易条件修正",
        "交易情况修正",
        "交易条件系数",
        "conditionsfactor",
        "conditions",
    ),
    "scale_factor": ("scale_factor", "规模修正", "规模系数", "scalefactor", "scale"),
    "source": ("source", "来源", "数据来源"),
    "description": ("description", "说明", "备注", "技术名称", "名称", "title", "note", "notes"),
}

_ALIAS_INDEX: dict[str, str] = {
    header_key(a): canon for canon, aliases in COMPARABLE_ALIASES.items() for a in aliases
}

#: canonical transaction kinds and their spellings (Chinese and English)
TRANSACTION_KINDS: dict[str, str] = {
    "assignment": "assignment",
    "转让": "assignment",
    "专利权转让": "assignment",
    "sale": "assignment",
    "exclusive_licence": "exclusive_licence",
    "exclusivelicence": "exclusive_licence",
    "exclusivelicense": "exclusive_licence",
    "独占许可": "exclusive_licence",
    "独占实施许可": "exclusive_licence",
    "sole_licence": "sole_licence",
    "solelicence": "sole_licence",
    "solelicense": "sole_licence",
    "排他许可": "sole_licence",
    "排他实施许可": "sole_licence",
    "non_exclusive_licence": "non_exclusive_licence",
    "nonexclusivelicence": "non_exclusive_licence",
    "nonexclusivelicense": "non_exclusive_licence",
    "普通许可": "non_exclusive_licence",
    "普通实施许可": "non_exclusive_licence",
    "judicial_auction": "judicial_auction",
    "judicialauction": "judicial_auction",
    "司法拍卖": "judicial_auction",
    "法院拍卖": "judicial_auction",
    "other_auction": "other_auction",
    "otherauction": "other_auction",
    "auction": "other_auction",
    "拍卖": "other_auction",
    "公开拍卖": "other_auction",
}

#: territory scopes, widest first, and their spellings
TERRITORY_SCOPES: dict[str, str] = {
    "global": "global",
    "worldwide": "global",
    "全球": "global",
    "national": "national",
    "cn": "national",
    "china": "national",
    "全国": "national",
    "中国": "national",
    "境内": "national",
    "regional": "regional",
    "region": "regional",
    "区域": "regional",
    "省": "regional",
    "省内": "regional",
    "provincial": "regional",
}

#: Chinese names of the jurisdictions a comparable is most often in -> the two-letter office code
JURISDICTION_NAMES: dict[str, str] = {
    "中国": "CN",
    "中国大陆": "CN",
    "美国": "US",
    "欧洲": "EP",
    "欧洲专利局": "EP",
    "欧专局": "EP",
    "日本": "JP",
    "韩国": "KR",
    "德国": "DE",
    "英国": "GB",
    "法国": "FR",
    "世界知识产权组织": "WO",
}

_ROYALTY_BASES = {
    "revenue": "revenue",
    "sales": "revenue",
    "netsales": "revenue",
    "销售收入": "revenue",
    "营业收入": "revenue",
    "收入": "revenue",
    "profit": "profit",
    "利润": "profit",
    "利润总额": "profit",
}

_PATENT_TYPES = {
    "invention": "invention",
    "发明": "invention",
    "发明专利": "invention",
    "utility_model": "utility_model",
    "utilitymodel": "utility_model",
    "实用新型": "utility_model",
    "design": "design",
    "外观设计": "design",
}


def is_read_comparables(frame: Any) -> bool:
    """True when ``frame`` is already the result of :func:`read_comparables` (its ``attrs`` say so)."""
    attrs = getattr(frame, "attrs", None) or {}
    return isinstance(frame, pd.DataFrame) and attrs.get("ipvalue_read", {}).get("kind") == "comparables"


def read_comparables(
    source: Any,
    *,
    errors: Literal["raise", "collect"] = "raise",
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a table of comparable transactions into the canonical comparables frame.

    Parameters
    ----------
    source : path or DataFrame
        CSV (UTF-8 or GB18030), XLSX, JSON or Parquet file, or a DataFrame, with Chinese or English headers
        (案例编号 / comparable_id, 交易价格 / price, 许可费率 / royalty_rate, 交易日期 / transaction_date,
        分类号 / ipc, 行业 / industry, 剩余寿命 / remaining_life_years, 交易类型 / transaction_kind,
        许可地域 / territory, 法域 / jurisdiction, 币种 / currency ...).
    errors : {"raise", "collect"}
        ``"raise"`` (default) raises :class:`ComparablesError` naming every problem (row, comparable, field).
        ``"collect"`` keeps every row and lists its problems in ``input_errors``; such a row is not used.
    sheet : str or int, optional
        Worksheet of an XLSX file.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``comparable_id``. Each row has either a ``price`` (lump sum, for an assignment or an auction)
        or a ``royalty_rate`` (a licence; ``royalty_base`` is ``revenue`` unless given as ``profit``).
        ``transaction_kind`` defaults to ``assignment`` for a price and ``non_exclusive_licence`` for a royalty;
        ``territory`` to ``national``; ``conditions_factor`` and ``scale_factor`` to 1. ``jurisdiction`` (the
        office whose right was sold or licensed: CN, US, EP ...) stays empty when not given: such a transaction
        is a comparable for a patent of any jurisdiction.
        ``attrs["ipvalue_read"]`` records the header mapping and the unmapped columns (kept as they are).

    Raises
    ------
    ComparablesError
        A row without a price and a royalty rate, or with both; a price not above zero; a rate outside (0, 1];
        a date that cannot be read; no IPC / CPC; an unknown transaction kind, territory, base or patent type;
        a negative remaining life; a factor not above zero; a jurisdiction that is not a two-letter office code;
        a duplicate id.
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    raw = load_table(source, sheet).reset_index(drop=True)
    mapping: dict[Any, str] = {}
    unmapped: list[str] = []
    for col in raw.columns:
        canon = _ALIAS_INDEX.get(header_key(col))
        if canon is None or canon in mapping.values():
            unmapped.append(str(col))
        else:
            mapping[col] = canon
    df = raw.rename(columns=mapping)
    if "comparable_id" not in df.columns:
        df["comparable_id"] = [f"C{i + 1}" for i in range(len(df))]
    ids = [f"<row {i + 1}>" if is_blank(v) else str(v).strip() for i, v in enumerate(df["comparable_id"])]
    reader = ColumnReader(raw=df, ids=ids)
    for i, v in enumerate(df["comparable_id"]):
        if is_blank(v):
            reader.fail(i, "comparable_id", "blank id")
    seen: dict[str, int] = {}
    for i, cid in enumerate(ids):
        if cid in seen:
            reader.fail(i, "comparable_id", f"duplicate of row {seen[cid] + 1} ({cid})")
        seen.setdefault(cid, i)

    out = pd.DataFrame(index=df.index)
    out["comparable_id"] = pd.Series(ids, dtype=object)
    tables = {
        "transaction_kind": TRANSACTION_KINDS,
        "territory": TERRITORY_SCOPES,
        "royalty_base": _ROYALTY_BASES,
        "patent_type": _PATENT_TYPES,
    }
    for col in df.columns:
        if col == "comparable_id":
            continue
        kind = COMPARABLE_COLUMNS.get(str(col))
        if kind is None:
            out[col] = df[col]
        elif col in tables:
            out[col] = map_values(reader, str(col), df[col], tables[str(col)])
        elif col == "currency":
            out[col] = df[col].map(lambda v: None if is_blank(v) else str(v).strip().upper()).astype(object)
        elif col == "ipc":
            out[col] = df[col].map(_join_codes).astype(object)
        elif col == "jurisdiction":
            out[col] = _jurisdictions(reader, df[col])
        else:
            out[col] = reader.column(str(col), kind, df[col])
    for col, kind in COMPARABLE_COLUMNS.items():
        if col not in out.columns:
            if kind == "float":
                out[col] = np.nan
            elif kind == "date":
                out[col] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
            else:
                out[col] = pd.Series([None] * len(out), index=out.index, dtype=object)
    _check(reader, out)
    price = out["price"].notna()
    out["royalty_base"] = out["royalty_base"].where(out["royalty_base"].notna() | price, "revenue")
    kind_default = np.where(price, "assignment", "non_exclusive_licence")
    out["transaction_kind"] = out["transaction_kind"].where(out["transaction_kind"].notna(), kind_default)
    out["territory"] = out["territory"].fillna("national")
    out["conditions_factor"] = out["conditions_factor"].fillna(1.0)
    out["scale_factor"] = out["scale_factor"].fillna(1.0)

    out["input_errors"] = pd.Series([""] * len(out), dtype=object)
    for i, msgs in reader.bad_rows.items():
        out.loc[i, "input_errors"] = "; ".join(msgs)
    if reader.issues and errors == "raise":
        raise ComparablesError(reader.issues)
    if not reader.issues:
        out = out.drop(columns="input_errors")
    out = out.set_index(pd.Index(out["comparable_id"].to_list(), name="comparable_id"))
    out.attrs["ipvalue_read"] = {
        "kind": "comparables",
        "header_mapping": {str(k): v for k, v in mapping.items()},
        "unmapped_columns": unmapped,
        "issues": [str(i) for i in reader.issues],
    }
    return out


def _jurisdictions(reader: ColumnReader, values: pd.Series) -> pd.Series:
    """Two-letter office codes (CN, US, EP ...; a Chinese name is mapped); anything else is a row problem."""
    out: list[str | None] = []
    for i, v in enumerate(values):
        if is_blank(v):
            out.append(None)
            continue
        text = str(v).strip()
        code = JURISDICTION_NAMES.get(text, text.upper())
        if not re.fullmatch(r"[A-Z]{2}", code):
            reader.fail(i, "jurisdiction", f"{text!r} is not a two-letter office code (CN, US, EP ...)")
            out.append(None)
        else:
            out.append(code)
    return pd.Series(out, index=values.index, dtype=object)


def _join_codes(v: object) -> str | None:
    if is_blank(v):
        return None
    parts = [re.sub(r"\s+", " ", p.strip().upper()) for p in re.split(r"[;；,，、|]", str(v))]
    return ";".join(p for p in parts if p) or None


def _check(reader: ColumnReader, out: pd.DataFrame) -> None:
    price = out["price"].to_numpy(dtype=float)
    rate = out["royalty_rate"].to_numpy(dtype=float)
    has_p, has_r = ~np.isnan(price), ~np.isnan(rate)
    for i in np.flatnonzero(~has_p & ~has_r):
        reader.fail(int(i), "price", "neither a price nor a royalty_rate")
    for i in np.flatnonzero(has_p & has_r):
        reader.fail(int(i), "royalty_rate", "both a price and a royalty_rate: give one per transaction")
    for i in np.flatnonzero(has_p & ~(price > 0)):
        reader.fail(int(i), "price", f"price {price[i]} is not above zero")
    for i in np.flatnonzero(has_r & ~((rate > 0) & (rate <= 1))):
        reader.fail(int(i), "royalty_rate", f"rate {rate[i]} outside (0, 1]")
    for i in np.flatnonzero(out["transaction_date"].isna().to_numpy()):
        if not any(m.startswith("transaction_date") for m in reader.bad_rows.get(int(i), [])):
            reader.fail(int(i), "transaction_date", "no transaction date")
    for i in np.flatnonzero(out["ipc"].isna().to_numpy()):
        reader.fail(int(i), "ipc", "no IPC / CPC code: the market approach matches on technology")
    life = out["remaining_life_years"].to_numpy(dtype=float)
    for i in np.flatnonzero(~np.isnan(life) & (life < 0)):
        reader.fail(int(i), "remaining_life_years", f"negative remaining life {life[i]}")
    for col in ("conditions_factor", "scale_factor"):
        f = out[col].to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isnan(f) & ~(f > 0)):
            reader.fail(int(i), col, f"factor {f[i]} is not above zero")
    q = out["quality_score"].to_numpy(dtype=float)
    for i in np.flatnonzero(~np.isnan(q) & ~((q > 0) & (q <= 100))):
        reader.fail(int(i), "quality_score", f"quality score {q[i]} outside (0, 100]")
    if out["royalty_base"].notna().any():
        wrong = out["royalty_base"].notna() & ~np.isnan(price) & np.isnan(rate)
        for i in np.flatnonzero(wrong.to_numpy()):
            reader.fail(int(i), "royalty_base", "a royalty base on a price transaction")
