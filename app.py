"""policyqa's web app: `python app.py [--host H] [--port P] [--store DIR]`.

One server: the chat and the support desk (Gradio) at `/`, the embeddable widget at
`/widget?policy=ID` with its one-line embed `/widget.js`, the policy viewer at `/policy/ID`, and
the REST API (`/api/...`, docs at `/docs`). On a cold start it ingests the bundled corpus first.
The code lives in the `web` package; `policyqa serve` calls `app.serve`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.errors import PolicyQAError
from web import create_app, serve

__all__ = ["create_app", "serve", "main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    parser.add_argument("--store", type=Path, default=None, help="store directory (default: $POLICYQA_STORE)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every HTTP request and the search indexes' building too")
    args = parser.parse_args(argv)
    try:
        serve(host=args.host, port=args.port, store=args.store, verbose=args.verbose)
    except PolicyQAError as exc:  # one line, as the CLI says it
        sys.exit(f"Error: {exc}")


if __name__ == "__main__":
    main()
