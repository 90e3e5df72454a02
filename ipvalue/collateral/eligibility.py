"""Pledge eligibility: CNIPA's grounds for refusing a pledge registration, plus the policy's own rules.

Each failed check adds a stable reason code to ``ineligible_reasons`` (codes joined with ``;``, in the order
of :data:`REASON_CODES`). The checks follow the grounds on which CNIPA refuses to register a patent pledge
(专利权质押登记办法, CNIPA Announcement No. 461, 2021; CNIPA FAQ 2009; see ``docs/methodology/collateral.md``):

=========================  ===================================================================================
ownership                  ``OWNER_MISMATCH`` (pledgor is not the registered patentee), ``OWNER_UNKNOWN``,
                           ``CO_OWNED`` (when the policy will not rely on co-owners' consent)
validity                   ``NOT_GRANTED``, ``LAPSED``, ``EXPIRED``, ``INVALIDATED``, ``STATUS_UNKNOWN``
fees                       ``FEES_UNPAID`` (annual fee unpaid or in the late-payment period)
disputes                   ``IN_LITIGATION`` (when the policy refuses litigated patents)
tenor                      ``TERM_SHORTER_THAN_LOAN`` (debt term plus the disposal buffer beyond the remaining
                           term), ``LIFE_BELOW_MINIMUM``, ``TERM_UNKNOWN``
prior pledge               ``ALREADY_PLEDGED``
invalidation               ``INVALIDATION_PENDING``
policy                     ``TYPE_NOT_ACCEPTED``, ``JURISDICTION_NOT_ACCEPTED``, ``NOT_VALUED``
=========================  ===================================================================================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._assessment import Loan
from ipvalue.collateral._columns import EngineColumns, normalize_owner_series
from ipvalue.collateral._inputs import CollateralInputError, check_frame
from ipvalue.collateral.policy import Policy, load_policy
from ipvalue.facts.columns import as_date
from ipvalue.terms import last_day_in_force

__all__ = [
    "REASON_CODES",
    "check_eligibility",
    "eligibility_checks",
    "eligibility_arrays",
    "eligibility_frame",
    "describe_reasons",
    "normalize_owner",
    "loan_horizon_years",
]

#: stable reason code -> (English, Chinese) description
REASON_CODES: dict[str, tuple[str, str]] = {
    "NOT_VALUED": ("no appraised value", "无评估价值"),
    "STATUS_UNKNOWN": ("legal status unknown", "法律状态不明"),
    "NOT_GRANTED": ("application not granted (pending or withdrawn)", "尚未授权（审中或已撤回）"),
    "LAPSED": ("terminated for unpaid annual fees", "未缴年费终止"),
    "EXPIRED": (
        "term expired (status, expiry date or no remaining life at the assessment date)",
        "专利权期限届满",
    ),
    "INVALIDATED": ("declared invalid (revoked)", "已被宣告无效"),
    "TYPE_NOT_ACCEPTED": ("patent type not accepted by the policy", "该专利类型不接受质押"),
    "JURISDICTION_NOT_ACCEPTED": (
        "granted by an office the policy does not accept",
        "非政策接受的专利局授权",
    ),
    "TERM_UNKNOWN": ("remaining life unknown", "剩余保护期不明"),
    "TERM_SHORTER_THAN_LOAN": (
        "remaining life shorter than the loan term plus the disposal buffer",
        "剩余保护期短于贷款期限加处置期",
    ),
    "LIFE_BELOW_MINIMUM": ("remaining life below the policy minimum", "剩余保护期低于政策下限"),
    "FEES_UNPAID": ("annual fee unpaid or in the late-payment period", "年费未缴或处于滞纳期"),
    "ALREADY_PLEDGED": ("already pledged and the pledge is current", "已质押且质押尚在有效期"),
    "INVALIDATION_PENDING": ("invalidation proceedings pending", "无效宣告程序进行中"),
    "IN_LITIGATION": ("in litigation (policy refuses litigated patents)", "涉诉（政策不接受涉诉专利）"),
    "OWNER_UNKNOWN": ("owner unknown, cannot match the borrower", "专利权人不明，无法核对出质人"),
    "OWNER_MISMATCH": ("borrower is not a registered owner", "出质人不是登记的专利权人"),
    "CO_OWNED": ("co-owned; the policy requires sole ownership", "共有专利，政策要求单独所有"),
}


def describe_reasons(reasons: pd.Series, lang: str = "zh", *, sep: str | None = None) -> pd.Series:
    """Translate ``;``-joined reason codes into their descriptions, per patent.

    Parameters
    ----------
    reasons : pandas.Series
        ``ineligible_reasons`` as :func:`check_eligibility` gives them (empty or missing when eligible).
    lang : {"zh", "en"}
        The language of :data:`REASON_CODES` to use.
    sep : str, optional
        Joins the descriptions of one patent; ``"、"`` for Chinese and ``"; "`` for English by default.

    Returns
    -------
    pandas.Series
        Indexed like ``reasons`` (string dtype): the descriptions in the order of the codes, empty when there is
        no code. A code :data:`REASON_CODES` does not know is kept as it is, never dropped.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    sep = ("、" if lang == "zh" else "; ") if sep is None else sep
    j = 1 if lang == "zh" else 0
    codes = pd.Series(np.asarray(reasons, dtype=object), index=reasons.index, dtype="string").fillna("")
    # few distinct combinations of codes in a portfolio: translate each once, then map
    table = {
        combo: sep.join(
            REASON_CODES[c][j] if c in REASON_CODES else c for c in (x.strip() for x in combo.split(";")) if c
        )
        for combo in codes.unique()
    }
    return codes.map(table).astype("string")


