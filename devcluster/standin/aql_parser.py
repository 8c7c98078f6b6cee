"""A recursive-descent parser for the AQL subset, following ArangoDB's grammar (arangod/Aql/grammar.y).

Operator precedence, lowest first, as in grammar.y: OR, AND, == != (LIKE ...), IN / NOT IN,
< <= > >=, .., + -, * / %, unary NOT ! - +, then attribute and index access.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from .aql_errors import (
    QUERY_COMPILE_TIME_OPTIONS,
    QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH,
    QUERY_VARIABLE_NAME_UNKNOWN,
    QUERY_VARIABLE_REDECLARED,
    AqlError,
    parse_error,
    unsupported,
)
from .aql_functions import FUNCTIONS, make_call
from .aql_lexer import Token, describe, near, tokenize
from .aql_nodes import (
    ORDER_TESTS,
    Arithmetic,
    ArrayLit,
    Attribute,
    CollectionRef,
    Comparison,
    Expr,
    Filter,
    For,
    Index,
    Length,
    Let,
    Limit,
    Literal,
    Logical,
    Modify,
    Not,
    ObjectLit,
    Param,
    Plan,
    Range,
    Return,
    Sort,
    Step,
    Ternary,
    Var,
)
from .aql_values import rank
from .errors import QUERY_EMPTY

_MODIFY_VARS = {"INSERT": ("NEW",), "UPDATE": ("NEW", "OLD"), "REPLACE": ("NEW", "OLD"),
                "REMOVE": ("OLD",)}


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.scope: set[str] = set()
        self.params: list[str] = []
        self.collections: list[CollectionRef] = []
        self.operands: list[CollectionRef] = []
        self.uses: set[str] = set()

    # token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def at(self, kind: str, value: Any = None) -> bool:
        t = self.peek()
        return t.kind == kind and (value is None or t.value == value)

    def accept(self, kind: str, value: Any = None) -> Token | None:
        return self.next() if self.at(kind, value) else None

    def expect(self, kind: str, value: Any = None, what: str | None = None) -> Token:
        if not self.at(kind, value):
            self.fail(f", expecting {what}" if what else "")
        return self.next()

    def fail(self, expecting: str = "", t: Token | None = None) -> NoReturn:
        t = t or self.peek()
        raise parse_error(f"syntax error, unexpected {describe(t)}{expecting}{near(self.query, t.pos)}")

    # statements
    def parse(self) -> Plan:
        steps: list[Step] = []
        while True:
            t = self.peek()
            if t.kind != "kw":
                if t.kind == "name" and t.value.upper() in ("SEARCH", "PRUNE"):
                    raise unsupported(f"{t.value.upper()}")
                self.fail()
            if t.value == "FOR":
                steps.append(self.parse_for())
            elif t.value == "LET":
                self.next()
                name = self.expect("name", what="identifier")
                self.expect("op", "=", "assignment")
                expr = self.parse_expression()
                steps.append(Let(self.declare(name), expr))
            elif t.value == "FILTER":
                self.next()
                steps.append(Filter(self.parse_expression()))
            elif t.value == "SORT":
                steps.append(self.parse_sort())
            elif t.value == "LIMIT":
                steps.append(self.parse_limit())
            elif t.value == "RETURN":
                final = self.parse_return(top_level=not any(isinstance(s, For) for s in steps))
                return self.finish(steps, final, None)
            elif t.value in _MODIFY_VARS:
                final = self.parse_modify()
                returning = None
                if self.at("kw", "RETURN"):
                    self.scope.update(_MODIFY_VARS[final.op])
                    returning = self.parse_return(top_level=not any(isinstance(s, For) for s in steps))
                elif not self.at("end"):
                    raise unsupported("a statement after a data-modification operation")
                return self.finish(steps, final, returning)
            elif t.value in ("COLLECT", "WINDOW", "UPSERT"):
                raise unsupported(t.value)
            elif t.value == "WITH" and not steps:
                raise unsupported("WITH (collection declarations for traversals)")
            else:
                self.fail()

    def finish(self, steps: list[Step], final: Return | Modify, returning: Return | None) -> Plan:
        if not self.at("end"):
            self.fail()
        return Plan(self.query, tuple(steps), final, returning, tuple(self.params),
                    tuple(self.collections), tuple(self.operands), frozenset(self.uses))

    def declare(self, t: Token) -> str:
        if t.value in self.scope:
            raise AqlError(QUERY_VARIABLE_REDECLARED,
                           f"AQL: variable '{t.value}' is assigned multiple times (while parsing)")
        self.scope.add(t.value)
        return t.value

    def parse_for(self) -> For:
        self.next()
        name = self.expect("name", what="identifier")
        if self.at("op", ","):
            raise unsupported("graph traversal (FOR with several variables)")
        self.expect("kw", "IN", "IN keyword")
        if self.peek().kind == "kw" and self.peek().value in ("OUTBOUND", "INBOUND", "ANY"):
            raise unsupported("graph traversal")
        source = self.parse_expression(operand=False)
        t = self.peek()
        if t.kind == "kw" and t.value in ("OUTBOUND", "INBOUND", "ANY", "SHORTEST_PATH",
                                          "K_SHORTEST_PATHS", "K_PATHS", "ALL_SHORTEST_PATHS"):
            raise unsupported("graph traversal")
        if t.kind == "name" and t.value.upper() == "SEARCH":
            raise unsupported("SEARCH on views")
        if t.kind == "name" and t.value.upper() == "OPTIONS":
            self.next()
            # FOR options are index hints and the like: they change how, never what, is read.
            self.parse_options()
        var = self.declare(name)
        return For(var, source)

    def parse_sort(self) -> Sort:
        self.next()
        keys = []
        while True:
            expr = self.parse_expression()
            ascending = not self.accept("kw", "DESC")
            if ascending and not self.accept("kw", "ASC"):
                t = self.peek()
                if t.kind in ("param", "string", "int", "double") or (
                        t.kind == "kw" and t.value in ("TRUE", "FALSE", "NULL")):
                    raise unsupported("a SORT direction given as a value")
            keys.append((expr, ascending))
            if not self.accept("op", ","):
                return Sort(tuple(keys))

    def parse_limit(self) -> Limit:
        self.next()
        first = self.parse_expression()
        offset, count = (first, self.parse_expression()) if self.accept("op", ",") else (Literal(0), first)
        if not (offset.is_constant() and count.is_constant()):
            raise unsupported("a LIMIT value that is not a literal or bind parameter")
        return Limit(offset, count)

    def parse_return(self, top_level: bool) -> Return:
        self.next()
        distinct = self.at("kw", "DISTINCT")
        if distinct:
            if top_level:
                raise parse_error("cannot use DISTINCT modifier on top-level query element"
                                   + near(self.query, self.peek().pos))
            self.next()
        return Return(self.parse_expression(), distinct)

    def parse_modify(self) -> Modify:
        op = self.next().value
        doc = self.parse_expression(no_in=True)
        with_ = None
        if op in ("UPDATE", "REPLACE") and self.accept("kw", "WITH"):
            with_ = self.parse_expression(no_in=True)
        if not (self.accept("kw", "IN") or self.accept("kw", "INTO")):
            self.fail(", expecting IN keyword or INTO keyword")
        t = self.next()
        if t.kind in ("name", "string"):
            coll = CollectionRef(t.value)
        elif t.kind == "dsparam":
            coll = CollectionRef(None, self.param(t.value))
        else:
            self.fail(t=t)
        self.collections.append(coll)
        options = None
        t = self.peek()
        if t.kind == "name":
            if t.value.upper() != "OPTIONS":
                raise parse_error(f"unexpected qualifier '{t.value}', expecting 'OPTIONS'"
                                   + near(self.query, t.pos))
            self.next()
            options = self.parse_options()
        return Modify(op, doc, coll, with_, options)

    def parse_options(self) -> ObjectLit:
        t = self.peek()
        options = self.parse_expression()
        if not isinstance(options, ObjectLit):
            raise parse_error("'OPTIONS' have to be an object" + near(self.query, t.pos))
        if not options.is_constant():
            raise AqlError(QUERY_COMPILE_TIME_OPTIONS, "AQL: 'OPTIONS' have to be known at query "
                           "compile time (while parsing)")
        return options

    def param(self, name: str) -> str:
        if name not in self.params:
            self.params.append(name)
        return name

    # expressions, lowest precedence first (ArangoDB's grammar.y order)
    def parse_expression(self, no_in: bool = False, operand: bool = True) -> Expr:
        expr = self.parse_or(no_in)
        if self.accept("op", "?"):
            # lowest precedence, right-associative: a ? b : c ? d : e is a ? b : (c ? d : e)
            then = None if self.at("op", ":") else self.parse_expression(no_in)
            self.expect("op", ":", ":")
            expr = Ternary(self.operand(expr), then, self.parse_expression(no_in))
        if operand:
            self.mark_operand(expr)
        return expr

    def mark_operand(self, expr: Expr) -> None:
        if isinstance(expr, CollectionRef):
            self.operands.append(expr)

    def parse_or(self, no_in: bool) -> Expr:
        left = self.parse_and(no_in)
        while self.at("kw", "OR") or self.at("op", "||"):
            self.next()
            left = Logical("OR", self.operand(left), self.operand(self.parse_and(no_in)))
        return left

    def parse_and(self, no_in: bool) -> Expr:
        left = self.parse_equality(no_in)
        while self.at("kw", "AND") or self.at("op", "&&"):
            self.next()
            left = Logical("AND", self.operand(left), self.operand(self.parse_equality(no_in)))
        return left

    def parse_equality(self, no_in: bool) -> Expr:
        left = self.parse_in(no_in)
        while True:
            t = self.peek()
            if t.kind == "kw" and t.value in ("ANY", "ALL", "NONE"):
                raise unsupported("array comparison operators (ANY / ALL / NONE)")
            if t.kind == "kw" and t.value == "LIKE" or t.kind == "op" and t.value in ("=~", "!~"):
                raise unsupported(f"the {t.value} operator")
            after = self.peek(1)
            if t.kind == "kw" and t.value == "NOT" and after.kind == "kw" and after.value == "LIKE":
                raise unsupported("the NOT LIKE operator")
            if not (t.kind == "op" and t.value in ("==", "!=")):
                return left
            self.next()
            left = Comparison(t.value, self.operand(left), self.operand(self.parse_in(no_in)))

    def parse_in(self, no_in: bool) -> Expr:
        left = self.parse_relational()
        while not no_in and (self.at("kw", "IN") or self.at("op", "NOT IN")):
            op = "IN" if self.next().kind == "kw" else "NOT IN"
            left = Comparison(op, self.operand(left), self.operand(self.parse_relational()))
        return left

    def parse_relational(self) -> Expr:
        left = self.parse_range()
        while self.peek().kind == "op" and self.peek().value in ORDER_TESTS:
            op = self.next().value
            left = Comparison(op, self.operand(left), self.operand(self.parse_range()))
        return left

    def parse_range(self) -> Expr:
        left = self.parse_binary(("+", "-"), self.parse_multiplicative)
        while self.accept("op", ".."):
            right = self.parse_binary(("+", "-"), self.parse_multiplicative)
            left = Range(self.operand(left), self.operand(right))
        return left

    def parse_multiplicative(self) -> Expr:
        return self.parse_binary(("*", "/", "%"), self.parse_unary)

    def parse_binary(self, ops: tuple[str, ...], operand: Callable[[], Expr]) -> Expr:
        left = operand()
        while self.peek().kind == "op" and self.peek().value in ops:
            op = self.next().value
            left = Arithmetic(op, self.operand(left), self.operand(operand()))
        return left

    def operand(self, expr: Expr) -> Expr:
        self.mark_operand(expr)
        return expr

    def parse_unary(self) -> Expr:
        t = self.peek()
        if t.kind == "kw" and t.value == "NOT" or t.kind == "op" and t.value == "!":
            self.next()
            return Not(self.operand(self.parse_unary()))
        if t.kind == "op" and t.value in ("-", "+"):
            self.next()
            operand = self.operand(self.parse_unary())
            if isinstance(operand, Literal) and rank(operand.value) == 2:
                return Literal(-operand.value if t.value == "-" else operand.value)
            return Arithmetic("-" if t.value == "-" else "+", Literal(0), operand)
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, expr: Expr) -> Expr:
        while True:
            if self.accept("op", "."):
                t = self.next()
                if t.kind == "name":
                    expr = Attribute(self.operand(expr), t.value)
                elif t.kind == "param":
                    expr = Attribute(self.operand(expr), Param(self.param(t.value)))
                else:
                    self.fail(t=t)
            elif self.at("op", "["):
                if self.peek(1).kind == "op" and self.peek(1).value in ("*", "?"):
                    raise unsupported("array expansion / inline filter ([*], [?])")
                self.next()
                index = self.parse_expression()
                self.expect("op", "]", "]")
                expr = Index(self.operand(expr), index)
            else:
                return expr

    def parse_primary(self) -> Expr:
        t = self.next()
        if t.kind in ("string", "int", "double"):
            return Literal(t.value)
        if t.kind == "kw" and t.value in ("NULL", "TRUE", "FALSE"):
            return Literal({"NULL": None, "TRUE": True, "FALSE": False}[t.value])
        if t.kind == "param":
            return Param(self.param(t.value))
        if t.kind == "dsparam":
            ref = CollectionRef(None, self.param(t.value))
            self.collections.append(ref)
            return ref
        if t.kind == "name" and self.at("op", "::"):
            raise unsupported("user-defined AQL functions")
        if (t.kind == "name" or t.kind == "kw" and t.value == "LIKE") and self.at("op", "("):
            return self.parse_call(t)
        if t.kind == "name":
            if t.value in self.scope:
                if t.value in ("NEW", "OLD"):
                    self.uses.add(t.value)
                return Var(t.value)
            ref = CollectionRef(t.value)
            self.collections.append(ref)
            return ref
        if t.kind == "op" and t.value == "(":
            if self.peek().kind == "kw" and self.peek().value in (
                    "FOR", "LET", "RETURN", "INSERT", "UPDATE", "REPLACE", "REMOVE", "UPSERT", "COLLECT"):
                raise unsupported("subqueries")
            inner = self.parse_expression()
            self.expect("op", ")", ")")
            return inner
        if t.kind == "op" and t.value == "[":
            items = []
            while not self.accept("op", "]"):
                items.append(self.parse_expression())
                if not self.accept("op", ","):
                    self.expect("op", "]", "]")
                    break
            return ArrayLit(tuple(items))
        if t.kind == "op" and t.value == "{":
            return self.parse_object()
        self.fail(t=t)

    def parse_object(self) -> ObjectLit:
        items: list[tuple[str | Expr, Expr]] = []
        while not self.accept("op", "}"):
            t = self.next()
            if t.kind == "name" and (self.at("op", ",") or self.at("op", "}")):
                if t.value not in self.scope:
                    raise AqlError(QUERY_VARIABLE_NAME_UNKNOWN, f"AQL: use of unknown variable "
                                   f"'{t.value}' in object literal (while parsing)")
                if t.value in ("NEW", "OLD"):
                    self.uses.add(t.value)
                items.append((t.value, Var(t.value)))
            else:
                if t.kind in ("name", "string"):
                    key: str | Expr = t.value
                elif t.kind == "param":
                    key = Param(self.param(t.value))
                elif t.kind == "op" and t.value == "[":
                    key = self.parse_expression()
                    self.expect("op", "]", "]")
                else:
                    self.fail(t=t)
                self.expect("op", ":", ":")
                items.append((key, self.parse_expression()))
            if not self.accept("op", ","):
                self.expect("op", "}", "}")
                break
        return ObjectLit(tuple(items))

    def parse_call(self, name: Token) -> Expr:
        self.expect("op", "(")
        args: list[Expr] = []
        while not self.accept("op", ")"):
            if self.peek().kind == "kw" and self.peek().value in ("FOR", "LET", "RETURN"):
                raise unsupported("subqueries")
            # A collection may be a function argument (LENGTH(users)); not an operand elsewhere.
            args.append(self.parse_expression(operand=False))
            if not self.accept("op", ","):
                self.expect("op", ")", ")")
                break
        fname = name.value.upper()
        if fname in FUNCTIONS:
            for i, arg in enumerate(args):
                if not (i == 0 and FUNCTIONS[fname].on_collection):
                    self.mark_operand(arg)
            return make_call(fname, args)
        if fname not in ("LENGTH", "COUNT"):
            raise unsupported(f"the AQL function {fname}()")
        if len(args) != 1:
            raise AqlError(QUERY_FUNCTION_ARGUMENT_NUMBER_MISMATCH, f"AQL: invalid number of "
                           f"arguments for function '{fname}()', expected number of arguments: "
                           "minimum: 1, maximum: 1 (while parsing)")
        return Length(args[0])


def parse(query: str) -> Plan:
    """Parse ``query`` into a plan; raises :class:`AqlError` for bad or unsupported AQL."""
    if not query.strip():
        raise AqlError(QUERY_EMPTY, "AQL: query is empty (while parsing)")
    return _Parser(query).parse()

