"""The stand-in's AQL subset: what it answers, how it orders values, and what it refuses.

Runs the parser and evaluator against a tiny in-memory storage (a test double of the stand-in's
collections, not of Kafka). Answers must be ArangoDB's; anything outside the subset must be an
ArangoDB error, never a guess.
"""
from __future__ import annotations

import asyncio
import itertools
import math
import random
import unicodedata
from collections.abc import Iterable
from typing import Any

import pytest
from dc2dc.devcluster.standin.aql import AqlError, QueryStats, execute, parse
from dc2dc.devcluster.standin.aql_fulltext import words
from dc2dc.devcluster.standin.aql_values import canonical, compare, equal
from dc2dc.devcluster.standin.errors import ArangoError
from hypothesis import given, settings
from hypothesis import strategies as st


class MemoryStorage:
    """Collections as dicts of documents; writes behave like the document API."""

    def __init__(self, readonly: tuple[str, ...] = (), **collections: list[dict]) -> None:
        self.readonly = readonly
        self.index_defs: dict[str, list[dict]] = {}
        self.collections: dict[str, dict[str, dict]] = {}
        self.revs = itertools.count(1)
        self.keys = itertools.count(1)
        self.calls: list[tuple[str, str, dict]] = []
        for name, docs in collections.items():
            self.collections[name] = {}
            for doc in docs:
                self._store(name, dict(doc))

    def _store(self, name: str, doc: dict) -> dict:
        key = doc.setdefault("_key", str(next(self.keys)))
        doc["_id"] = f"{name}/{key}"
        doc["_rev"] = f"_r{next(self.revs)}"
        self.collections[name][key] = doc
        return doc

    def _coll(self, name: str) -> dict[str, dict]:
        if name not in self.collections:
            raise AqlError(1203, f"AQL: collection or view not found: {name} (while parsing)")
        return self.collections[name]

    def _existing(self, name: str, key_or_doc: Any) -> dict:
        key = key_or_doc if isinstance(key_or_doc, str) else key_or_doc["_key"]
        doc = self._coll(name).get(key)
        if doc is None:
            raise ArangoError(1202, "document not found", 404)
        return doc

    @staticmethod
    def _result(doc: dict, options: dict, new: dict | None, old: dict | None) -> dict:
        out = {k: doc[k] for k in ("_id", "_key", "_rev")}
        if options.get("returnNew") and new is not None:
            out["new"] = new
        if options.get("returnOld") and old is not None:
            out["old"] = old
        return out

    def iter_documents(self, collection: str, shard_ids: list[str] | None = None) -> Iterable[dict]:
        coll = self._coll(collection)
        # A live view on purpose: the evaluator must not write while it is still reading.
        yield from coll.values()

    def count(self, collection: str) -> int:
        return len(self._coll(collection))

    def indexes(self, collection: str) -> list[dict]:
        self.count(collection)
        return [{"type": "primary", "fields": ["_key"]}, *self.index_defs.get(collection, [])]

    async def insert(self, collection: str, doc: dict, options: dict) -> dict:
        self.calls.append(("insert", collection, options))
        if collection in self.readonly:
            raise ArangoError(11, "forbidden", 403)
        if doc.get("_key") in self._coll(collection):
            raise ArangoError(1210, "unique constraint violated - in index primary of type primary "
                              f"over '_key'; conflicting key: {doc['_key']}", 409)
        new = self._store(collection, dict(doc))
        return self._result(new, options, new, None)

    async def update(self, collection: str, key_or_doc: Any, changes: dict, options: dict) -> dict:
        self.calls.append(("update", collection, options))
        old = self._existing(collection, key_or_doc)
        new = {**old, **{k: v for k, v in changes.items() if k not in ("_key", "_id", "_rev")}}
        self._store(collection, new)
        return self._result(new, options, new, old)

    async def replace(self, collection: str, key_or_doc: Any, doc: dict, options: dict) -> dict:
        self.calls.append(("replace", collection, options))
        old = self._existing(collection, key_or_doc)
        new = {k: v for k, v in doc.items() if k not in ("_id", "_rev")} | {"_key": old["_key"]}
        self._store(collection, new)
        return self._result(new, options, new, old)

    async def remove(self, collection: str, key_or_doc: Any, options: dict) -> dict:
        self.calls.append(("remove", collection, options))
        old = self._existing(collection, key_or_doc)
        del self.collections[collection][old["_key"]]
        return self._result(old, options, None, old)


