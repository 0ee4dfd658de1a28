#!/usr/bin/env python3
"""Contract run: schemathesis against the local stack, through the local gateway.

    infra/local/contract/run.sh          (reads the stack's variables; see run.sh)

1. Seeds partners through the API (settings + tokens made in the HipChat simulator) and lifts
   the simulator's rate limits for the run (restored afterwards).
2. Signed run: schemathesis generates requests for every operation of infra/openapi.yaml --
   examples, the coverage phase (boundary and invalid values of every parameter and member)
   and fuzzing, valid and invalid data -- and sends them through a signing proxy
   (sign_proxy.py) to API_BASE_URL. Checks: not_a_server_error, status_code_conformance,
   content_type_conformance, response_schema_conformance, response_headers_conformance.
   At least CONTRACT_MIN_REQUESTS (1000) requests, every operation reached.
3. Unsigned run: schemathesis again, without signatures: every answer must be the 401
   problem (custom check `unsigned_is_401` in hooks.py); then each operation once more with
   a missing, a malformed, a wrong-key and a stale signature, and one over another body.
4. Transport probes: signed requests no HTTP client library sends (raw `"` or blanks in the
   query, a Host or X-Forwarded-Proto that cannot be part of a URL): no answer >= 500.
5. Writes target/contract/summary.json and summary.md (requests per operation, statuses,
   failures) and exits non-zero on any failure.

Environment: API_BASE_URL, SIGNING_KEY, HIPCHAT_URL (the stack's; `stack.py test` exports
them). Optional: CONTRACT_SEED (default: random, printed), CONTRACT_MAX_EXAMPLES (per
operation and mode in the fuzzing phase, default 35), CONTRACT_UNSIGNED_EXAMPLES (default 5),
CONTRACT_TIMEOUT (seconds for the signed schemathesis run, default 300),
CONTRACT_MIN_REQUESTS (default 1000), CONTRACT_SPEC (another OpenAPI document, e.g. a
deliberately broken copy to see the checks fail).
"""

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sign_proxy  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SPEC = Path(os.environ.get("CONTRACT_SPEC") or ROOT / "infra" / "openapi.yaml").resolve()
OUT = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "contract"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def log(msg):
    print(f"[contract] {msg}", flush=True)


def need(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"[contract] {name} is not set: run through `stack.py test -- {sys.argv[0]}` or source .local/stack.env")
    return value


def http(method, url, body=None, headers=None, timeout=60):
    """(status, headers, parsed JSON or text) of one request; never raises on HTTP errors."""
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "content-type" not in {k.lower() for k in (headers or {})}:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, hdrs, parsed


class Api:
    """Signed calls to the API, for seeding (the same signature the proxy makes)."""

    def __init__(self, base, key):
        self.base, self.key = base.rstrip("/"), key

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        raw = json.dumps(body).encode() if body is not None else b""
        ts, sig = sign_proxy.fresh_signature(self.key, method, path.encode(), raw)
        headers = {sign_proxy.TIMESTAMP_HEADER: str(ts), sign_proxy.SIGNATURE_HEADER: sig}
        status, _, answer = http(method, self.base + path, raw if raw else None, headers)
        if status not in expect:
            raise RuntimeError(f"seeding: {method} {path} answered {status}: {str(answer)[:300]}")
        return answer


def operations(spec):
    """[(METHOD, path template, operationId)] of the document."""
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                ops.append((method.upper(), path, op["operationId"]))
    return ops


