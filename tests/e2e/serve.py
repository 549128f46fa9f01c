"""A Plaza server process for the e2e tests (run as a script by ``conftest.py``).

It imports Plaza first and only then waits for its settings and port on stdin, one
JSON line, and serves with uvicorn. The fixtures keep one such process warm while a
test runs, so the next test does not wait seconds for the imports.
"""

from __future__ import annotations

import json
import os
import sys

import uvicorn

import plaza.app  # noqa: F401 - the slow part, done before anyone waits


def main() -> None:
    line = sys.stdin.readline()
    if not line.strip():
        return  # not needed after all
    config = json.loads(line)
    os.environ.update(config["env"])
    uvicorn.run(
        "plaza.app:app_from_environment",
        factory=True,
        host="127.0.0.1",
        port=int(config["port"]),
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
