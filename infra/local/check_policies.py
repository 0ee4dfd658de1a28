#!/usr/bin/env python3
"""Checks each Lambda function's IAM policy in infra/template.yaml against the AWS calls the
function really made, as moto's request recorder saw them on the wire.

    check_policies.py RECORDING     check a recording (moto_recording.jsonl of a test run)
    check_policies.py --self-test   check the check on a small synthetic template

`stack.py test` records every request moto receives (MOTO_ENABLE_RECORDING) and, after the
test command succeeded, runs this check on the recording; `make test` thus fails when a
function makes a DynamoDB or Secrets Manager call that its policy does not allow.

Who called: every function builds its SDK config with its own name as the SDK's app name
(`load_sdk_config(env!("CARGO_PKG_NAME"))`), which the SDK sends as `app/<name>` in its
user agent; the name is the function's package name and the template's
`Metadata.BuildProperties.Binary`. Calls without an app name (stack.py's own set-up) or with
one that names no function (shared's tests, the function tests' own set-up) are not checked.

What was called: the action from `X-Amz-Target` (`DynamoDB_20120810.Query` is
`dynamodb:Query`, `secretsmanager.GetSecretValue` is `secretsmanager:GetSecretValue`), the
resource from the JSON body as IAM sees it: the table's ARN, or `<table ARN>/index/<name>`
for a call with an IndexName (a table's ARN alone does not allow a Query on its index), the
secret's ARN for a SecretId (a name or an ARN) or CreateSecret's Name. Batches and
transactions as IAM authorizes them: BatchGetItem/BatchWriteItem once per table,
TransactWriteItems/TransactGetItems as PutItem, UpdateItem, DeleteItem, ConditionCheckItem
or GetItem per item (IAM has no Transact* actions), BatchGetSecretValue as itself on "*"
plus GetSecretValue per secret.

What is allowed: the functions' inline `Policies: - Statement:` entries, with the template's
references resolved to the local stack's resources (the table, the secret prefix, the
signing secret; account 123456789012, moto's). SAM adds more to each role (CloudWatch Logs
writes; sqs:SendMessage on the reminder's dead-letter queue for its EventInvokeConfig), none
of them DynamoDB or Secrets Manager, so they play no part here.

Fails on:
  - a call a function's policy does not allow (function, action, resource);
  - a call of another AWS service by a function (only DynamoDB and Secrets Manager are known);
  - a function that made no recorded call at all (no app name sent? recording off?);
  - in the template: a Resource "*"; secretsmanager actions other than GetSecretValue
    outside the settings function; policy forms it cannot read (managed policies, SAM policy
    templates, NotAction, Condition, ...).
Reports (without failing) the allowed actions no call exercised.

Left to cfn-lint-serverless in `make lint` (which `make test` runs first): "*" and
"<service>:*" actions (WS1003) and a function without a log group with RetentionInDays
(WS1004). Why this matcher is ours and not moto's IAM enforcement or a policy simulator
from PyPI: docs/iam-policy-check.md.
"""

import base64
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

CHECKED_SERVICES = ("dynamodb", "secretsmanager")
# The functions that may change secrets (store and delete the partners' tokens).
SECRET_WRITERS = {"settings"}
SECRET_READ_ACTIONS = {"secretsmanager:getsecretvalue"}
MOTO_ACCOUNT = "123456789012"
PARTITION = "aws"
# A secret's ARN ends in "-" and six random characters; a name stands for any of them.
SECRET_SUFFIX = "-??????"


@dataclass
class Local:
    """The local stack's names for the template's resources (see stack.py)."""

    stage: str
    region: str
    table_name: str
    secret_prefix: str
    signing_secret_id: str
    functions: list = field(default_factory=list)  # crates in functions/ (may call AWS)
    account: str = MOTO_ACCOUNT


def local_from_stack():
    import stack  # noqa: PLC0415 -- stack.py imports this module; import it only when run alone

    return Local(
        stage=stack.STAGE,
        region=stack.REGION,
        table_name=stack.TABLE_NAME,
        secret_prefix=stack.SECRET_PREFIX,
        signing_secret_id=stack.SIGNING_SECRET_ID,
        functions=list(stack.FUNCTIONS),
    )


class PolicyError(Exception):
    """The template uses something the check cannot resolve."""


# -- the template --------------------------------------------------------------------------

