"""Replay recorded ArangoDB examples against a stand-in and compare what a replicator relies on.

Compared: the status code; the content type; which `x-arango-*` headers are sent (and the values of
those that carry meaning rather than a tick: error codes, checkmore, frompresent); every field name
and JSON type of the body, recursively, with array lengths; and the values of `error`, `errorNum`,
`code` and `type` (marker types, collection and index types). Not compared: every other value — ids,
keys, revisions, ticks, timestamps and sizes differ legitimately between two servers.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

RECORDED = Path(__file__).parent / "recorded"
_EXACT_FIELDS = {"error", "errorNum", "code", "type"}
_EXACT_HEADERS = {"x-arango-error-codes", "x-arango-replication-checkmore", "x-arango-replication-frompresent"}
# fields whose values a server generates: a replayed value replaces the recorded one in later requests
_GENERATED = {"_id", "_key", "_rev", "id", "globallyUniqueId", "cuid", "jobId"}
_GENERATED_HEADERS = ("x-arango-async-id", "x-arango-trx-id")
_TAIL_FROM = re.compile(r"/_api/wal/tail\?(?:.*&)?from=(\d+)")
_GENERATED_NAME = re.compile(r"^(s\d+|\d+|[^/]+/\d+|(PRMR|CRDN|SNGL|AGNT)-[0-9a-f-]+)$")


@dataclass
class Outcome:
    name: str
    version: str
    diffs: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def load(version: str) -> list[dict]:
    lines = (RECORDED / f"{version}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


class Replayer:
    """One stand-in endpoint, reset to a fresh state before each example."""

    def __init__(self, base: str, auth: tuple[str, str]) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.auth = auth

    def _call(self, method: str, path: str, body: str | None = None,
              headers: dict[str, str] | None = None) -> requests.Response:
        return self.http.request(method, self.base + path, data=body.encode() if body is not None else None,
                                 headers=headers, timeout=30, allow_redirects=False)

    def _json(self, path: str) -> Any:
        return self._call("GET", path).json().get("result", [])

    def reset(self) -> None:
        """Back to what a fresh server has: `_system` with its system collections and `root` only."""
        for name in self._json("/_api/database"):
            if name != "_system":
                self._call("DELETE", f"/_api/database/{quote(name)}")
        for graph in self._call("GET", "/_api/gharial").json().get("graphs", []):
            self._call("DELETE", f"/_api/gharial/{quote(graph['_key'])}")
        for view in self._json("/_api/view"):
            self._call("DELETE", f"/_api/view/{quote(view['name'])}")
        for coll in self._json("/_api/collection?excludeSystem=true"):
            self._call("DELETE", f"/_api/collection/{quote(coll['name'])}")
        for analyzer in self._json("/_api/analyzer"):
            if "::" in analyzer["name"]:
                self._call("DELETE", f"/_api/analyzer/{quote(analyzer['name'].split('::', 1)[1])}?force=true")
        for user in self._json("/_api/user"):
            if user["user"] != "root":
                self._call("DELETE", f"/_api/user/{quote(user['user'])}")
        for fn in self._json("/_api/aqlfunction"):
            self._call("DELETE", f"/_api/aqlfunction/{quote(fn['name'])}")

    def run(self, example: dict) -> Outcome:
        self.reset()
        out = Outcome(example["name"], example["version"])
        generated = self._start_tick(example["steps"])
        answers: dict[int, Any] = {}
        for i, step in enumerate(example["steps"]):
            def fill(text: str) -> str:
                return _from_answers(_substitute(text, generated), answers)
            body = fill(step["body"]) if "body" in step else None
            headers = {k: fill(v) for k, v in step.get("headers", {}).items()}
            got = self._call(step["method"], fill(step["path"]), body, headers)
            if step["kind"] == "setup":
                answers[i] = _json_or_none(got)
            if "generated" in step:  # values a set-up request made that later requests name
                answer = answers.get(i) or {}
                made = {real: str(answer[f]) for f, real in step["generated"].items()
                        if isinstance(answer, dict) and f in answer}
                # a document's _id also names its key
                generated |= made | {r.split("/", 1)[1]: g.split("/", 1)[1] for r, g in made.items()
                                     if "/" in r and "/" in g}
            expect = step.get("expect")
            if step["kind"] == "setup" or expect is None:
                continue
            where = f"step {i} {step['method']} {step['path'].split('?')[0]}"
            out.diffs += [f"{where}: {d}" for d in compare(expect, got)]
            _learn(expect, got, generated)
        return out


    def _start_tick(self, steps: list[dict]) -> dict[str, str]:
        """The examples tail the WAL from where the recording server stood when they began, a tick
        that differs per run: recorded tick -> the stand-in's last tick now."""
        for step in steps:
            m = _TAIL_FROM.search(step["path"])
            if m:
                return {m.group(1): self._call("GET", "/_api/wal/lastTick").json()["tick"]}
        return {}


def _json_or_none(got: requests.Response) -> Any:
    try:
        return got.json()
    except ValueError:
        return None


