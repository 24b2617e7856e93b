#!/usr/bin/env python3
"""Python `jsonschema` baseline for gongshi's check benchmark (scripts/bench/check.sh).

Validates the canonical JSON Lines corpus written by the Rust bench
(`crates/domain/benches/check_throughput.rs`) against the same schema files
(`schemas/tables/*.schema.json`), loaded into a `referencing.Registry` by their `$id`, with one
`Draft202012Validator` per table built once. Times, after a warm-up pass, the median of several
passes of `list(validator.iter_errors(record))` (comparable to the Rust side collecting findings)
and of `validator.is_valid(record)`. JSON parsing is done once, outside the timed passes, as on the
Rust side. Writes the figures as JSON and, given the Rust figures, prints the ratios.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import pathlib
import platform
import statistics
import sys
import time

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

TARGET_RATIO = 30.0


def load_validators(schema_dir: pathlib.Path) -> dict[str, Draft202012Validator]:
    """One validator per table schema, all sharing a registry of every schema file by `$id`."""
    contents: dict[str, dict] = {}
    resources = []
    for path in sorted(schema_dir.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        contents[path.name.removesuffix(".schema.json")] = schema
        resources.append(
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        )
    if not contents:
        sys.exit(f"no *.schema.json under {schema_dir}")
    registry = Registry().with_resources(resources).crawl()
    return {
        code: Draft202012Validator(schema, registry=registry)
        for code, schema in contents.items()
        if code != "common"
    }


def measure(reps: int, one_pass) -> list[float]:
    one_pass()  # warm-up
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        one_pass()
        runs.append(time.perf_counter() - start)
    return runs


def summary(runs: list[float], records: int) -> dict:
    median = statistics.median(runs)
    return {
        "records": records,
        "median_s": median,
        "runs_s": runs,
        "records_per_s": records / median,
        "us_per_record": median * 1e6 / records,
    }


def line(label: str, s: dict) -> None:
    runs = sorted(s["runs_s"])
    print(
        f"{label}: {s['records']} records, {s['records_per_s']:.0f} records/s, "
        f"{s['us_per_record']:.2f} µs/record (median of {len(runs)}; "
        f"runs {runs[0] * 1e3:.1f}–{runs[-1] * 1e3:.1f} ms)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=pathlib.Path, required=True, help="canonical JSON Lines")
    ap.add_argument("--schemas", type=pathlib.Path, required=True, help="schemas/tables")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=pathlib.Path, help="write the figures here as JSON")
    ap.add_argument("--rust-json", type=pathlib.Path, help="the Rust bench's rust.json")
    args = ap.parse_args()
    if args.reps < 1:
        sys.exit("--reps must be at least 1")

    validators = load_validators(args.schemas)
    pairs = []
    with args.corpus.open(encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            record = json.loads(text)
            table = record.get("TABLE")
            if table not in validators:
                sys.exit(f"{args.corpus}:{number}: no schema for TABLE {table!r}")
            pairs.append((validators[table], record))
    n = len(pairs)
    if n == 0:
        sys.exit(f"{args.corpus}: empty corpus")

    # The corpus must be valid here too, or the comparison means nothing.
    for i, (validator, record) in enumerate(pairs):
        errors = list(validator.iter_errors(record))
        if errors:
            sys.exit(
                f"record {i + 1} ({record.get('TABLE')}) fails its schema in Python: "
                + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
            )

    def iter_errors_pass() -> None:
        errors = 0
        for validator, record in pairs:
            errors += len(list(validator.iter_errors(record)))
        assert errors == 0

    def is_valid_pass() -> None:
        valid = 0
        for validator, record in pairs:
            valid += validator.is_valid(record)
        assert valid == n

    iter_errors = summary(measure(args.reps, iter_errors_pass), n)
    is_valid = summary(measure(args.reps, is_valid_pass), n)
    versions = {
        "python": platform.python_version(),
        "jsonschema": importlib.metadata.version("jsonschema"),
        "referencing": importlib.metadata.version("referencing"),
    }
    print(
        f"python {versions['python']}, jsonschema {versions['jsonschema']}, "
        f"referencing {versions['referencing']}"
    )
    line("python jsonschema iter_errors", iter_errors)
    line("python jsonschema is_valid", is_valid)
    report = {"versions": versions, "iter_errors": iter_errors, "is_valid": is_valid}

    if args.rust_json:
        rust = json.loads(args.rust_json.read_text(encoding="utf-8"))
        if rust.get("records") != n:
            sys.exit(f"{args.rust_json} is for {rust.get('records')} records, corpus has {n}")
        check = rust["check"]["records_per_s"]
        schema_only = rust["schema_only"]["records_per_s"]
        ratios = {
            "check_vs_iter_errors": check / iter_errors["records_per_s"],
            "schema_only_vs_iter_errors": schema_only / iter_errors["records_per_s"],
            "check_vs_is_valid": check / is_valid["records_per_s"],
            "schema_only_vs_is_valid": schema_only / is_valid["records_per_s"],
        }
        report["ratios"] = ratios
        print(f"rust check: {check:.0f} records/s; rust schema-only: {schema_only:.0f} records/s")
        print(
            f"ratio rust-check / python-iter_errors: {ratios['check_vs_iter_errors']:.1f}x "
            f"(is_valid: {ratios['check_vs_is_valid']:.1f}x)"
        )
        print(
            f"ratio rust-schema-only / python-iter_errors: "
            f"{ratios['schema_only_vs_iter_errors']:.1f}x "
            f"(is_valid: {ratios['schema_only_vs_is_valid']:.1f}x)"
        )
        verdict = "meets" if ratios["schema_only_vs_iter_errors"] >= TARGET_RATIO else "BELOW"
        print(f"schema-only ratio {verdict} the {TARGET_RATIO:.0f}x aim")

    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
