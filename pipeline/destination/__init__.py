"""The destination side: plan a shard topic's records into batches (apply_batch), write them to
ArangoDB (document_apply), reproduce structure (structure_apply, with collection_apply,
search_apply, user_apply) and keep positions (positions).
"""
