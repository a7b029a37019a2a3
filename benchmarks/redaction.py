"""Measure what masking fragments of long secrets costs ``Redactor.redact()`` over whole-value masking.

Run it with::

    .venv/bin/python benchmarks/redaction.py [--repeat R]

It times ``redact()`` on a typical short action string and on a 100 KB failure text (tracebacks,
locals, log lines, JSON bodies; no secret in it), with no registered secret and with five long ones
(a 200-character JWT, an API key, a token, a password and a DSN password, registered as
``config.py`` registers them). A third text is the 100 KB failure text with pytest's shortened repr
of the JWT in it, the slow path where fragments are found and masked.

Each case runs two implementations side by side in one process: ``before`` is the whole-value path
(every registered variant searched with ``str.find``, then the same secret-shaped patterns), as
``Redactor.redact`` did before fragments; ``after`` is ``Redactor.redact`` as it is now. The figure
is the best of R rounds of N calls, alternating before/after round by round so machine noise hits
both alike.

Exit status: 0 when all is well, 2 when the benchmark itself is wrong: the two paths disagree on a
text with no secret, or ``after`` leaves 8 characters of a secret in the hit case.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import time
from collections.abc import Callable
from urllib.parse import unquote

from pytest_deploysmoke.config.redaction import FRAGMENT_LENGTH, MASK, MIN_SECRET_LENGTH, Redactor, url_password

SHORT_TEXT = "GET /api/v1/items?page=2&sort=name returned 200 in 12 ms"
FAILURE_SIZE = 100_000


def _jwt(length: int) -> str:
    """A JWT-shaped token of *length* characters: header, claims and a 43-character signature."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = json.dumps({"sub": "smoke-user-42", "scope": "read:health read:metrics read:users", "exp": 1900000000})
    payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
    rng = random.Random(7)
    signature = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(43)
    )
    payload = payload[: length - len(header) - len(signature) - 2]
    return f"{header}.{payload}.{signature}"


JWT = _jwt(200)
SECRETS = (
    JWT,
    "sk_live_51Hx9Pl4ntedApiKeyValue00042abcd",
    "tok_pl4nted_bearer_value",
    "pl4nted-Passw0rd",
    "postgresql://smoke:dsnPl4nted-Pw0rd-2024@db.internal:5432/app",
)


def failure_text(size: int, rng: random.Random) -> str:
    """A pytest failure text of about *size* characters: what a failed check with logs produces."""
    lines = [
        "    def test_items(http, deploy_target):",
        '        response = http.get("/api/v1/items", params={"page": 2})',
        ">       assert response.json() == expected",
        "E       AssertionError: assert {'items': [{'id': 1, 'name': 'widget'}], 'page': 2} == {'items': []}",
        "E         Differing items:",
        "E         {'items': [{'id': 1, 'name': 'widget'}]} != {'items': []}",
        "deploy_target = Target(name='staging', base_url='https://staging.example.com', production=False)",
        "test_items.py:14: AssertionError",
        "INFO     httpx:_client.py:1025 HTTP Request: GET https://staging.example.com/api/v1/items?page=2 "
        '"HTTP/1.1 200 OK"',
        "WARNING  smoke:test_items.py:9 slow answer from /api/v1/items: 412 ms (budget 300 ms)",
        '{"id": 1842, "name": "widget", "price": "12.40", "tags": ["blue", "small"], "updated": "2024-05-01"}',
    ]
    out: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(lines) + f"  # {rng.randrange(10**6)}"
        out.append(line)
        total += len(line) + 1
    return "\n".join(out)[:size]


def before(secrets: tuple[str, ...]) -> Callable[[str], str]:
    """The whole-value path: every registered variant masked where it appears whole."""
    variants: set[str] = set()

    def register(raw: str) -> None:
        for variant in {raw, unquote(raw), repr(raw)[1:-1]}:
            if len(variant) >= MIN_SECRET_LENGTH:
                variants.add(variant)
        password = url_password(raw)
        if password:
            register(password)

    for secret in secrets:
        register(secret)
    patterns = Redactor()  # no registered secret: only the secret-shaped patterns, as before

    def redact(text: str) -> str:
        if not text:
            return text
        if variants:
            spans: list[tuple[int, int]] = []
            for secret in variants:
                start = text.find(secret)
                while start != -1:
                    spans.append((start, start + len(secret)))
                    start = text.find(secret, start + 1)
            merged: list[list[int]] = []
            for start, stop in sorted(spans):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], stop)
                else:
                    merged.append([start, stop])
            pieces: list[str] = []
            position = 0
            for start, stop in merged:
                pieces += [text[position:start], MASK]
                position = stop
            pieces.append(text[position:])
            text = "".join(pieces)
        return patterns.redact(text)

    return redact


def after(secrets: tuple[str, ...]) -> Callable[[str], str]:
    """``Redactor.redact`` as it is now."""
    redactor = Redactor()
    redactor.add(*secrets)
    return redactor.redact


def best_per_call(functions: dict[str, Callable[[str], str]], text: str, repeat: int) -> dict[str, float]:
    """Best seconds per call of each function over *repeat* alternating rounds."""
    calls = max(1, 200_000 // max(len(text), 1000) * 10)
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(calls):
                function(text)
            best[name] = min(best[name], (time.perf_counter() - started) / calls)
    return best


def leaked_windows(text: str) -> list[str]:
    """The 8-character windows of the long secrets that appear in *text*."""
    materials = [s for s in SECRETS if "://" not in s] + [url_password(s) or "" for s in SECRETS if "://" in s]
    return [
        m[i : i + FRAGMENT_LENGTH]
        for m in materials
        for i in range(len(m) - FRAGMENT_LENGTH + 1)
        if m[i : i + FRAGMENT_LENGTH] in text
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, metavar="R", help="rounds per case (best is kept)")
    args = parser.parse_args()

    rng = random.Random(42)
    failure = failure_text(FAILURE_SIZE, rng)
    middle = len(failure) // 2
    shortened = f"'{JWT[:12]}...{JWT[-13:]}'"
    with_hit = failure[:middle] + f"\nE       AssertionError: assert {shortened} == 'x'\n" + failure[middle:]
    texts = {"short action (56 chars)": SHORT_TEXT, "failure text (100 KB)": failure}

    print(f"Python {sys.version.split()[0]}; best of {args.repeat} rounds; JWT of {len(JWT)} characters")
    print(f"{'text':<34} {'secrets':>7} {'before':>12} {'after':>12} {'after/before':>13}")
    status = 0
    cases = [(name, text, count) for name, text in texts.items() for count in (0, 5)]
    cases.append(("failure text with a JWT hit (100 KB)", with_hit, 5))
    for name, text, count in cases:
        secrets = SECRETS[:count]
        functions = {"before": before(secrets), "after": after(secrets)}
        if text is not with_hit and functions["before"](text) != functions["after"](text):
            print(f"error: before and after disagree on the {name} with {count} secrets", file=sys.stderr)
            status = 2
        best = best_per_call(functions, text, args.repeat)
        print(
            f"{name:<34} {count:>7} {best['before'] * 1e6:>10.1f}us {best['after'] * 1e6:>10.1f}us"
            f" {best['after'] / best['before']:>12.2f}x"
        )
    print()
    print(f"pytest's shortened repr {shortened} in the hit case:")
    for label, function in (("before", before(SECRETS)), ("after", after(SECRETS))):
        leaks = leaked_windows(function(with_hit))
        print(f"  {label:<6} leaves {len(leaks)} 8-character windows of a secret")
        if label == "after" and leaks:
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
