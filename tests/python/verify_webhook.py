"""Verifies gongshi webhook signatures with the snippet the README gives subscribers.

    verify_webhook.py FILE   FILE: JSON list of {"secret", "signature", "body"} as received

Prints {"valid": n, "invalid": [indexes]}.
"""
import json
import sys

# --- README snippet (keep identical to README.md, "Webhooks") ---
import hashlib
import hmac
import time


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """True when `header` (Gongshi-Signature) signs `body` (the raw request body) with `secret`."""
    parts = [p.strip().split("=", 1) for p in header.split(",") if "=" in p]
    t = next((v for k, v in parts if k == "t"), "")
    if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
        return False  # missing or stale timestamp: reject replays
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    # One v1 per signing secret: two while a rolled secret overlaps; any may match.
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")
# --- end of snippet ---


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        received = json.load(f)
    invalid = [
        i
        for i, r in enumerate(received)
        if not verify(r["secret"], r["signature"], r["body"].encode("utf-8"))
    ]
    json.dump({"valid": len(received) - len(invalid), "invalid": invalid}, sys.stdout)


if __name__ == "__main__":
    main()