def seed(api, sim, run_id):
    """Partners for the deep paths. Returns ({"read": [...], "write": [...]}, a valid token)."""
    full = http("POST", f"{sim}/_sim/tokens", {"token": f"ctfull{run_id}{secrets.token_hex(8)}"})[2]["token"]
    limited = http("POST", f"{sim}/_sim/tokens", {"token": f"ctview{run_id}{secrets.token_hex(8)}",
                                                   "scopes": ["view_group", "view_room"]})[2]["token"]
    revoked = http("POST", f"{sim}/_sim/tokens", {"token": f"ctgone{run_id}{secrets.token_hex(8)}"})[2]["token"]
    http("POST", f"{sim}/_sim/tokens/{revoked}/revoke")
    room = http("POST", f"{sim}/_sim/rooms", {"name": f"contract notifications {run_id}"})[2]["id"]
    open_hours = {"timezone": "Europe/Vienna", "days": {d: [{"from": "00:00", "to": "24:00"}] for d in WEEKDAYS}}
    all_on = {"login_logout": "customers_and_partners", "comment_created": True, "issue_created": True,
              "issue_approval": True}

    def settings(active=True, room_id=room, hours=open_hours, button=True):
        return {"active": active, "hipchat_url": sim, "notification_room_id": room_id, "language": "en",
                "chat": {"show_button": button, "button_position": "both", "service_hours": hours},
                "notifications": all_on}

    partners = {
        # Everything set up: rooms, chat requests (rooms made in the simulator) and events are sent.
        f"ct-open-{run_id}": (settings(), full),
        # Button on but never open, no notification room, a token without Manage Rooms.
        f"ct-closed-{run_id}": (settings(room_id=None, hours={"timezone": "UTC", "days": {}}), limited),
        # Settings stored but inactive, no token.
        f"ct-bare-{run_id}": ({"active": False}, None),
        # HipChat answers 401 for its token (revoked): token-rejected.
        f"ct-rejected-{run_id}": (settings(), revoked),
        # The targets of settings/token writes and deletes (set up like ct-open to begin with).
        f"ct-scratch1-{run_id}": (settings(), full),
        f"ct-scratch2-{run_id}": (settings(), full),
    }
    for pid, (doc, token) in partners.items():
        api.call("PUT", f"/v1/partners/{pid}/settings", doc)
        if token:
            api.call("PUT", f"/v1/partners/{pid}/token", {"token": token})
    ids = list(partners)
    # Reads go to every partner, the fully set-up one three times as often (the deep paths).
    return {"read": ids + [ids[0]] * 2, "write": [p for p in ids if "-scratch" in p]}, full


def junit_failures(path):
    """{operation label: [failure messages]} from schemathesis' JUnit report."""
    out = defaultdict(list)
    if not path.exists():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            for f in case.findall(kind):
                text = (f.get("message") or "") + "\n" + (f.text or "")
                out[case.get("name")].append(f"{kind}: {text.strip()[:2000]}")
    return out


def record_run(failures, label, rc, op_failures, timeout):
    """Adds a schemathesis run's outcome (exit code `rc`, None when it timed out) and its
    per-operation failures to `failures`."""
    if rc is None:
        failures[f"{label} run"] = [f"did not finish within {timeout} s (CONTRACT_TIMEOUT)"]
    elif rc != 0:
        failures[f"{label} run"] = [f"schemathesis exited with {rc}; see {OUT / (label + '.log')}"]
    for op, items in op_failures.items():
        failures[f"{label}: {op}"] = items


def run_schemathesis(label, url, env_extra, args, timeout):
    junit = OUT / f"{label}.junit.xml"
    junit.unlink(missing_ok=True)
    cmd = [
        str(SCHEMATHESIS), "--config-file", str(HERE / "schemathesis.toml"), "--no-color", "run", str(SPEC),
        "--url", url, "--report", "junit", "--report-junit-path", str(junit), *args,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "hooks", "PYTHONPATH": str(HERE), **env_extra}
    log(f"{label}: {' '.join(cmd[1:])}")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, cwd=OUT, timeout=timeout, capture_output=True, text=True)
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        rc = None
        output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    elapsed = time.monotonic() - started
    (OUT / f"{label}.log").write_text(output)
    tail = "\n".join(output.rstrip().splitlines()[-25:])
    print(tail, flush=True)
    return rc, elapsed, junit_failures(junit)


def signature_probes(base, key, ops, partner):
    """Each operation with a missing, malformed, wrong-key and stale signature: all 401."""
    failures = []
    count = Counter()
    for method, template, op_id in ops:
        path = template.replace("{partner_id}", partner)
        body = b"{}" if method in ("PUT", "POST") else b""
        now = int(time.time())
        variants = {
            "missing": {},
            "malformed": {sign_proxy.TIMESTAMP_HEADER: str(now), sign_proxy.SIGNATURE_HEADER: "v1=xyz"},
            "wrong key": {sign_proxy.TIMESTAMP_HEADER: str(now),
                          sign_proxy.SIGNATURE_HEADER: sign_proxy.sign(key + "x", now, method, path.encode(), body)},
            "stale": {sign_proxy.TIMESTAMP_HEADER: str(now - 301),
                      sign_proxy.SIGNATURE_HEADER: sign_proxy.sign(key, now - 301, method, path.encode(), body)},
            "other body": {sign_proxy.TIMESTAMP_HEADER: str(now),
                           sign_proxy.SIGNATURE_HEADER: sign_proxy.sign(key, now, method, path.encode(), b'{"x":1}')},
        }
        for name, headers in variants.items():
            status, hdrs, answer = http(method, base + path, body or None, headers)
            count[op_id] += 1
            ok = (status == 401 and (hdrs.get("content-type") or "").startswith("application/problem+json")
                  and isinstance(answer, dict) and answer.get("type") == "/problems/unauthorized")
            if not ok:
                failures.append(f"{op_id} ({name} signature): {status} {str(answer)[:200]}")
    return count, failures


