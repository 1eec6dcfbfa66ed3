"""Merge few-shot protocol results run on different seeds (one process per seed group).

    python benchmarks/merge_protocols.py runs/a/protocol.json runs/b/protocol.json --out runs/ab

Writes ``protocol.md`` and ``protocol.json`` for all seeds together and prints the table.
Each seed keeps promptsearch's paired gains over every baseline; the strongest baseline (the
best mean) is chosen again over all the seeds, so the gain row may name another baseline
than the parts did. Parts saved before gains were recorded merge too (their seeds show "–").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from promptsearch.search import ProtocolResult


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="+", help="protocol.json files")
    ap.add_argument("--out", required=True, help="folder for the merged protocol.md / protocol.json")
    args = ap.parse_args()
    parts = [ProtocolResult.from_dict(json.loads(Path(p).read_text(encoding="utf-8"))) for p in args.parts]
    merged = ProtocolResult.merge(parts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.md").write_text(merged.markdown() + "\n", encoding="utf-8")
    text = json.dumps(merged.to_dict(), indent=2, ensure_ascii=False)
    (out / "protocol.json").write_text(text, encoding="utf-8")
    sys.stdout.write(merged.markdown() + "\n")


if __name__ == "__main__":
    main()
