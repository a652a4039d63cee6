"""Policy files are read in a separate process, so that any one file is bounded in time and memory.

A hostile file can make a parser run for minutes (a small PDF whose content stream expands to
300,000 lines) or take gigabytes; in the caller (a server, an ingest of a thousand files) that
would be everyone's problem. Here it is the reader's: the caller waits at most `limits.seconds`
for a file, then stops the reader process and reports the file; the reader's address space is
capped at `limits.memory_mb`. The reader is started on first use and again after it was stopped.

    reader = file_reader(limits)
    doc, units = reader.read(path)      # load + segment; IngestError (LimitExceeded) if not

The reader is `python -m ingest.worker`: one request at a time, pickles on its stdin and stdout.
"""
from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

from ingest.errors import IngestError, LimitExceeded
from ingest.types import Document, Limits, Unit


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


class FileReader:
    """The caller's side: one reader process, one file at a time."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _process(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            root = str(Path(__file__).resolve().parent.parent)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
            # the caller's working directory, so that relative paths mean what they meant to the
            # caller; -P keeps that directory off the import path (a folder there named `ingest`
            # must not be imported in place of ours)
            self._proc = subprocess.Popen([sys.executable, "-P", "-m", "ingest.worker", str(self.limits.memory_mb)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        return self._proc

    def read(self, path: Path) -> tuple[Document, list[Unit]]:
        """Load and segment one file within the limits."""
        with self._lock:
            proc = self._process()
            try:
                _send(proc.stdin, (str(path), self.limits))
            except (BrokenPipeError, OSError):  # the reader had gone (killed): this file is not the cause
                self.close()
                proc = self._process()
                _send(proc.stdin, (str(path), self.limits))
            try:
                if not select.select([proc.stdout], [], [], self.limits.seconds)[0]:
                    self.close()
                    raise LimitExceeded(
                        f"{path}: reading it took over {self.limits.seconds:g} s, the limit; raise it with "
                        "POLICYQA_INGEST_TIMEOUT if this file really is a policy")
                kind, *payload = _recv(proc.stdout)
            except (EOFError, OSError):
                code = self.close()
                raise IngestError(f"{path}: the file reader stopped (exit code {code}) while reading it; "
                                  "the file is probably malformed") from None
        if kind == "ok":
            return payload[0], payload[1]
        cls, message = payload
        if kind == "fatal":  # the reader ran out of memory: it is not trusted with the next file
            self.close()
        raise (LimitExceeded if cls == "LimitExceeded" else IngestError)(message)

    def close(self) -> int | None:
        """Stop the reader process (the next read starts another); its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        return proc.wait()


_readers: dict[Limits, FileReader] = {}
_readers_lock = threading.Lock()


def file_reader(limits: Limits) -> FileReader:
    """One reader process per set of limits, for the life of this process."""
    with _readers_lock:
        if limits not in _readers:
            _readers[limits] = FileReader(limits)
        return _readers[limits]


@atexit.register
def _stop_readers() -> None:
    for reader in list(_readers.values()):
        reader.close()


def read_file(path: Path, limits: Limits) -> tuple[Document, list[Unit]]:
    """What the reader process does for one file (also callable in-process)."""
    from ingest.loaders import load, over
    from ingest.segment import segment

    doc = load(path, limits)
    units = segment(doc)
    if not units:
        raise IngestError(f"{path}: no sentences found after normalising the text")
    if len(units) > limits.units:
        raise over(path, len(units), limits.units, "sentences and list items", "POLICYQA_MAX_UNITS")
    return doc, units


def main(memory_mb: int) -> None:
    import logging
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 ** 20, memory_mb * 2 ** 20))
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found": the report says it once
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    inp = sys.stdin.buffer
    while True:
        try:
            path, limits = _recv(inp)
        except EOFError:
            return
        too_big = ("fatal", "LimitExceeded", f"{path}: reading it needs more than {memory_mb:,} MB of memory, "
                                             "the limit; raise it with POLICYQA_INGEST_MEMORY_MB if this file "
                                             "really is a policy")
        try:
            reply = ("ok", *read_file(Path(path), limits))
        except IngestError as exc:
            reply = ("error", type(exc).__name__, str(exc))
        except MemoryError:
            reply = too_big
        except RecursionError:
            reply = ("error", "IngestError", f"{path}: its structure is nested too deeply to read")
        except Exception as exc:  # noqa: BLE001 - a library failure on a bad file, reported as such
            reply = ("error", "IngestError", f"{path}: {type(exc).__name__}: {exc}")
        try:
            _send(out, reply)
        except MemoryError:
            reply = too_big
            _send(out, reply)
        if reply is too_big:
            return  # a process that ran out of memory is not trusted with the next file


if __name__ == "__main__":
    main(int(sys.argv[1]))