async def run(query: str, storage: MemoryStorage | None = None, **bind_vars: Any) -> list:
    return await execute(parse(query), bind_vars, storage or MemoryStorage())


async def refused(query: str, storage: MemoryStorage | None = None, **bind_vars: Any) -> AqlError:
    with pytest.raises(AqlError) as info:
        await run(query, storage, **bind_vars)
    return info.value


def users() -> MemoryStorage:
    return MemoryStorage(users=[
        {"_key": "ann", "age": 31, "city": {"name": "Oslo"}, "tags": ["a", "b"]},
        {"_key": "bob", "age": 25, "city": {"name": "Rome"}},
        {"_key": "cid", "age": 42, "city": {"name": "Oslo"}, "vip": True},
        {"_key": "dan", "age": 25},
    ])


# ---------------------------------------------------------------- reading

async def test_for_filter_sort_limit_return_with_attribute_paths_and_object_literal():
    rows = await run("FOR d IN @@c FILTER d.city.name == @city OR d.age < 26 "
                     "SORT d.age DESC, d._key LIMIT 1, 2 RETURN {k: d._key, age: d.age}",
                     users(), **{"@c": "users", "city": "Oslo"})
    assert rows == [{"k": "ann", "age": 31}, {"k": "bob", "age": 25}]


async def test_collection_named_in_the_query_and_returned_whole():
    storage = users()
    rows = await run("for d in users filter d.vip return d", storage)
    assert rows == [storage.collections["users"]["cid"]]


async def test_length_and_count_of_a_collection():
    assert await run("RETURN LENGTH(@@c)", users(), **{"@c": "users"}) == [4]
    assert await run("RETURN COUNT(users)", users()) == [4]


async def test_length_of_values():
    assert await run('RETURN [LENGTH([1, 2]), LENGTH("héllo"), LENGTH({a: 1}), LENGTH(null), '
                     "LENGTH(true), LENGTH(1234)]") == [[2, 5, 1, 0, 1, 4]]


async def test_constants_escapes_and_number_forms():
    assert await run("RETURN 1") == [1]
    assert await run(r'RETURN [-2.5, 1e3, 0x1F, 0b101, "a\"b\u00e9", null, true, {"x y": [1]}]') == \
        [[-2.5, 1000.0, 31, 5, 'a"bé', None, True, {"x y": [1]}]]


async def test_comments_case_insensitive_keywords_and_quoted_names():
    storage = MemoryStorage(**{"my-coll": [{"_key": "k", "v": 1}]})
    rows = await run("/* all */ for d IN `my-coll` // keys\n RETURN d.v", storage)
    assert rows == [1]


async def test_missing_attributes_are_null():
    rows = await run("FOR d IN users FILTER d.city.name == null SORT d._key RETURN d._key", users())
    assert rows == ["dan"]


async def test_nested_for_let_and_for_over_bound_array():
    rows = await run("FOR x IN @xs LET y = x.n FOR d IN users FILTER d.age == y SORT y, d._key "
                     "RETURN [x.n, d._key]", users(), xs=[{"n": 25}, {"n": 42}])
    assert rows == [[25, "bob"], [25, "dan"], [42, "cid"]]


async def test_index_and_bound_attribute_access():
    rows = await run("FOR d IN users FILTER d._key == 'ann' "
                     "RETURN [d.tags[0], d.tags[-1], d.tags[5], d['age'], d.@path, d.@one]",
                     users(), path=["city", "name"], one="age")
    assert rows == [["a", "b", None, 31, "Oslo", 31]]


async def test_return_distinct_uses_aql_equality():
    rows = await run("FOR x IN [1, 1.0, '1', [1], [1, null], {a: 1}, {a: 1, b: null}] RETURN DISTINCT x")
    assert rows == [1, "1", [1], {"a": 1}]


async def test_limit_with_bound_values_and_out_of_range():
    assert await run("FOR x IN [1, 2, 3, 4] LIMIT @o, @n RETURN x", o=1, n=2) == [2, 3]
    err = await refused("FOR x IN [1, 2] LIMIT -1 RETURN x")
    assert (err.error_num, err.http_code) == (1504, 400)


