"""Reads a gongshi feed the way subscribers' software does and prints what it saw as JSON.

    feed_check.py atom|rss FILE       parse with feedparser (the reader most aggregators embed)
    feed_check.py jsonfeed FILE SCHEMA validate against the JSON Feed 1.1 schema (jsonschema)

Exit 1 when feedparser reports a malformed document (bozo) or the JSON Feed is invalid.
"""
import calendar
import html.parser
import json
import sys


class _Text(html.parser.HTMLParser):
    """The text a reader shows for an HTML fragment: character data, `<br>` as a line break."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        else:
            # Any other element in an RSS description is markup that came from a notice's text.
            self.parts.append(f"<markup:{tag}>")

    def handle_data(self, data):
        self.parts.append(data)


def html_text(fragment):
    if fragment is None:
        return None
    p = _Text()
    p.feed(fragment)
    p.close()
    return "".join(p.parts)


def parse_xml(path):
    import feedparser

    with open(path, "rb") as f:
        d = feedparser.parse(f.read())
    if d.bozo:
        print(f"feedparser: malformed feed: {d.bozo_exception!r}", file=sys.stderr)
        sys.exit(1)
    entries = []
    for e in d.entries:
        parsed = e.get("published_parsed") or e.get("updated_parsed")
        entries.append(
            {
                "id": e.get("id"),
                "title": e.get("title"),
                "link": e.get("link"),
                # Every link of the entry: the alternate (the notice's page) and the related one
                # (its JSON), as feedparser reads them.
                "links": [
                    {"rel": l.get("rel"), "type": l.get("type"), "href": l.get("href")}
                    for l in e.get("links", [])
                ],
                "summary": e.get("summary"),
                # What a reader shows of the summary when feedparser reads it as HTML (RSS's
                # description); None for plain text (Atom's type="text").
                "summary_text": html_text(e.get("summary"))
                if (e.get("summary_detail") or {}).get("type") == "text/html"
                else None,
                # Atom's full text (its summary holds the deadlines); absent in RSS.
                "content": (e.get("content") or [{}])[0].get("value"),
                # feedparser normalises dates to UTC struct_time.
                "published_epoch": calendar.timegm(parsed) if parsed else None,
                "tags": [t.get("term") for t in e.get("tags", [])],
            }
        )
    links = {l.get("rel"): l.get("href") for l in d.feed.get("links", [])}
    return {"version": d.version, "title": d.feed.get("title"), "links": links, "entries": entries}


def check_json_feed(path, schema_path):
    import jsonschema

    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    if errors:
        print("JSON Feed invalid:\n" + "\n".join(errors), file=sys.stderr)
        sys.exit(1)
    return {"valid": True, "items": len(doc["items"])}


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind in ("atom", "rss"):
        out = parse_xml(path)
    elif kind == "jsonfeed":
        out = check_json_feed(path, sys.argv[3])
    else:
        sys.exit(f"unknown kind {kind}")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