def normalize_owner(name: str) -> str:
    """Reduce a name for comparison.

    NFKC (full-width to half-width), case-folded, common company suffixes shortened (``Limited`` -> ``ltd``,
    有限责任公司 -> 有限公司), spaces and punctuation removed.
    """
    out = normalize_owner_series(pd.Series([name]))
    return str(out.iloc[0])


def loan_horizon_years(loan: Loan, as_of: dt.date) -> float:
    """Years from ``as_of`` to the loan's maturity (start date, when given, shifts it)."""
    start = (
        as_date(loan.start_date, "loan.start_date", error=CollateralInputError) if loan.start_date else as_of
    )
    return max(0.0, (start - as_of).days / 365.25 + float(loan.tenor_years))


def check_eligibility(
    valued: pd.DataFrame, loan: Loan, policy: Policy | str = "cn-bank-standard", *, as_of: dt.date
) -> pd.DataFrame:
    """Run the pledge-eligibility checks.

    Parameters
    ----------
    valued : pandas.DataFrame
        The valued portfolio frame (facts plus ``value`` and ``remaining_life_years``).
    loan : Loan
        Its ``tenor_years``, ``start_date`` and ``borrower`` enter the checks.
    policy : Policy or str
    as_of : datetime.date
        The date the fee status and remaining life refer to.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``valued``: ``eligible`` (bool), ``ineligible_reasons`` (codes joined with ``;``, empty when
        eligible), ``owner_match`` (bool or NA when not checked) and ``fees_verified`` (False when the frame does
        not say how far fees are paid).
    """
    return eligibility_checks(
        check_frame(valued),
        loan,
        load_policy(policy),
        as_of=as_date(as_of, "as_of", error=CollateralInputError),
    )


def eligibility_checks(frame: pd.DataFrame, loan: Loan, pol: Policy, *, as_of: dt.date) -> pd.DataFrame:
    """:func:`check_eligibility` on a frame already checked by :func:`~ipvalue.collateral._inputs.check_frame`.

    The engine checks its input once, at the edge, and reads its columns once (:func:`eligibility_arrays`).
    """
    out = eligibility_arrays(EngineColumns(frame), loan, pol, as_of=as_of)
    return eligibility_frame(out, frame.index)