async def test_ternary_and_its_shorthand_are_right_associative_and_lowest_in_precedence():
    rows = await run("FOR d IN users SORT d._key RETURN [d.vip ? 'vip' : d.age > 30 ? 'old' : 'young', "
                     "d.vip ?: d.age, 1 == 2 ? 1 : 2]", users())
    assert rows == [["old", 31, 2], ["young", 25, 2], ["vip", True, 2], ["young", 25, 2]]


async def test_has_tells_a_present_attribute_even_when_null_from_a_missing_one():
    rows = await run("RETURN [HAS({a: null}, 'a'), HAS({a: 1}, 'b'), HAS(null, 'a'), HAS([1], 'a')]")
    assert rows == [[True, False, False, False]]


async def test_python_arango_find_filter_on_a_dotted_attribute():
    # collection.find({"city.name": ...}) sends exactly this: a literal "a.b" attribute if the
    # document has one, else the nested path
    storage = users()
    storage.collections["users"]["eve"] = {"_key": "eve", "city.name": "Oslo"}
    rows = await run("FOR doc IN @@c FILTER (HAS(doc, @f) ? doc[@f] : doc[@f_0][@f_1]) == @v "
                     "SORT doc._key RETURN doc._key", storage,
                     **{"@c": "users", "f": "city.name", "f_0": "city", "f_1": "name", "v": "Oslo"})
    assert rows == ["ann", "cid", "eve"]


async def test_rand_is_uniform_in_0_1_and_sorting_by_it_shuffles():
    values = (await run("FOR i IN 1..200 RETURN RAND()"))
    assert all(0 <= v < 1 for v in values) and len(set(values)) == 200
    firsts = {(await run("FOR d IN users SORT RAND() LIMIT 1 RETURN d._key", users()))[0] for _ in range(60)}
    assert firsts == {"ann", "bob", "cid", "dan"}


async def test_sleep_returns_null_after_the_total_wait_and_ignores_bad_durations():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await run("FOR i IN 1..3 RETURN SLEEP(0.1)") == [None, None, None]
    assert loop.time() - t0 >= 0.3
    t0 = loop.time()
    assert await run("RETURN [SLEEP(-5), SLEEP('1')]") == [[None, None]]
    assert loop.time() - t0 < 0.3


async def test_function_arity_is_checked_as_in_arangodb():
    for query in ("RETURN HAS({})", "RETURN RAND(1)", "RETURN SLEEP()"):
        err = await refused(query)
        assert (err.error_num, err.http_code) == (1541, 400), query


def places(index: dict) -> MemoryStorage:
    storage = MemoryStorage(places=[
        {"_key": "a", "loc": [1, 1], "pair": {"lat": 1, "lon": 1}, "geo": {"type": "Point", "coordinates": [1, 1]}},
        {"_key": "b", "loc": [1, 4], "pair": {"lat": 1, "lon": 4}, "geo": {"type": "Point", "coordinates": [4, 1]}},
        {"_key": "c", "loc": [4, 4], "pair": {"lat": 4, "lon": 4}, "geo": {"type": "Point", "coordinates": [4, 4]}},
        {"_key": "d", "loc": [1, 4], "pair": {"lat": 1, "lon": 4}, "geo": {"type": "Point", "coordinates": [4, 1]}},
        {"_key": "e", "loc": "nowhere", "pair": {"lat": 91, "lon": 0}, "geo": [1, 2, 3]},
    ])
    storage.index_defs["places"] = [index]
    return storage


@pytest.mark.parametrize("index", [
    {"type": "geo", "fields": ["loc"]},
    {"type": "geo", "fields": ["pair.lat", "pair.lon"]},
    {"type": "geo", "fields": ["geo"], "geoJson": True},
])
async def test_near_returns_indexed_documents_nearest_first(index: dict):
    storage = places(index)
    rows = await run("FOR d IN NEAR(@c, 1, 4.1, 3) RETURN d._key", storage, c="places")
    assert rows == ["b", "d", "c"]  # equal distances in key order; "e" has no valid coordinates
    assert await run("FOR d IN NEAR(@c, 1, 1) RETURN d._key", storage, c="places") == ["a", "b", "d", "c"]
    assert await run("FOR d IN NEAR(@c, 1, 1, 0) RETURN d", storage, c="places") == []


