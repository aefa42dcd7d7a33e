"""Search every log line a test run produced for the inputs and keys the tests sent: none may
appear (embedd logs counts, lengths, hashes and ids, never content).

What the tests sent is read from their sources: every key-like literal (`sk-...`) and every
string literal that reads like an input text (two words or more, no markup, config or format
syntax, not a phrase of embedd's own source such as an expected log message), plus the lines of
the shared test corpus. Usage: check_logs.py MARKER DIR... — the logs
are the `*.log` files under each DIR written after the file MARKER was.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*ROOT.glob("crates/*/tests/**/*.rs"), *ROOT.glob("crates/*/tests/**/*.py")]
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.){10,200})"')
KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{3,}")
# Literals with these are configuration, URLs, JSON, format strings or messages, not inputs.
NOT_INPUT = re.compile(r"[{}\[\]()/:=`<>\\$%#|*!]|^[, ]|[, ]$")


def own_text():
    """Everything embedd's own source says: a test literal that is also there (an expected log
    message, say) is embedd's text, not an input."""
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in ROOT.glob("crates/*/src/**/*.rs"))


def sent_by_tests():
    secrets = set()
    for source in SOURCES:
        text = source.read_text(encoding="utf-8", errors="replace")
        secrets.update(KEY.findall(text))
        for literal in LITERAL.findall(text):
            if len(literal.split()) >= 2 and not NOT_INPUT.search(literal):
                secrets.add(literal)
    own = own_text()
    secrets = {s for s in secrets if s not in own}
    corpus = ROOT / "crates/embedd/tests/corpus.txt"
    secrets.update(line for line in corpus.read_text().splitlines() if len(line) >= 10)
    return secrets


def main():
    marker, dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
    since = marker.stat().st_mtime
    logs = [p for d in dirs if d.exists() for p in d.rglob("*.log") if p.stat().st_mtime >= since]
    secrets = sorted(sent_by_tests())
    lines = 0
    leaks = []
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        lines += text.count("\n")
        for secret in secrets:
            if secret in text:
                line = next(l for l in text.splitlines() if secret in l)
                leaks.append(f"{log}: `{secret}` in: {line[:300]}")
    print(f"searched {lines} log lines in {len(logs)} files for {len(secrets)} inputs and keys the tests sent")
    for leak in leaks:
        print("LEAK", leak)
    sys.exit(1 if leaks else 0)


if __name__ == "__main__":
    main()
