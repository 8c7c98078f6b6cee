"""The one exception hierarchy of dc2dc, in one import.

The base and the wire errors are defined in ``topics/errors.py`` (the lowest layer), ArangoDB's in
``pipeline/arango/errors.py``; every other error of the project derives from :class:`Dc2dcError`.
"""

from dc2dc.pipeline.arango.errors import ArangoError
from dc2dc.topics.errors import ChunkError, ConfigError, Dc2dcError, DecodeError, TopicConfigError, VerificationError

__all__ = ["ArangoError", "ChunkError", "ConfigError", "Dc2dcError", "DecodeError", "TopicConfigError",
           "VerificationError"]
