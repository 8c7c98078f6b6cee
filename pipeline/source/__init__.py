"""The source side: read a DC's structure and write-ahead log (cluster, resolver, tailer, markers),
sync shards (snapshot_sync) and write them to Kafka (shard_producer, structure_publisher); read feedback.
"""
