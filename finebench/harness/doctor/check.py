"""What every check of doctor returns, and how the findings are shown: a row of (status, what was found,
the fix). A row that fails is a blocker."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Sequence

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!", INFO: "·"}


@dataclass
class Check:
    name: str
    status: str  # ok | fail | warn | info
    found: str
    fix: str = ""

    @property
    def blocks(self) -> bool:
        return self.status == FAIL


def render(checks: Sequence[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        found = " ".join(check.found.split())  # a library's message may span lines
        lines.append(f"{MARKS[check.status]} {check.name:<{width}}  {found}")
        if check.fix and check.status in (FAIL, WARN):
            lines.append(f"  {'':<{width}}  fix: {check.fix}")
    blockers = sum(check.blocks for check in checks)
    lines.append(f"\n{blockers} blocker{'s' if blockers != 1 else ''}" if blockers else "\nno blockers")
    return "\n".join(lines)


def as_json(checks: Sequence[Check]) -> str:
    return json.dumps({"blockers": sum(check.blocks for check in checks),
                       "checks": [asdict(check) for check in checks]}, indent=2, ensure_ascii=False)