def glob_re(pattern, ignore_case=False):
    """An IAM wildcard pattern (`*` any run of characters, `?` one) as a regex."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rf"\A{rx}\Z", re.IGNORECASE if ignore_case else 0)


@dataclass
class Allowed:
    """One (action pattern, resource pattern) pair of a statement."""

    sid: str
    action: str
    resource: str  # as written in the template, for the report
    resource_arn: str  # resolved to the local stack, IAM wildcards kept
    effect: str = "Allow"

    def __post_init__(self):
        self._action = glob_re(self.action, ignore_case=True)
        self._resource = glob_re(self.resource_arn)

    def matches(self, action, arn):
        return bool(self._action.match(action) and self._resource.match(arn))


@dataclass
class Function:
    name: str  # the binary = the package = the SDK app name
    logical_id: str
    allowed: list  # [Allowed]


def _listify(value):
    return value if isinstance(value, list) and not getattr(value, "tag", None) else [value]


def shorten(resource):
    return resource.replace("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:", "secret:")


class Resolver:
    """Resolves the template's references (!Ref, !GetAtt, !Sub) to local ARNs."""

    def __init__(self, template, local):
        self.template = template
        self.local = local
        self.resources = template.get("Resources") or {}
        params = {k: (v or {}).get("Default") for k, v in (template.get("Parameters") or {}).items()}
        params.update({
            "Stage": local.stage,
            "SigningSecretArn": local.signing_secret_id,
            "AWS::Partition": PARTITION,
            "AWS::Region": local.region,
            "AWS::AccountId": local.account,
        })
        self.params = params

    def table_arn(self, name):
        return f"arn:{PARTITION}:dynamodb:{self.local.region}:{self.local.account}:table/{name}"

    def secret_arn(self, secret_id):
        """A SecretId (name or ARN) as its ARN; for a name, any random suffix."""
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:{PARTITION}:secretsmanager:{self.local.region}:{self.local.account}:secret:{secret_id}{SECRET_SUFFIX}"

    def ref(self, name):
        if name in self.params:
            value = self.params[name]
            if value is None:
                raise PolicyError(f"parameter {name} has no local value")
            if name == "SigningSecretArn":
                return self.secret_arn(value)
            return str(value)
        resource = self.resources.get(name)
        if resource and resource.get("Type") == "AWS::DynamoDB::Table":
            return self.table_name(name)
        raise PolicyError(f"!Ref {name}: no local value known")

    def table_name(self, logical_id):
        props = self.resources[logical_id].get("Properties") or {}
        if "TableName" not in props:
            raise PolicyError(f"{logical_id} has no TableName")
        return self.value(props["TableName"])

    def get_att(self, target):
        logical_id, _, attribute = target.partition(".") if isinstance(target, str) else (target[0], ".", target[1])
        resource = self.resources.get(logical_id)
        if resource and resource.get("Type") == "AWS::DynamoDB::Table" and attribute == "Arn":
            return self.table_arn(self.table_name(logical_id))
        raise PolicyError(f"!GetAtt {logical_id}.{attribute}: no local value known")

    def sub(self, text):
        def one(m):
            name = m.group(1)
            return self.get_att(name) if "." in name else self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def value(self, v):
        tag = getattr(v, "tag", None)
        if tag is None and isinstance(v, str):
            return v
        if tag == "!Ref":
            return self.ref(v)
        if tag == "!GetAtt":
            return self.get_att(v)
        if tag == "!Sub" and isinstance(v, str):
            return self.sub(v)
        raise PolicyError(f"cannot resolve {tag or type(v).__name__} {v!r}")


