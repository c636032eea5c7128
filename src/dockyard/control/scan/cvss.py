"""CVSS v3 base scores, computed from the vector an advisory carries.

OSV records give a CVSS vector, not a score; the score decides a finding's severity
(:func:`~.severity.severity_from_cvss`). The formula is pure arithmetic on the vector,
so it lives here, tested against the specification's examples without an image.
"""

from __future__ import annotations

import math

_CVSS_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def cvss3_base_score(vector: str) -> float:
    """The base score of a CVSS 3.0 or 3.1 vector (the specification's formula, section 7).

    ValueError if the vector is not ``CVSS:3.x/`` with each base metric once.
    """
    prefix, _, rest = vector.strip().partition("/")
    if prefix not in ("CVSS:3.0", "CVSS:3.1"):
        raise ValueError(f"{vector!r} is not a CVSS 3.0 or 3.1 vector")
    metrics = dict(part.split(":", 1) for part in rest.split("/") if ":" in part)
    try:
        scope = metrics["S"]
        weight = {key: table[metrics[key]] for key, table in _CVSS_WEIGHTS.items()}
        privileges = _PRIVILEGES[scope][metrics["PR"]]
    except KeyError as missing:
        raise ValueError(f"{vector!r}: base metric {missing} missing or invalid") from None
    iss = 1 - (1 - weight["C"]) * (1 - weight["I"]) * (1 - weight["A"])
    changed = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    impact = 6.42 * iss if scope == "U" else changed
    exploitability = 8.22 * weight["AV"] * weight["AC"] * privileges * weight["UI"]
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _round_up(min(total, 10.0), exact=prefix == "CVSS:3.1")


def _round_up(value: float, *, exact: bool) -> float:
    """Round up to one decimal; 3.1's Roundup avoids floating-point surprises (Appendix A)."""
    if not exact:
        return math.ceil(value * 10) / 10
    integer = round(value * 100_000)
    return integer / 100_000 if integer % 10_000 == 0 else (integer // 10_000 + 1) / 10