async def test_within_is_a_radius_in_meters_and_can_return_the_distance():
    storage = places({"type": "geo", "fields": ["loc"]})
    one_degree = 6_371_000 * math.pi / 180  # along a meridian
    rows = await run("FOR d IN WITHIN(@@c, 2, 1, @r, 'dist') RETURN [d._key, d.dist]", storage,
                     **{"@c": "places", "r": one_degree + 1})
    assert [k for k, _ in rows] == ["a"] and rows[0][1] == pytest.approx(one_degree)
    assert await run("FOR d IN WITHIN(@@c, 1, 4, 0) RETURN d._key", storage, **{"@c": "places"}) == ["b", "d"]


async def test_geo_functions_need_a_geo_index_and_an_existing_collection():
    err = await refused("FOR d IN NEAR('places', 1, 1) RETURN d", places({"type": "persistent", "fields": ["loc"]}))
    assert (err.error_num, err.http_code) == (1570, 400)
    err = await refused("FOR d IN WITHIN('nope', 1, 1, 5) RETURN d", users())
    assert (err.error_num, err.http_code) == (1203, 404)


def texts() -> MemoryStorage:
    storage = MemoryStorage(texts=[
        {"_key": "1", "t": "The quick brown fox"},
        {"_key": "2", "t": ["Foxes jump", {"nested": "quick"}]},
        {"_key": "3", "t": {"a": "a brown-ish dog", "b": "can't stop, won't stop at 3.14"}},
        {"_key": "4", "t": 42},
    ])
    storage.index_defs["texts"] = [{"type": "fulltext", "fields": ["t"], "minLength": 3}]
    return storage


def test_fulltext_words_follow_icu_word_breaks_for_ascii():
    assert words("can't e.g. 3.14 a.1 foo_bar, x-y A", 1) == {"can't", "e.g", "3.14", "a", "1", "foo_bar", "x", "y"}
    assert words("ab abc ABCD", 3) == {"abc", "abcd"}


@pytest.mark.parametrize(("query", "keys"), [
    ("brown", ["1", "3"]),
    ("brown,quick", ["1"]),              # words are and-ed by default
    ("brown,|jump", ["1", "2", "3"]),
    ("brown,-quick", ["3"]),
    ("prefix:fox", ["1", "2"]),
    ("complete:fox", ["1"]),
    ("-brown", ["1", "3"]),              # the first word always adds
    ("quick", ["1"]),                    # nested deeper than one level is not indexed
    ("can't,|3.14", ["3"]),
    ("at", []),                          # shorter than minLength: never indexed
])
async def test_fulltext_query_syntax_as_arangodb_parses_it(query: str, keys: list[str]):
    assert await run("FOR d IN FULLTEXT(@@c, 't', @q) RETURN d._key", texts(), **{"@c": "texts", "q": query}) == keys


async def test_fulltext_limit_errors_and_missing_index():
    assert await run("FOR d IN FULLTEXT('texts', 't', 'brown', 1) RETURN d._key", texts()) == ["1"]
    for bad in ("+", "|", "", "prefix:", ":x"):
        err = await refused("FOR d IN FULLTEXT('texts', 't', @q) RETURN d", texts(), q=bad)
        assert (err.error_num, err.http_code) == (10, 400), bad
    err = await refused("FOR d IN FULLTEXT('texts', 'other', 'x') RETURN d", texts())
    assert (err.error_num, err.http_code) == (1571, 400)
    err = await refused("FOR d IN FULLTEXT('texts', 't', 'café') RETURN d", texts())
    assert (err.error_num, err.http_code) == (9, 501)


# ---------------------------------------------------------------- ordering and operators

async def test_arithmetic_on_numbers_follows_aql():
    rows = await run("RETURN [1 + 2, 7 - 10, 2 * 3.5, 7 / 2, 4 / 2, -7 % 3, 7.5 % 2, 1 / 0, 5 % 0, "
                     "-(2), +3, 1 + 2 * 3, (1 + 2) * 3, -@x]", x=4)
    assert rows == [[3, -3, 7, 3.5, 2, -1, 1.5, None, None, -2, 3, 7, 9, -4]]
    assert all(type(v) is int for v in rows[0][:3] + rows[0][4:6]), "integral results are integers"


