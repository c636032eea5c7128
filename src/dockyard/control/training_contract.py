"""What a training host sees under ``/opt/ml/input/config``, laid out from plain inputs.

SageMaker hands a training container three JSON files before it starts
(``hyperparameters.json``, ``resourceconfig.json``, ``inputdataconfig.json``), and every
framework toolkit (and every bring-your-own container) reads them. Dockyard must write
them exactly as the real platform does, or scripts written for SageMaker break here:

- ``hyperparameters.json``: every value is a **string**; script mode adds
  ``sagemaker_program`` and ``sagemaker_submit_directory`` JSON-encoded, as the SageMaker
  Python SDK does (``"\\"train.py\\""``), so the toolkit's JSON decoding yields the plain
  string back.
- ``resourceconfig.json``: ``current_host``, ``current_instance_type``,
  ``current_group_name`` (``homogeneousCluster`` for a job without instance groups),
  ``hosts`` (sorted lexicographically, as the platform documents), ``instance_groups``
  (one group holding every host) and ``network_interface_name``.
- ``inputdataconfig.json``: per channel ``ContentType`` (only when given),
  ``TrainingInputMode``, ``S3DistributionType``, ``RecordWrapperType``.

Everything here is pure: callers write the returned text wherever the host's
``/opt/ml/input/config`` lives. Limits and enums come from the SageMaker service model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import SpecError

PROGRAM_HYPERPARAMETER = "sagemaker_program"
SUBMIT_DIRECTORY_HYPERPARAMETER = "sagemaker_submit_directory"
HOMOGENEOUS_GROUP_NAME = "homogeneousCluster"
DEFAULT_NETWORK_INTERFACE = "eth0"

CONFIG_DIR = "/opt/ml/input/config"
HYPERPARAMETERS_FILE = "hyperparameters.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"

# Limits of CreateTrainingJob.HyperParameters (service model: map max 100, key max 256,
# value max 2500) and of Channel (name pattern, enums).
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY_LENGTH = 256
MAX_HYPERPARAMETER_VALUE_LENGTH = 2500
MAX_CHANNEL_NAME_LENGTH = 64
CHANNEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9.\-_]+")
TRAINING_INPUT_MODES = ("Pipe", "File", "FastFile")
S3_DISTRIBUTION_TYPES = ("FullyReplicated", "ShardedByS3Key")
RECORD_WRAPPER_TYPES = ("None", "RecordIO")


@dataclass(frozen=True)
class ChannelInfo:
    """How one input channel is presented to the container (the Channel's data-facing fields).

    Defaults are what the platform writes when the request leaves a field out.
    """

    content_type: str | None = None
    input_mode: str = "File"
    s3_distribution_type: str = "FullyReplicated"
    record_wrapper_type: str = "None"

    def __post_init__(self) -> None:
        _require_one_of("TrainingInputMode", self.input_mode, TRAINING_INPUT_MODES)
        _require_one_of("S3DataDistributionType", self.s3_distribution_type, S3_DISTRIBUTION_TYPES)
        _require_one_of("RecordWrapperType", self.record_wrapper_type, RECORD_WRAPPER_TYPES)


@dataclass(frozen=True)
class TrainingHostConfig:
    """Everything one training host's config files are made from.

    ``hyperparameters`` is the final string map (see :func:`hyperparameters_json`).
    """

    current_host: str
    hosts: tuple[str, ...]
    instance_type: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, ChannelInfo] = field(default_factory=dict)
    network_interface_name: str = DEFAULT_NETWORK_INTERFACE


def hyperparameters_json(
    hps: Mapping[str, str], program: str | None, submit_dir: str | None
) -> dict[str, str]:
    """The ``hyperparameters.json`` object: the user's strings plus script-mode settings.

    ``program`` (the entry script) and ``submit_dir`` (a directory, ``file://`` path or
    ``.tar.gz`` the container can read) become ``sagemaker_program`` and
    ``sagemaker_submit_directory``, JSON-encoded the way the SageMaker SDK writes them.
    Giving one both here and in ``hps`` is ambiguous and rejected.
    """
    result: dict[str, str] = {}
    for key, value in hps.items():
        _check_hyperparameter(key, value)
        result[key] = value
    script_mode = ((PROGRAM_HYPERPARAMETER, program), (SUBMIT_DIRECTORY_HYPERPARAMETER, submit_dir))
    for key, raw in script_mode:
        if raw is None:
            continue
        if key in result:
            raise SpecError(
                f"{key} is given twice: in HyperParameters and as a script-mode setting",
                field=f"HyperParameters.{key}",
                hint=f"remove {key} from HyperParameters or do not pass it separately",
            )
        if not raw:
            raise SpecError(
                f"{key} must not be empty", field=key, hint="give a path or leave it out"
            )
        encoded = json.dumps(raw)
        _check_hyperparameter(key, encoded)
        result[key] = encoded
    if len(result) > MAX_HYPERPARAMETERS:
        raise SpecError(
            f"{len(result)} hyperparameters given; at most {MAX_HYPERPARAMETERS} are allowed "
            "(sagemaker_program and sagemaker_submit_directory count too)",
            field="HyperParameters",
            hint="pass large or structured settings as a file in an input channel",
        )
    return result


def resource_config(
    current_host: str,
    hosts: list[str],
    instance_type: str,
    network_interface_name: str = DEFAULT_NETWORK_INTERFACE,
) -> dict[str, Any]:
    """The ``resourceconfig.json`` object for one host of a homogeneous cluster."""
    if not hosts:
        raise SpecError("a training job needs at least one host", field="hosts")
    if len(set(hosts)) != len(hosts):
        raise SpecError(f"host names repeat: {hosts}", field="hosts", hint="name each host once")
    if current_host not in hosts:
        raise SpecError(
            f"current host {current_host!r} is not one of the job's hosts {hosts}",
            field="current_host",
            hint="pick the current host from the job's hosts (algo-1..N)",
        )
    ordered = sorted(hosts)
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": HOMOGENEOUS_GROUP_NAME,
        "hosts": ordered,
        "instance_groups": [
            {
                "instance_group_name": HOMOGENEOUS_GROUP_NAME,
                "instance_type": instance_type,
                "hosts": list(ordered),
            }
        ],
        "network_interface_name": network_interface_name,
    }


def input_data_config(channels: Mapping[str, ChannelInfo]) -> dict[str, dict[str, str]]:
    """The ``inputdataconfig.json`` object: one entry per channel, keyed by channel name."""
    config: dict[str, dict[str, str]] = {}
    for name, channel in channels.items():
        _check_channel_name(name)
        entry: dict[str, str] = {}
        if channel.content_type is not None:
            entry["ContentType"] = channel.content_type
        entry["TrainingInputMode"] = channel.input_mode
        entry["S3DistributionType"] = channel.s3_distribution_type
        entry["RecordWrapperType"] = channel.record_wrapper_type
        config[name] = entry
    return config


def render_config_files(host: TrainingHostConfig) -> dict[str, str]:
    """The three config files of one host as ``{file name: JSON text}``.

    File names are bare (``hyperparameters.json``...); they belong in :data:`CONFIG_DIR`.
    """
    return {
        HYPERPARAMETERS_FILE: _to_json(dict(host.hyperparameters)),
        RESOURCE_CONFIG_FILE: _to_json(
            resource_config(
                host.current_host,
                list(host.hosts),
                host.instance_type,
                host.network_interface_name,
            )
        ),
        INPUT_DATA_CONFIG_FILE: _to_json(input_data_config(host.channels)),
    }


def _to_json(value: object) -> str:
    return json.dumps(value)


def _check_hyperparameter(key: str, value: str) -> None:
    if len(key) > MAX_HYPERPARAMETER_KEY_LENGTH:
        raise SpecError(
            f"hyperparameter name is {len(key)} characters; at most "
            f"{MAX_HYPERPARAMETER_KEY_LENGTH} are allowed",
            field=f"HyperParameters.{key[:40]}...",
            hint="use a shorter name",
        )
    if len(value) > MAX_HYPERPARAMETER_VALUE_LENGTH:
        raise SpecError(
            f"value is {len(value)} characters; at most {MAX_HYPERPARAMETER_VALUE_LENGTH} "
            "are allowed",
            field=f"HyperParameters.{key}",
            hint="pass large values as a file in an input channel",
        )


def _check_channel_name(name: str) -> None:
    if len(name) > MAX_CHANNEL_NAME_LENGTH or not CHANNEL_NAME_PATTERN.fullmatch(name):
        raise SpecError(
            f"channel name {name!r} is not valid",
            field=f"InputDataConfig.{name}",
            hint=f"use 1-{MAX_CHANNEL_NAME_LENGTH} characters from A-Z a-z 0-9 . - _",
        )


def _require_one_of(field_name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(
            f"{value!r} is not a valid {field_name}",
            field=field_name,
            hint=f"use one of {', '.join(allowed)}",
        )
