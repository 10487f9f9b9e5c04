"""OpenLineage events: valid against the spec (offline, local schema files), to file and HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
from _records import Factory
from referencing import Registry, Resource

from nbtrail.runs import openlineage as ol

# The OpenLineage 2-0-2 schemas, vendored (tests/schemas/README.md): never skipped, never fetched.
SCHEMAS = Path(__file__).resolve().parent / "schemas" / "openlineage"


@pytest.fixture(scope="module")
def validators() -> tuple[jsonschema.Draft202012Validator, dict[str, jsonschema.Validator]]:
    """The event validator and one validator per facet schema, $refs resolved locally."""
    assert (SCHEMAS / "OpenLineage.json").is_file(), f"OpenLineage schema missing at {SCHEMAS}"
    docs = [json.loads((SCHEMAS / "OpenLineage.json").read_text())]
    facet_files = sorted((SCHEMAS / "facets").glob("*.json"))
    assert facet_files, f"no facet schemas in {SCHEMAS / 'facets'}"
    docs += [json.loads(f.read_text()) for f in facet_files]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)
    fmt = jsonschema.Draft202012Validator.FORMAT_CHECKER
    main = jsonschema.Draft202012Validator(docs[0], registry=registry, format_checker=fmt)
    facets = {}
    for d in docs[1:]:
        (key,) = d["properties"]  # each facet schema wraps its facet under its key
        facets[key] = jsonschema.Draft202012Validator(d, registry=registry, format_checker=fmt)
    return main, facets


def check(event: dict, validators) -> None:
    """Validate the event and every standard facet in it against its own schema."""
    main, facets = validators
    main.validate(event)
    containers = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    containers += [d.get("facets", {}) for d in event["inputs"] + event["outputs"]]
    checked = 0
    for container in containers:
        for key, facet in container.items():
            if key in facets:
                facets[key].validate({key: facet})
                checked += 1
    assert checked > 0


def test_validator_rejects_a_broken_event(ws, validators) -> None:
    """The schema check can fail: a bad runId, a missing job name, a bad facet are caught."""
    rec = Factory(ws).chain(write=False)["train"]
    good = ol.run_event(ws, rec)
    check(good, validators)
    for breaking in (
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e["job"].pop("name"),
        lambda e: e["inputs"][0]["facets"]["version"].pop("datasetVersion"),
        lambda e: e["job"]["facets"]["jobType"].pop("integration"),
    ):
        bad = json.loads(json.dumps(good))
        breaking(bad)
        with pytest.raises(jsonschema.ValidationError):
            check(bad, validators)


def test_start_then_complete_events_to_file(ws, validators) -> None:
    f = Factory(ws)
    chain = f.chain(write=False)
    rec = chain["evaluate"]
    start = dict(rec, status="running", ended=None, outputs={}, metrics={})
    cfg = ol.config(ws, environ={})
    assert ol.emit_run(ws, start, cfg=cfg) == []
    assert ol.emit_run(ws, rec, cfg=cfg) == []
    events = ol.read_events(ol.default_file(ws))
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for e in events:
        check(e, validators)
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert events[1]["job"] == events[0]["job"] | {"facets": events[1]["job"]["facets"]}
    assert events[1]["job"]["name"] == "evaluate"
    inputs = {(d["name"], d["facets"]["version"]["datasetVersion"]) for d in events[1]["inputs"]}
    assert ("datasets/snapshot", "1") in inputs
    model = chain["train"]["outputs"]["model"]
    assert (model["path"], model["digest"]) in inputs
    outputs = [d["name"] for d in events[1]["outputs"]]
    assert outputs == [rec["outputs"]["report"]["path"]]
    assert events[1]["run"]["facets"]["nbtrail"]["metrics"]["roc_auc"] == rec["metrics"]["roc_auc"]


def test_fail_event_carries_the_error(ws, validators) -> None:
    rec = Factory(ws).record("train", status="failed", params={"C": 1.0})
    event = ol.run_event(ws, rec)
    check(event, validators)
    assert event["eventType"] == "FAIL"
    assert event["run"]["facets"]["errorMessage"]["message"] == "ValueError: boom"
    interrupted = ol.run_event(ws, dict(rec, status="interrupted", error=None))
    check(interrupted, validators)
    assert interrupted["eventType"] == "ABORT"


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers.get("Authorization"), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_events_posted_to_http_endpoint(ws, validators, collector) -> None:
    rec = Factory(ws).chain(write=False)["train"]
    host, port = collector.server_address
    cfg = ol.config(
        ws, environ={"OPENLINEAGE_URL": f"http://{host}:{port}/", "OPENLINEAGE_API_KEY": "k1"}
    )
    start = dict(rec, status="running", ended=None, outputs={})
    assert ol.emit_run(ws, start, cfg=cfg) == []
    assert ol.emit_run(ws, rec, cfg=cfg) == []
    assert [p for p, _, _ in collector.received] == ["/api/v1/lineage"] * 2
    assert {a for _, a, _ in collector.received} == {"Bearer k1"}
    posted = [json.loads(b) for _, _, b in collector.received]
    assert [e["eventType"] for e in posted] == ["START", "COMPLETE"]
    for e in posted:
        check(e, validators)
    # the same events went to the file too
    assert ol.read_events(ol.default_file(ws)) == posted


def test_unreachable_endpoint_is_reported_not_raised(ws, collector) -> None:
    host, port = collector.server_address
    collector.shutdown()
    collector.server_close()
    rec = Factory(ws).chain(write=False)["data"]
    cfg = ol.config(ws, environ={"OPENLINEAGE_URL": f"http://{host}:{port}"})
    problems = ol.emit_run(ws, rec, cfg=cfg)
    assert len(problems) == 1 and "unreachable" in problems[0]
    assert len(ol.read_events(ol.default_file(ws))) == 1


def test_disabled_emits_nothing(ws) -> None:
    rec = Factory(ws).chain(write=False)["data"]
    cfg = ol.config(ws, environ={"OPENLINEAGE_DISABLED": "true"})
    assert ol.emit_run(ws, rec, cfg=cfg) == []
    assert not ol.default_file(ws).exists()
