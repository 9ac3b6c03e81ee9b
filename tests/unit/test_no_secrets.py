"""No secrets in the repository: every git-tracked file is scanned.

Looks for private keys, AWS access key ids and secret keys, passwords inside URIs, Slack and
GitHub tokens, literal values assigned to secret-looking names, and committed ``.env`` files
(only ``.env.example`` is allowed). Known dev-only placeholders pass through ``ALLOWED``
below, each with its reason; anything else fails the test naming file, line and rule.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: (rule, pattern); the group named ``value`` (else the whole match) is the secret itself
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("private-key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("aws-access-key-id", re.compile(r"\b(?P<value>(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16})\b")),
    (
        "aws-secret-access-key",
        re.compile(
            r"(?i)(?:aws|secret)[a-z0-9_.-]*[\"']?\s*[:=]\s*[\"']?"
            r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    (
        "password-in-uri",
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]*:(?P<value>[^\s:/@\"'<>]+)@[\w$.{\[-]"),
    ),
    ("slack-token", re.compile(r"\b(?P<value>xox[abposr]-[0-9A-Za-z-]{10,})")),
    (
        "slack-webhook",
        re.compile(r"(?P<value>hooks\.slack\.com/services/T[0-9A-Z]{6,}/B[0-9A-Z]{6,}/\w{12,})"),
    ),
    ("github-token", re.compile(r"\b(?P<value>gh[pousr]_[A-Za-z0-9]{36,})\b")),
    ("github-token", re.compile(r"\b(?P<value>github_pat_[A-Za-z0-9_]{40,})\b")),
    (
        # NAME=value (env files, shell), name: value (YAML), "name": "value" and
        # name="value" (Python) where the name says it holds a secret
        "secret-assignment",
        re.compile(
            r"(?i)\b[\w.-]*(?:password|passwd|secret|token|api_?key|fernet_?key|private_?key)"
            r"[\"']?\s*(?:=|:)\s*(?P<quote>[\"']?)(?P<value>[^\s\"',;)#]{6,})(?P=quote)"
        ),
    ),
]

#: values that are obviously not secrets: references to env vars, template fields, masks
_PLACEHOLDER = re.compile(
    r"""^(?:
        \$\{?\w.*                   # $VAR, ${VAR}, ${VAR:-default}, ${VAR:?message}
      | (?-i:[A-Z][A-Z0-9]*_[A-Z0-9_]+)  # the NAME of an environment variable
      | \{\{.*\}\}                 # Jinja {{ ... }}
      | \{[^}]*\}                  # f-string / str.format field
      | %\(\w+\)s                  # %(name)s
      | <[^>]+>                    # <password>
      | ([*x.])\1{2,}              # ***, xxx, ...
      | (?:[a-z]+[-_])?(?:password|passwd|secret|token|changeme|example
            |placeholder|redacted|dummy|fake|test|user|pass)s?   # wrong-password, my_token
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
#: an unquoted value that is code, not a literal: attribute access, a call, an env lookup
_CODE = re.compile(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*(?:\(|\[|$)|^\w+\(|^os\.environ|^getenv")
#: in Python an unquoted bare name is a variable (password=password), elsewhere a literal
_NAME = re.compile(r"^[A-Za-z_]\w*$")

#: (path, rule, value) -> why it is allowed. Keep each entry specific and justified.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("pipeline_core/settings.py", "secret-assignment", "embedded"): (
        "the embedded SeaweedFS identity embedded/embedded: a fixed dev-only key pair of the "
        "loopback-only S3 server that make up/make test start (not a credential anywhere else)"
    ),
    ("tests/governance/test_access.py", "secret-assignment", "acc_unassigned_analyst"): (
        "a login name in `name, password = ...`; the password beside it is "
        "secrets.token_urlsafe() generated at test time"
    ),
}
#: (path, rule) -> why: every value of that rule in the file is a dev-only placeholder
#: (the other rules - keys, tokens, passwords in URIs - still apply to these files)
ALLOWED_FILES: dict[tuple[str, str], str] = {
    (".env.example", "secret-assignment"): (
        "template of .env for the docker compose stack: every value is a DEV-ONLY "
        "PLACEHOLDER (its header says so) to be replaced before the stack is shared"
    ),
}
#: committed env files other than the template are never allowed
ENV_FILE = re.compile(r"(?:^|/)\.env(?:\.[\w.-]+)?$")
ENV_FILE_ALLOWED = {".env.example"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    value: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 8 else f"{self.value[:4]}…{self.value[-2:]}"
        return f"{self.path}:{self.line}: {self.rule} ({shown})"


def _not_a_secret(path: str, rule: str, match: re.Match[str], value: str) -> bool:
    if rule in ("password-in-uri", "secret-assignment") and _PLACEHOLDER.match(value):
        return True
    if rule == "secret-assignment" and not match.groupdict().get("quote"):
        # password=password, "token": conn.password, os.environ[...]
        return bool(_CODE.match(value) or (path.endswith(".py") and _NAME.match(value)))
    return False


def scan_text(
    path: str, text: str, allowed: Mapping[tuple[str, str, str], str] = ALLOWED
) -> list[Finding]:
    """Secret-looking strings in ``text`` (a file at repo-relative ``path``), allow-list applied."""
    findings = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for rule, pattern in RULES:
            for match in pattern.finditer(line):
                value = match.groupdict().get("value") or match.group(0)
                if _not_a_secret(path, rule, match, value) or (path, rule, value) in allowed:
                    continue
                if (path, rule) in ALLOWED_FILES:
                    continue
                findings.append(Finding(path, lineno, rule, value))
    return findings


def env_file_findings(path: str) -> list[Finding]:
    """A tracked ``.env`` / ``.env.*`` file other than the template is a finding by itself."""
    if ENV_FILE.search(path) and path not in ENV_FILE_ALLOWED:
        return [Finding(path, 0, "committed-env-file", Path(path).name)]
    return []


def scan_path(path: str) -> list[Finding]:
    """``env_file_findings`` plus ``scan_text`` on the file's content (binary files skipped)."""
    findings = env_file_findings(path)
    file = REPO / path
    if not file.is_file():  # tracked but deleted in the working tree
        return findings
    data = file.read_bytes()
    if b"\0" in data[:8192]:
        return findings
    return findings + scan_text(path, data.decode("utf-8", errors="replace"))


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def test_no_secrets_in_tracked_files():
    files = tracked_files()
    assert len(files) > 50, "git ls-files found almost nothing: is this a git checkout?"
    findings = [f for path in files for f in scan_path(path)]
    assert not findings, "possible secrets in tracked files (fix, or allow-list with reason):\n" + (
        "\n".join(map(str, findings))
    )


def test_allow_list_entries_are_still_needed():
    """A stale allow-list entry would silently permit that value anywhere in its file."""
    for path, rule, value in ALLOWED:
        raw = scan_text(path, (REPO / path).read_text(), allowed={})
        hits = [f for f in raw if (f.rule, f.value) == (rule, value)]
        assert hits, f"allow-list entry no longer needed: {(path, rule, value)}"
    for path, _rule in ALLOWED_FILES:
        assert (REPO / path).is_file(), f"allow-listed file is gone: {path}"


# Planted secrets are assembled at run time so this file never contains one itself.
_AWS_ID = "AKIA" + "QZ7T4XKD2MW9PLBN"
_AWS_KEY_BODY = "wJalrXUtnFEMI" + "/K7MDENG/bPxRfiCYz3kQ9vLm2T"
_GH = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
_SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...", "private-key"),
        ("-----BEGIN " + "OPENSSH PRIVATE KEY-----", "private-key"),
        (f"aws_access_key_id = {_AWS_ID}", "aws-access-key-id"),
        (f"AWS_SECRET_ACCESS_KEY={_AWS_KEY_BODY}", "aws-secret-access-key"),
        (f'"secret_key": "{_AWS_KEY_BODY}"', "aws-secret-access-key"),
        ("DSN = 'postgresql://fleet:" + "Tr0ub4dor3x@db.internal:5432/dwh'", "password-in-uri"),
        ("redis://:" + "s3cr3tV4lue@redis:6379/0", "password-in-uri"),
        (f"token = '{_GH}'", "github-token"),
        (f"SLACK_TOKEN={_SLACK}", "slack-token"),
        ("POSTGRES_PASSWORD=" + "hunter2hunter2", "secret-assignment"),
        ('conn = {"password": "' + 'Sup3rS3cret!"}', "secret-assignment"),
    ],
)
def test_scanner_finds_a_planted_secret(text, rule):
    found = scan_text("planted.txt", text)
    assert rule in {f.rule for f in found}, found


@pytest.mark.parametrize(
    "text",
    [
        "sql_alchemy_conn = postgresql+psycopg2://${POSTGRES_USER}:${POSTGRES_PASSWORD}@pg/af",
        "redis://:${REDIS_PASSWORD}@redis:6379/0",
        'f"postgresql://{user}:{password}@{host}:{port}/{db}"',
        "scheme://user:<password>@host",
        "password = os.environ.get('FLEET_USER_PASSWORD')",
        '"password": conn.password,',
        "password=password,",
        "password: ${FLEET_DB_PASSWORD}",
        "https://hooks.example.com/services/anything",
        "https://example.com:8443/path@v1",
    ],
)
def test_scanner_passes_references_and_placeholders(text):
    assert scan_text("ok.py", text) == []


def test_allow_list_is_specific():
    """The embedded identity is allowed in settings.py, not in any other file."""
    line = '"password": ' + '"embedded",'
    assert scan_text("pipeline_core/settings.py", line) == []
    assert [f.rule for f in scan_text("pipeline_core/other.py", line)] == ["secret-assignment"]
    assert scan_path(".env.example") == []


def test_committed_env_files_fail():
    assert [f.rule for f in env_file_findings(".env")] == ["committed-env-file"]
    assert [f.rule for f in env_file_findings("docker/.env.production")] == ["committed-env-file"]
    assert env_file_findings(".env.example") == []
    assert env_file_findings("docs/env.md") == []


def test_template_still_gets_the_high_confidence_rules():
    """.env.example may hold placeholders, but never a real key or token."""
    assert scan_text(".env.example", "S3_SECRET_KEY=dev-only-s3-secret-key") == []
    found = scan_text(".env.example", f"AWS_ACCESS_KEY_ID={_AWS_ID}")
    assert [f.rule for f in found] == ["aws-access-key-id"]
