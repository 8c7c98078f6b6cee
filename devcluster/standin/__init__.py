"""ArangoDB wire-compatible stand-in cluster for tests and the demo (never imported by the product)."""
