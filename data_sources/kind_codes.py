"""Kind codes by office and era: which publications are grants (a versioned table, no network).

A kind code means nothing on its own: a US ``A`` is a granted patent before 2001-01-02 and does not exist after;
an Austrian ``T`` is the validation of a granted European patent; a German ``T1`` is the translation of an
*application*. :data:`KIND_CODES` lists, per office, each kind code with what it publishes, whether that
publication is a grant (or a registered right), and the dates between which the office used it.

Sources
-------
- ``ST16``: WIPO Standard ST.16, "Recommended standard code for the identification of different kinds of patent
  documents" (groups A first publication, B second, C third, T translations, U / Y utility models, S designs),
  https://www.wipo.int/standards/en/pdf/03-16-01.pdf
- ``USPTO``: USPTO, "Kind codes included on USPTO patent documents" (A = patent before 2 January 2001; B1 / B2
  from 2 January 2001; A1 / A2 / A9 pre-grant publications; E reissue; S design; P plant; H SIR),
  https://www.uspto.gov/learning-and-resources/support-centers/electronic-business-center/kind-codes-included-uspto-patent
- ``EPO``: EPO, "Kind codes" of EP documents (A1 / A2 application, A3 / A4 search report, B1 / B2 / B3 patent,
  B8 / B9 corrections) and the national kind codes carried in docdb (DE T2 / D1 translations and publications of
  granted European patents, AT T, DK T3, ES T3 validations), https://www.epo.org/searching-for-patents/helpful-resources/data/kind-codes
- ``CNIPA``: CNIPA standard ZC 0007-2012 (A application; B invention grant from 2010-04-07, C before;
  U / Y utility model; S design), as summarised in the kind-code table of kamilien1/patentR
  (inst/extdata/kindCodes.xlsx, which mislabels B as "examined application": it is the grant)
- ``JPO``, ``KIPO``, ``TIPO``: the same patentR table for JP (B1 / B2 grant, A / T unexamined, U registered
  utility model) and KR (B1 grant, Y1 registered utility model, A / U unexamined); TW from ST.16 and the docdb
  numbering (``TWI...B`` invention grant, ``TWM...U`` utility model, ``TWD...S`` design), not checked against
  TIPO's own table.

Rows whose meaning was not read in a source are ``verified=False``. An office or a kind not listed is
*unknown*: :func:`is_grant` returns ``None`` then, never a guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["KIND_CODES_VERSION", "KindCode", "KIND_CODES", "kind_code", "is_grant"]

KIND_CODES_VERSION = "2026-12-04"


@dataclass(frozen=True)
class KindCode:
    """One kind code of one office.

    Attributes
    ----------
    office, kind : str
    meaning : str
    grant : bool
        The publication is a grant (or the registration of a right: a utility model, a design, the validation
        of a granted European patent).
    source : str
        Key of the source in the module docstring.
    since, until : date or None
        First and last publication date on which the office used the code with this meaning.
    verified : bool
    """

    office: str
    kind: str
    meaning: str
    grant: bool
    source: str
    since: dt.date | None = None
    until: dt.date | None = None
    verified: bool = True


_US_2001 = dt.date(2001, 1, 2)
_CN_2010 = dt.date(2010, 4, 7)


def _k(
    office: str,
    kind: str,
    meaning: str,
    grant: bool,
    source: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    verified: bool = True,
) -> KindCode:
    return KindCode(office, kind, meaning, grant, source, since, until, verified)


KIND_CODES: tuple[KindCode, ...] = (
    # United States
    _k("US", "A", "patent (granted) before 2 January 2001", True, "USPTO", until=dt.date(2001, 1, 1)),
    _k("US", "B1", "patent, no pre-grant publication", True, "USPTO", since=_US_2001),
    _k("US", "B2", "patent, with a pre-grant publication", True, "USPTO", since=_US_2001),
    _k("US", "A1", "pre-grant publication of an application", False, "USPTO", since=_US_2001),
    _k("US", "A2", "pre-grant publication, republished", False, "USPTO", since=_US_2001),
    _k("US", "A9", "pre-grant publication, corrected", False, "USPTO", since=_US_2001),
    _k("US", "E", "reissue patent", True, "USPTO"),
    _k("US", "S", "design patent", True, "USPTO"),
    _k("US", "P", "plant patent before 2 January 2001", True, "USPTO", until=dt.date(2001, 1, 1)),
    _k("US", "P2", "plant patent, no pre-grant publication", True, "USPTO", since=_US_2001),
    _k("US", "P3", "plant patent, with a pre-grant publication", True, "USPTO", since=_US_2001),
    _k("US", "H", "statutory invention registration (not a patent)", False, "USPTO"),
    # European Patent Office
    _k("EP", "A1", "application with search report", False, "EPO"),
    _k("EP", "A2", "application without search report", False, "EPO"),
    _k("EP", "A3", "search report", False, "EPO"),
    _k("EP", "A4", "supplementary search report", False, "EPO"),
    _k("EP", "A8", "corrected title page of an A document", False, "EPO"),
    _k("EP", "A9", "complete reprint of an A document", False, "EPO"),
    _k("EP", "B1", "patent specification", True, "EPO"),
    _k("EP", "B2", "new patent specification after opposition", True, "EPO"),
    _k("EP", "B3", "patent specification after limitation", True, "EPO"),
    _k("EP", "B8", "corrected title page of a B document", True, "EPO"),
    _k("EP", "B9", "complete reprint of a B document", True, "EPO"),
    # WIPO: an international application is never a grant
    _k("WO", "A1", "international application with search report", False, "ST16"),
    _k("WO", "A2", "international application without search report", False, "ST16"),
    _k("WO", "A3", "later publication of the search report", False, "ST16"),
    # China
    _k("CN", "A", "application publication (invention)", False, "CNIPA"),
    _k("CN", "B", "invention patent (granted)", True, "CNIPA", since=_CN_2010),
    _k(
        "CN", "C", "invention patent (granted), before 7 April 2010", True, "CNIPA", until=dt.date(2010, 4, 6)
    ),
    _k("CN", "U", "utility model (registered)", True, "CNIPA", since=_CN_2010),
    _k(
        "CN", "Y", "utility model (registered), before 7 April 2010", True, "CNIPA", until=dt.date(2010, 4, 6)
    ),
    _k("CN", "S", "design (registered)", True, "CNIPA", verified=False),
    # Germany: national grants, and publications of granted European patents
    _k("DE", "A1", "application (Offenlegungsschrift)", False, "EPO"),
    _k("DE", "B3", "patent, no prior application publication", True, "EPO"),
    _k("DE", "B4", "patent, after an application publication", True, "EPO"),
    _k("DE", "C1", "patent (before 2004), no prior publication", True, "ST16", verified=False),
    _k("DE", "C2", "patent (before 2004), after a prior publication", True, "ST16", verified=False),
    _k("DE", "D1", "publication of a granted European patent with effect in DE", True, "EPO"),
    _k("DE", "T2", "German translation of a granted European patent", True, "EPO"),
    _k("DE", "T1", "German translation of an international / European application", False, "EPO"),
    _k("DE", "U1", "utility model (registered)", True, "EPO"),
    # Austria: validations of granted European patents (docdb ATE...T / T1)
    _k("AT", "T", "validation of a granted European patent", True, "EPO"),
    _k("AT", "T1", "validation of a granted European patent", True, "EPO"),
    _k("AT", "B", "national patent", True, "ST16", verified=False),
    _k("AT", "A", "national application", False, "ST16", verified=False),
    _k("AT", "U1", "utility model (registered)", True, "ST16", verified=False),
    # other validations of granted European patents
    _k("DK", "T3", "translation of a granted European patent", True, "EPO"),
    _k("ES", "T3", "translation of a granted European patent", True, "EPO"),
    # Netherlands, Canada, Russia, Australia
    _k("NL", "C2", "patent", True, "ST16", verified=False),
    _k("NL", "A1", "application", False, "ST16", verified=False),
    _k("CA", "A1", "application open to public inspection", False, "ST16", verified=False),
    _k("CA", "C", "patent (granted)", True, "ST16", verified=False),
    _k("RU", "A", "application", False, "ST16", verified=False),
    _k("RU", "C1", "patent, no prior application publication", True, "ST16", verified=False),
    _k("RU", "C2", "patent, after an application publication", True, "ST16", verified=False),
    _k("RU", "U1", "utility model (registered)", True, "ST16", verified=False),
    _k("AU", "A1", "application", False, "ST16", verified=False),
    _k("AU", "B2", "standard patent (accepted)", True, "ST16", verified=False),
    # Japan, Korea, Taiwan
    _k("JP", "A", "unexamined application", False, "JPO"),
    _k("JP", "T", "translation of an international application", False, "JPO"),
    _k("JP", "B1", "patent, no prior publication", True, "JPO"),
    _k("JP", "B2", "patent, after a prior publication", True, "JPO"),
    _k("JP", "U", "registered utility model", True, "JPO"),
    _k("KR", "A", "unexamined application", False, "KIPO"),
    _k("KR", "B1", "patent (granted)", True, "KIPO"),
    _k("KR", "U", "unexamined utility model", False, "KIPO"),
    _k("KR", "Y1", "registered utility model", True, "KIPO"),
    _k("TW", "A", "application publication", False, "TIPO", verified=False),
    _k("TW", "B", "invention patent (granted, docdb TWI...B)", True, "TIPO", verified=False),
    _k("TW", "U", "utility model (docdb TWM...U)", True, "TIPO", verified=False),
    _k("TW", "S", "design (docdb TWD...S)", True, "TIPO", verified=False),
)

_BY_KEY: dict[tuple[str, str], tuple[KindCode, ...]] = {}
for _row in KIND_CODES:
    _BY_KEY[(_row.office, _row.kind)] = (*_BY_KEY.get((_row.office, _row.kind), ()), _row)


def kind_code(office: str, kind: str, published: dt.date | None = None) -> KindCode | None:
    """The row of ``KIND_CODES`` for an office's kind code at a publication date, or None when unknown.

    Without a date, a kind whose meaning changed with the era is unknown unless every era agrees.
    """
    rows = _BY_KEY.get((office.upper(), (kind or "").upper()), ())
    if published is not None:
        rows = tuple(
            r
            for r in rows
            if (r.since is None or published >= r.since) and (r.until is None or published <= r.until)
        )
    if not rows:
        return None
    if len({r.grant for r in rows}) > 1:
        return None
    return rows[0]


def is_grant(office: str, kind: str, published: dt.date | None = None) -> bool | None:
    """Whether a publication is a grant: True, False, or None when the table does not know the code.

    Examples
    --------
    >>> is_grant("US", "A", dt.date(1998, 7, 25))
    True
    >>> is_grant("US", "A1")
    False
    >>> is_grant("AT", "T")
    True
    >>> is_grant("XX", "B1") is None
    True
    """
    row = kind_code(office, kind, published)
    return None if row is None else row.grant
