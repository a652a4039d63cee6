"""Errors a question can meet. All are `PolicyQAError`s: the web layer and the CLI map them once."""
from ingest.errors import (  # noqa: F401  (re-exported)
    PolicyQAError, PolicyUnreadable, StoreBusy, StoreMismatch, UnknownPolicy)


class QuestionError(PolicyQAError, ValueError):
    """The question itself is unusable: empty, not text, or longer than the limit."""

    def __init__(self, message: str, too_long: bool = False):
        super().__init__(message)
        self.too_long = too_long
        self.status = 413 if too_long else 422
