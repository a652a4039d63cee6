"""Errors a question can meet. The web layer maps them to HTTP codes."""
from ingest.errors import StoreMismatch, UnknownPolicy  # noqa: F401  (re-exported for callers)


class QuestionError(ValueError):
    """The question itself is unusable: empty, or longer than the limit."""

    def __init__(self, message: str, too_long: bool = False):
        super().__init__(message)
        self.too_long = too_long
