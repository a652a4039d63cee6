"""The few errors ingestion raises. Each message says what failed, the value, and the fix."""


class IngestError(Exception):
    """A file could not be turned into a policy (empty, binary, corrupt, no text...)."""


class StoreMismatch(Exception):
    """The store was built with another model or segmentation than the one configured."""


class UnknownPolicy(LookupError):
    """A policy id that the store does not hold."""