def _from_answers(text: str, answers: dict[int, Any]) -> str:
    """`{{step.field}}` -> that field of a set-up step's answer (see extract.Translator.refer)."""
    def value(m: re.Match) -> str:
        answer = answers.get(int(m.group(1)))
        return str(answer.get(m.group(2), m.group(0))) if isinstance(answer, dict) else m.group(0)
    return re.sub(r"\{\{(\d+)\.(\w+)\}\}", value, text)


def _substitute(text: str, generated: dict[str, str]) -> str:
    for recorded in sorted(generated, key=len, reverse=True):
        text = text.replace(recorded, generated[recorded])
    return text


def _learn(expect: dict, got: requests.Response, generated: dict[str, str]) -> None:
    for name in _GENERATED_HEADERS:
        if name in expect["headers"] and name in got.headers:
            generated[expect["headers"][name]] = got.headers[name]
    try:
        _pairs(parse_body(expect["body"]), parse_body(got.text), generated)
    except ValueError:
        pass


def _pairs(rec: Any, got: Any, generated: dict[str, str]) -> None:
    if isinstance(rec, dict) and isinstance(got, dict):
        for key, value in rec.items():
            if key in _GENERATED and isinstance(value, str) and isinstance(got.get(key), str) and len(value) > 2:
                if value != got[key]:
                    generated[value] = got[key]
            elif key in got:
                _pairs(value, got[key], generated)
    elif isinstance(rec, list) and isinstance(got, list):
        for r, g in zip(rec, got):
            _pairs(r, g, generated)


def parse_body(text: str) -> Any:
    """A JSON body, or the list of values of a JSON-lines body; None when empty."""
    text = text.strip()
    if not text:
        return None
    decoder, values, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return values[0] if len(values) == 1 else values


def compare(expect: dict, got: requests.Response) -> list[str]:
    diffs = []
    if expect["status"] != got.status_code:
        diffs.append(f"status {got.status_code}, recorded {expect['status']}")
    diffs += _header_diffs(expect["headers"], {k.lower(): v for k, v in got.headers.items()})
    media = expect["headers"].get("content-type", "").split(";")[0]
    if media in ("application/json", "application/x-arango-dump"):
        try:
            recorded, replayed = parse_body(expect["body"]), parse_body(got.text)
        except ValueError:
            return diffs + ["body is not JSON"]
        _shape("body", recorded, replayed, diffs)
    return diffs


def _header_diffs(rec: dict[str, str], got: dict[str, str]) -> list[str]:
    diffs = []
    if rec.get("content-type", "").split(";")[0] != got.get("content-type", "").split(";")[0]:
        diffs.append(f"content-type {got.get('content-type')!r}, recorded {rec.get('content-type')!r}")
    names = {n for n in rec if n.startswith("x-arango-")}
    sent = {n for n in got if n.startswith("x-arango-") and n != "x-arango-queue-time-seconds"}
    for name in sorted(names - sent):
        diffs.append(f"header {name} missing")
    for name in sorted(sent - names):
        diffs.append(f"header {name} not sent by ArangoDB")
    for name in sorted(names & sent & _EXACT_HEADERS):
        if _header_value(name, rec[name]) != _header_value(name, got[name]):
            diffs.append(f"header {name}: {got[name]!r}, recorded {rec[name]!r}")
    return diffs


def _header_value(name: str, value: str) -> Any:
    if name == "x-arango-error-codes":
        try:
            return json.loads(value)
        except ValueError:
            return ("unparsable", value)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _shape(path: str, rec: Any, got: Any, diffs: list[str]) -> None:
    if _kind(rec) != _kind(got):
        diffs.append(f"{path}: {_kind(got)}, recorded {_kind(rec)}")
    elif isinstance(rec, dict) and rec and got and all(_GENERATED_NAME.match(k) for k in [*rec, *got]):
        # a map keyed by names the server made (shards, server ids): its size and entries count
        if len(rec) != len(got):
            diffs.append(f"{path}: {len(got)} entries, recorded {len(rec)}")
        for i, (r, g) in enumerate(zip(rec.values(), got.values())):
            _shape(f"{path}<{i}>", r, g, diffs)
    elif isinstance(rec, dict):
        missing, extra = sorted(set(rec) - set(got)), sorted(set(got) - set(rec))
        if missing:
            diffs.append(f"{path}: missing {missing}")
        if extra:
            diffs.append(f"{path}: not in ArangoDB's answer {extra}")
        for key in rec:
            if key in got:
                if key in _EXACT_FIELDS and not isinstance(rec[key], (dict, list)) and rec[key] != got[key]:
                    diffs.append(f"{path}.{key}: {got[key]!r}, recorded {rec[key]!r}")
                _shape(f"{path}.{key}", rec[key], got[key], diffs)
    elif isinstance(rec, list):
        if len(rec) != len(got):
            diffs.append(f"{path}: {len(got)} items, recorded {len(rec)}")
        for i, (r, g) in enumerate(zip(rec, got)):
            _shape(f"{path}[{i}]", r, g, diffs)
