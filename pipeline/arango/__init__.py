"""ArangoDB's HTTP API as dc2dc uses it: the client (``http``), AQL cursors (``query``), error
numbers (``errno``) and :class:`ArangoError`. Knows nothing of Kafka or of either side.
"""
