"""What checking a connection's credentials with its provider concludes, for every provider.

Three verdicts, because they call for different actions: ACCEPTED (the provider answered and the
credentials work for the account or shop they name), REFUSED (the provider answered: they do not;
saving them is refused) and UNREACHABLE (no answer to trust either way: a save keeps them
unverified, a check keeps the last verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a connection's credentials; `field` names what a refusal is about."""

    verdict: Verdict
    message: str
    field: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == Verdict.ACCEPTED


def accepted(message: str) -> CheckResult:
    return CheckResult(Verdict.ACCEPTED, message)


def refused(field: str, message: str) -> CheckResult:
    return CheckResult(Verdict.REFUSED, message, field)


def unreachable(message: str) -> CheckResult:
    return CheckResult(Verdict.UNREACHABLE, message)
