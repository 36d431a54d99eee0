"""Regenerate the documentation generated from code: `python -m caly.docs` (or `make docs`).

Rewrites `.env.example`, the README's environment, error-code, role and API key scope tables, and the runbook's
alert table (docs/operations.md, from docs/prometheus/alerts.yml); tests fail when any is stale.
"""

import re
from pathlib import Path

import yaml

from accounts import roles
from caly.foundation import env
from caly.foundation.api import errors

ROOT = Path(__file__).resolve().parent.parent
ALERT_RULES = ROOT / "docs" / "prometheus" / "alerts.yml"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def alert_table() -> str:
    """The runbook's table of alerts: one row per rule of docs/prometheus/alerts.yml, in its order."""
    rows = ["| alert | PromQL | for | what to do |", "|---|---|---|---|"]
    for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]:
        for rule in group["rules"]:
            notes = rule["annotations"]
            rows.append(
                f"| {_cell(notes['summary'])} (`{rule['alert']}`) | `{_cell(rule['expr'])}` "
                f"| {rule.get('for', '—')} | {_cell(notes['description'])} |"
            )
    return "\n".join(rows)


BLOCKS = {
    "env-table": env.render_markdown,
    "error-table": errors.render_markdown,
    "role-table": roles.render_markdown,
    "scope-table": roles.render_scope_markdown,
}
OPERATIONS_BLOCKS = {"alert-table": alert_table}
GENERATED = {"README.md": BLOCKS, "docs/operations.md": OPERATIONS_BLOCKS}


def replace_block(text: str, marker: str, content: str, *, document: str = "README.md") -> str:
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(\n<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{document} has no <!-- {marker}:start --> block")
    return pattern.sub(lambda m: m.group(1) + content + m.group(2), text)


def main() -> None:
    (ROOT / ".env.example").write_text(env.render_example())
    for document, blocks in GENERATED.items():
        path = ROOT / document
        text = path.read_text()
        for marker, render in blocks.items():
            text = replace_block(text, marker, render(), document=document)
        path.write_text(text)


if __name__ == "__main__":
    main()
