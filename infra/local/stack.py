#!/usr/bin/env python3
"""The local stack: moto server, the DynamoDB table, a dev signing key, the HipChat v2
simulator, the functions under `cargo lambda watch`, and the local gateway -- all on loopback.

    stack.py run             bring everything up, seed the demo partners, print signed example
                             calls, stay in the foreground until Ctrl-C / SIGTERM
    stack.py test -- CMD...  bring everything up, run CMD with the stack's variables in its
                             environment, stop everything (also on failure), exit with CMD's status;
                             moto records every request, and after CMD succeeded each function's
                             calls are checked against its IAM policy (check_policies.py)
    stack.py bench -- CMD... moto, the table, the signing key and the simulator (release build)
                             only, the functions' environment in FUNCTIONS_ENV_FILE; CMD (the
                             bench) runs the functions itself. Files in .local/bench/.
    stack.py soak -- CMD...  like test (the whole stack, the debug builds), without moto's recording
                             and the IAM policy check: CMD is the soak (make soak). Files in
                             .local/soak/.

Run it through the Makefile (`make run`, `make test`), which installs the Python venv this
script needs (boto3 and PyYAML come with moto and cfn-lint) and builds the Rust binaries.

Ports default to free loopback ports; set MOTO_PORT, HIPCHAT_PORT, LAMBDA_PORT or GATEWAY_PORT
to pin them. Writes .local/stack.env (API_BASE_URL, SIGNING_KEY, HIPCHAT_URL, HIPCHAT_TOKEN,
HIPCHAT_NOTIFICATION_ROOM_ID, AWS_ENDPOINT_URL, TABLE_NAME, ...); in test
mode everything goes to .local/test/ instead, so a running `make run` keeps its files.
In test mode moto's request recording goes to .local/test/moto_recording.jsonl (the input of
the IAM policy check; `infra/local/check_policies.py .local/test/moto_recording.jsonl` re-runs it).
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import yaml

import check_policies

ROOT = Path(__file__).resolve().parents[2]
# `run` writes .local/ (read by `call` and `make invoke`); `test` writes .local/test/, so a
# test run beside a running `make run` leaves that stack's files alone. Set in main().
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
VENV_BIN = ROOT / ".venv" / "bin"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
REGION = "us-east-1"
STAGE = "local"
SECRET_PREFIX = f"dynaboard-hipchat/{STAGE}"
SIGNING_SECRET_ID = f"{SECRET_PREFIX}/signing-keys"
TABLE_NAME = f"dynaboard-hipchat-{STAGE}"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DEMO_PARTNER_ID = "demo"
# A second demo partner whose token was issued 350 days ago (a one-year life: it expires in
# 15 days), so that `make invoke FN=token-expiry-reminder` has a warning to post.
DEMO_EXPIRING_PARTNER_ID = "demo-expiring"
DEMO_EXPIRING_TOKEN_AGE_DAYS = 350
DEMO_ROOM_NAME = "dynaBOARD notifications"
# The functions that exist: one binary crate per folder in functions/.
# The build the simulator runs from: debug, but release for the bench (set in main()).
PROFILE = "debug"
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists())


def log(msg):
    print(f"[stack] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_from_env(name):
    value = os.environ.get(name)
    return int(value) if value else free_port()


def wait_for_port(port, proc, name, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not open port {port} within {timeout} s")


class _CfnLoader(yaml.SafeLoader):
    """Reads a CloudFormation template: intrinsic-function tags become plain values (str,
    list, dict) that remember their tag in `.tag` (e.g. "!GetAtt"), for check_policies.py."""


class TaggedStr(str):
    tag = None


class TaggedList(list):
    tag = None


class TaggedDict(dict):
    tag = None


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = TaggedStr(loader.construct_scalar(node))
    elif isinstance(node, yaml.SequenceNode):
        value = TaggedList(loader.construct_sequence(node))
    else:
        value = TaggedDict(loader.construct_mapping(node))
    value.tag = "!" + suffix
    return value


_CfnLoader.add_multi_constructor("!", _tag)


def load_template_text(text):
    return yaml.load(text, Loader=_CfnLoader)


def load_template():
    return load_template_text((ROOT / "infra" / "template.yaml").read_text())


def table_definition():
    """The DynamoDB table's properties from infra/template.yaml (the one definition)."""
    template = load_template()
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        raise RuntimeError("infra/template.yaml must define exactly one DynamoDB table")
    return tables[0]["Properties"]


