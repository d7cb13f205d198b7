"""Run one benchmark: python -m bench NAME [args...] runs bench/NAME.py's main(args)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    if not argv or argv[0] not in names:
        print(f"usage: python -m bench NAME [args...]; NAME is one of: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
