"""Operations: the ``dc2dc`` CLI (cli), the live comparison of two DCs (check) and per-shard lag
from Kafka's offsets (lag).
"""