def eligibility_frame(out: dict[str, Any], index: pd.Index) -> pd.DataFrame:
    """The table :func:`check_eligibility` returns, from :func:`eligibility_arrays`' result."""
    owner_match = pd.Series(out["owner_hit"], index=index, dtype="boolean")
    if out["owner_unknown"] is not None:
        owner_match = owner_match.mask(out["owner_unknown"])
    return pd.DataFrame(
        {
            "eligible": out["eligible"],
            "ineligible_reasons": pd.Series(out["reasons"], index=index, dtype="string"),
            "owner_match": owner_match,
            "fees_verified": out["fees_verified"],
        },
        index=index,
    )


#: the columns the static eligibility checks read (besides the index): a shock that leaves them as they are takes
#: the base case's checks
_STATIC_SOURCES = (
    "legal_status",
    "expiry_date",
    "jurisdiction",
    "patent_type",
    "fees_paid_through",
    "pledged",
    "invalidation_pending",
    "in_litigation",
    "owner",
)


def _static_checks(
    cols: EngineColumns, pol: Policy, as_of: dt.date, offices: Any, borrower: str | None
) -> dict[str, Any]:
    """The eligibility checks that read neither the value nor the remaining life (read only: they are shared).

    ``checks`` by reason code, ``expired`` (the status says expired, or the term's last day has passed: the
    remaining life's part of ``EXPIRED`` is added by the caller), ``fees_verified``, ``owner_hit`` and
    ``owner_unknown``.
    """
    n = cols.n
    status = cols.status()
    checks: dict[str, np.ndarray] = {}
    checks["STATUS_UNKNOWN"] = status["na"]
    checks["NOT_GRANTED"] = status["not_granted"]
    checks["LAPSED"] = status["lapsed"]
    # the term's last day (the expiry date is that last day for US and EP, the day after it for CN:
    # ipvalue.terms.last_day_in_force)
    expiry = cols.dates("expiry_date")

    def read_last_day(frame: pd.DataFrame) -> np.ndarray:
        if np.isnat(expiry).all():
            return expiry
        office = pd.Series(frame.index, index=frame.index, dtype="string").str[:2]  # else the number's prefix
        if "jurisdiction" in frame.columns:
            office = frame["jurisdiction"].astype("string").fillna(office)
        return last_day_in_force(office.str.upper().fillna("").to_numpy(dtype=object), expiry)

    # read once per book (a stress shock moves neither the expiry date nor the office)
    last_day = cols.derived("last_day_in_force", ("expiry_date", "jurisdiction"), read_last_day)
    expired = status["expired"] | (~np.isnat(last_day) & (last_day < np.datetime64(as_of, "D")))
    checks["INVALIDATED"] = status["revoked"]
    checks["TYPE_NOT_ACCEPTED"] = ~cols.type_accepted(tuple(pol["accepted_types"]))
    if offices is None:
        checks["JURISDICTION_NOT_ACCEPTED"] = np.zeros(n, dtype=bool)
    else:
        checks["JURISDICTION_NOT_ACCEPTED"] = ~cols.office_accepted(tuple(offices))
    if cols.has("fees_paid_through"):
        paid = cols.dates("fees_paid_through")
        cutoff = np.datetime64(as_of, "D") - np.timedelta64(int(pol["fee_grace_days"]), "D")
        fees_verified = ~np.isnat(paid)
        checks["FEES_UNPAID"] = fees_verified & (paid < cutoff)
    else:
        fees_verified = np.zeros(n, dtype=bool)
        checks["FEES_UNPAID"] = np.zeros(n, dtype=bool)
    checks["ALREADY_PLEDGED"] = cols.flag("pledged")
    checks["INVALIDATION_PENDING"] = cols.flag("invalidation_pending")
    checks["IN_LITIGATION"] = cols.flag("in_litigation") & bool(pol["reject_in_litigation"])
    owners = cols.owners(borrower)
    n_owners = owners["count"]
    owner_hit: Any = np.full(n, pd.NA, dtype=object)
    owner_unknown = None
    mismatch = np.zeros(n, dtype=bool)
    if borrower is not None:
        owner_hit = owners["hit"]
        owner_unknown = n_owners == 0
        mismatch = ~owner_unknown & ~owner_hit
    checks["OWNER_UNKNOWN"] = np.zeros(n, dtype=bool) if owner_unknown is None else owner_unknown
    checks["OWNER_MISMATCH"] = mismatch
    checks["CO_OWNED"] = (n_owners > 1) & (not pol["accept_co_owned"])
    for a in (*checks.values(), expired, fees_verified):
        a.flags.writeable = False
    return {
        "checks": checks,
        "expired": expired,
        "fees_verified": fees_verified,
        "owner_hit": owner_hit,
        "owner_unknown": owner_unknown,
    }


