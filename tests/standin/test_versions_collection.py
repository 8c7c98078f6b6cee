"""Collection answers per release, as recorded from ArangoDB 3.11 and 3.12 single servers
(tests/fidelity/recorded: RestCollectionCreateCollection, RestCollectionGetCollectionName, ...)."""
from __future__ import annotations

import uuid

import requests

from .conftest import StandinHandle


def test_supports_rbac_is_reported_by_3_12_only(single_of_version: StandinHandle) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    base, auth = single_of_version.coordinator, single_of_version.auth
    created = requests.post(f"{base}/_api/collection", json={"name": name}, auth=auth, timeout=10).json()
    props = requests.get(f"{base}/_api/collection/{name}/properties", auth=auth, timeout=10).json()
    expected = single_of_version.info["version"].startswith("3.12.")
    assert ("supportsRBAC" in created, "supportsRBAC" in props) == (expected, expected)
