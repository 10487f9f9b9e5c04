"""Model registry: versions, aliases, append-only history, alias-at-date, refusals, CLI."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from nbtrail import cli
from nbtrail.core import db
from nbtrail.core.errors import GateFailed, IntegrityError, NameRefused, NotFound
from nbtrail.core.hashing import hash_file
from nbtrail.practices import registry


def _artifact(ws, name: str, content: bytes) -> tuple[str, str]:
    p = ws.run_dir(f"train-20261126T1200{len(content) % 60:02d}-abcdef") / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    return str(p), hash_file(p)


def _register(ws, content: bytes, name: str = "cancer", verdict=True) -> int:
    path, digest = _artifact(ws, f"{content.hex()[:40]}.skops", content)
    return registry.register_model(
        ws,
        name,
        artifact_path=path,
        digest=digest,
        run_id="train-20261126T120000-abcdef",
        metrics={"roc_auc": 0.99},
        verdict=verdict,
    )


def test_versions_number_up_and_same_bytes_are_one_version(ws):
    assert _register(ws, b"model one") == 1
    assert _register(ws, b"model two") == 2
    assert _register(ws, b"model one") == 1
    assert _register(ws, b"other", name="fraud") == 1
    rows = registry.list_versions(ws, "cancer")
    assert [r["version"] for r in rows] == [2, 1]
    assert rows[0]["metrics"] == {"roc_auc": 0.99} and rows[0]["verdict"] == "passed"
    assert not rows[0]["artifact_path"].startswith("/")  # stored relative to the root


def test_register_refuses_a_digest_that_does_not_match(ws):
    path, _ = _artifact(ws, "m.skops", b"bytes")
    with pytest.raises(IntegrityError):
        registry.register_model(
            ws,
            "cancer",
            artifact_path=path,
            digest="0" * 64,
            run_id=None,
            metrics=None,
            verdict=None,
        )
    with pytest.raises(NameRefused):
        registry.register_model(
            ws,
            "../evil",
            artifact_path=path,
            digest=hash_file(path),
            run_id=None,
            metrics=None,
            verdict=None,
        )


def test_alias_at_date_follows_the_history(ws):
    for content in (b"v1", b"v2", b"v3"):
        _register(ws, content)
    e1 = registry.promote(ws, "cancer", 1, "champion", "first model")
    e2 = registry.promote(ws, "cancer", 2, "champion", "A/B: challenger won")
    e3 = registry.promote(ws, "cancer", 3, "challenger", "new candidate")
    e4 = registry.promote(ws, "cancer", 3, "champion", "A/B: challenger won again")
    assert (e1["from_version"], e2["from_version"], e4["from_version"]) == (None, 1, 2)

    before = datetime.fromisoformat(e1["at"]) - timedelta(microseconds=1)
    assert registry.alias_at(ws, "cancer", "champion", before) is None
    assert registry.alias_at(ws, "cancer", "champion", e1["at"]) == 1
    assert registry.alias_at(ws, "cancer", "champion", e2["at"]) == 2
    assert registry.alias_at(ws, "cancer", "champion", e3["at"]) == 2
    assert registry.alias_at(ws, "cancer", "champion", e4["at"]) == 3
    today = datetime.now(UTC).date()
    assert registry.alias_at(ws, "cancer", "champion", today.isoformat()) == 3  # end of day
    assert registry.alias_at(ws, "cancer", "champion", today - timedelta(days=1)) is None

    h = registry.history(ws, "cancer", at=e2["at"])
    assert [e["to_version"] for e in h["events"]] == [1, 2]
    assert h["held"] == {"champion": 2}
    full = registry.history(ws, "cancer")
    assert [(e["alias"], e["from_version"], e["to_version"]) for e in full["events"]] == [
        ("champion", None, 1),
        ("champion", 1, 2),
        ("challenger", None, 3),
        ("champion", 2, 3),
    ]
    assert full["events"][1]["reason"] == "A/B: challenger won"
    assert registry.resolve(ws, "cancer@champion")["version"] == 3
    assert registry.resolve(ws, "cancer@champion")["aliases"] == ["challenger", "champion"]


def test_history_is_append_only(ws):
    _register(ws, b"v1")
    _register(ws, b"v2")
    registry.promote(ws, "cancer", 1, "production", "go live")
    again = registry.promote(ws, "cancer", 1, "production", "same again")
    assert again["moved"] is False  # re-promoting the holder appends nothing
    registry.promote(ws, "cancer", 2, "production", "upgrade")
    con = db.connect(ws.index_path)
    try:
        before = [tuple(r) for r in con.execute("SELECT * FROM registry_alias_events ORDER BY id")]
        assert len(before) == 2
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("UPDATE registry_alias_events SET to_version = 1")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("DELETE FROM registry_alias_events")
        registry.promote(ws, "cancer", 1, "production", "rollback")
        after = [tuple(r) for r in con.execute("SELECT * FROM registry_alias_events ORDER BY id")]
    finally:
        con.close()
    assert after[:2] == before and len(after) == 3
    assert after[2][3:6] == ("production", 2, 1)


def test_promote_refuses_tampered_artifacts_and_failed_evaluations(ws):
    _register(ws, b"good")
    entry = registry.resolve(ws, "cancer@1")
    (ws.root / entry["artifact_path"]).write_bytes(b"evil")
    with pytest.raises(IntegrityError) as info:
        registry.promote(ws, "cancer", 1, "champion", "")
    assert entry["artifact_path"] in str(info.value)
    _register(ws, b"bad model", verdict=False)
    with pytest.raises(GateFailed, match="evaluation failed"):
        registry.promote(ws, "cancer", 2, "champion", "")
    assert registry.history(ws, "cancer")["events"] == []


def test_resolve_refs_and_bad_aliases(ws):
    _register(ws, b"a")
    _register(ws, b"b")
    assert registry.resolve(ws, "cancer")["version"] == 2
    assert registry.resolve(ws, "cancer@latest")["version"] == 2
    assert registry.resolve(ws, "cancer@1")["version"] == 1
    with pytest.raises(NotFound):
        registry.resolve(ws, "cancer@champion")
    with pytest.raises(NotFound):
        registry.resolve(ws, "cancer@7")
    with pytest.raises(NotFound):
        registry.resolve(ws, "nope")
    for alias in ("3", "latest", "../x", "a b"):
        with pytest.raises(NameRefused):
            registry.promote(ws, "cancer", 1, alias, "")


def test_cli_promote_list_history(ws, capsys):
    _register(ws, b"a")
    _register(ws, b"b")
    root = str(ws.root)
    assert (
        cli.main(["-C", root, "promote", "cancer@1", "--alias", "champion", "--reason", "first"])
        == 0
    )
    assert cli.main(["-C", root, "promote", "cancer@2", "--alias", "champion"]) == 0
    capsys.readouterr()
    assert cli.main(["-C", root, "registry", "list"]) == 0
    listing = capsys.readouterr().out
    assert "champion" in listing.splitlines()[1] and " 2 " in listing.splitlines()[1]
    assert (
        cli.main(
            [
                "-C",
                root,
                "registry",
                "history",
                "cancer",
                "--at",
                datetime.now(UTC).date().isoformat(),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "first" in out and "champion = cancer@2" in out
    assert (
        cli.main(["-C", root, "promote", "cancer@9", "--alias", "champion"]) == NotFound.exit_code
    )
    assert "no model version cancer@9" in capsys.readouterr().err
    assert cli.main(["-C", root, "export", "cancer@champion", str(ws.root / "out")]) == 9
    assert cli.main(["-C", root, "registry", "history", "cancer", "--at", "last week"]) == 3
    assert "not a date or time" in capsys.readouterr().err


def test_promote_refuses_a_tampered_export_bundle(ws):
    from nbtrail.practices import export

    _register(ws, b"model")
    folder = export.bundle_dir(ws, "cancer", 1)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx bytes")
    (folder / "bundle.json").write_text("{}")
    registry.set_bundle(ws, "cancer", 1, export.write_manifest(folder))
    registry.promote(ws, "cancer", 1, "challenger", "bundle verified")
    (folder / "model.onnx").write_bytes(b"other bytes")
    with pytest.raises(IntegrityError) as info:
        registry.promote(ws, "cancer", 1, "production", "")
    assert info.value.facts["file"] == "model.onnx"
    assert registry.history(ws, "cancer")["held"] == {"challenger": 1}


def test_concurrent_registrations_get_distinct_versions(ws):
    from concurrent.futures import ThreadPoolExecutor

    contents = [f"model {i}".encode() for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = list(pool.map(lambda c: _register(ws, c), contents))
    assert sorted(versions) == list(range(1, 9))


def _drop_index(ws) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = ws.index_path.with_name(ws.index_path.name + suffix)
        p.unlink(missing_ok=True)


def _answers(ws, capsys) -> tuple:
    """Everything the registry says about 'cancer': library and CLI."""
    root = str(ws.root)
    capsys.readouterr()
    assert cli.main(["-C", root, "registry", "history", "cancer"]) == 0
    assert cli.main(["-C", root, "registry", "list"]) == 0
    cli_out = capsys.readouterr().out
    first = registry.history(ws, "cancer")["events"][0]["at"]
    return (
        registry.history(ws, "cancer"),
        registry.history(ws, "cancer", at=first),
        registry.list_versions(ws),
        registry.alias_at(ws, "cancer", "champion", first),
        registry.resolve(ws, "cancer@champion"),
        cli_out,
    )


def test_history_survives_deleting_the_index_and_index_rebuild(ws, capsys):
    for content in (b"v1", b"v2", b"v3"):
        _register(ws, content)
    registry.promote(ws, "cancer", 1, "champion", "first")
    registry.promote(ws, "cancer", 2, "champion", "better")
    registry.promote(ws, "cancer", 2, "production", "go live")
    registry.promote(ws, "cancer", 3, "champion", "A/B won")
    registry.set_bundle(ws, "cancer", 3, "ab" * 32)
    before = _answers(ws, capsys)
    assert ws.registry_log.is_file()
    assert len(before[0]["events"]) == 4 and before[2][0]["bundle_digest"] == "ab" * 32

    _drop_index(ws)  # reads rebuild the cache from the log transparently
    assert _answers(ws, capsys) == before

    _drop_index(ws)
    assert cli.main(["-C", str(ws.root), "index", "rebuild"]) == 0
    assert "8 registry event(s) in workspace/registry/events.jsonl" in capsys.readouterr().out
    assert _answers(ws, capsys) == before
    assert cli.main(["-C", str(ws.root), "index", "rebuild"]) == 0  # with the index present
    assert _answers(ws, capsys) == before
    assert _register(ws, b"v4") == 4  # numbering carries on from the log


def test_a_torn_last_line_of_the_log_is_skipped(ws, capsys):
    _register(ws, b"v1")
    _register(ws, b"v2")
    registry.promote(ws, "cancer", 1, "champion", "first")
    before = _answers(ws, capsys)
    with open(ws.registry_log, "ab") as f:
        f.write(b'{"type":"alias","at":"2026-')  # a writer died mid-line
    assert _answers(ws, capsys) == before
    _drop_index(ws)
    assert _answers(ws, capsys) == before
    registry.promote(ws, "cancer", 2, "champion", "after the crash")
    assert [e["to_version"] for e in registry.history(ws, "cancer")["events"]] == [1, 2]
    _drop_index(ws)
    assert registry.resolve(ws, "cancer@champion")["version"] == 2
    lines = ws.registry_log.read_bytes().split(b"\n")
    assert lines[-1] == b"" and b'"at":"2026-' in lines[-3]  # the fragment stays on its own line


def test_tables_from_before_the_log_are_copied_into_it(ws, capsys):
    _register(ws, b"v1")
    registry.promote(ws, "cancer", 1, "champion", "first")
    before = _answers(ws, capsys)
    ws.registry_log.unlink()  # as a workspace written before the log existed
    con = db.connect(ws.index_path)
    con.execute("DELETE FROM log_offsets WHERE log = 'registry'")
    con.close()
    assert _answers(ws, capsys) == before
    assert len(ws.registry_log.read_text().splitlines()) == 2
    _drop_index(ws)
    assert _answers(ws, capsys) == before


_WRITER = """
import sys
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.practices import registry
from pathlib import Path
ws, tag = Workspace(Path(sys.argv[1])), sys.argv[2]
for i in range(6):
    p = ws.root / f"{tag}-{i}.bin"
    p.write_bytes(f"{tag} {i}".encode())
    v = registry.register_model(ws, "cancer", artifact_path=p, digest=hash_file(p),
                                run_id=None, metrics={"i": i}, verdict=True)
    registry.promote(ws, "cancer", v, f"alias-{tag}", f"{tag} {i}")
"""


def test_concurrent_appends_from_two_processes_lose_nothing(ws):
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(ws.root), tag]) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = ws.registry_log.read_text().splitlines()
    assert len(lines) == 24 and all(line.startswith("{") for line in lines)
    versions = registry.list_versions(ws, "cancer")
    assert sorted(v["version"] for v in versions) == list(range(1, 13))
    events = registry.history(ws, "cancer")["events"]
    assert len(events) == 12
    _drop_index(ws)
    assert registry.history(ws, "cancer")["events"] == events
