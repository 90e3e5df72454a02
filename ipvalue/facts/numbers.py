"""Patent number normalisation.

Publication numbers (US, EP, CN, JP, KR, WO and any other two-letter office) are brought to the compact
docdb-like form ``CC`` + number + kind code (``US11646472B2``). Chinese application and certificate
numbers (``ZL201510123456.7``, ``201510123456.7``, the pre-2004 ``ZL95115608.X``) are validated against
their check digit and brought to ``CN`` + application number with the check digit after a dot
(``CN201710601862.3``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ipvalue.errors import InputError, Problem

__all__ = [
    "PatentNumberError",
    "ParsedNumber",
    "normalize_number",
    "parse_number",
    "cn_check_digit",
    "CN_TYPE_DIGITS",
]


class PatentNumberError(InputError):
    """A patent number that cannot be read, or whose check digit is wrong.

    Parameters
    ----------
    number : str
        The input exactly as given.
    reason : str
        What is wrong with it.
    """

    def __init__(self, number: object, reason: str):
        self.number = number
        self.reason = reason
        message = f"patent number {number!r}: {reason}"
        super().__init__([Problem(str(number), "patent_id", message)])


#: Type digit of a CN application number (5th digit of the 12-digit form, 3rd of the 8-digit form).
#: Source: CNIPA numbering standard ZC 0006-2003 专利申请号标准; 1 invention, 2 utility model, 3 design,
#: 8 PCT invention entering the national phase, 9 PCT utility model entering the national phase.
CN_TYPE_DIGITS: dict[str, tuple[str, bool]] = {
    "1": ("invention", False),
    "2": ("utility_model", False),
    "3": ("design", False),
    "8": ("invention", True),
    "9": ("utility_model", True),
}

_WEIGHTS_12: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_WEIGHTS_8 = (2, 3, 4, 5, 6, 7, 8, 9)

_OFFICES = {
    "US",
    "EP",
    "CN",
    "JP",
    "KR",
    "WO",
    "DE",
    "FR",
    "GB",
    "TW",
    "HK",
    "CA",
    "AU",
    "IN",
    "RU",
    "BR",
    "MX",
    "ES",
    "IT",
    "NL",
    "SE",
    "CH",
    "AT",
    "DK",
    "FI",
    "BE",
    "SG",
    "IL",
    "NZ",
    "ZA",
    "EA",
    "AP",
    "OA",
}


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    """A normalised patent number and what can be read from it.

    Attributes
    ----------
    canonical : str
        The canonical form used as ``patent_id``.
    country : str
        Two-letter office code.
    number : str
        The serial part without the office or kind code (application numbers keep their check digit).
    kind : str or None
        Publication kind code (``B2``, ``A1``...), None for application numbers.
    is_application : bool
        True for a CN application / certificate (ZL) number.
    patent_type : str or None
        ``invention`` / ``utility_model`` / ``design`` where the number tells it (CN application type digit,
        CN kind codes U/Y and S, US design numbers ``D``).
    pct_national_phase : bool
        True when a CN application number's type digit is 8 or 9.
    filing_year : int or None
        Filing year encoded in a CN application number.
    """

    canonical: str
    country: str
    number: str
    kind: str | None
    is_application: bool = False
    patent_type: str | None = None
    pct_national_phase: bool = False
    filing_year: int | None = None


def cn_check_digit(digits: str) -> str:
    """Check digit of a CN application number.

    Parameters
    ----------
    digits : str
        The 12 digits (from 2003 on) or 8 digits (before) in front of the dot.

    Returns
    -------
    str
        ``'0'``-``'9'`` or ``'X'``: the weighted sum modulo 11 with weights 2..9,2..5, a remainder of 10
        written ``X`` (CNIPA ZC 0006-2003).
    """
    if len(digits) == 12:
        weights = _WEIGHTS_12
    elif len(digits) == 8:
        weights = _WEIGHTS_8
    else:
        raise PatentNumberError(digits, "a CN application number has 8 or 12 digits before its check digit")
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    rem = total % 11
    return "X" if rem == 10 else str(rem)


_CN_APP = re.compile(r"^(?:ZL|CN)?(\d{12}|\d{8})[.\-]?([0-9X])$")
_PUB = re.compile(r"^([A-Z]{2})([A-Z]{0,2}\d+)([A-Z]\d?)?$")

#: letters that begin the serial of a docdb publication number, per office (WIPO ST.16 and the offices' own
#: numbering as carried into EPO docdb): US designs D, reissues RE, plant patents PP, statutory invention
#: registrations H and defensive publications T (the USPTO's number formats, e.g. D339,456, RE35,312, PP8,901,
#: H1,523, T109,201; kind codes E, P2 / P3, H in the USPTO's kind-code table); Taiwan invention patents I,
#: utility models M, designs D (``TWI452476B``, ``TWM123456U``); Austrian validations of European patents E
#: (``ATE232441T1``); Spanish and Portuguese validations of European patents are numbered without a letter
_SERIAL_PREFIXES: dict[str, tuple[str, ...]] = {
    "US": ("D", "RE", "PP", "H", "T"),
    "TW": ("I", "M", "D"),
    "AT": ("E",),
}
_DOCDB = re.compile(r"^([A-Z]{2})\.([A-Z0-9]+)\.([A-Z]\d?)$")


def _clean(raw: str) -> str:
    # NFKC folds the full-width characters typed with Chinese input methods (ＺＬ２０１７...) to ASCII
    return unicodedata.normalize("NFKC", raw).strip().upper()


def parse_number(raw: object) -> ParsedNumber:
    """Parse a patent number in any of the forms people type.

    Parameters
    ----------
    raw : str
        ``US 11,646,472 B2``, ``EP2400812A1``, ``CN 105123456 B``, docdb ``CN.105123456.B``,
        ``WO 2020/123456 A1``, ``ZL201510123456.1``, ``201510123456.1``, ``ZL95115608.X``...

    Returns
    -------
    ParsedNumber

    Raises
    ------
    PatentNumberError
        When the input is not a string, cannot be read, or a CN application number's check digit is wrong.
    """
    if not isinstance(raw, str):
        raise PatentNumberError(raw, f"expected a string, got {type(raw).__name__}")
    s = _clean(raw)
    if not s:
        raise PatentNumberError(raw, "empty")
    compact = re.sub(r"[\s,/]", "", s)

    # CN application / certificate number: 12 or 8 digits then the check digit, with the dot optional
    # only when the prefix (ZL / CN) makes the reading unambiguous.
    m = _CN_APP.match(compact)
    if m:
        body = m.group(1)
        prefixed_cn = compact.startswith("CN")
        # "CN" + 9 digits without a dot is a publication number (CN105123456), not an old application number
        if not (prefixed_cn and len(body) == 8 and "." not in compact):
            return _cn_application(raw, body, m.group(2))

    m = _DOCDB.match(re.sub(r"\s", "", s))
    if m:
        cc, num, kind = m.groups()
        return _publication(raw, cc, num, kind)

    m = _PUB.match(compact.replace("-", ""))
    if m:
        cc, num, kind = m.groups()
        return _publication(raw, cc, num, kind)
    raise PatentNumberError(raw, "unreadable: expected an office code, a number and optionally a kind code")


def _cn_application(raw: object, body: str, check: str) -> ParsedNumber:
    expected = cn_check_digit(body)
    if check != expected:
        raise PatentNumberError(raw, f"CN application number check digit is {check}, expected {expected}")
    type_digit = body[4] if len(body) == 12 else body[2]
    if type_digit not in CN_TYPE_DIGITS:
        raise PatentNumberError(raw, f"CN application type digit {type_digit!r} is not 1, 2, 3, 8 or 9")
    ptype, pct = CN_TYPE_DIGITS[type_digit]
    year = int(body[:4]) if len(body) == 12 else 1900 + int(body[:2])
    return ParsedNumber(
        canonical=f"CN{body}.{check}",
        country="CN",
        number=f"{body}.{check}",
        kind=None,
        is_application=True,
        patent_type=ptype,
        pct_national_phase=pct,
        filing_year=year,
    )


def _publication(raw: object, cc: str, num: str, kind: str | None) -> ParsedNumber:
    if cc not in _OFFICES:
        raise PatentNumberError(raw, f"unknown office code {cc!r}")
    ptype: str | None = None
    if num[:1].isalpha():
        prefix = num[: len(num) - len(num.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))]
        if prefix not in _SERIAL_PREFIXES.get(cc, ()):
            where = ", ".join(f"{c} {'/'.join(p)}" for c, p in _SERIAL_PREFIXES.items())
            raise PatentNumberError(
                raw, f"a {cc} serial number does not start with {prefix!r} (only {where})"
            )
        if prefix == "D":
            ptype = "design"
        elif cc == "TW":
            ptype = {"I": "invention", "M": "utility_model"}[prefix]
        if not num[len(prefix) :].isdigit():
            raise PatentNumberError(raw, "unreadable serial number")
    elif not num.isdigit():
        raise PatentNumberError(raw, "unreadable serial number")
    if cc == "CN" and kind:
        # CN kind codes: A/B invention, U/Y utility model, S/D design (CNIPA ZC 0007-2012)
        ptype = {
            "A": "invention",
            "B": "invention",
            "C": "invention",
            "U": "utility_model",
            "Y": "utility_model",
            "S": "design",
            "D": "design",
        }.get(kind[0])
        if ptype is None:
            raise PatentNumberError(raw, f"unknown CN kind code {kind!r}")
    if cc == "WO" and len(num) >= 8 and num[:2] in ("19", "20"):
        # WO2020/123456 -> WO2020123456 (docdb pads the serial to 6 digits)
        year, serial = num[:4], num[4:]
        num = year + serial.zfill(6)
    if cc != "WO" and len(num.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ").lstrip("0")) < 4:
        raise PatentNumberError(raw, "serial number too short")
    return ParsedNumber(
        canonical=f"{cc}{num}{kind or ''}", country=cc, number=num, kind=kind, patent_type=ptype
    )


def normalize_number(raw: object) -> str:
    """Canonical form of a patent number.

    Parameters
    ----------
    raw : str
        A publication or CN application / certificate number in a form people type.

    Returns
    -------
    str
        ``"CN105123456B"`` for ``"CN 105123456 B"``; ``"CN201710601862.3"`` for ``"ZL201710601862.3"``.

    Raises
    ------
    PatentNumberError
        The input cannot be read or fails its check digit; the message names the input.

    Examples
    --------
    >>> normalize_number("US 11,646,472 B2")
    'US11646472B2'
    >>> normalize_number("CN.105123456.B")
    'CN105123456B'
    """
    return parse_number(raw).canonical
