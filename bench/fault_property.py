"""The long run of the fault property (tests/test_fault_property.py): many drawn interleavings.

CI draws a few interleavings of restarts, lost topics, purged WALs, leader loss and moves; this
runs ``--examples`` of them (default 30) with shrinking on, so a failure ends as the shortest
history that still breaks the promise. Prints one JSON object: examples run, outcome, seconds.

    python bench/fault_property.py [--examples 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=30)
    args = parser.parse_args()
    env = {**os.environ, "DC2DC_FAULT_EXAMPLES": str(args.examples), "DC2DC_FAULT_SHRINK": "1"}
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_fault_property.py", "-o", f"timeout={600 + 400 * args.examples}"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode:
        print(run.stdout[-20000:], file=sys.stderr)
    print(json.dumps({"examples": args.examples + 1, "passed": run.returncode == 0,
                      "seconds": round(seconds, 1), "seconds_per_example": round(seconds / (args.examples + 1), 1)}))
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
