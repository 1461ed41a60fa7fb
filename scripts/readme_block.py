"""Print the first ``sh`` code block under a README heading (CI runs the README's examples).

.venv/bin/python scripts/readme_block.py "Using the API" [README.md]
"""

import re
import sys
from pathlib import Path


def block(heading: str, text: str) -> str:
    section = re.search(rf"^#+ {re.escape(heading)}\s*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    if section is None:
        raise SystemExit(f"readme_block: no heading {heading!r}")
    code = re.search(r"^```sh\n(.*?)^```", section[1], re.M | re.S)
    if code is None:
        raise SystemExit(f"readme_block: no sh block under {heading!r}")
    return code[1]


if __name__ == "__main__":
    heading, *rest = sys.argv[1:]
    sys.stdout.write(block(heading, Path(rest[0] if rest else "README.md").read_text()))
