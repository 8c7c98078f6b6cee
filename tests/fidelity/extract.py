"""Re-create `recorded/<version>.json` from ArangoDB's documentation example cache.

    python tests/fidelity/extract.py <docs-hugo git dir> [<version> ...]

Each curl example of an endpoint the stand-in serves becomes a list of steps: the HTTP requests its
arangosh set-up lines stand for (`setup`, derived here; their answers are not compared), then the
recorded requests in order, with the recorded answer for those the example logged. An example whose
set-up this script cannot translate exactly keeps its steps and says why in `untranslated`.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

try:
    from .jsargs import NotLiteral, evaluate, split_args, split_statements
except ImportError:  # run as a script
    from jsargs import NotLiteral, evaluate, split_args, split_statements  # type: ignore[no-redef]

HERE = Path(__file__).parent
# path prefixes (first two segments after /_api or /_admin) the stand-in serves
SERVED = {"collection", "user", "replication", "gharial", "document", "view", "transaction", "query",
          "database", "wal", "job", "index", "analyzer", "token", "cursor", "aqlfunction", "tasks",
          "query-plan-cache", "query-cache", "version", "import", "explain", "engine", "edges",
          "cluster", "time", "status", "statistics", "statistics-description", "server", "log",
          "metrics", "support-info", "routing", "options", "options-description"}
KEPT_HEADERS = ("content-type", "location", "etag")
_CURL = re.compile(r"curl (?P<opts>.*?)'(?P<url>http://localhost:8529[^']*)'(?: <<'EOF'\n(?P<body>.*?)\nEOF)?(?=\n\ncurl |\Z)", re.S)
_CALL = re.compile(r"^(?:(?:(?:var|let|const)\s+)?(?P<var>\w+)\s*=\s*)?(?P<fn>[\w$.\[\]\"'()]+?)\s*\((?P<args>.*)\)$", re.S)
_IGNORED = re.compile(r"^(assert\w*\(|db\._flushCache\(|require\(\"internal\"\)\.wait\(|internal\.(wait|sleep)\(|"
                      r"(var|let|const)\s+\w+\s*=\s*require\(|print\(|console\.)")

_CLEANUP = re.compile(r"^(try\s*\{[^{}]*(remove|_drop\w*)\([^{}]*\}\s*(catch\s*\(\w*\)\s*\{[^{}]*\})?|"
                      r"if\s*\(graph\._exists\([^)]*\)\)\s*\{[^{}]*\})$", re.S)


class Untranslatable(Exception):
    """A set-up line this script cannot turn into HTTP requests exactly."""


def parse_curl(text: str) -> list[dict]:
    requests = []
    for m in _CURL.finditer(text):
        opts = m.group("opts")
        method = re.search(r"-X (\w+)", opts)
        headers = dict(h.split(": ", 1) for h in re.findall(r"--header '([^']*)'", opts))
        headers.pop("accept", None)
        req: dict[str, Any] = {"method": method.group(1) if method else ("HEAD" if "-I" in opts else "GET"),
                               "path": m.group("url")[len("http://localhost:8529"):]}
        if headers:
            req["headers"] = headers
        if m.group("body") is not None:
            req["body"] = m.group("body")
        requests.append(req)
    return requests


def parse_output(text: str) -> list[dict]:
    answers = []
    for chunk in re.split(r"\n\n(?=HTTP/1\.1 \d{3})", text.strip()):
        head, _, body = chunk.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            name = name.lower()
            if (name in KEPT_HEADERS or name.startswith("x-arango-")) and name != "x-arango-queue-time-seconds":
                headers[name] = value
        answers.append({"status": status, "headers": headers, "body": body})
    return answers


class Translator:
    """Walks an example's script: set-up lines become requests, log calls pick the recorded answers."""

    def __init__(self, recorded: list[dict], answers: list[dict]) -> None:
        self.recorded, self.answers = recorded, answers
        self.vars: dict[str, Any] = {}
        self.colls: dict[str, str] = {}  # JS variable -> collection name
        self.responses: dict[str, int] = {}  # JS variable -> step index
        self.steps: list[dict] = []
        self.next_recorded = self.next_answer = 0
        self.db = "_system"
        self.untranslated: str | None = None
        self.placeholders: dict[str, tuple[int, str]] = {}  # marker -> (set-up step, answer field)

    def run(self, script: str) -> None:
        for stmt in split_statements(script.split("\n---\n", 1)[-1]):
            if self.next_recorded == len(self.recorded) and "log" not in stmt:
                continue  # clean-up after the last recorded request
            try:
                self.statement(stmt)
            except (Untranslatable, NotLiteral, IndexError, KeyError) as exc:
                if self.untranslated is None:
                    self.untranslated = f"{stmt[:120]!r} ({type(exc).__name__})"
        if self.next_recorded != len(self.recorded) or self.next_answer != len(self.answers):
            self.untranslated = self.untranslated or "log calls do not pair with the recorded requests"

    def statement(self, stmt: str) -> None:
        if _IGNORED.match(stmt):
            return
        if _CLEANUP.match(stmt):
            return  # removes what a reset stand-in does not have
        m = re.match(r"^(?:(?:var|let|const)\s+)?(\w+)\s*=(?!=)\s*(.*)$", stmt, re.S)
        if m and not _CALL.match(stmt):
            try:
                self.vars[m.group(1)] = evaluate(m.group(2), self.vars)
            except NotLiteral:
                self.vars.pop(m.group(1), None)  # only a set-up line that uses it fails
            return
        call = _CALL.match(stmt)
        if call is None:
            raise Untranslatable(stmt)
        fn, var = call.group("fn"), call.group("var")
        args = split_args(call.group("args"))
        if fn in ("logCurlRequest", "logCurlRequestRaw"):
            recorded = self.recorded[self.next_recorded]
            self.capture(args, recorded)
            self.steps.append({"kind": "recorded", **recorded})
            self.next_recorded += 1
            if var:
                self.responses[var] = len(self.steps) - 1
            return
        if fn.startswith("log") and fn.endswith("Response"):
            step = self.steps[self.responses[args[0]]]
            step["expect"] = self.answers[self.next_answer]
            self.next_answer += 1
            return
        self.arangosh(fn, var, [evaluate(a, self.vars) for a in args] if fn not in _RAW_ARGS else args)

    def made(self, var: str | None, answer_fields: dict[str, str], known: dict[str, Any]) -> None:
        """Let later lines read what the last set-up request made (`doc._id`, `coll.name()`): a
        generated value stands as a placeholder until a recorded request shows the real one."""
        if not var:
            return
        value: dict[str, Any] = dict(known)
        for attr, field in answer_fields.items():
            marker = f"\x00{len(self.placeholders)}\x00"
            self.placeholders[marker] = (len(self.steps) - 1, field)
            value[attr] = marker
        self.vars[var] = value

    def capture(self, args: list[str], recorded: dict) -> None:
        """The real values of placeholders, read off the recorded request's path and headers."""
        pairs = []
        for index, actual in ((1, unquote(recorded["path"])), (3, recorded.get("headers") or {})):
            try:
                pairs.append((evaluate(args[index], self.vars), actual))
            except (NotLiteral, IndexError):
                continue
        for template, actual in pairs:
            if isinstance(template, dict) and isinstance(actual, dict):
                lowered = {k.lower(): v for k, v in actual.items()}
                pairs += [(v, lowered.get(k.lower(), "")) for k, v in template.items()]
            elif isinstance(template, str) and "\x00" in template and isinstance(actual, str):
                parts = re.split("(\x00\\d+\x00)", template)
                pattern = "".join("(.+?)" if p in self.placeholders else re.escape(p) for p in parts)
                m = re.fullmatch(pattern, actual)
                if m:
                    markers = [p for p in parts if p in self.placeholders]
                    for marker, real in zip(markers, m.groups()):
                        step, field = self.placeholders[marker]
                        self.steps[step].setdefault("generated", {})[field] = real

    def setup(self, method: str, path: str, body: Any = None) -> None:
        step: dict[str, Any] = {"kind": "setup", "method": method,
                                "path": self.refer(f"/_db/{quote(self.db)}{path}")}
        if body is not None:
            step["body"] = self.refer(json.dumps(body))
        self.steps.append(step)

    def refer(self, text: str) -> str:
        """Placeholders in a set-up request name the answer they come from: `{{step.field}}`."""
        for marker, (step, field) in self.placeholders.items():
            text = text.replace(quote(marker), marker).replace(json.dumps(marker)[1:-1], marker)
            text = text.replace(marker, f"{{{{{step}.{field}}}}}")
        return text

    def coll_of(self, target: str) -> str:
        m = re.match(r"^db\.(\w+)$|^db\[(.+)\]$|^db\._collection\((.+)\)$", target)
        if m:
            return m.group(1) or evaluate(m.group(2) or m.group(3), self.vars)
        if target in self.colls:
            return self.colls[target]
        raise Untranslatable(target)

    def document_path(self, coll: str, handle: Any) -> str:
        """arangosh takes a key or an _id (`coll/key`) where the HTTP path wants both parts."""
        handle = str(handle)
        is_id = "/" in handle or self.placeholders.get(handle, (0, ""))[1] == "_id"
        return f"/_api/document/{handle}" if is_id else f"/_api/document/{coll}/{quote(handle)}"

    def arangosh(self, fn: str, var: str | None, a: list) -> None:
        if fn in ("db._create", "db._createEdgeCollection", "db._createDocumentCollection"):
            edge = fn == "db._createEdgeCollection" or (len(a) > 2 and a[2] == "edge")
            self.setup("POST", "/_api/collection", {"name": a[0], **(a[1] if len(a) > 1 and a[1] else {}),
                                                    **({"type": 3} if edge else {})})
            if var:
                self.colls[var] = a[0]
            self.made(var, {"_id": "id"}, {"name()": a[0], "name": a[0]})
        elif fn == "db._drop":
            self.setup("DELETE", f"/_api/collection/{quote(a[0])}")
        elif fn == "db._createView":
            self.setup("POST", "/_api/view", {"name": a[0], "type": a[1], **(a[2] if len(a) > 2 else {})})
            self.made(var, {"_id": "id"}, {"name()": a[0], "name": a[0]})
        elif fn == "db._dropView":
            self.setup("DELETE", f"/_api/view/{quote(a[0])}")
        elif fn == "db._createDatabase":
            self.setup("POST", "/_api/database", {"name": a[0], **({"options": a[1]} if len(a) > 1 else {}),
                                                  **({"users": a[2]} if len(a) > 2 else {})})
        elif fn == "db._dropDatabase":
            self.setup("DELETE", f"/_api/database/{quote(a[0])}")
        elif fn == "db._useDatabase":
            self.db = a[0]
        elif fn == "users.save":
            self.setup("POST", "/_api/user", {"user": a[0], "passwd": a[1] if len(a) > 1 else "",
                                              **({"active": a[2]} if len(a) > 2 else {}),
                                              **({"extra": a[3]} if len(a) > 3 else {})})
        elif fn == "users.remove":
            self.setup("DELETE", f"/_api/user/{quote(a[0])}")
        elif fn == "users.grantDatabase":
            self.setup("PUT", f"/_api/user/{quote(a[0])}/database/{quote(a[1])}", {"grant": a[2] if len(a) > 2 else "rw"})
        elif fn == "users.grantCollection":
            self.setup("PUT", f"/_api/user/{quote(a[0])}/database/{quote(a[1])}/{quote(a[2])}",
                       {"grant": a[3] if len(a) > 3 else "rw"})
        elif fn == "analyzers.save":
            self.setup("POST", "/_api/analyzer", {"name": a[0], "type": a[1], **({"properties": a[2]} if len(a) > 2 else {}),
                                                  **({"features": a[3]} if len(a) > 3 else {})})
        elif fn == "examples.loadGraph" and a[0] in SOCIAL:
            self.setup("POST", "/_api/gharial", SOCIAL_GRAPH)
            for coll, doc in SOCIAL[a[0]]:
                self.setup("POST", f"/_api/document/{coll}", doc)
        elif fn == "analyzers.remove":
            self.setup("DELETE", f"/_api/analyzer/{quote(a[0])}")
        else:
            self.collection_call(fn, var, a)

    def collection_call(self, fn: str, var: str | None, a: list) -> None:
        target, _, method = fn.rpartition(".")
        coll = quote(self.coll_of(target))
        if method in ("save", "insert"):
            self.setup("POST", f"/_api/document/{coll}", a[0])
            if isinstance(a[0], dict):
                self.made(var, {f: f for f in ("_id", "_key", "_rev") if f not in a[0]}, a[0])
        elif method == "remove":
            self.setup("DELETE", self.document_path(coll, a[0]))
        elif method in ("update", "replace"):
            self.setup("PATCH" if method == "update" else "PUT", self.document_path(coll, a[0]), a[1])
        elif method == "ensureIndex":
            self.setup("POST", f"/_api/index?collection={coll}", a[0])
            self.made(var, {"id": "id"}, {})
        elif method == "drop":
            self.setup("DELETE", f"/_api/collection/{coll}")
        else:
            raise Untranslatable(fn)


