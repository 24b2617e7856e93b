#!/usr/bin/env python3
"""Check every calendar/<year>.toml and print its working days per month and per year.

Standard library only (Python 3.11+ for tomllib). Run from anywhere:

    python3 calendar/check.py

Exit status 1 if any file breaks a rule. Working day = Monday–Friday, minus holidays, plus
make-up working days (调休), exactly as crates/domain/src/period/calendar.rs counts them.
"""

import calendar
import datetime as dt
import sys
import tomllib
from pathlib import Path

NAMES = {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节", "国庆节、中秋节"}


def as_date(value):
    """A date written as a quoted "YYYY-MM-DD" string, as the Rust loader (chrono) reads it.
    A bare TOML date is refused: the loader would not accept it."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            return None
    return None


def days(a, b):
    while a <= b:
        yield a
        a += dt.timedelta(days=1)


def check(path):
    """Returns (errors, year, holidays {date: name}, workdays set)."""
    errors = []
    err = errors.append
    with path.open("rb") as f:
        data = tomllib.load(f)
    year = data.get("year")
    if path.stem != str(year):
        err(f"file name {path.name} does not match year = {year!r}")
    if not isinstance(year, int):
        err(f"year must be an integer, got {year!r}")
    for key in ("source", "url", "verified"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            err(f"missing or empty {key}")
    issued = as_date(data.get("issued"))
    if issued is None:
        err(f"issued {data.get('issued')!r} is not a quoted YYYY-MM-DD date")
    elif isinstance(year, int) and not issued < dt.date(year, 1, 1):
        err(f"issued {issued} is not before the year it arranges")

    holidays = {}
    for h in data.get("holiday", []):
        name, a, b = h.get("name"), as_date(h.get("from")), as_date(h.get("to"))
        if name not in NAMES:
            err(f"holiday name {name!r} is not one of {sorted(NAMES)}")
        if a is None or b is None:
            err(f"holiday {name}: from/to must be quoted YYYY-MM-DD dates, got {h.get('from')!r}..{h.get('to')!r}")
            continue
        if b < a:
            err(f"holiday {name}: {a}..{b} ends before it starts")
            continue
        if (b - a).days > 10:
            err(f"holiday {name}: {a}..{b} is longer than any holiday period")
        # A range may cross into the neighbouring year only at 元旦 (e.g. 2022-12-31..2023-01-02).
        if a.year != year or b.year != year:
            crosses = name == "元旦" and b.year == year and a.year == year - 1
            if not crosses:
                err(f"holiday {name}: {a}..{b} lies outside {year}")
        for d in days(a, b):
            if d in holidays:
                err(f"{d} is in two holiday ranges ({holidays[d]}, {name})")
            holidays[d] = name

    workdays = set()
    for w in data.get("workday", []):
        d, why = as_date(w.get("date")), w.get("for")
        if d is None:
            err(f"workday date must be a quoted YYYY-MM-DD date, got {w.get('date')!r}")
            continue
        if d.year != year:
            err(f"workday {d} lies outside {year}")
        if d.weekday() < 5:
            err(f"workday {d} is a {d:%A}, not a Saturday or Sunday")
        if d in holidays:
            err(f"{d} is both a holiday ({holidays[d]}) and a working day")
        if d in workdays:
            err(f"workday {d} given twice")
        if why not in NAMES:
            err(f"workday {d}: for = {why!r} is not a holiday name")
        elif why not in holidays.values():
            err(f"workday {d}: for = {why!r} names no holiday period in this file")
        workdays.add(d)
    return errors, year, holidays, workdays


def working_days(year, holidays, workdays):
    per_month = []
    for m in range(1, 13):
        n = 0
        for day in range(1, calendar.monthrange(year, m)[1] + 1):
            d = dt.date(year, m, day)
            if d in workdays or (d.weekday() < 5 and d not in holidays):
                n += 1
        per_month.append(n)
    return per_month


def main():
    here = Path(__file__).resolve().parent
    files = sorted(p for p in here.glob("*.toml") if p.stem.isdigit() and len(p.stem) == 4)
    if not files:
        print(f"no <year>.toml in {here}")
        return 1
    failed = False
    print("year  " + " ".join(f"{calendar.month_abbr[m]:>3}" for m in range(1, 13)) + "  total  holidays-on-weekdays  make-up")
    for path in files:
        errors, year, holidays, workdays = check(path)
        if errors:
            failed = True
            for e in errors:
                print(f"{path.name}: {e}", file=sys.stderr)
            continue
        months = working_days(year, holidays, workdays)
        weekday_holidays = sum(1 for d in holidays if d.year == year and d.weekday() < 5)
        print(f"{year}  " + " ".join(f"{n:>3}" for n in months) + f"  {sum(months):>5}  {weekday_holidays:>20}  {len(workdays):>7}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
