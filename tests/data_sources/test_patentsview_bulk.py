"""The PatentsView bulk reader on small files written in the published format (tab-separated, zipped)."""

import datetime as dt
import zipfile

import pandas as pd
import pyarrow  # noqa: F401, E402 - the bulk reader needs pyarrow (the dask extra, part of the test install)
import pytest

from data_sources.patentsview_bulk import BulkFormatError, read_patentsview_bulk  # noqa: E402


def _zip_tsv(path, header, rows):
    text = "\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(path.name.removesuffix(".zip"), text)


@pytest.fixture
def bulk(tmp_path):
    _zip_tsv(
        tmp_path / "g_patent.tsv.zip",
        [
            "patent_id",
            "patent_type",
            "patent_date",
            "patent_title",
            "wipo_kind",
            "num_claims",
            "withdrawn",
            "filename",
        ],
        [
            ["11646472", "utility", "2023-05-09", "Electronic device", "B2", "20", "0", "ipg230509.xml"],
            ["10000001", "utility", "2018-06-19", 'A "quoted" title', "B2", "12", "0", "ipg180619.xml"],
            ["D900000", "design", "2020-10-27", "Chair", "S1", "1", "0", "ipg201027.xml"],
            ["PP30000", "plant", "2018-12-04", "Apple tree", "P3", "1", "0", "ipg181204.xml"],
            ["11700000", "utility", "2023-07-18", "Later patent", "B1", "5", "0", "ipg230718.xml"],
            ["10999999", "utility", "2021-06-08", "Withdrawn one", "B1", "3", "1", "ipg210608.xml"],
        ],
    )
    _zip_tsv(
        tmp_path / "g_application.tsv.zip",
        [
            "application_id",
            "patent_id",
            "patent_application_type",
            "filing_date",
            "series_code",
            "rule_47_flag",
        ],
        [
            ["17248024", "11646472", "17", "2021-01-07", "17", "FALSE"],
            ["15100001", "10000001", "15", "2016-03-01", "15", "FALSE"],
            ["29700000", "D900000", "29", "2019-08-01", "29", "FALSE"],
            ["17500000", "11700000", "17", "2021-09-09", "17", "FALSE"],
            ["16999999", "10999999", "16", "2019-01-01", "16", "FALSE"],
        ],
    )
    _zip_tsv(
        tmp_path / "g_us_patent_citation.tsv.zip",
        [
            "patent_id",
            "citation_sequence",
            "citation_patent_id",
            "citation_date",
            "record_name",
            "wipo_kind",
            "citation_category",
        ],
        [
            ["11646472", "0", "10000001", "2018-06-01", "Smith", "B2", "cited by applicant"],
            ["11700000", "0", "10000001", "2018-06-01", "Smith", "B2", "cited by examiner"],
            ["11700000", "1", "11646472", "2023-05-01", "Lee", "B2", "cited by examiner"],
            ["11700000", "2", "5000000", "1991-03-01", "Old", "A", "cited by examiner"],
            ["D900000", "0", "10000001", "2018-06-01", "Smith", "B2", "cited by applicant"],
        ],
    )
    _zip_tsv(
        tmp_path / "g_cpc_current.tsv.zip",
        ["patent_id", "cpc_sequence", "cpc_section", "cpc_class", "cpc_subclass", "cpc_group", "cpc_type"],
        [
            ["11646472", "0", "G", "G06", "G06F", "G06F1/16", "inventional"],
            ["11646472", "1", "H", "H04", "H04M", "H04M1/02", "additional"],
        ],
    )
    _zip_tsv(
        tmp_path / "g_assignee_disambiguated.tsv.zip",
        [
            "patent_id",
            "assignee_sequence",
            "assignee_id",
            "disambig_assignee_individual_name_first",
            "disambig_assignee_individual_name_last",
            "disambig_assignee_organization",
            "assignee_type",
            "location_id",
        ],
        [
            ["11646472", "0", "a1", "", "", "Samsung Electronics Co., Ltd.", "3", "l1"],
            ["10000001", "0", "a2", "Jane", "Doe", "", "4", "l2"],
        ],
    )
    return tmp_path


def test_reads_facts_and_counts_citations(bulk):
    df = read_patentsview_bulk(bulk)
    assert set(df.index) == {"US11646472B2", "US10000001B2", "USD900000S1", "US11700000B1", "US10999999B1"}
    assert "PP30000" not in "".join(df.index)  # plant patents are left out
    r = df.loc["US10000001B2"]
    assert r["forward_citations"] == 3 and r["backward_citations"] == 0
    assert r["title"] == 'A "quoted" title' and r["owner"] == "Jane Doe"
    assert r["filing_date"] == pd.Timestamp("2016-03-01") and r["grant_date"] == pd.Timestamp("2018-06-19")
    a = df.loc["US11646472B2"]
    assert a["forward_citations"] == 1 and a["backward_citations"] == 1
    assert a["cpc"] == "G06F1/16" and a["owner"] == "Samsung Electronics Co., Ltd." and a["claims"] == 20
    assert df.loc["US11700000B1", "backward_citations"] == 3  # including a cited patent outside the tables
    assert df.loc["USD900000S1", "patent_type"] == "design"
    assert df.loc["US10999999B1", "legal_status"] == "withdrawn"


def test_as_of_counts_only_citations_that_existed(bulk):
    df = read_patentsview_bulk(bulk, as_of=dt.date(2023, 6, 1))
    assert "US11700000B1" not in df.index  # granted after as_of
    assert df.loc["US10000001B2", "forward_citations"] == 2  # the 2023-07-18 citation did not exist yet
    assert df.loc["US11646472B2", "forward_citations"] == 0


def test_selection_keeps_unknown_numbers_as_failure_rows(bulk):
    df = read_patentsview_bulk(bulk, patents=["US 11,646,472 B2", "US 9,999,999 B2"])
    assert list(df.index) == ["US11646472B2", "US9999999B2"]
    assert df.loc["US9999999B2", "input_errors"].startswith("not in the PatentsView bulk tables")
    assert df.loc["US11646472B2", "input_errors"] == ""
    with pytest.raises(ValueError, match="US patents only"):
        read_patentsview_bulk(bulk, patents=["EP2400812A1"])


def test_missing_table_and_columns_are_named(bulk, tmp_path):
    (bulk / "g_application.tsv.zip").unlink()
    with pytest.raises(BulkFormatError, match="g_application"):
        read_patentsview_bulk(bulk)
    _zip_tsv(bulk / "g_application.tsv.zip", ["application_id", "patent_id"], [["1", "11646472"]])
    with pytest.raises(BulkFormatError, match="filing_date"):
        read_patentsview_bulk(bulk)
