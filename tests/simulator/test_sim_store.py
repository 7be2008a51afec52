"""The simulator's files: a request's writes reach the disk once, when its lock ends."""

from __future__ import annotations

from pathlib import Path

from reconciler.simulator.store import Store


def test_ids_handed_out_in_one_request_are_written_once_before_the_lock_is_let_go(
    tmp_path: Path,
) -> None:
    store, other_process = Store(tmp_path), Store(tmp_path)
    meta = tmp_path / "meta.json"
    with store.locked():
        ids = [store.next_id("asset") for _ in range(10)]
        assert not meta.exists()  # ten ids, no file written yet ...
    assert ids == list(range(100_001, 100_011))
    with other_process.locked():  # ... and all of it on disk for whoever locks next
        assert other_process.next_id("asset") == 100_011
    with store.locked():
        assert store.next_id("asset") == 100_012  # it reads what the other wrote


def test_a_failed_request_reads_back_what_it_wrote_not_what_it_changed_after(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    with store.locked():
        store.write("controls.json", {"latency": 1})
        written = store.read("controls.json")
        written["latency"] = 99  # changed in memory, never written
        store.invalidate()  # the engine does this when a handler fails
        assert store.read("controls.json") == {"latency": 1}
    assert Store(tmp_path).read("controls.json") == {"latency": 1}


def test_a_request_log_line_still_being_appended_is_read_once_it_is_whole(
    tmp_path: Path,
) -> None:
    """A test or the benchmark reads the log while the server (another process) appends
    to it: a line caught half-written is not an error, it is read next time."""
    store = Store(tmp_path)
    store.append_log({"kind": "import", "status": 200})
    log = tmp_path / "requests.jsonl"
    whole = log.read_bytes()
    with log.open("ab") as f:
        f.write(b'{"kind":"import_st')
    assert store.read_log() == [{"kind": "import", "status": 200}]
    log.write_bytes(whole + b'{"kind":"import_status","status":200}\n')
    assert [e["kind"] for e in store.read_log()] == ["import", "import_status"]
