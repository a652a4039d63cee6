"""Answering: hybrid retrieval, evidence selection, grounded answers with citations."""
