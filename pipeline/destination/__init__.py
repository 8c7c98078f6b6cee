"""The destination side: decide what each shard record is (intake), plan a shard topic's records into
batches (apply_batch), write them to ArangoDB (document_apply), reproduce structure (structure_apply,
with collection_apply, search_apply, user_apply) behind the structure gate (structure_gate), and keep
positions (positions) and health (shard_health).
"""
