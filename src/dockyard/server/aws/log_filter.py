"""CloudWatch Logs filter patterns for unstructured lines (FilterLogEvents).

The forms supported are the ones used on plain text output:

* ``ERROR`` or ``ERROR Exception``: every term must appear (case-sensitive);
* ``"Out of memory"``: a quoted phrase is one term;
* ``?ERROR ?WARN``: any of the ``?`` terms must appear;
* ``ERROR -Retrying``: a ``-`` term must not appear;
* ``%regular expression%``: the line must match the expression;
* an empty pattern matches every line.

JSON (``{ $.level = "error" }``) and space-delimited (``[ip, user, ...]``) patterns
select fields of structured events; they are refused with an error that says so
rather than read as terms.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    """A filter pattern Dockyard cannot apply, with the reason."""


def matcher(pattern: str | None) -> Matcher:
    """A test for one line, from a filter pattern (see the module's doc)."""
    text = (pattern or "").strip()
    if not text:
        return lambda line: True
    if text.startswith("%") and text.endswith("%") and len(text) > 1:
        try:
            expression = re.compile(text[1:-1])
        except re.error as error:
            raise PatternError(f"filterPattern: invalid regular expression: {error}") from error
        return lambda line: expression.search(line) is not None
    if text.startswith(("{", "[")):
        raise PatternError(
            "filterPattern: JSON and space-delimited patterns are not implemented by "
            "Dockyard; use terms (ERROR -DEBUG, ?ERROR ?WARN, quoted phrases) or %regex%"
        )
    try:
        terms = shlex.split(text)
    except ValueError as error:
        raise PatternError(f"filterPattern: {error} (close the quoted phrase)") from error
    anyof: list[str] = []
    excluded: list[str] = []
    required: list[str] = []
    for term in terms:
        if term.startswith("?") and len(term) > 1:
            anyof.append(term[1:])
        elif term.startswith("-") and len(term) > 1:
            excluded.append(term[1:])
        else:
            required.append(term)

    def match(line: str) -> bool:
        if any(term in line for term in excluded):
            return False
        if anyof and not any(term in line for term in anyof):
            return False
        return all(term in line for term in required)

    return match
