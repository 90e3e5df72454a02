"""Borrower technology profile (科技企业技术实力画像): a firm-level reading of a patent portfolio.

:func:`profile_borrower` turns a borrower's patents into indicators in six dimensions (output and momentum,
quality, protection, breadth and focus, use, legal health), normalises each within a peer cohort the caller gives
(industry by core technology class, and size), weighs them with the validated weights of
``ipvalue/data/profile_weights.json`` into a score and a grade (T1 strongest .. T10), and says which three
indicators are the strongest and which three the weakest, in Chinese and English. Without peers it gives the raw
indicators only. An optional PD overlay moves ``Loan.probability_of_default`` by notches taken entirely from a
bank-supplied table (ipvalue ships no calibration). :func:`profile_book` profiles every firm of a book at once, on
the serial, process-pool or Dask backend; :func:`peer_book` computes a peer book once, so that
many borrowers are profiled against it in a fraction of a second each. The method is in ``docs/methodology/profile.md``.
"""

from ipvalue.profile._api import (
    BookProfile,
    BorrowerProfile,
    PeerBook,
    peer_book,
    profile_book,
    profile_borrower,
    profile_chunk,
)
from ipvalue.profile._cache import PeerBookCache, read_peers
from ipvalue.profile._grade import grade_of, strongest_weakest
from ipvalue.profile._indicators import FACT_COLUMNS, ProfileInputError, firm_indicators, patent_facts
from ipvalue.profile._overlay import NotchTable, OverlayTableError, apply_pd_overlay, read_notch_table
from ipvalue.profile._scoring import COHORT_LEVELS, cohort_percentiles, score_firms
from ipvalue.profile._synthetic import synthetic_book
from ipvalue.profile._weights import (
    DIMENSION_ORDER,
    INDICATORS,
    ProfileWeights,
    ProfileWeightsError,
    load_profile_weights,
)

__all__ = [
    "profile_borrower",
    "profile_book",
    "BorrowerProfile",
    "BookProfile",
    "PeerBook",
    "peer_book",
    "PeerBookCache",
    "read_peers",
    "ProfileInputError",
    "ProfileWeights",
    "ProfileWeightsError",
    "load_profile_weights",
    "INDICATORS",
    "DIMENSION_ORDER",
    "COHORT_LEVELS",
    "FACT_COLUMNS",
    "patent_facts",
    "firm_indicators",
    "profile_chunk",
    "cohort_percentiles",
    "score_firms",
    "grade_of",
    "strongest_weakest",
    "NotchTable",
    "OverlayTableError",
    "read_notch_table",
    "apply_pd_overlay",
    "synthetic_book",
]
