"""Tokens of AQL, as ArangoDB's lexer (arangod/Aql/tokens.ll) cuts a query."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .aql_errors import parse_error

KEYWORDS = frozenset("""FOR LET FILTER RETURN COLLECT SORT LIMIT WINDOW ASC DESC IN WITH INTO
    AGGREGATE GRAPH SHORTEST_PATH K_SHORTEST_PATHS K_PATHS ALL_SHORTEST_PATHS DISTINCT REMOVE
    INSERT UPDATE REPLACE UPSERT NULL TRUE FALSE NOT AND OR LIKE OUTBOUND INBOUND ANY ALL
    NONE""".split())

# Display names as ArangoDB's grammar reports them in "unexpected ..." messages.
_KEYWORD_NAMES = {"FOR": "FOR declaration", "LET": "LET declaration", "FILTER": "FILTER declaration",
                  "RETURN": "RETURN declaration", "COLLECT": "COLLECT declaration",
                  "SORT": "SORT declaration", "LIMIT": "LIMIT declaration",
                  "WINDOW": "WINDOW declaration", "DISTINCT": "DISTINCT modifier",
                  "REMOVE": "REMOVE command", "INSERT": "INSERT command",
                  "UPDATE": "UPDATE command", "REPLACE": "REPLACE command",
                  "UPSERT": "UPSERT command", "NULL": "null", "TRUE": "true", "FALSE": "false",
                  "NOT": "not operator", "AND": "and operator", "OR": "or operator",
                  "LIKE": "like operator"}

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<double>(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+))
  | (?P<int>0[xX][0-9a-fA-F]+|0[bB][01]+|0|[1-9][0-9]*)
  | (?P<name>[a-zA-Z][_a-zA-Z0-9]*|_+[a-zA-Z]+[_a-zA-Z0-9]*)
  | (?P<quoted>`(?:[^`\\]|\\.)*`|´(?:[^´\\]|\\.)*´)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<dsparam>@@_*[a-zA-Z0-9][a-zA-Z0-9_]*)
  | (?P<param>@_*[a-zA-Z0-9][a-zA-Z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=~|!~|::|\.\.|[<>=!.,:?()\[\]{}+\-*/%])
""", re.VERBOSE | re.DOTALL)

_OPERATOR_TOKENS = frozenset(["==", "!=", "<", "<=", ">", ">=", "&&", "||", "=~", "!~", "!",
                              "+", "-", "*", "/", "%", "NOT IN"])
_NOT_IN_RE = re.compile(r"\s+(?i:IN)(?![_a-zA-Z0-9])")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # kw, name, string, int, double, param, dsparam, op, end
    value: Any
    pos: int


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    # \uD83D\uDE00 pairs arrive as two surrogates; join them into one character.
    return s.encode("utf-16", "surrogatepass").decode("utf-16") if re.search("[\ud800-\udfff]", s) else s


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None:
            raise parse_error(f"syntax error, unexpected character {query[pos]!r}{near(query, pos)}")
        kind, text = m.lastgroup, m.group()
        end = m.end()
        if kind == "ws":
            pass
        elif kind == "name" and text.upper() in KEYWORDS:
            word = text.upper()
            nxt = _NOT_IN_RE.match(query, end) if word == "NOT" else None
            if nxt:  # the lexer reads "NOT IN" as one operator, as ArangoDB's does
                tokens.append(Token("op", "NOT IN", pos))
                end = nxt.end()
            else:
                tokens.append(Token("kw", word, pos))
        elif kind in ("name", "quoted"):
            tokens.append(Token("name", text if kind == "name" else _unescape(text[1:-1]), pos))
        elif kind == "string":
            tokens.append(Token("string", _unescape(text[1:-1]), pos))
        elif kind == "int":
            base = {"x": 16, "b": 2}.get(text[1:2].lower(), 10)
            tokens.append(Token("int", int(text[2:] if base != 10 else text, base), pos))
        elif kind == "double":
            tokens.append(Token("double", float(text), pos))
        elif kind == "dsparam":
            tokens.append(Token("dsparam", text[1:], pos))  # bind key keeps one '@': "@coll"
        elif kind == "param":
            tokens.append(Token("param", text[1:], pos))
        else:
            tokens.append(Token("op", text, pos))
        pos = end
    tokens.append(Token("end", None, len(query)))
    return tokens


def near(query: str, pos: int) -> str:
    line = query.count("\n", 0, pos) + 1
    col = pos - (query.rfind("\n", 0, pos) + 1) + 1
    region = query[pos:pos + 32] + ("..." if len(query) - pos > 32 else "")
    return f" near '{region}' at position {line}:{col}"


def describe(t: Token) -> str:
    if t.kind == "kw":
        return _KEYWORD_NAMES.get(t.value, f"{t.value} keyword")
    names = {"name": "identifier", "string": "quoted string", "int": "integer number",
             "double": "number", "param": "bind parameter", "dsparam": "bind data source parameter",
             "end": "end of query string"}
    if t.kind in names:
        return names[t.kind]
    if t.value == "=":
        return "assignment"
    return f"{t.value} operator" if t.value in _OPERATOR_TOKENS else t.value

