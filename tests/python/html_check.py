"""Checks the HTML page in the file named by argv[1] against the HTML5 parsing rules with
html5lib (the WHATWG parsing algorithm, as a reference implementation): prints {"errors": [...]}
with every parse error and its position, and {"lang": ...} from <html lang>."""
import json
import sys

import html5lib

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
tree = parser.parse(text)
errors = [
    {"line": pos[0], "col": pos[1], "code": code, "data": {k: str(v) for k, v in (data or {}).items()}}
    for pos, code, data in parser.errors
]
if not text.lstrip().lower().startswith("<!doctype html>"):
    errors.append({"line": 1, "col": 1, "code": "expected-doctype-html5", "data": {}})
root = tree if tree.tag == "html" else tree.find("html")
print(json.dumps({"errors": errors, "lang": root.get("lang") if root is not None else None}))