def function_variables():
    """The functions' own environment variables from infra/template.yaml (e.g. the reminder's
    REMINDER_THRESHOLDS_DAYS), so the local functions run with the deployed configuration.
    The Globals' variables (table, secret prefix, signing secret) are set by function_env()."""
    variables = {}
    for name, r in load_template()["Resources"].items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        for key, value in ((r["Properties"].get("Environment") or {}).get("Variables") or {}).items():
            if variables.get(key, value) != value:
                raise RuntimeError(f"infra/template.yaml: {name} sets {key} differently from another function")
            variables[key] = str(value)
    return variables


class Stack:
    def __init__(self, foreground_logs):
        self.procs = []  # (name, Popen)
        self.foreground_logs = foreground_logs
        self.env = {}

    # -- processes ---------------------------------------------------------------------
    def spawn(self, name, args, env=None, to_console=False):
        LOGS.mkdir(parents=True, exist_ok=True)
        out = None if to_console else open(LOGS / f"{name}.log", "w")
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: stop() ends children too
        )
        self.procs.append((name, proc))
        return proc

    def stop(self):
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.procs.clear()
        log("stopped")

    # -- pieces ------------------------------------------------------------------------
    def start_moto(self, recording=None):
        """Starts moto; with `recording`, moto appends every request to that file (JSON lines)."""
        port = port_from_env("MOTO_PORT")
        env = {}
        if recording:
            recording.unlink(missing_ok=True)
            env = {"MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(recording)}
        # moto_server with conditional writes made atomic, as in DynamoDB (see moto_atomic.py).
        moto = [str(VENV_BIN / "python"), str(ROOT / "infra" / "local" / "moto_atomic.py")]
        proc = self.spawn("moto", [*moto, "-H", "127.0.0.1", "-p", str(port)], env=env)
        wait_for_port(port, proc, "moto")
        self.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        # For the fault suite: it pauses moto (SIGSTOP) to play an AWS outage, then resumes it.
        self.env["MOTO_PID"] = str(proc.pid)
        log(f"moto server on {self.env['AWS_ENDPOINT_URL']}")

    def start_hipchat(self):
        port = port_from_env("HIPCHAT_PORT")
        proc = self.spawn("hipchat-sim", [str(TARGET / PROFILE / "hipchat-sim"), "--listen", f"127.0.0.1:{port}"])
        wait_for_port(port, proc, "hipchat-sim")
        self.env["HIPCHAT_URL"] = f"http://127.0.0.1:{port}"
        log(f"HipChat v2 simulator on {self.env['HIPCHAT_URL']} (control API: /_sim/)")

    def hipchat_sim(self, method, path, body):
        """A call to the simulator's /_sim/ control API; returns the JSON answer."""
        req = urllib.request.Request(
            self.env["HIPCHAT_URL"] + path, method=method, data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def aws(self, service):
        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def create_table(self):
        props = table_definition()
        ddb = self.aws("dynamodb")
        kwargs = {
            "TableName": TABLE_NAME,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ddb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=TABLE_NAME,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        self.env["TABLE_NAME"] = TABLE_NAME
        log(f"table {TABLE_NAME} created from infra/template.yaml")

    def create_signing_key(self):
        key = os.environ.get("SIGNING_KEY") or f"dev-{secrets.token_hex(24)}"
        self.aws("secretsmanager").create_secret(Name=SIGNING_SECRET_ID, SecretString=json.dumps({"keys": [key]}))
        self.env["SIGNING_KEY"] = key
        log(f"signing secret {SIGNING_SECRET_ID} created with a fresh dev key")

    def function_env(self):
        return {
            **function_variables(),
            "TABLE_NAME": TABLE_NAME,
            "SECRET_PREFIX": SECRET_PREFIX,
            "SIGNING_SECRET_ID": SIGNING_SECRET_ID,
            # The simulator (and anything else the local stack runs) listens on loopback.
            "ALLOW_PRIVATE_CHAT_HOSTS": "loopback",
            "AWS_ENDPOINT_URL": self.env["AWS_ENDPOINT_URL"],
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            # JSON log lines as in the cloud for tests (they read them); text for `make run`.
            **({} if self.foreground_logs else {"AWS_LAMBDA_LOG_FORMAT": "JSON"}),
        }

    def write_function_env(self):
        """The functions' environment as an env file (`cargo lambda watch --env-file`, the bench)."""
        env_file = LOCAL / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.function_env().items()))
        return env_file

    def start_functions(self, reload):
        port = port_from_env("LAMBDA_PORT")
        env_file = self.write_function_env()
        args = [
            str(VENV_BIN / "cargo-lambda"), "lambda", "watch",
            "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
            "--env-file", str(env_file),
            "--concurrency", "4",
        ]
        if not reload:
            args.append("--ignore-changes")
        proc = self.spawn(
            "functions", args,
            env={"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"},
            to_console=self.foreground_logs,
        )
        wait_for_port(port, proc, "functions", timeout=300)
        self.env["LAMBDA_INVOKE_URL"] = f"http://127.0.0.1:{port}"
        self.env["LAMBDA_PORT"] = str(port)
        if not self.foreground_logs:
            self.env["FUNCTIONS_LOG"] = str(LOGS / "functions.log")
        log(f"cargo lambda watch on {self.env['LAMBDA_INVOKE_URL']} ({', '.join(FUNCTIONS)})")

    def start_gateway(self):
        port = port_from_env("GATEWAY_PORT")
        proc = self.spawn(
            "gateway",
            [str(TARGET / "debug" / "local-gateway"), "--listen", f"127.0.0.1:{port}", "--lambda", self.env["LAMBDA_INVOKE_URL"]],
            to_console=self.foreground_logs,
        )
        wait_for_port(port, proc, "gateway")
        self.env["API_BASE_URL"] = f"http://127.0.0.1:{port}"
        log(f"local gateway on {self.env['API_BASE_URL']}")

    def warm_up(self):
        """One unsigned call per function starts its process (answer: 401)."""
        p = f"/v1/partners/{DEMO_PARTNER_ID}"
        warm = [
            ("settings", "GET", f"{p}/settings"),
            ("connection-check", "POST", f"{p}/connection-check"),
            ("chat-request", "GET", f"{p}/chat/availability"),
            ("event-notification", "POST", f"{p}/events"),
        ]
        for fn, method, path in warm:
            if fn not in FUNCTIONS:
                continue
            req = urllib.request.Request(self.env["API_BASE_URL"] + path, method=method)
            try:
                urllib.request.urlopen(req, timeout=300)
            except urllib.error.HTTPError as e:
                if e.code != 401:
                    raise RuntimeError(f"warm-up of {fn}: expected 401, got {e.code}: {e.read()[:300]!r}")
        log("functions warmed up")

    def write_env_file(self):
        self.env.update({
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "SECRET_PREFIX": SECRET_PREFIX,
            "SIGNING_SECRET_ID": SIGNING_SECRET_ID,
            "DEMO_PARTNER_ID": DEMO_PARTNER_ID,
            "DEMO_EXPIRING_PARTNER_ID": DEMO_EXPIRING_PARTNER_ID,
        })
        text = "# written by infra/local/stack.py; source it: set -a; . .local/stack.env; set +a\n"
        text += "".join(f"{k}={v}\n" for k, v in sorted(self.env.items()))
        (LOCAL / "stack.env").write_text(text)

    def up(self, reload, recording=None, functions=True):
        LOCAL.mkdir(parents=True, exist_ok=True)
        self.start_moto(recording)
        self.create_table()
        self.create_signing_key()
        self.start_hipchat()
        if not functions:
            self.env["FUNCTIONS_ENV_FILE"] = str(self.write_function_env())
            self.write_env_file()
            return
        self.start_functions(reload)
        self.start_gateway()
        self.write_env_file()
        self.warm_up()

    def call(self, *args):
        out = subprocess.run(
            [str(TARGET / "debug" / "call"), "--fail", "--quiet", *args],
            cwd=ROOT, env={**os.environ, **self.env}, capture_output=True, text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"seeding failed: call {' '.join(args[:2])}: {out.stdout}{out.stderr}")
        return out.stdout

    def seed_demo(self):
        # In the simulator: a token with every scope and a notification room.
        token = self.hipchat_sim("POST", "/_sim/tokens", {"token": f"demo{secrets.token_hex(18)}"})["token"]
        room = self.hipchat_sim("POST", "/_sim/rooms", {"name": DEMO_ROOM_NAME, "topic": "dynaBOARD events and chat requests"})
        settings = {
            "active": True,
            "hipchat_url": self.env["HIPCHAT_URL"],
            "notification_room_id": room["id"],
            "language": "en",
            "chat": {
                "show_button": True,
                "button_position": "both",
                "service_hours": {
                    # Open around the clock, so that the README's chat example works at any hour;
                    # `GET .../chat/availability?at=` previews other schedules.
                    "timezone": "Europe/Vienna",
                    "days": {d: [{"from": "00:00", "to": "24:00"}] for d in WEEKDAYS},
                    "closed_dates": ["2026-12-24", "2026-12-25"],
                },
            },
            "notifications": {"login_logout": "customers", "comment_created": True, "issue_created": True, "issue_approval": True},
        }
        self.call("PUT", f"/v1/partners/{DEMO_PARTNER_ID}/settings", json.dumps(settings))
        self.call("PUT", f"/v1/partners/{DEMO_PARTNER_ID}/token", json.dumps({"token": token}))
        self.env["HIPCHAT_TOKEN"] = token
        self.env["HIPCHAT_NOTIFICATION_ROOM_ID"] = str(room["id"])
        self.write_env_file()
        log(f"demo partner '{DEMO_PARTNER_ID}' seeded (settings + token; HipChat room {room['id']} '{DEMO_ROOM_NAME}')")
        report = json.loads(self.call("POST", f"/v1/partners/{DEMO_PARTNER_ID}/connection-check"))
        if not report.get("ok"):
            raise RuntimeError(f"the demo connection check failed: {json.dumps(report['problems'])}")
        log("demo connection check: ok")
        self.seed_demo_expiring(room["id"])

    def seed_demo_expiring(self, room_id):
        """A partner whose token expires in 15 days, notifying into the demo room: the
        token-expiry reminder's 30-day warning for it lands there."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        created = now - timedelta(days=DEMO_EXPIRING_TOKEN_AGE_DAYS)
        # The simulator's token expires 365 days after created_at, the stored one a year after
        # issued_on: both in 15 days (the stored one in 16 across a 29 February).
        token = self.hipchat_sim("POST", "/_sim/tokens", {
            "token": f"expiring{secrets.token_hex(16)}",
            "created_at": created.isoformat().replace("+00:00", "Z"),
        })["token"]
        settings = {
            "active": True,
            "hipchat_url": self.env["HIPCHAT_URL"],
            "notification_room_id": room_id,
            "language": "en",
        }
        p = f"/v1/partners/{DEMO_EXPIRING_PARTNER_ID}"
        self.call("PUT", f"{p}/settings", json.dumps(settings))
        answer = json.loads(self.call("PUT", f"{p}/token", json.dumps({"token": token, "issued_on": created.date().isoformat()})))
        log(f"partner '{DEMO_EXPIRING_PARTNER_ID}' seeded (settings + a token issued {created.date()}, expires "
            f"{answer.get('expires_on')}, in {answer.get('days_left')} days; notifies into HipChat room {room_id})")


def print_examples(env):
    call = "target/debug/call"
    p = f"/v1/partners/{DEMO_PARTNER_ID}"
    print(f"""
dynaBOARD <-> HipChat local stack is up.
  API_BASE_URL      {env['API_BASE_URL']}
  moto (AWS)        {env['AWS_ENDPOINT_URL']}   table {env['TABLE_NAME']}
  HipChat simulator {env['HIPCHAT_URL']}   demo room {env.get('HIPCHAT_NOTIFICATION_ROOM_ID', '-')}, token in HIPCHAT_TOKEN
  variables         .local/stack.env      logs: .local/logs/

Signed example calls (the helper reads .local/stack.env):
  {call} POST {p}/connection-check                                  # ok: true
  {call} POST {p}/connection-check '{{"hipchat_url": "{env['HIPCHAT_URL']}/v2/", "token": " nope-not-a-token "}}'
  {call} GET '{p}/rooms?q=dyna&limit=10'
  {call} GET {p}/chat/availability                                  # show_button, available, next_change_at
  {call} POST {p}/chat/requests '{{"user": {{"id": "u-1001", "first_name": "Ada", "last_name": "Lovelace <Ltd>", "email": "ada@example.com", "company": "Analytical & Co", "role": "customer"}}}}'
  curl -s {env['HIPCHAT_URL']}/chat/room/{env.get('HIPCHAT_NOTIFICATION_ROOM_ID', '1')}           # the staff room with the "go to room" notification
  {call} POST {p}/events '{{"id": "evt-1", "type": "issue.created", "occurred_at": "2026-11-25T09:30:00Z", "actor": {{"id": "u-1001", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "company": "Analytical & Co", "role": "customer"}}, "issue": {{"id": 17, "title": "Printer <on fire>", "url": "https://portal.example.com/issues/17"}}}}'
  {call} POST {p}/rooms '{{"name": "Support team", "topic": "dynaBOARD"}}'
  curl -s {env['HIPCHAT_URL']}/_sim/rooms                         # what HipChat received
  {call} GET {p}/settings
  {call} PUT {p}/settings '{{"active": true, "hipchat_url": "https://hipchat.example.com/v2/", "notification_room_id": 4711}}'
  {call} PUT {p}/settings -H 'If-Match: "1"' '{{"active": false}}'     # 412 once the version moved on
  {call} PUT {p}/token '{{"token": "  paste-your-token-here  "}}'
  {call} DELETE {p}/token
  {call} GET {p}/settings --unsigned                                 # 401
  make invoke FN=settings EVENT=events/settings.get.json             # cargo lambda invoke, freshly signed
  make invoke FN=token-expiry-reminder EVENT=events/token-expiry-reminder.scheduled.json   # warns {DEMO_EXPIRING_PARTNER_ID} (token expires in 15 days) in the demo room
Press Ctrl-C to stop.
""", flush=True)


def print_log_tails(names, lines):
    """The last lines of each process's log, to stderr (after a failure)."""
    for name in names:
        path = LOGS / f"{name}.log"
        if path.exists():
            print(f"--- last lines of {path} ---", file=sys.stderr)
            print("".join(path.read_text(errors="replace").splitlines(True)[-lines:]), file=sys.stderr)


def check_iam_policies(recording):
    """Every DynamoDB / Secrets Manager call a function made (moto's recording) must be allowed
    by that function's policy in infra/template.yaml; 0 when it is, else 1."""
    local = check_policies.Local(
        stage=STAGE, region=REGION, table_name=TABLE_NAME, secret_prefix=SECRET_PREFIX,
        signing_secret_id=SIGNING_SECRET_ID, functions=FUNCTIONS,
    )
    report = check_policies.check_recording(recording, local=local, template=load_template())
    print(report.text(), flush=True)
    if not report.ok:
        print(f"[stack] IAM policy check failed (see above; recording: {recording})", file=sys.stderr)
    return 0 if report.ok else 1


def main(argv):
    if len(argv) < 2 or argv[1] not in ("run", "test", "bench", "soak"):
        print(__doc__)
        return 2
    mode = argv[1]
    global LOCAL, LOGS, PROFILE
    if mode in ("test", "bench", "soak"):
        LOCAL = ROOT / ".local" / mode
        LOGS = LOCAL / "logs"
    if mode == "bench":
        PROFILE = "release"
    stack = Stack(foreground_logs=(mode == "run"))
    stopping = {"flag": False}

    def on_signal(signum, _frame):
        stopping["flag"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        recording = LOCAL / "moto_recording.jsonl" if mode == "test" else None
        if mode == "test":
            problems = check_policies.self_test(load_template_text)
            if problems:
                print("[stack] the IAM policy check fails its self-test:\n  " + "\n  ".join(problems), file=sys.stderr)
                return 1
            log("IAM policy check: self-test ok")
        stack.up(reload=(mode == "run"), recording=recording, functions=(mode != "bench"))
        if mode == "run":
            stack.seed_demo()
            print_examples(stack.env)
            while all(p.poll() is None for _, p in stack.procs):
                time.sleep(0.5)
            dead = [n for n, p in stack.procs if p.poll() is not None]
            log(f"{', '.join(dead)} exited; stopping")
            return 1
        cmd = argv[argv.index("--") + 1:] if "--" in argv else []
        if not cmd:
            print("stack.py test -- CMD...", file=sys.stderr)
            return 2
        result = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **stack.env})
        if mode == "bench":
            return result.returncode
        if mode == "soak":
            if result.returncode != 0:
                print_log_tails(("functions", "gateway", "hipchat-sim"), 40)
            return result.returncode
        if result.returncode != 0:
            print_log_tails(("functions", "gateway", "hipchat-sim"), 40)
            log("IAM policy check skipped: the tests failed")
            return result.returncode
        return check_iam_policies(recording)
    except KeyboardInterrupt:
        return 0 if mode == "run" else 130
    except Exception as e:  # noqa: BLE001 -- report any start-up failure plainly
        print(f"[stack] error: {e}", file=sys.stderr)
        print_log_tails(("moto", "hipchat-sim", "functions", "gateway"), 30)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