async def test_ranges_ascend_or_descend_and_feed_for_loops():
    assert await run("RETURN [1..3, 3..1, 2..2]") == [[[1, 2, 3], [3, 2, 1], [2]]]
    storage = MemoryStorage(c=[])
    await run("FOR i IN 1..@n INSERT {v: i * 2} INTO c", storage, n=3)
    assert await run("FOR d IN c SORT d.v RETURN d.v", storage) == [2, 4, 6]
    assert await run("FOR i IN 1..1000000 LIMIT @n - 1 RETURN i", n=3) == [1, 2]


async def test_sort_follows_aql_type_order():
    values = [{"a": 1}, {}, [0], [], "a", "", 2.5, 0, -1, True, False, None]
    shuffled = random.Random(7).sample(values, len(values))
    assert await run("FOR x IN @xs SORT x RETURN x", xs=shuffled) == list(reversed(values))


async def test_strings_sort_like_arangodb_icu_collation():
    # Punctuation before digits before letters; letters case-insensitively, upper case first.
    expected = ["_x", "-x", "10", "9", "A", "a", "a b", "ab", "B", "b"]
    shuffled = random.Random(3).sample(expected, len(expected))
    assert await run("FOR x IN @xs SORT x RETURN x", xs=shuffled) == expected
    assert await run("RETURN ['a' < 'B', 'Z' > 'a', 'a' > 'A', '_' < '-']") == [[True, True, True, True]]


async def test_ordering_strings_beyond_ascii_is_refused_not_guessed():
    err = await refused("FOR x IN ['é', 'f'] SORT x RETURN x")
    assert (err.error_num, err.http_code) == (9, 501)
    assert "ICU" in err.message


async def test_equality_of_unicode_strings_compares_canonical_forms():
    nfd = unicodedata.normalize("NFD", "café")
    assert await run("RETURN [@a == @b, @a == 'cafe']", a="café", b=nfd) == [[True, False]]


async def test_comparisons_across_types():
    rows = await run("RETURN [1 == 1.0, 1 == true, null < false, '1' > 2, [1] == [1, null], "
                     "{a: 1} == {a: 1, b: null}, [] < {}, [1, 2] < [2], {b: 1, a: 2} > {a: 1, b: 9}]")
    assert rows == [[True, False, True, True, True, True, True, True, True]]


async def test_not_binds_tighter_than_comparison_as_in_arangodb():
    assert await run("RETURN NOT 1 == 2") == [False]  # (NOT 1) == 2
    assert await run("RETURN NOT (1 == 2)") == [True]


async def test_in_and_not_in():
    assert await run("RETURN [2 IN [1, 2], 3 IN [1, 2], 1 IN 5, 1 NOT IN 5, [1] IN [[1]], "
                     "'a' NOT IN ['a']]") == [[True, False, False, True, True, False]]


async def test_and_or_return_an_operand():
    assert await run("RETURN [1 AND 2, 0 AND 2, 0 OR 'x', null || false, !0, NOT []]") == \
        [[2, 0, "x", False, True, False]]


# ---------------------------------------------------------------- writing

async def test_insert_each_element_of_a_bound_list():
    storage = users()
    assert await run("FOR x IN @list INSERT x IN @@c", storage,
                     list=[{"_key": "eve"}, {"n": 1}], **{"@c": "users"}) == []
    assert storage.count("users") == 6
    assert "eve" in storage.collections["users"]


async def test_insert_returns_new():
    rows = await run("INSERT {_key: 'z', v: 1} INTO users RETURN NEW", users())
    assert rows[0]["_key"] == "z" and rows[0]["v"] == 1 and rows[0]["_id"] == "users/z"


async def test_update_with_filter_returns_new_and_old_and_passes_options():
    storage = users()
    rows = await run("FOR d IN users FILTER d.age == 25 UPDATE d WITH {age: 26} IN users "
                     "OPTIONS {waitForSync: true} RETURN {k: NEW._key, was: OLD.age, now: NEW.age}",
                     storage)
    assert sorted(rows, key=lambda r: r["k"]) == [{"k": "bob", "was": 25, "now": 26},
                                                  {"k": "dan", "was": 25, "now": 26}]
    assert [c[2] for c in storage.calls] == [{"waitForSync": True, "returnNew": True, "returnOld": True}] * 2


async def test_update_without_with_takes_the_key_from_the_document():
    storage = users()
    await run("UPDATE {_key: 'ann', age: 32} IN users", storage)
    assert storage.collections["users"]["ann"]["age"] == 32


