"""Regenerate the documentation generated from code: `python -m caly.docs` (or `make docs`).

Rewrites `.env.example` and the README's environment, error-code and role tables; tests fail
when any is stale.
"""

import re
from pathlib import Path

from accounts import roles
from caly.foundation import env
from caly.foundation.api import errors

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = {"env-table": env.render_markdown, "error-table": errors.render_markdown, "role-table": roles.render_markdown}


def replace_block(text: str, marker: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(\n<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {marker}:start --> block")
    return pattern.sub(lambda m: m.group(1) + content + m.group(2), text)


def main() -> None:
    (ROOT / ".env.example").write_text(env.render_example())
    readme = ROOT / "README.md"
    text = readme.read_text()
    for marker, render in BLOCKS.items():
        text = replace_block(text, marker, render())
    readme.write_text(text)


if __name__ == "__main__":
    main()