def replay_probes(base, key, ops, partner):
    """Each write operation signed once and sent twice, byte for byte (on a scratch partner):
    the second must be the 401 problem, except for events, whose id makes a repeat a
    duplicate (docs/api.md "Replayed requests"). Returns (requests sent, failures)."""
    failures = []
    sent = 0
    for method, template, op_id in ops:
        if method == "GET":
            continue
        path = template.replace("{partner_id}", partner)
        body = b"{}" if method in ("PUT", "POST") else b""
        ts, sig = sign_proxy.fresh_signature(key, method, path.encode(), body)
        headers = {"Content-Type": "application/json", sign_proxy.TIMESTAMP_HEADER: str(ts),
                   sign_proxy.SIGNATURE_HEADER: sig}
        first, _, _ = http(method, base + path, body or None, headers)
        second, hdrs, answer = http(method, base + path, body or None, headers)
        sent += 2
        if template.endswith("/events"):
            ok = second == first
        else:
            ok = (second == 401 and isinstance(answer, dict) and answer.get("type") == "/problems/unauthorized"
                  and (hdrs.get("content-type") or "").startswith("application/problem+json"))
        if not ok:
            failures.append(f"{op_id} replayed: {first} then {second} {str(answer)[:200]}")
    return sent, failures


def raw_request(base, method, target: bytes, headers: dict, body=b"", host=None):
    """One request written byte for byte on a socket (HTTP clients would encode or refuse what
    these probes send). Returns (status, body)."""
    u = urllib.parse.urlsplit(base)
    lines = [f"{method} ".encode() + target + b" HTTP/1.1", b"Host: " + (host if host is not None else u.netloc.encode())]
    lines += [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    with socket.create_connection((u.hostname, u.port), timeout=60) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, payload[:300]


def transport_probes(base, key, ops, partners):
    """Signed requests an HTTP client library would not send: raw characters in the query, a
    Host or X-Forwarded-Proto that cannot be part of a URL. lambda_http 1.3 panicked on these
    before our code ran (a 500); shared/src/adapters/http/lambda.rs makes the events safe.
    No answer may be >= 500. (A raw `"`, `<` or blank in the query is refused by the local
    gateway's HTTP layer with a 400; the unit tests cover the function for it.)"""
    failures = []
    count = Counter()
    statuses = Counter()
    for method, template, op_id in ops:
        # Settings and token writes go to a scratch partner, like the generated ones.
        resource = template.rsplit("/", 1)[-1]
        partner = partners["write"][0] if method in ("PUT", "DELETE") and resource in ("settings", "token") \
            else partners["read"][0]
        path = template.replace("{partner_id}", partner).encode()
        body = b"{}" if method in ("PUT", "POST") else b""
        cases = [
            ("raw quote in query", path + b'?q="x"', {}, None),
            ("raw <> in query", path + b"?q=<x>", {}, None),
            ("raw {|}^` in query", path + b"?q={|}^`", {}, None),
            ("non-ASCII query", path + "?q=\u00e4\u00df".encode(), {}, None),
            ("Host with a blank", path, {}, b"a b"),
            ("Host '['", path, {}, b"["),
            ("Host with a bad port", path, {}, b"h:99999"),
            ("X-Forwarded-Proto 'a b'", path, {"X-Forwarded-Proto": "a b"}, None),
        ]
        for name, target, extra, host in cases:
            ts, sig = sign_proxy.fresh_signature(key, method, target, body)
            headers = {
                "Content-Type": "application/json",
                sign_proxy.TIMESTAMP_HEADER: str(ts),
                sign_proxy.SIGNATURE_HEADER: sig,
                **extra,
            }
            status, answer = raw_request(base, method, target, headers, body, host)
            count[op_id] += 1
            statuses[status] += 1
            if status >= 500 or status == 0:
                failures.append(f"{op_id} ({name}): {status} {answer[:200]!r}")
    return count, statuses, failures


def main():
    base = need("API_BASE_URL").rstrip("/")
    key = need("SIGNING_KEY")
    sim = need("HIPCHAT_URL").rstrip("/")
    seed_value = int(os.environ.get("CONTRACT_SEED") or random.randrange(1, 2**31))
    max_examples = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "35"))
    unsigned_examples = int(os.environ.get("CONTRACT_UNSIGNED_EXAMPLES", "5"))
    timeout = int(os.environ.get("CONTRACT_TIMEOUT", "300"))
    min_requests = int(os.environ.get("CONTRACT_MIN_REQUESTS", "1000"))
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    spec = yaml.safe_load(SPEC.read_text())
    ops = operations(spec)
    labels = {op_id: f"{m} {p}" for m, p, op_id in ops}
    version = subprocess.run([str(SCHEMATHESIS), "--version"], capture_output=True, text=True).stdout.strip()
    log(f"{version}; {len(ops)} operations in {SPEC}; seed {seed_value} (CONTRACT_SEED={seed_value} repeats it)")

    status, _, old_limits = http("GET", f"{sim}/_sim/limits")
    if status != 200:
        sys.exit(f"[contract] the HipChat simulator at {sim} does not answer /_sim/limits ({status})")
    # HipChat's limits (100 requests / 5 min per token, 30 sends / min per room) would turn
    # most deep requests into 503s after a few seconds: lifted for the run.
    http("PUT", f"{sim}/_sim/limits", {"rate_limit": 1_000_000, "flood_limit": 1_000_000})
    # Faults another suite left pending would be 5xx here that say nothing about the contract.
    http("DELETE", f"{sim}/_sim/faults")
    proxy = None
    failures = {}
    try:
        run_id = secrets.token_hex(3)
        partners, token = seed(Api(base, key), sim, run_id)
        log(f"seeded partners {', '.join(dict.fromkeys(partners['read']))}; HipChat limits lifted (were {old_limits})")

        routes = sign_proxy.Routes([(m, p, op_id) for m, p, op_id in ops])
        proxy = sign_proxy.SigningProxy(base, key, routes)
        proxy.journal = open(OUT / "requests.jsonl", "w")
        proxy_url = proxy.start()
        log(f"signing proxy on {proxy_url} -> {base}")

        hook_env = {"CONTRACT_PARTNERS": json.dumps(partners), "CONTRACT_HIPCHAT_URL": sim,
                    "CONTRACT_HIPCHAT_TOKEN": token, "CONTRACT_SEED": str(seed_value)}
        proxy.switch("signed", sign=True)
        rc, signed_secs, signed_failures = run_schemathesis(
            "signed", proxy_url, {**hook_env, "CONTRACT_MODE": "signed"},
            ["--seed", str(seed_value), "--max-examples", str(max_examples)], timeout,
        )
        record_run(failures, "signed", rc, signed_failures, timeout)

        proxy.switch("unsigned", sign=False)
        rc, unsigned_secs, unsigned_failures = run_schemathesis(
            "unsigned", proxy_url, {**hook_env, "CONTRACT_MODE": "unsigned"},
            ["--seed", str(seed_value), "--max-examples", str(unsigned_examples), "--mode", "positive",
             "--phases", "examples,fuzzing", "--checks", "unsigned_is_401,content_type_conformance,"
             "response_schema_conformance,response_headers_conformance,status_code_conformance"],
            timeout,
        )
        record_run(failures, "unsigned", rc, unsigned_failures, timeout)
        probe_counts, probe_failures = signature_probes(base, key, ops, partners["read"][0])
        if probe_failures:
            failures["signature probes"] = probe_failures
        replays, replay_failures = replay_probes(base, key, ops, f"replay-probe-{seed_value}")
        if replay_failures:
            failures["replay probes"] = replay_failures
        raw_counts, raw_statuses, raw_failures = transport_probes(base, key, ops, partners)
        if raw_failures:
            failures["transport probes"] = raw_failures
        if proxy.errors:
            failures["proxy"] = proxy.errors[:20]
    finally:
        if proxy:
            proxy.stop()
            if proxy.journal:
                proxy.journal.close()
        if isinstance(old_limits, dict):
            http("PUT", f"{sim}/_sim/limits", old_limits)

    counts = proxy.counts
    signed = counts.get("signed", Counter())
    unsigned = counts.get("unsigned", Counter())
    per_op = {}
    for _, _, op_id in ops:
        s = {st: n for (o, st), n in sorted(signed.items()) if o == op_id}
        u = {st: n for (o, st), n in sorted(unsigned.items()) if o == op_id}
        per_op[op_id] = {
            "operation": labels[op_id],
            "signed_requests": sum(s.values()),
            "signed_statuses": {str(k): v for k, v in s.items()},
            "unsigned_requests": sum(u.values()) + probe_counts[op_id],
            "unsigned_statuses": {str(k): v for k, v in u.items()},
        }
    unrouted = {f"{o} {st}": n for (o, st), n in signed.items() if o.startswith("(unrouted)")}
    total_signed = sum(signed.values())
    total_unsigned = sum(unsigned.values()) + sum(probe_counts.values())
    server_errors = sum(n for (o, st), n in signed.items() if st >= 500)
    if total_signed < min_requests:
        failures["request count"] = [f"{total_signed} signed requests, fewer than {min_requests}"]
    missing = [op for op, v in per_op.items() if v["signed_requests"] == 0 or v["unsigned_requests"] == 0]
    if missing:
        failures["coverage"] = [f"operations never requested: {', '.join(missing)}"]
    if server_errors:
        failures.setdefault("server errors", []).append(f"{server_errors} signed answers with status >= 500")
    unsigned_not_401 = sum(n for (o, st), n in unsigned.items() if st != 401 and not o.startswith("(unrouted)"))
    if unsigned_not_401:
        failures.setdefault("unsigned", []).append(f"{unsigned_not_401} unsigned answers were not 401")

    summary = {
        "schemathesis": version,
        "seed": seed_value,
        "checks": CHECKS,
        "unsigned_checks": ["unsigned_is_401", *CHECKS[1:]],
        "phases": ["examples", "coverage", "fuzzing"],
        "max_examples": max_examples,
        "signed_requests": total_signed,
        "unsigned_requests": total_unsigned,
        "server_errors": server_errors,
        "signed_seconds": round(signed_secs, 1),
        "unsigned_seconds": round(unsigned_secs, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "operations": per_op,
        "unrouted_requests": unrouted,
        "replay_probes": replays,
        "transport_probes": {"requests": sum(raw_counts.values()),
                             "statuses": {str(k): v for k, v in sorted(raw_statuses.items())}},
        "failures": failures,
        "ok": not failures,
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (OUT / "summary.md").write_text(markdown(summary))
    print(markdown(summary), flush=True)
    if failures:
        log(f"FAILED ({sum(len(v) for v in failures.values())} failures; logs and JUnit reports in {OUT})")
        return 1
    log(f"ok: {total_signed} signed and {total_unsigned} unsigned requests, no failures ({summary['total_seconds']} s)")
    return 0


def markdown(s):
    lines = [
        f"## Contract run ({s['schemathesis']}, seed {s['seed']})",
        "",
        f"Signed: **{s['signed_requests']}** generated requests in {s['signed_seconds']} s "
        f"(phases {', '.join(s['phases'])}; valid and invalid data), checks {', '.join(s['checks'])}; "
        f"answers >= 500: **{s['server_errors']}**. Unsigned: **{s['unsigned_requests']}** requests, every one "
        f"401 expected. Failures: **{sum(len(v) for v in s['failures'].values())}**. Total {s['total_seconds']} s.",
        "",
        "| operation | signed | statuses (signed) | unsigned |",
        "|---|---:|---|---:|",
    ]
    for v in s["operations"].values():
        statuses = ", ".join(f"{k}: {n}" for k, n in v["signed_statuses"].items())
        lines.append(f"| `{v['operation']}` | {v['signed_requests']} | {statuses} | {v['unsigned_requests']} |")
    tp = s["transport_probes"]
    lines.append("")
    lines.append(f"Transport probes (raw query characters, odd Host / X-Forwarded-Proto, signed): {tp['requests']} "
                 f"requests, statuses " + ", ".join(f"{k}: {n}" for k, n in tp["statuses"].items()) + ".")
    if s["unrouted_requests"]:
        lines.append("")
        lines.append("Requests outside the documented routes (schemathesis' unexpected-method cases, answered "
                     "by the gateway, and its capability probe `GET /` with a NUL byte in a header): "
                     + ", ".join(f"{k}: {n}" for k, n in s["unrouted_requests"].items()))
    if s["failures"]:
        lines += ["", "### Failures", ""]
        for what, items in s["failures"].items():
            for item in items:
                lines.append(f"- **{what}**: " + item.replace("\n", " ")[:600])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