async def test_replace_and_remove_by_key():
    storage = users()
    await run("REPLACE 'bob' WITH {fresh: true} IN users", storage)
    assert {k: v for k, v in storage.collections["users"]["bob"].items() if not k.startswith("_")} == \
        {"fresh": True}
    removed = await run("FOR d IN users FILTER d.age > 30 REMOVE d._key IN users RETURN OLD._key", storage)
    assert sorted(removed) == ["ann", "cid"]
    assert sorted(storage.collections["users"]) == ["bob", "dan"]


async def test_remove_while_scanning_the_same_collection():
    storage = users()
    await run("FOR d IN users REMOVE d IN users", storage)
    assert storage.count("users") == 0


async def test_a_bad_document_in_the_middle_writes_nothing():
    storage = users()
    err = await refused("FOR x IN [{a: 1}, 5, {a: 2}] INSERT x INTO users", storage)
    assert (err.error_num, err.http_code) == (1227, 400)
    assert storage.count("users") == 4


async def test_missing_document_key_is_reported():
    err = await refused("FOR x IN [{a: 1}] REMOVE x IN users", users())
    assert (err.error_num, err.http_code) == (1226, 400)


async def test_storage_errors_keep_their_number():
    err = await refused("INSERT {_key: 'ann'} INTO users", users())
    assert (err.error_num, err.http_code) == (1210, 409)
    assert err.message.startswith("AQL: unique constraint violated") and err.message.endswith("(while executing)")
    err = await refused("REMOVE 'nobody' IN users", users())
    assert (err.error_num, err.http_code) == (1202, 404)


async def test_ignore_errors_skips_failing_rows_and_is_not_passed_to_storage():
    storage = users()
    rows = await run("FOR x IN [{_key: 'ann'}, 5, {_key: 'new'}] INSERT x INTO users "
                     "OPTIONS {ignoreErrors: true} RETURN NEW._key", storage)
    assert rows == ["new"]
    assert storage.calls[-1][2] == {"returnNew": True}


async def test_stats_count_executed_and_ignored_writes():
    stats = QueryStats()
    plan = parse("FOR x IN [{_key: 'ann'}, 5, {_key: 'n1'}, {_key: 'n2'}] INSERT x INTO users "
                 "OPTIONS {ignoreErrors: true}")
    assert await execute(plan, {}, users(), stats) == []
    assert (stats.writes_executed, stats.writes_ignored) == (2, 2)


async def test_ignore_errors_never_hides_a_permission_error():
    storage = MemoryStorage(readonly=("users",), users=[])
    err = await refused("INSERT {a: 1} INTO users OPTIONS {ignoreErrors: true}", storage)
    assert (err.error_num, err.http_code) == (11, 403)


async def test_errors_the_context_raises_as_aql_errors_pass_unchanged():
    class Failing(MemoryStorage):
        async def remove(self, collection: str, key_or_doc: Any, options: dict) -> dict:
            raise AqlError(1203, "AQL: collection or view not found: users (while parsing)")

    err = await refused("REMOVE 'ann' IN users", Failing(users=[{"_key": "ann"}]))
    assert err.message == "AQL: collection or view not found: users (while parsing)"


def test_bound_collections_carry_their_parameter_not_a_name():
    plan = parse("FOR d IN @@c INSERT d INTO target")
    assert [(c.name, c.param) for c in plan.collections] == [(None, "@c"), ("target", None)]


# ---------------------------------------------------------------- errors

async def test_bind_parameter_errors():
    err = await refused("RETURN @x")
    assert (err.error_num, err.http_code) == (1551, 400)
    assert "'x'" in err.message
    err = await refused("RETURN 1", x=1)
    assert (err.error_num, err.http_code) == (1552, 400)
    err = await refused("FOR d IN @@c RETURN d", users(), **{"@c": 5})
    assert (err.error_num, err.http_code) == (1553, 400)


@pytest.mark.parametrize("query", [
    "FOR d IN nosuch RETURN d",
    "RETURN LENGTH(nosuch)",
    "FOR x IN [1] INSERT {a: x} INTO nosuch",
])
async def test_unknown_collection_is_1203_and_nothing_is_written(query: str):
    storage = users()
    err = await refused(query, storage)
    assert (err.error_num, err.http_code) == (1203, 404)
    assert storage.calls == []


