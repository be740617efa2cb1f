"""Provenance: collection facts from records, file and folder hashes as dvc.lock records them, versions."""

import hashlib
import json

from conftest import make_dilemma_record, make_record
from llmvalues.provenance import directory_md5, file_md5, package_versions, path_md5, summarize_records


def test_summary_counts_ids_and_dates():
    records = [
        make_record("m", 1, item=1, requested_at="2026-03-02T10:00:00.000Z", received_at="2026-03-02T10:00:01.000Z",
                    model_returned="m-2026-01"),
        make_record("m", 1, item=2, requested_at="2026-03-01T09:00:00.000Z", received_at="2026-03-01T09:00:02.000Z",
                    model_returned="m-2026-02"),
        make_dilemma_record("m", 1, "d01", requested_at="2026-03-04T08:00:00.000Z",
                            received_at="2026-03-04T08:00:05.000Z", model_returned="m-2026-02"),
    ]
    records[2]["sampling"] = {"temperature": 1.0}
    summary = summarize_records(records)
    assert summary["records"] == 3
    assert summary["batteries"] == {"dilemmas": 1, "pvq": 2}
    assert summary["models_returned"] == {"m-2026-01": 1, "m-2026-02": 2}
    assert summary["first_requested_at"] == "2026-03-01T09:00:00.000Z"
    assert summary["last_received_at"] == "2026-03-04T08:00:05.000Z"
    assert len(summary["sampling"]) == 2
    assert {"temperature": 1.0} in summary["sampling"]


def test_summary_of_no_records_and_missing_ids():
    empty = summarize_records([])
    assert empty["records"] == 0
    assert empty["first_requested_at"] is None
    record = make_record("m", 1, item=1, model_returned=None, requested_at=None, received_at=None)
    summary = summarize_records([record])
    assert summary["models_returned"] == {"unknown": 1}
    assert summary["first_requested_at"] is None


def test_file_hash_is_the_md5_of_the_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"line\r\n")
    assert file_md5(path) == hashlib.md5(b"line\r\n").hexdigest()
    assert path_md5(path) == file_md5(path)


def test_directory_hash_follows_dvc(tmp_path):
    # DVC 3 hashes the sorted listing of {"md5", "relpath"} objects (relative paths with "/").
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.csv").write_text("b\n")
    (tmp_path / "sub" / "a.csv").write_text("a\n")
    (tmp_path / "sub" / "__pycache__").mkdir()
    (tmp_path / "sub" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    listing = [{"md5": hashlib.md5(b"b\n").hexdigest(), "relpath": "b.csv"},
               {"md5": hashlib.md5(b"a\n").hexdigest(), "relpath": "sub/a.csv"}]
    expected = hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"
    assert directory_md5(tmp_path) == expected
    assert path_md5(tmp_path) == expected


def test_directory_hash_matches_the_lock_file():
    # The committed dvc.lock records the prompts folder, a dependency of every collect stage.
    from conftest import PROJECT_ROOT
    import yaml

    lock = yaml.safe_load((PROJECT_ROOT / "dvc.lock").read_text(encoding="utf-8"))
    recorded = {entry["path"]: entry["md5"] for stage in lock["stages"].values() for entry in stage.get("deps", [])}
    assert directory_md5(PROJECT_ROOT / "llmvalues" / "prompts") == recorded["llmvalues/prompts"]


def test_versions_name_python_and_missing_packages():
    versions = package_versions(["numpy", "a-package-that-is-not-installed"])
    assert versions["python"].count(".") == 2
    assert versions["numpy"][0].isdigit()
    assert versions["a-package-that-is-not-installed"] == "not installed"