_RAW_ARGS = {"logCurlRequest", "logCurlRequestRaw"}
# ArangoDB's example graph "social" (js/common/modules/@arangodb/graph-examples/example-graph.js)
SOCIAL_GRAPH = {"name": "social", "edgeDefinitions": [
    {"collection": "relation", "from": ["female", "male"], "to": ["female", "male"]}]}
SOCIAL = {"social": [
    ("female", {"_key": "alice", "name": "Alice"}), ("male", {"_key": "bob", "name": "Bob"}),
    ("male", {"_key": "charly", "name": "Charly"}), ("female", {"_key": "diana", "name": "Diana"}),
    ("relation", {"_from": "female/alice", "_to": "male/bob", "type": "married", "_key": "aliceAndBob"}),
    ("relation", {"_from": "female/alice", "_to": "male/charly", "type": "friend", "_key": "aliceAndCharly"}),
    ("relation", {"_from": "male/charly", "_to": "female/diana", "type": "married", "_key": "charlyAndDiana"}),
    ("relation", {"_from": "male/bob", "_to": "female/diana", "type": "friend", "_key": "bobAndDiana"})]}


def examples(cache: dict, version: str) -> list[dict]:
    out = []
    for name, entry in sorted(cache.items()):
        answer = json.loads(base64.b64decode(entry["response"]))
        if not answer.get("input", "").startswith("curl"):
            continue
        recorded = parse_curl(answer["input"])
        if not recorded or not all(_served(r["path"]) for r in recorded):
            continue
        answers = parse_output(answer["output"]) if answer.get("output", "").startswith("HTTP/") else []
        t = Translator(recorded, answers)
        t.run(base64.b64decode(entry["request"]).decode())
        ex = {"name": name, "version": version, "mode": answer["options"].get("type", "single"),
              "source": f"site/data/{version}/cache.json", "steps": t.steps}
        if t.untranslated:
            ex["untranslated"] = t.untranslated
        out.append(ex)
    return out


def _served(path: str) -> bool:
    parts = re.sub(r"^/_db/[^/]+", "", path).split("?")[0].split("/")
    return len(parts) > 2 and parts[1] in ("_api", "_admin") and parts[2] in SERVED


def main(git_dir: str, versions: list[str]) -> None:
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    for version in versions:
        raw = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:site/data/{version}/cache.json"],
                             capture_output=True, check=True).stdout
        exs = examples(json.loads(raw), version)
        head = {"origin": "https://github.com/arangodb/docs-hugo", "commit": commit,
                "file": f"site/data/{version}/cache.json", "license": "Apache-2.0"}
        lines = [json.dumps(head, ensure_ascii=False)] + [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in exs]
        (HERE / "recorded" / f"{version}.jsonl").write_text("\n".join(lines) + "\n")
        print(f"{version}: {len(exs)} examples, {sum('untranslated' in e for e in exs)} with untranslated set-up")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["3.11", "3.12"])
