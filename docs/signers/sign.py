#!/usr/bin/env python3
"""Signs one dynaBOARD -> HipChat request (docs/signing.md) and prints its two headers.

    DYNABOARD_SIGNING_KEY=... sign.py METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]

PATH_AND_QUERY exactly as sent (percent-encoded); the body is BODY_FILE's bytes, or stdin
when BODY_FILE is "-" or left out (/dev/null: no body); TIMESTAMP defaults to now.
Python 3 standard library only.
"""
import hashlib
import hmac
import os
import sys
import time


def sign(key: str, timestamp: str, method: str, path_and_query: str, body: bytes) -> str:
    """The X-Dynaboard-Signature value: HMAC-SHA256 over v1:<ts>:<METHOD>:<path?query>:<body>."""
    message = f"v1:{timestamp}:{method}:{path_and_query}:".encode("utf-8") + body
    return "v1=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def main(args: list[str]) -> None:
    key = os.environ.get("DYNABOARD_SIGNING_KEY")
    if not key:
        sys.exit("sign.py: set DYNABOARD_SIGNING_KEY to the signing key")
    if not 2 <= len(args) <= 4:
        sys.exit("usage: sign.py METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]")
    method, path_and_query = args[0], args[1]
    body_file = args[2] if len(args) > 2 else "-"
    timestamp = args[3] if len(args) > 3 else str(int(time.time()))
    if body_file == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(body_file, "rb") as f:
            body = f.read()
    print(f"X-Dynaboard-Timestamp: {timestamp}")
    print(f"X-Dynaboard-Signature: {sign(key, timestamp, method, path_and_query, body)}")


if __name__ == "__main__":
    main(sys.argv[1:])
