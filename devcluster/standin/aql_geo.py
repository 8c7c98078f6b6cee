"""``NEAR()`` and ``WITHIN()``: ArangoDB's (deprecated, still supported in 3.12) geo functions that
python-arango's ``find_near()`` / ``find_in_radius()`` send.

Both need a geo index on the collection (else error 1570, as in ArangoDB) and read each document's
coordinates as that index does: two attributes ``[latitude, longitude]``, or one attribute holding
``[latitude, longitude]`` (``[longitude, latitude]`` or a GeoJSON Point with ``geoJson: true``).
Documents without valid coordinates are not in the index and never returned. Distances are
great-circle distances in meters on ArangoDB's spherical earth (radius 6,371,000 m); results come
nearest first, equal distances in ``_key`` order (ArangoDB leaves their order open).
"""
from __future__ import annotations

import math
from typing import Any

from .aql_errors import AqlError
from .aql_nodes import Runtime
from .aql_values import rank
from .errors import NOT_IMPLEMENTED

EARTH_RADIUS_M = 6_371_000.0
QUERY_GEO_INDEX_MISSING = 1570
_NEAR_DEFAULT_LIMIT = 100


def _attribute(doc: dict, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _number(v: Any) -> bool:
    return rank(v) == 2


def _lat_lon(doc: dict, index: dict) -> tuple[float, float] | None:
    fields = index["fields"]
    if len(fields) == 2:
        lat, lon = _attribute(doc, fields[0]), _attribute(doc, fields[1])
    else:
        value = _attribute(doc, fields[0])
        if index.get("geoJson") and isinstance(value, dict):
            if value.get("type") != "Point" or not isinstance(value.get("coordinates"), list):
                return None
            value = value["coordinates"]
        if not isinstance(value, list) or len(value) != 2:
            return None
        lat, lon = (value[1], value[0]) if index.get("geoJson") else (value[0], value[1])
    if not (_number(lat) and _number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in meters."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _by_distance(fname: str, collection: str, lat: Any, lon: Any, rt: Runtime) -> list[tuple[float, dict]]:
    if not (_number(lat) and _number(lon)):
        raise AqlError(NOT_IMPLEMENTED, f"AQL: {fname}() with non-numeric coordinates is not supported "
                       "by the dc2dc ArangoDB stand-in (while executing)")
    index = next((i for i in rt.ctx.indexes(collection) if i.get("type") == "geo"), None)
    if index is None:
        raise AqlError(QUERY_GEO_INDEX_MISSING, f"AQL: no suitable geo index found for geo restriction "
                       f"on '{collection}' (while executing)")
    found = []
    for doc in rt.ctx.iter_documents(collection):
        at = _lat_lon(doc, index)
        if at is not None:
            found.append((distance_m(lat, lon, *at), doc))
    found.sort(key=lambda pair: (pair[0], pair[1].get("_key", "")))
    return found


def _with_distance(found: list[tuple[float, dict]], name: Any) -> list[dict]:
    if name is None:
        return [doc for _, doc in found]
    if not isinstance(name, str):
        raise AqlError(NOT_IMPLEMENTED, "AQL: a non-string distance attribute name is not supported by "
                       "the dc2dc ArangoDB stand-in (while executing)")
    return [{**doc, name: dist} for dist, doc in found]


def near(collection: str, args: list[Any], rt: Runtime) -> list[dict]:
    """NEAR(coll, latitude, longitude, limit = 100, distanceName = null)."""
    lat, lon, limit, name = (args + [None, None])[:4]
    if limit is None:
        limit = _NEAR_DEFAULT_LIMIT
    if not _number(limit) or limit < 0:
        raise AqlError(NOT_IMPLEMENTED, "AQL: NEAR() with a limit that is not a non-negative number is "
                       "not supported by the dc2dc ArangoDB stand-in (while executing)")
    return _with_distance(_by_distance("NEAR", collection, lat, lon, rt)[:int(limit)], name)


def within(collection: str, args: list[Any], rt: Runtime) -> list[dict]:
    """WITHIN(coll, latitude, longitude, radius, distanceName = null): radius in meters, inclusive."""
    lat, lon, radius, name = (args + [None])[:4]
    if not _number(radius):
        raise AqlError(NOT_IMPLEMENTED, "AQL: WITHIN() with a non-numeric radius is not supported by the "
                       "dc2dc ArangoDB stand-in (while executing)")
    found = [(d, doc) for d, doc in _by_distance("WITHIN", collection, lat, lon, rt) if d <= radius]
    return _with_distance(found, name)