def functions_of(template, local):
    """The template's functions with their resolved Allow/Deny pairs; (functions, problems)."""
    resolver = Resolver(template, local)
    problems = []
    # The local stack must mean the same resources as the template does.
    tables = [k for k, r in resolver.resources.items() if r.get("Type") == "AWS::DynamoDB::Table"]
    for t in tables:
        if resolver.table_name(t) != local.table_name:
            problems.append(f"template: table {t} is {resolver.table_name(t)!r} locally, the stack uses {local.table_name!r}")
    env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    if "SECRET_PREFIX" in env and resolver.value(env["SECRET_PREFIX"]) != local.secret_prefix:
        problems.append(f"template: SECRET_PREFIX is {resolver.value(env['SECRET_PREFIX'])!r} locally, "
                        f"the stack uses {local.secret_prefix!r}")

    functions = []
    for logical_id, r in resolver.resources.items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        name = ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not name:
            problems.append(f"template: {logical_id} has no Metadata.BuildProperties.Binary")
            continue
        allowed = []
        for policy in (r.get("Properties") or {}).get("Policies") or []:
            if not isinstance(policy, dict) or set(policy) - {"Version"} != {"Statement"}:
                problems.append(f"{name}: policy {policy!r} is not an inline `Statement:` policy; "
                                "the check cannot see what it allows")
                continue
            for st in _listify(policy["Statement"]):
                sid = st.get("Sid", "?")
                unknown = set(st) - {"Sid", "Effect", "Action", "Resource"}
                if unknown:
                    problems.append(f"{name}: statement {sid} uses {', '.join(sorted(unknown))}, which the check "
                                    "does not evaluate")
                    continue
                effect = st.get("Effect")
                if effect not in ("Allow", "Deny"):
                    problems.append(f"{name}: statement {sid} has Effect {effect!r}")
                    continue
                actions = [str(a) for a in _listify(st.get("Action"))]
                resources = _listify(st.get("Resource"))
                for a in actions:
                    if (effect == "Allow" and a.lower().startswith("secretsmanager:")
                            and a.lower() not in SECRET_READ_ACTIONS and name not in SECRET_WRITERS):
                        problems.append(f"{name}: statement {sid} allows {a}; only "
                                        f"{', '.join(sorted(SECRET_WRITERS))} may change secrets")
                for res in resources:
                    if res == "*" and not getattr(res, "tag", None):
                        problems.append(f"{name}: statement {sid} allows Resource \"*\"")
                        continue
                    try:
                        arn = resolver.value(res)
                    except PolicyError as e:
                        if any(a.split(":")[0].lower() in CHECKED_SERVICES for a in actions):
                            problems.append(f"{name}: statement {sid}: {e}")
                        continue
                    label = shorten(f"{getattr(res, 'tag', None) or ''} {res}".strip())
                    for a in actions:
                        if a.split(":")[0].lower() in CHECKED_SERVICES:
                            allowed.append(Allowed(sid, a, label, arn, effect))
        functions.append(Function(name, logical_id, allowed))

    names = Counter(f.name for f in functions)
    problems += [f"template: {n} functions build the binary {name}" for name, n in names.items() if n > 1]
    return functions, problems


# -- the recording -------------------------------------------------------------------------

APP_RE = re.compile(r"(?:^|\s)app/(\S+)")
TARGET_RE = re.compile(r"\A(?:DynamoDB_\d+|secretsmanager)\.(\w+)\Z")
SCOPE_RE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/")
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
            "Get": "GetItem"}


def read_entries(lines):
    """The recorder's JSON lines. Two threads' entries may share a line (the recorder writes a
    long entry and its newline separately): split those; an unreadable rest is a problem."""
    decoder = json.JSONDecoder()
    problems = []
    entries = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        while text:
            try:
                entry, end = decoder.raw_decode(text)
            except ValueError:
                problems.append(f"recording line {n}: not JSON: {text[:120]!r}")
                break
            entries.append(entry)
            text = text[end:].lstrip()
    return entries, problems


def caller_of(headers):
    for name in ("x-amz-user-agent", "user-agent"):
        m = APP_RE.search(headers.get(name, ""))
        if m:
            return m.group(1)
    return None


def calls_of(entry, resolver):
    """The (action, resource ARN) pairs IAM evaluates for one recorded request."""
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    m = SCOPE_RE.search(headers.get("authorization", ""))
    service = m.group(1) if m else None
    target = headers.get("x-amz-target", "")
    t = TARGET_RE.match(target)
    if service not in CHECKED_SERVICES or not t:
        return service or "unknown", [(f"{service or '?'}:{target or entry.get('method', '?')}", entry.get("url", "?"))]
    op = t.group(1)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    try:
        doc = json.loads(body) if body.strip() else {}
    except ValueError:
        doc = {}
    if service == "secretsmanager":
        secret = doc.get("SecretId") or (doc.get("Name") if op == "CreateSecret" else None)
        if op == "BatchGetSecretValue" and doc.get("SecretIdList"):
            return service, [("secretsmanager:BatchGetSecretValue", "*")] + [
                ("secretsmanager:GetSecretValue", resolver.secret_arn(s)) for s in doc["SecretIdList"]]
        return service, [(f"secretsmanager:{op}", resolver.secret_arn(secret) if secret else "*")]

    def table(name, index=None):
        arn = name if name.startswith("arn:") else resolver.table_arn(name)
        return f"{arn}/index/{index}" if index else arn

    if op in ("BatchGetItem", "BatchWriteItem"):
        return service, [(f"dynamodb:{op}", table(name)) for name in (doc.get("RequestItems") or {})]
    if op in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for item in doc.get("TransactItems") or []:
            for kind, part in item.items():
                out.append((f"dynamodb:{TRANSACT.get(kind, kind)}", table(part.get("TableName", "?"))))
        return service, out
    if doc.get("TableName"):
        return service, [(f"dynamodb:{op}", table(doc["TableName"], doc.get("IndexName")))]
    return service, [(f"dynamodb:{op}", "*")]


