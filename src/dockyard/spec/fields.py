"""Field types shared by the spec models: strict scalars, ranges, AWS enums and patterns.

AWS's APIs are typed: boto3 refuses ``"80"`` where an integer belongs and ``1024``
where a string belongs. The spec follows suit (strict numbers and booleans), so a
document that validates here also registers with AWS. Every check raises
:class:`~dockyard.spec.errors.SpecValueError` with a message that shows the bad value and a
hint that says what to write instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence, Sized
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BeforeValidator, Strict

from dockyard.spec import aws_model
from dockyard.spec.errors import SpecValueError, did_you_mean

N = TypeVar("N", int, float)
S = TypeVar("S", bound=Sized)
_MAX_LISTED = 12

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]


def in_range(low: float | None, high: float | None, unit: str = "") -> AfterValidator:
    """A check that a number lies in ``[low, high]`` (either bound may be open)."""
    suffix = f" {unit}" if unit else ""

    def check(value: N) -> N:
        too_low = low is not None and value < low
        too_high = high is not None and value > high
        if not (too_low or too_high):
            return value
        if low is not None and high is not None:
            message = f"must be between {_num(low)} and {_num(high)}{suffix} (got {value})"
            hint = f"use a value from {_num(low)} to {_num(high)}"
        elif low is not None:
            message = f"must be at least {_num(low)}{suffix} (got {value})"
            hint = f"use {_num(low)} or more"
        else:
            message = f"must be at most {_num(high or 0)}{suffix} (got {value})"
            hint = f"use {_num(high or 0)} or less"
        raise SpecValueError(message, hint=hint)

    return AfterValidator(check)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def one_of_values(allowed: tuple[str, ...], what: str = "value") -> Callable[[str], str]:
    """A check that a string is one of ``allowed`` (case-sensitive, as AWS is)."""

    def check(value: str) -> str:
        if value in allowed:
            return value
        guess = did_you_mean(value, allowed)
        hint = f'did you mean "{guess}"?' if guess else f"use one of: {', '.join(allowed)}"
        raise SpecValueError(f'"{value}" is not a valid {what}; {_listing(allowed)}', hint=hint)

    return check


def _listing(allowed: tuple[str, ...]) -> str:
    if len(allowed) <= _MAX_LISTED:
        return f"valid: {', '.join(allowed)}"
    return f"valid: {', '.join(allowed[:_MAX_LISTED])}, ... ({len(allowed)} in all)"


def one_of(service: aws_model.Service, shape: str, *, also: tuple[str, ...] = ()) -> AfterValidator:
    """A check against botocore's enum ``shape`` (plus Dockyard's ``also`` values)."""
    return AfterValidator(one_of_values(aws_model.enum(service, shape) + also, what=shape))


def aws_string(service: aws_model.Service, shape: str, *, rule: str) -> AfterValidator:
    """A check against botocore's length limits and pattern for ``shape``.

    ``rule`` is the human wording of the pattern, used as the hint (a regular
    expression is the truth but not an explanation).
    """
    bounds = aws_model.limits(service, shape)

    def check(value: str) -> str:
        regex = aws_model.compiled_pattern(service, shape)
        if bounds.min is not None and len(value) < bounds.min:
            short = f"must be at least {_num(bounds.min)} characters (got {len(value)})"
            raise SpecValueError("must not be empty" if bounds.min == 1 else short, hint=rule)
        if bounds.max is not None and len(value) > bounds.max:
            raise SpecValueError(
                f"must be at most {_num(bounds.max)} characters (got {len(value)})", hint=rule
            )
        if regex is not None and not regex.fullmatch(value):
            raise SpecValueError(f'"{value}" is not a valid {shape}', hint=rule)
        return value

    return AfterValidator(check)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise SpecValueError("must not be empty", hint="give it a value")
    return value


NonEmpty = Annotated[str, AfterValidator(_non_empty)]


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise SpecValueError(
            f'"{value}" is not an absolute path', hint=f'start it with "/", e.g. "/{value}"'
        )
    return value


AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]


def count_between(low: int | None, high: int | None, noun: str) -> AfterValidator:
    """A check on the number of entries of a list or map (``noun`` names one entry).

    Used instead of pydantic's ``min_length``, which also reports a list whose entries
    failed validation as "too short".
    """

    def check(value: S) -> S:
        count = len(value)
        if low is not None and count < low:
            raise SpecValueError(
                f"needs at least {low} {noun}{'s' if low != 1 else ''} (got {count})",
                hint=f"add {_count_words(low - count, noun)}",
            )
        if high is not None and count > high:
            raise SpecValueError(
                f"allows at most {high} {noun}s (got {count})",
                hint=f"remove {count - high} of them",
            )
        return value

    return AfterValidator(check)


def _count_words(count: int, noun: str) -> str:
    if count != 1:
        return f"{count} {noun}s"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def string_map(service: aws_model.Service, shape: str, noun: str) -> BeforeValidator:
    """A check of a string-to-string map against botocore's map ``shape``.

    Checks the entry count and each key's and value's length and pattern, and refuses
    non-string values with a hint to quote them: AWS passes these maps on as strings
    (hyperparameters reach the container as JSON strings; environment variables are
    strings), and a number that silently became ``"0.1"`` would hide the conversion.
    """
    definition = aws_model.shape(service, shape)
    key_shape = str(definition["key"]["shape"])
    value_shape = str(definition["value"]["shape"])
    count = aws_model.limits(service, shape)

    def check(value: object) -> object:
        if not isinstance(value, dict):
            return value  # pydantic reports "must be an object"
        if count.max is not None and len(value) > count.max:
            raise SpecValueError(
                f"allows at most {_num(count.max)} {noun}s (got {len(value)})",
                hint=f"remove {len(value) - int(count.max)} of them",
            )
        for key, item in value.items():
            _check_entry(
                service,
                key_shape=key_shape,
                value_shape=value_shape,
                key=str(key),
                item=item,
                noun=noun,
            )
        return value

    return BeforeValidator(check)


def _check_entry(
    service: aws_model.Service,
    *,
    key_shape: str,
    value_shape: str,
    key: str,
    item: object,
    noun: str,
) -> None:
    if not isinstance(item, str):
        if isinstance(item, int | float | bool):
            shown = json.dumps(item)
            message = f"{noun} values must be strings (got {shown})"
            raise SpecValueError(message, hint=f"quote it: write {json.dumps(shown)}", at=(key,))
        raise SpecValueError(
            f"{noun} values must be strings (got {type(item).__name__})",
            hint=f"write the {noun} as a string (JSON-encode structured values)",
            at=(key,),
        )
    key_limits, key_regex = (
        aws_model.limits(service, key_shape),
        aws_model.compiled_pattern(service, key_shape),
    )
    if (key_limits.max is not None and len(key) > key_limits.max) or (
        key_regex is not None and not key_regex.fullmatch(key)
    ):
        raise SpecValueError(
            f'"{key}" is not a valid {noun} name',
            hint=f"use at most {_num(key_limits.max or 0)} characters"
            + (f" matching {key_regex.pattern}" if key_regex and key_regex.pattern != ".*" else ""),
            at=(key,),
        )
    value_max = aws_model.limits(service, value_shape).max
    if value_max is not None and len(item) > value_max:
        raise SpecValueError(
            f"{noun} values must be at most {_num(value_max)} characters (got {len(item)})",
            hint="shorten it, or pass large settings as a file in an input channel",
            at=(key,),
        )


def reject_repeats(names: Sequence[str], *, noun: str, where: str, field: str, hint: str) -> None:
    """Refuse a name used twice in a list (channels, variants): the second use is the error.

    ``where`` is the list's field (``InputDataConfig``), ``field`` the name's key in
    each entry (``ChannelName``), so the error points at the entry to fix.
    """
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise SpecValueError(
                f'{noun} "{name}" is already defined by {where}[{seen[name]}]',
                hint=hint,
                at=(where, index, field),
            )
        seen[name] = index


#: SageMaker local mode's instance types: run on this machine (GPU where present).
LOCAL_INSTANCE_TYPES = ("local", "local_gpu")


def instance_type_of(shape: str) -> AfterValidator:
    """An InstanceType: a local one, or a member of SageMaker's enum ``shape``."""
    allowed = LOCAL_INSTANCE_TYPES + aws_model.enum("sagemaker", shape)
    return AfterValidator(one_of_values(allowed, what="InstanceType"))