def eligibility_arrays(
    cols: EngineColumns, loan: Loan, pol: Policy, *, as_of: dt.date, reasons: bool = True
) -> dict[str, Any]:
    """The eligibility checks on the engine's columns (arrays; the text read once per book).

    Returns
    -------
    dict
        ``eligible`` (bool array), ``fees_verified`` (bool array), ``owner_hit`` (bool array, or all missing when
        owners are not checked) and ``owner_unknown`` (bool array or None), ``checks`` (reason code -> bool
        array) and, with ``reasons=True``, ``reasons``: the codes of each patent joined with ``;`` (object array
        of ``str``, empty when eligible).
    """
    n = cols.n
    value = cols.num("value")
    life = cols.num("remaining_life_years")
    horizon = loan_horizon_years(loan, as_of) + float(pol["disposal_buffer_years"])
    offices = pol["accepted_jurisdictions"]
    check_owner = bool(pol["require_owner_match"]) and loan.borrower is not None
    # the checks that read neither the value nor the remaining life, once per book and policy: a stress shock
    # takes them from the base case's columns where it leaves their sources alone (EngineColumns.derived)
    static = cols.derived(
        (
            "eligibility_static",
            tuple(pol["accepted_types"]),
            None if offices is None else tuple(offices),
            int(pol["fee_grace_days"]),
            bool(pol["reject_in_litigation"]),
            loan.borrower if check_owner else None,
            bool(pol["accept_co_owned"]),
            as_of,
        ),
        _STATIC_SOURCES,
        lambda frame: _static_checks(cols, pol, as_of, offices, loan.borrower if check_owner else None),
    )
    checks: dict[str, np.ndarray] = dict(static["checks"])
    checks["NOT_VALUED"] = np.isnan(value)
    with np.errstate(invalid="ignore"):
        # past its term: the status says so, the term's last day has passed (static), or no life is left at as_of
        checks["EXPIRED"] = static["expired"] | (life <= 0)
    checks["TERM_UNKNOWN"] = np.isnan(life)
    with np.errstate(invalid="ignore"):
        checks["TERM_SHORTER_THAN_LOAN"] = life < horizon
        checks["LIFE_BELOW_MINIMUM"] = life < float(pol["min_remaining_life_years"])
    fees_verified = static["fees_verified"]
    owner_hit, owner_unknown = static["owner_hit"], static["owner_unknown"]

    failed = np.zeros(n, dtype=bool)
    for code in REASON_CODES:
        failed |= checks[code]
    out: dict[str, Any] = {
        "eligible": ~failed,
        "fees_verified": fees_verified,
        "owner_hit": owner_hit,
        "owner_unknown": owner_unknown,
        "checks": checks,
    }
    if reasons:
        text_out = np.full(n, "", dtype=object)
        for code in REASON_CODES:
            text_out = np.where(checks[code], text_out + code + ";", text_out)
        out["reasons"] = np.array([r.rstrip(";") for r in text_out.tolist()], dtype=object)
    return out
