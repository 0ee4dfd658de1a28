"""Schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS by run.py).

Signed run (CONTRACT_MODE=signed):
- `partner_id`: most generated ids name no partner (404 and nothing deeper), so a valid
  generated id is replaced, 4 times in 5, by a partner run.py seeded; ids that are invalid
  (negative cases) stay as generated (422). Settings and token writes and deletes go to the
  scratch partners only, so the partners the deep paths need keep their setup.
- `hipchat_url` in request bodies: anything that could parse as an http(s) URL is pointed at
  the HipChat simulator (keeping path, query and blanks, which the API normalises), so no
  generated request makes the functions call a host on the internet. Strings that cannot be
  http(s) URLs are left alone (they are refused without a network call).
- `token` in a connection-check body: sometimes the simulator's valid token, so the check
  runs past "token rejected".
- `cursor` of GET /rooms: opaque, so a generated one is nearly always refused (422); most are
  replaced by cursors the API hands out (`next_cursor`), so the listing runs.

Unsigned run (CONTRACT_MODE=unsigned): the check `unsigned_is_401` requires every answer to
be the 401 problem.
"""

import base64
import json
import os
import random
import re
import threading
import urllib.parse

import schemathesis

MODE = os.environ.get("CONTRACT_MODE", "signed")
PARTNERS = json.loads(os.environ.get("CONTRACT_PARTNERS", '{"read": [], "write": []}'))
HIPCHAT_URL = os.environ.get("CONTRACT_HIPCHAT_URL", "http://127.0.0.1:9")
HIPCHAT_TOKEN = os.environ.get("CONTRACT_HIPCHAT_TOKEN", "")
PARTNER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Operations that change or delete a partner's settings or token: scratch partners only.
WRITES = {("PUT", "settings"), ("DELETE", "settings"), ("PUT", "token"), ("DELETE", "token")}

_rng = random.Random(int(os.environ.get("CONTRACT_SEED", "0")))
_rng_lock = threading.Lock()


def _chance(p):
    with _rng_lock:
        return _rng.random() < p


def _pick(items):
    with _rng_lock:
        return _rng.choice(items)


def _could_be_http_url(value):
    """True when the API might parse `value` as an http(s) URL: the url crate ignores blanks
    and C0 controls around it and tabs/newlines inside, and schemes are case-insensitive."""
    squeezed = "".join(ch for ch in value if ord(ch) > 0x20 and ch != "\x7f").lower()
    return squeezed.startswith("http")


def _to_simulator(value):
    """An http(s) URL's scheme and authority replaced by the simulator's; the rest is kept,
    so path, query, fragment and blanks still get normalised (with warnings)."""
    sim = urllib.parse.urlsplit(HIPCHAT_URL)
    lead = value[: len(value) - len(value.lstrip())]
    trail = value[len(value.rstrip()) :]
    try:
        u = urllib.parse.urlsplit(value.strip())
        rest = urllib.parse.urlunsplit(("", "", u.path, u.query, u.fragment))
    except ValueError:
        rest = ""
    if rest and not rest.startswith(("/", "?", "#")):
        rest = "/" + rest
    rest = "".join(ch for ch in rest if ord(ch) > 0x20 and ch != "\x7f")
    return f"{lead}{sim.scheme}://{sim.netloc}{rest}{trail}"


def _steer_partner(case):
    params = case.path_parameters
    if not isinstance(params, dict):
        return
    value = params.get("partner_id")
    if not isinstance(value, str) or not PARTNER_ID.fullmatch(value):
        return  # a negative case: the API must refuse it (422)
    resource = case.operation.path.rsplit("/", 1)[-1]
    pool = PARTNERS["write"] if (case.operation.method.upper(), resource) in WRITES else PARTNERS["read"]
    if pool and _chance(0.8):
        params["partner_id"] = _pick(pool)


def _steer_query(case):
    query = case.query
    if not isinstance(query, dict) or not isinstance(query.get("cursor"), str):
        return
    if case.operation.path.endswith("/rooms") and _chance(0.7):
        # What `next_cursor` looks like (shared/src/service/rooms.rs encode_cursor).
        query["cursor"] = base64.urlsafe_b64encode(f"hipchat:{_pick([0, 1, 2, 5, 1000])}".encode()).decode().rstrip("=")


def _steer_body(case):
    body = case.body
    if not isinstance(body, dict):
        return
    url = body.get("hipchat_url")
    if isinstance(url, str) and _could_be_http_url(url):
        body["hipchat_url"] = _to_simulator(url)
    if case.operation.path.endswith("/connection-check") and isinstance(body.get("token"), str):
        if HIPCHAT_TOKEN and _chance(0.3):
            body["token"] = HIPCHAT_TOKEN


if MODE == "signed":

    @schemathesis.hook
    def before_call(context, case, kwargs):
        _steer_partner(case)
        _steer_query(case)
        _steer_body(case)

else:

    @schemathesis.hook
    def before_call(context, case, kwargs):
        # Nothing generated may reach a partner by accident either; keep ids as generated.
        _steer_body(case)

    @schemathesis.check
    def unsigned_is_401(ctx, response, case):
        """Without a valid signature every operation answers the 401 problem."""
        if response.status_code != 401:
            raise AssertionError(f"unsigned request answered {response.status_code}, not 401")
        ctype = response.headers.get("content-type") or response.headers.get("Content-Type") or [""]
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        if not ctype.startswith("application/problem+json"):
            raise AssertionError(f"401 without the problem content type: {ctype!r}")
        body = json.loads(response.content or b"null")
        if not isinstance(body, dict) or body.get("type") != "/problems/unauthorized" or body.get("status") != 401:
            raise AssertionError(f"401 body is not the unauthorized problem: {str(body)[:200]}")
