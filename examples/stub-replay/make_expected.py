#!/usr/bin/env python3
"""Recomputes expected_replay.json from run_record.json without gait (Python 3, standard library).

The expectation follows CONTRACTS §1.2, not gait's output: a recorded result replays as `recorded` with
its result digest (sha256 of the RFC 8785 form of the result); an intent without a result gets a stub
whose type comes from its tool name and whose digest is
sha256("<run_id>:<intent_id>:<lower(tool)>:<lower(args_digest)>:<stub_type>").
"""
import hashlib
import json
import pathlib

here = pathlib.Path(__file__).parent


def jcs(value):
    # Enough of RFC 8785 for this input: sorted keys, no spaces, integers only, ASCII keys.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def digest(value):
    return hashlib.sha256(jcs(value).encode()).hexdigest()


def stub_type(tool):
    t = tool.lower()
    for words, kind in ((("http", "fetch", "url"), "http"), (("file", "path", "fs", "write"), "file"),
                        (("db", "sql", "query", "table"), "db"), (("queue", "topic", "publish", "kafka"), "queue")):
        if any(w in t for w in words):
            return kind
    return None


record = json.loads((here / "run_record.json").read_text())
run_id = record["run"]["run_id"]
results = {r["intent_id"]: r for r in record["results"]}
steps = []
for intent in record["intents"]:
    iid, tool = intent["intent_id"], intent["tool_name"]
    if iid in results:
        r = results[iid]
        steps.append({"execution": "recorded", "intent_id": iid, "result_digest": digest(r["result"]),
                      "status": r["status"], "tool_name": tool})
    else:
        kind = stub_type(tool)
        pre = f"{run_id}:{iid}:{tool.lower()}:{digest(intent['args']).lower()}:{kind}"
        steps.append({"execution": "stubbed", "intent_id": iid,
                      "result_digest": hashlib.sha256(pre.encode()).hexdigest(), "status": "ok",
                      "stub_type": kind, "tool_name": tool})
expected = {"mode": "stub", "ok": True, "run_id": run_id, "steps": steps}
(here / "expected_replay.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
