"""Just enough JavaScript to read the arangosh set-up lines of ArangoDB's documentation examples.

The examples prepare their state with arangosh calls (`db._create("c")`, `db.c.save({...})`), not
with HTTP; `extract.py` turns the simple, literal ones into the HTTP requests they stand for. A line
this module cannot read exactly raises `NotLiteral`, so no example is replayed with a guessed set-up.
"""
from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
                    r"""|(?P<name>[A-Za-z_$][\w$]*)|(?P<punct>[{}\[\](),:+.]))""", re.S)


class NotLiteral(ValueError):
    """The text is not a literal (or a known variable) this reader can evaluate exactly."""


def split_statements(js: str) -> list[str]:
    """Top-level statements of a script, split on `;` and line ends outside brackets and strings."""
    out, depth, cur, quote, i = [], 0, [], "", 0
    while i < len(js):
        ch = js[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(js):
                cur.append(js[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
            cur.append(ch)
        elif ch == "/" and js[i:i + 2] == "//":
            while i < len(js) and js[i] != "\n":
                i += 1
            continue
        elif ch in "([{":
            depth += 1
            cur.append(ch)
        elif ch in ")]}":
            depth -= 1
            cur.append(ch)
        elif (ch == ";" or (ch == "\n" and not _continues(cur, js, i))) and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur).strip())
    return [s for s in out if s]


def _continues(cur: list[str], js: str, i: int) -> bool:
    """A statement goes on past a line end when the line ends or the next begins with an operator."""
    before = "".join(cur).rstrip()
    after = js[i + 1:].lstrip()
    return before.endswith(("+", "=", ",", "(")) or after.startswith(("+", ".", "?", ":"))


def evaluate(text: str, variables: dict[str, Any]) -> Any:
    """The value of a JS literal expression: objects, arrays, strings, numbers, `+` of strings."""
    tokens = [m for m in _TOKEN.finditer(text)]
    if "".join(m.group(0) for m in tokens).strip() != text.strip() or not tokens:
        raise NotLiteral(text)
    value, pos = _expr([t for t in tokens], 0, variables)
    if pos != len(tokens):
        raise NotLiteral(text)
    return value


def _expr(toks: list, pos: int, vs: dict[str, Any]) -> tuple[Any, int]:
    value, pos = _atom(toks, pos, vs)
    while pos < len(toks) and toks[pos].group("punct") == "+":
        right, pos = _atom(toks, pos + 1, vs)
        if not isinstance(value, (str, int, float)) or not isinstance(right, (str, int, float)):
            raise NotLiteral("+")
        value = str(value) + str(right) if isinstance(value, str) or isinstance(right, str) else value + right
    return value, pos


def _atom(toks: list, pos: int, vs: dict[str, Any]) -> tuple[Any, int]:
    if pos >= len(toks):
        raise NotLiteral("end")
    t = toks[pos]
    if t.group("str"):
        raw = t.group("str")
        if raw[0] == "'":
            raw = '"' + re.sub(r'(?<!\\)"', '\\"', raw[1:-1].replace("\\'", "'")) + '"'
        return json.loads(raw, strict=False), pos + 1
    if t.group("num"):
        return json.loads(t.group("num")), pos + 1
    if t.group("name"):
        name = t.group("name")
        if name in ("true", "false", "null"):
            return json.loads(name), pos + 1
        if name not in vs:
            raise NotLiteral(name)
        value, pos = vs[name], pos + 1
        # attribute reads (`doc._id`, `coll.name()`) of objects the set-up made
        while pos + 1 < len(toks) and toks[pos].group("punct") == "." and toks[pos + 1].group("name"):
            attr, pos = toks[pos + 1].group("name"), pos + 2
            if pos + 1 < len(toks) and toks[pos].group("punct") == "(" and toks[pos + 1].group("punct") == ")":
                attr, pos = attr + "()", pos + 2
            if not isinstance(value, dict) or attr not in value:
                raise NotLiteral(f"{name}.{attr}")
            value = value[attr]
        return value, pos
    p = t.group("punct")
    if p == "{":
        return _object(toks, pos + 1, vs)
    if p == "[":
        items, pos = [], pos + 1
        while toks[pos].group("punct") != "]":
            item, pos = _expr(toks, pos, vs)
            items.append(item)
            if toks[pos].group("punct") == ",":
                pos += 1
        return items, pos + 1
    if p == "(":
        value, pos = _expr(toks, pos + 1, vs)
        if toks[pos].group("punct") != ")":
            raise NotLiteral(")")
        return value, pos + 1
    raise NotLiteral(p or "?")


def _object(toks: list, pos: int, vs: dict[str, Any]) -> tuple[dict, int]:
    obj: dict[str, Any] = {}
    while toks[pos].group("punct") != "}":
        key_tok = toks[pos]
        key = evaluate(key_tok.group("str"), {}) if key_tok.group("str") else key_tok.group("name")
        if key is None or toks[pos + 1].group("punct") != ":":
            raise NotLiteral("key")
        obj[key], pos = _expr(toks, pos + 2, vs)
        if toks[pos].group("punct") == ",":
            pos += 1
    return obj, pos + 1


def split_args(text: str) -> list[str]:
    """The top-level comma-separated arguments of a call's argument text."""
    args, depth, cur, quote = [], 0, [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote and (not cur or cur[-1] != "\\") else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args
