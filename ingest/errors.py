"""The errors policyqa reports to a person. Each message says what failed, the value, and the fix.

Every such error is a `PolicyQAError` whose `status` is its HTTP code: the web layer maps them to
`{"error": message}` with that status in one place, and the CLI prints the message and exits 1."""


class PolicyQAError(Exception):
    """Base of every error meant for the person who caused it (not a bug)."""

    status = 500


class IngestError(PolicyQAError):
    """A file could not be turned into a policy (empty, binary, corrupt, no text...)."""

    status = 422


class LimitExceeded(IngestError):
    """A file is over one of the per-policy caps (bytes, pages, characters, units, time)."""

    status = 413


class StoreMismatch(PolicyQAError):
    """The store was built with another model or segmentation than the one configured."""

    status = 503


class StoreBusy(PolicyQAError):
    """Another process held the store's lock for longer than the wait allowed."""

    status = 503


class UnknownPolicy(PolicyQAError, LookupError):
    """A policy id that the store does not hold."""

    status = 404


class PolicyUnreadable(PolicyQAError):
    """A policy the catalog names whose units cannot be read from the store (the others can)."""

    status = 503


class ChromaUnreachable(PolicyQAError):
    """POLICYQA_CHROMA_URL names no Chroma server that answers, or is not a URL."""

    status = 503