def describe(arn):
    """A resource ARN, short, for the report."""
    m = re.search(r":table/([^/]+)(?:/index/(.+))?$", arn)
    if m:
        return f"table {m.group(1)}" + (f" index {m.group(2)}" if m.group(2) else "")
    m = re.search(r":secret:(.+)$", arn)
    if m:
        name = m.group(1)
        return "secret " + (name[: -len(SECRET_SUFFIX)] if name.endswith(SECRET_SUFFIX) else name)
    return arn


# -- the check -----------------------------------------------------------------------------

@dataclass
class Report:
    failures: list  # what makes the check fail
    lines: list  # the report: calls per function, allowed but not exercised, not checked
    unexercised: list = field(default_factory=list)  # [(function, Allowed)]

    @property
    def ok(self):
        return not self.failures

    def text(self):
        out = list(self.lines)
        if self.failures:
            out.append(f"IAM policy check FAILED ({len(self.failures)}):")
            out += [f"  - {f}" for f in self.failures]
        else:
            out.append("IAM policy check: every recorded call is allowed by its function's policy")
        return "\n".join(out)


def check(template, lines, local, expect_every_function=True):
    """Checks the recorded requests `lines` (moto recorder JSON lines) against `template`."""
    functions, failures = functions_of(template, local)
    resolver = Resolver(template, local)
    by_name = {f.name: f for f in functions}
    known = set(by_name) | set(local.functions)
    entries, problems = read_entries(lines)
    failures += problems

    seen = defaultdict(Counter)  # function -> (action, label) -> calls
    denied = defaultdict(Counter)  # function -> (action, resource) -> calls
    exercised = defaultdict(set)  # function -> {index into allowed}
    skipped = Counter()
    for entry in entries:
        headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        caller = caller_of(headers)
        if caller not in known:
            skipped[caller or "(no app name)"] += 1
            continue
        fn = by_name.get(caller)
        service, pairs = calls_of(entry, resolver)
        for action, arn in pairs:
            if fn is None:
                denied[caller][(action, f"{describe(arn)} (no function {caller} in the template)")] += 1
                continue
            if service not in CHECKED_SERVICES:
                denied[caller][(action, f"{arn} (the check knows DynamoDB and Secrets Manager only)")] += 1
                continue
            hits = [i for i, a in enumerate(fn.allowed) if a.matches(action, arn)]
            if not hits or any(fn.allowed[i].effect == "Deny" for i in hits):
                denied[caller][(action, describe(arn))] += 1
                continue
            exercised[caller].update(hits)
            seen[caller][(action, "; ".join(sorted({fn.allowed[i].resource for i in hits})))] += 1

    lines_out = ["IAM policies vs. the AWS calls recorded by moto (per function: action, resource, calls):"]
    for fn in sorted(functions, key=lambda f: f.name):
        lines_out.append(f"  {fn.name}")
        rows = sorted(seen[fn.name].items())
        width = max([len(a) for (a, _), _ in rows] + [10])
        for (action, label), n in rows:
            lines_out.append(f"    {action:<{width}}  {label:<48}  {n:>6}")
        if not rows:
            lines_out.append("    (no allowed call recorded)")
        if expect_every_function and fn.allowed and not seen[fn.name] and not denied[fn.name]:
            failures.append(f"{fn.name}: no recorded call at all: does it pass its name to load_sdk_config "
                            "(the SDK app name), and is moto's recorder on?")
    unexercised = [
        (fn.name, a) for fn in sorted(functions, key=lambda f: f.name)
        for i, a in enumerate(fn.allowed) if a.effect == "Allow" and i not in exercised[fn.name]
    ]
    lines_out.append("Allowed but not exercised (informational):")
    lines_out += [f"  {name:<22} {a.action:<32} {a.resource}  (Sid {a.sid})" for name, a in unexercised] or ["  (none)"]
    if skipped:
        lines_out.append("Not checked (no function's app name): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    for name in sorted(denied):
        per_action = defaultdict(list)
        for (action, res), n in denied[name].items():
            per_action[action].append((res, n))
        for action, items in sorted(per_action.items()):
            items.sort()
            shown = ", ".join(f"{res} ({n}x)" for res, n in items[:5])
            more = f", and {len(items) - 5} more resources" if len(items) > 5 else ""
            failures.append(f"{name}: {action} on {shown}{more}: not allowed by its policy in infra/template.yaml")
    return Report(failures, lines_out, unexercised)


def check_recording(path, local=None, template=None):
    local = local or local_from_stack()
    if template is None:
        import stack  # noqa: PLC0415

        template = stack.load_template()
    path = Path(path)
    if not path.exists():
        return Report([f"no recording at {path} (was moto started with MOTO_ENABLE_RECORDING?)"], [])
    with path.open(encoding="utf-8", errors="replace") as f:
        return check(template, f, local)


# -- the check's own test ------------------------------------------------------------------

SELF_TEST_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
  SecretPrefix: {Type: String, Default: app}
  SigningSecretArn: {Type: String}
Globals:
  Function:
    Environment:
      Variables:
        SECRET_PREFIX: !Sub "${SecretPrefix}/${Stage}"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: !Sub "app-${Stage}"}
  ReaderFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: reader}}
    Properties:
      Policies:
        - Statement:
            - Sid: Items
              Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:DeleteItem]
              Resource: !GetAtt Table.Arn
            - Sid: Index
              Effect: Allow
              Action: dynamodb:Query
              Resource: [!Sub "${Table.Arn}/index/by-date"]
            - Sid: Tokens
              Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}/${Stage}/partners/*"
            - Sid: Keys
              Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref SigningSecretArn
"""


def _entry(app, target, body, ua_header="X-Amz-User-Agent", encode=True):
    service = "dynamodb" if target.startswith("DynamoDB") else "secretsmanager"
    raw = json.dumps(body).encode()
    headers = {
        "X-Amz-Target": target,
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host",
    }
    if app:
        headers[ua_header] = f"aws-sdk-rust/1.7.0 ua/2.1 api/{service}/1.0 lang/rust/1.95.0 app/{app}"
    return json.dumps({
        "headers": headers, "method": "POST", "url": "http://127.0.0.1/",
        "body": base64.b64encode(raw).decode() if encode else raw.decode(), "body_encoded": encode,
    })


def self_test(load_template_text):
    """Runs the check on a synthetic template and recordings; returns the problems (empty: ok).
    `load_template_text` parses YAML text the way stack.py reads the template."""
    template = load_template_text(SELF_TEST_TEMPLATE)
    local = Local(stage="local", region="us-east-1", table_name="app-local", secret_prefix="app/local",
                  signing_secret_id="app/local/signing-keys", functions=["reader", "writer"])
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    get = {"TableName": "app-local", "Key": {}}
    allowed = [
        _entry("reader", "DynamoDB_20120810.GetItem", get),
        _entry("reader", "DynamoDB_20120810.GetItem", get, ua_header="User-Agent", encode=False),
        _entry("reader", "DynamoDB_20120810.BatchGetItem", {"RequestItems": {"app-local": {}}}),
        _entry("reader", "DynamoDB_20120810.Query", {"TableName": "app-local", "IndexName": "by-date"}),
        _entry("reader", "secretsmanager.GetSecretValue", {"SecretId": "app/local/partners/p1/token"}),
        _entry("reader", "secretsmanager.GetSecretValue", {"SecretId": arn + "app/local/partners/p2/token-AbCdEf"}),
        _entry("reader", "secretsmanager.GetSecretValue", {"SecretId": "app/local/signing-keys"}),
        _entry("reader", "secretsmanager.GetSecretValue", {"SecretId": arn + "app/local/signing-keys-x1Y2z3"}),
        # Not a function's call: not checked.
        _entry(None, "secretsmanager.CreateSecret", {"Name": "app/local/signing-keys"}),
        _entry("shared-tests", "DynamoDB_20120810.Scan", {"TableName": "app-local"}),
    ]
    cases = [
        # (name, extra entries, expected failure fragments; none: passes)
        ("allowed calls pass", [], []),
        ("an action not in the policy fails",
         [_entry("reader", "DynamoDB_20120810.PutItem", get)], ["reader: dynamodb:PutItem on table app-local"]),
        ("a Query on the table is not a Query on its index",
         [_entry("reader", "DynamoDB_20120810.Query", {"TableName": "app-local"})],
         ["reader: dynamodb:Query on table app-local (1x)"]),
        ("a Query on an index not in the policy fails",
         [_entry("reader", "DynamoDB_20120810.Query", {"TableName": "app-local", "IndexName": "other"})],
         ["reader: dynamodb:Query on table app-local index other"]),
        ("another table fails",
         [_entry("reader", "DynamoDB_20120810.GetItem", {"TableName": "other-table"})],
         ["reader: dynamodb:GetItem on table other-table"]),
        ("a secret outside the prefix fails",
         [_entry("reader", "secretsmanager.GetSecretValue", {"SecretId": "app/local/partnersX"})],
         ["reader: secretsmanager:GetSecretValue on secret app/local/partnersX"]),
        ("a secret action not allowed fails",
         [_entry("reader", "secretsmanager.PutSecretValue", {"SecretId": "app/local/partners/p1/token"})],
         ["reader: secretsmanager:PutSecretValue on secret app/local/partners/p1/token"]),
        ("BatchGetSecretValue needs the batch action on * as well",
         [_entry("reader", "secretsmanager.BatchGetSecretValue", {"SecretIdList": ["app/local/partners/p1/token"]})],
         ["reader: secretsmanager:BatchGetSecretValue on * (1x)"]),
        ("a function without a template function fails",
         [_entry("writer", "DynamoDB_20120810.GetItem", get)], ["writer: dynamodb:GetItem on table app-local (no function"]),
        ("a line with two entries is split", [_entry("reader", "DynamoDB_20120810.GetItem", get)
                                              + _entry("reader", "DynamoDB_20120810.UpdateItem", get)],
         ["reader: dynamodb:UpdateItem on table app-local"]),
    ]
    problems = []
    for name, extra, expected in cases:
        report = check(template, allowed + extra, local)
        if not expected and not report.ok:
            problems.append(f"{name}: unexpected failures {report.failures}")
        for fragment in expected:
            if not any(fragment in f for f in report.failures):
                problems.append(f"{name}: expected a failure containing {fragment!r}, got {report.failures}")
        if expected and len(report.failures) != len(expected):
            problems.append(f"{name}: expected {len(expected)} failure(s), got {report.failures}")
    report = check(template, allowed, local)
    text = report.text()
    for fragment in ["dynamodb:Query", "!Sub ${Table.Arn}/index/by-date", "Allowed but not exercised",
                     "dynamodb:DeleteItem", "(no app name) 1", "shared-tests 1"]:
        if fragment not in text:
            problems.append(f"the report lacks {fragment!r}:\n{text}")
    unexercised = {(name, a.action) for name, a in report.unexercised}
    if unexercised != {("reader", "dynamodb:DeleteItem")}:
        problems.append(f"allowed but not exercised: expected reader's DeleteItem only, got {sorted(unexercised)}")
    if check(template, [], local).ok:
        problems.append("an empty recording passed (a function without calls must fail)")

    # The template rules ("*" actions and log retention: cfn-lint-serverless WS1003, WS1004).
    bad = SELF_TEST_TEMPLATE.replace(
        "Action: dynamodb:Query\n              Resource: [", "Action: dynamodb:Query\n              Resource: ['*', ").replace(
        "Action: secretsmanager:GetSecretValue\n              Resource: !Ref",
        "Action: [secretsmanager:GetSecretValue, secretsmanager:DeleteSecret]\n              Resource: !Ref")
    failures = check(load_template_text(bad), allowed, local).failures
    for fragment in ['allows Resource "*"', "allows secretsmanager:DeleteSecret"]:
        if not any(fragment in f for f in failures):
            problems.append(f"template rules: expected a failure containing {fragment!r}, got {failures}")
    return problems


def main(argv):
    import stack  # noqa: PLC0415

    if len(argv) == 2 and argv[1] == "--self-test":
        problems = self_test(stack.load_template_text)
        for p in problems:
            print(f"self-test: {p}", file=sys.stderr)
        print("check_policies self-test: " + ("FAILED" if problems else "ok"))
        return 1 if problems else 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__)
        return 2
    report = check_recording(argv[1])
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
