"""Ingestion: load policy files, normalise, segment into citable units, embed, store."""
