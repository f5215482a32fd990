#!/usr/bin/env python3
"""Write data/top-pypi.tsv: the most-downloaded PyPI projects, by rank.

Usage: python3 scripts/top-pypi.py PATH/TO/pypi.tsv [N] > data/top-pypi.tsv

Input: a tab-separated list with the header
  name  version  month  rank_among_15000_most_downloaded  summary
Rows without a rank are dropped, the rest sorted by rank ascending, and the
first N (default 5000) written as `rank<TAB>name`. The `month` column is per
project (its latest release); the newest month in the whole list is taken as
the date of the ranking.
"""
import csv
import sys


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else 5000
    csv.field_size_limit(sys.maxsize)
    ranked = []
    newest_month = ""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            month = (row.get("month") or "").strip()
            if month > newest_month:
                newest_month = month
            rank = (row.get("rank_among_15000_most_downloaded") or "").strip()
            if not rank:
                continue
            ranked.append((int(rank), row["name"].strip()))
    ranked.sort()
    out = sys.stdout
    out.write(f"# source: PyPI download ranking as of {newest_month or 'unknown'}; top {limit}\n")
    for rank, name in ranked[:limit]:
        out.write(f"{rank}\t{name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
