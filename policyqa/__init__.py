"""policyqa: answers questions about privacy policies from their own text, with citations."""

__version__ = "0.1.0"