@pytest.mark.parametrize("query", [
    "FOR d IN users COLLECT a = d.age RETURN a",
    "FOR d IN users LET x = (FOR e IN users RETURN e) RETURN x",
    "FOR d IN users RETURN d.city + 1",
    "RETURN '1' + 1",
    "RETURN null * 2",
    "RETURN 9007199254740992 + 1",
    "FOR i IN 1.5..3 RETURN i",
    "FOR d IN users RETURN CONCAT(d._key, 'x')",
    "FOR d IN users RETURN MYNS::FN(d)",
    "FOR v IN 1..3 OUTBOUND 'users/ann' GRAPH 'g' RETURN v",
    "FOR v, e IN OUTBOUND 'users/ann' edges RETURN v",
    "UPSERT {a: 1} INSERT {a: 1} UPDATE {} IN users",
    "FOR d IN users FILTER d._key LIKE 'a%' RETURN d",
    "FOR d IN users RETURN d.tags[*]",
    "FOR d IN users RETURN HAS(d, 1)",
    "FOR d IN users FILTER d.tags ANY == 'a' RETURN d",
    "FOR d IN users SEARCH d.age == 1 RETURN d",
    "FOR d IN users SORT d.age @dir RETURN d",
    "FOR d IN users REMOVE d IN users FOR x IN [1] RETURN x",
])
async def test_unsupported_aql_is_refused_with_not_implemented(query: str):
    storage = users()
    err = await refused(query, storage, **({"dir": "ASC"} if "@dir" in query else {}))
    assert (err.error_num, err.http_code) == (9, 501)
    assert "not supported by the dc2dc ArangoDB stand-in" in err.message
    assert storage.calls == []


@pytest.mark.parametrize("query", [
    "FOR d IN users",
    "FOR d users RETURN d",
    "RETURN [1, 2",
    "RETURN {a 1}",
    "FOR d IN users FILTER RETURN d",
    "RETURN 1 RETURN 2",
    "RETURN 007",
    "RETURN 1 +",
    "RETURN 1 .. ",
    "RETURN d.for",
    "INSERT {} users",
    "INSERT {} INTO users OPTIONS 5",
    "INSERT {} INTO users OPTINOS {}",
])
async def test_syntax_errors_are_1501_with_a_position(query: str):
    err = await refused(query, users())
    assert (err.error_num, err.http_code) == (1501, 400)
    assert err.message.startswith("AQL: ") and "position 1:" in err.message


async def test_parse_error_message_names_the_token_like_arangodb():
    err = await refused("FOR d IN users FILTER RETURN d", users())
    assert err.message == ("AQL: syntax error, unexpected RETURN declaration near 'RETURN d' "
                           "at position 1:23 (while parsing)")


async def test_empty_query_is_1502():
    err = await refused("  \n ")
    assert (err.error_num, err.http_code) == (1502, 400)


async def test_other_query_errors():
    cases = [
        ("FOR d IN users RETURN users", 1568, 500),
        ("FOR x IN 'abc' RETURN x", 1563, 400),
        ("FOR x IN [1] FOR x IN [2] RETURN x", 1511, 400),
        ("RETURN {nope}", 1512, 400),
        ("RETURN LENGTH(1, 2)", 1541, 400),
        ("FOR x IN [1] INSERT {} INTO users OPTIONS {waitForSync: x}", 1575, 400),
        ("RETURN DISTINCT 1", 1501, 400),
    ]
    for query, num, http in cases:
        err = await refused(query, users())
        assert (err.error_num, err.http_code, query) == (num, http, query)


def test_aql_error_is_an_arango_error_with_an_error_body():
    err = AqlError(1501, "AQL: x (while parsing)")
    assert isinstance(err, ArangoError)
    assert err.body() == {"error": True, "code": 400, "errorNum": 1501, "errorMessage": "AQL: x (while parsing)"}


def test_plan_tells_whether_the_query_writes():
    assert parse("FOR d IN users REMOVE d IN users").modifies
    assert not parse("FOR d IN users RETURN d").modifies


# ---------------------------------------------------------------- order properties

_printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=4)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | _printable,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_printable, inner, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_json, _json, _json)
def test_compare_is_a_total_order_agreeing_with_equality(a: Any, b: Any, c: Any):
    assert compare(a, b) == -compare(b, a)
    assert (compare(a, b) == 0) == equal(a, b) == (canonical(a) == canonical(b))
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0
