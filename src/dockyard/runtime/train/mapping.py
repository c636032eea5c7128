"""How training facts become environment variables and command-line arguments.

These rules are the training toolkit's, reproduced exactly because user scripts parse
their output:

- hyperparameter values arrive as strings and are JSON-decoded when they parse
  (``"1.0"`` -> ``1.0``, ``"true"`` -> ``True``, ``"\\"a\\""`` -> ``"a"``); otherwise the
  string is kept;
- names starting with ``sagemaker_`` (and a few reserved names) are the platform's, not
  the script's: they never become arguments or ``SM_HP_*`` variables;
- an argument is ``--name`` (or ``-n`` for a one-character name) followed by the value's
  Python ``str()`` (``True``, ``[1, 2]``); a dict value becomes ``k=v,k2=v2``; keys are
  sorted;
- an environment variable is ``SM_`` + the upper-cased key; strings are passed as they
  are, ``None`` as an empty string, anything else as compact sorted JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SAGEMAKER_PREFIX = "sagemaker_"
PROGRAM_PARAM = "sagemaker_program"
SUBMIT_DIR_PARAM = "sagemaker_submit_directory"
LOG_LEVEL_PARAM = "sagemaker_container_log_level"
JOB_NAME_PARAM = "sagemaker_job_name"
REGION_PARAM = "sagemaker_region"
S3_OUTPUT_PARAM = "sagemaker_s3_output"
DISTRIBUTION_GROUPS_PARAM = "sagemaker_distribution_instance_groups"

# Platform-owned hyperparameters: never user arguments, never framework parameters.
RESERVED_HYPERPARAMETERS = frozenset(
    {
        PROGRAM_PARAM,
        SUBMIT_DIR_PARAM,
        "sagemaker_enable_cloudwatch_metrics",
        REGION_PARAM,
        LOG_LEVEL_PARAM,
        JOB_NAME_PARAM,
        "default_user_module_name",
        "_tuning_objective_metric",
        S3_OUTPUT_PARAM,
    }
)


def decode_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-decode every value that parses; keep the others as they are."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (ValueError, TypeError):
            decoded[key] = value
    return decoded


def split_hyperparameters(
    decoded: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split into (platform-owned, user) hyperparameters.

    Platform-owned are the reserved names and everything prefixed ``sagemaker_``.
    """
    platform = {
        k: v
        for k, v in decoded.items()
        if k in RESERVED_HYPERPARAMETERS or k.startswith(SAGEMAKER_PREFIX)
    }
    user = {k: v for k, v in decoded.items() if k not in platform}
    return platform, user


def framework_parameters(platform: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sagemaker_*`` settings that are not reserved (SM_FRAMEWORK_PARAMS)."""
    return {k: v for k, v in platform.items() if k not in RESERVED_HYPERPARAMETERS}


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The script's argument list, in sorted key order."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        args.append(_arg_name(key))
        args.append(_arg_value(hyperparameters[key]))
    return args


def to_env_vars(values: Mapping[str, Any]) -> dict[str, str]:
    """``SM_<KEY>`` variables for each entry."""
    return {_env_name(k): _env_value(v) for k, v in values.items()}


def to_env_json(value: Any) -> str:
    """The JSON form every non-string SM_* value takes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _arg_name(key: str) -> str:
    name = _text(key)
    if not name:
        return ""
    return f"--{name}" if len(name) > 1 else f"-{name}"


def _arg_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def _env_name(key: str) -> str:
    return f"SM_{key.upper()}" if key else ""


def _env_value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_env_json(value)
