"""The source side of dc2dc: ``SourceComponent`` (``component``) configured by ``SourceSettings``."""

from dc2dc.agents.source.component import SourceComponent
from dc2dc.agents.source.settings import SourceSettings

__all__ = ["SourceComponent", "SourceSettings"]
