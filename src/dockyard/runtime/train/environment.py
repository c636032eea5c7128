"""A read-only snapshot of the training environment, and the variables it exports.

Built once from ``/opt/ml/input/config/*.json``, the process environment and a hardware
probe. :meth:`TrainingEnvironment.training_env` is the ``SM_TRAINING_ENV`` object: the
same keys, values and defaults as the training toolkit's ``Environment`` (so scripts that
read ``SM_TRAINING_ENV`` work unchanged); :meth:`TrainingEnvironment.env_vars` derives
every ``SM_*`` variable from it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.runtime.train import hardware, mapping
from dockyard.runtime.train.errors import JobConfigError
from dockyard.runtime.train.paths import MlPaths

HYPERPARAMETERS_FILE = "hyperparameters.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"

DEFAULT_GROUP = "homogeneousCluster"
DEFAULT_INSTANCE_TYPE = "local"
DEFAULT_NETWORK_INTERFACE = "eth0"

PROGRAM_ENV = "SAGEMAKER_PROGRAM"
FRAMEWORK_MODULE_ENV = "SAGEMAKER_TRAINING_MODULE"
JOB_NAME_ENV = "TRAINING_JOB_NAME"
MODEL_PARALLEL_ENV = "SM_HP_MP_PARAMETERS"

# Framework parameters that put the current instance group into distributed training.
_DISTRIBUTION_FLAGS = (
    "sagemaker_mpi_enabled",
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    "sagemaker_torch_distributed_enabled",
)


@dataclass(frozen=True)
class Hardware:
    """What the host offers; probed once because probing runs external tools."""

    num_cpus: int
    num_gpus: int
    num_neurons: int
    smddprun_installed: bool
    smddpmprun_installed: bool

    @classmethod
    def probe(cls, instance_type: str) -> Hardware:
        return cls(
            num_cpus=hardware.num_cpus(),
            num_gpus=hardware.num_gpus(),
            num_neurons=hardware.num_neurons(instance_type),
            smddprun_installed=hardware.is_installed("smddprun"),
            smddpmprun_installed=hardware.is_installed("smddpmprun"),
        )


@dataclass(frozen=True)
class TrainingEnvironment:
    paths: MlPaths
    resource_config: dict[str, Any]
    input_data_config: dict[str, Any]
    hyperparameters: dict[str, Any]
    platform_hyperparameters: dict[str, Any]
    environ: Mapping[str, str]
    hardware: Hardware

    @classmethod
    def load(cls, paths: MlPaths, environ: Mapping[str, str]) -> TrainingEnvironment:
        """Read the config files; a missing resource config is a set-up error."""
        resource = _read_json(paths.config_file(RESOURCE_CONFIG_FILE), required=True)
        for key in ("current_host", "hosts"):
            if key not in resource:
                raise JobConfigError(
                    f"{paths.config_file(RESOURCE_CONFIG_FILE)} has no {key!r}; the platform "
                    "must write current_host and hosts for every training host"
                )
        decoded = mapping.decode_hyperparameters(
            _read_json(paths.config_file(HYPERPARAMETERS_FILE), required=False)
        )
        platform, user = mapping.split_hyperparameters(decoded)
        return cls(
            paths=paths,
            resource_config=resource,
            input_data_config=_read_json(paths.config_file(INPUT_DATA_CONFIG_FILE), required=False),
            hyperparameters=user,
            platform_hyperparameters=platform,
            environ=dict(environ),
            hardware=Hardware.probe(resource.get("current_instance_type", DEFAULT_INSTANCE_TYPE)),
        )

    # --- facts scripts and the runner use -------------------------------------------

    @property
    def current_host(self) -> str:
        return str(self.resource_config["current_host"])

    @property
    def hosts(self) -> list[str]:
        return list(self.resource_config["hosts"])

    @property
    def user_entry_point(self) -> str | None:
        """The entry script: ``SAGEMAKER_PROGRAM`` in the image wins over the hyperparameter."""
        program = self.environ.get(PROGRAM_ENV) or self.platform_hyperparameters.get(
            mapping.PROGRAM_PARAM
        )
        return None if program in (None, "") else str(program)

    @property
    def module_dir(self) -> str:
        """Where the code comes from: the submit directory, or the code directory itself."""
        return str(self.platform_hyperparameters.get(mapping.SUBMIT_DIR_PARAM, self.paths.code_dir))

    @property
    def log_level(self) -> Any:
        return self.platform_hyperparameters.get(mapping.LOG_LEVEL_PARAM, logging.INFO)

    @property
    def job_name(self) -> str | None:
        return self.environ.get(JOB_NAME_ENV)

    @property
    def framework_parameters(self) -> dict[str, Any]:
        return mapping.framework_parameters(self.platform_hyperparameters)

    @property
    def channel_input_dirs(self) -> dict[str, str]:
        return {name: self.paths.channel_dir(name) for name in self.input_data_config}

    def cmd_args(self) -> list[str]:
        return mapping.to_cmd_args(self.hyperparameters)

    # --- the exported views -----------------------------------------------------------

    def training_env(self) -> dict[str, Any]:
        """The ``SM_TRAINING_ENV`` object (every toolkit ``Environment`` property)."""
        env = {**self._host_facts(), **self._group_facts(), **self._code_facts(), **self._dirs()}
        return dict(sorted(env.items()))

    def env_vars(self) -> dict[str, str]:
        """Every ``SM_*`` variable, as the toolkit exports them."""
        facts = self.training_env()
        exported: dict[str, Any] = {
            "hosts": facts["hosts"],
            "network_interface_name": facts["network_interface_name"],
            "hps": facts["hyperparameters"],
            "user_entry_point": facts["user_entry_point"],
            "framework_params": facts["additional_framework_parameters"],
            "resource_config": facts["resource_config"],
            "input_data_config": facts["input_data_config"],
            "output_data_dir": facts["output_data_dir"],
            "channels": sorted(facts["channel_input_dirs"]),
        }
        for key in (
            "current_host", "current_instance_type", "current_instance_group",
            "current_instance_group_hosts", "instance_groups", "instance_groups_dict",
            "distribution_instance_groups", "is_hetero", "module_name", "log_level",
            "framework_module", "input_dir", "input_config_dir", "output_dir", "num_cpus",
            "num_gpus", "num_neurons", "model_dir", "module_dir",
        ):  # fmt: skip
            exported[key] = facts[key]
        exported["training_env"] = facts
        exported["user_args"] = self.cmd_args()
        exported["output_intermediate_dir"] = facts["output_intermediate_dir"]
        if facts["topology"]:
            exported["topology"] = facts["topology"]
        for name, path in facts["channel_input_dirs"].items():
            exported[f"channel_{name}"] = path
        for key, value in self.hyperparameters.items():
            exported[f"hp_{key}"] = value
        return mapping.to_env_vars(exported)

    def _host_facts(self) -> dict[str, Any]:
        rc = self.resource_config
        mp_parameters = self.environ.get(MODEL_PARALLEL_ENV)
        return {
            "current_host": self.current_host,
            "current_instance_type": rc.get("current_instance_type", DEFAULT_INSTANCE_TYPE),
            "hosts": self.hosts,
            "network_interface_name": rc.get("network_interface_name", DEFAULT_NETWORK_INTERFACE),
            "resource_config": rc,
            "topology": rc.get("topology", []),
            "num_cpus": self.hardware.num_cpus,
            "num_gpus": self.hardware.num_gpus,
            "num_neurons": self.hardware.num_neurons,
            "is_smddprun_installed": self.hardware.smddprun_installed,
            "is_smddpmprun_installed": self.hardware.smddpmprun_installed,
            # The toolkit's truthiness, kept as is: null when unset, else a bool.
            "is_modelparallel_enabled": mp_parameters and mp_parameters != "{}",
            "job_name": self.job_name,
        }

    def _group_facts(self) -> dict[str, Any]:
        rc = self.resource_config
        groups: list[dict[str, Any]] = list(rc.get("instance_groups", []))
        current_group = rc.get("current_group_name", DEFAULT_GROUP)
        group_hosts = next(
            (list(g["hosts"]) for g in groups if g["instance_group_name"] == current_group), []
        )
        distribution_groups = self.framework_parameters.get(
            mapping.DISTRIBUTION_GROUPS_PARAM, self._distribution_groups_default(current_group)
        )
        if groups:
            distribution_hosts = [
                host
                for g in groups
                if g["instance_group_name"] in distribution_groups
                for host in g["hosts"]
            ]
        else:
            distribution_hosts = self.hosts
        master = distribution_hosts[0] if distribution_hosts else self.hosts[0]
        return {
            "current_instance_group": current_group,
            "current_instance_group_hosts": group_hosts,
            "instance_groups": [g["instance_group_name"] for g in groups],
            "instance_groups_dict": {g["instance_group_name"]: g for g in groups},
            "is_hetero": len(groups) > 1,
            "distribution_instance_groups": distribution_groups,
            "distribution_hosts": distribution_hosts,
            "master_hostname": master,
            "is_master": self.current_host == master,
        }

    def _distribution_groups_default(self, current_group: str) -> list[str]:
        params = self.framework_parameters
        enabled = any(params.get(flag, False) for flag in _DISTRIBUTION_FLAGS)
        return [current_group] if enabled else []

    def _code_facts(self) -> dict[str, Any]:
        entry = self.user_entry_point
        return {
            "additional_framework_parameters": self.framework_parameters,
            "hyperparameters": self.hyperparameters,
            "user_entry_point": entry,
            "module_name": entry[:-3] if entry and entry.endswith(".py") else entry,
            "module_dir": self.module_dir,
            "framework_module": self.environ.get(FRAMEWORK_MODULE_ENV),
            "log_level": self.log_level,
            "channel_input_dirs": self.channel_input_dirs,
            "input_data_config": self.input_data_config,
        }

    def _dirs(self) -> dict[str, Any]:
        p = self.paths
        return {
            "input_dir": p.input_dir,
            "input_config_dir": p.input_config_dir,
            "model_dir": p.model_dir,
            "output_dir": p.output_dir,
            "output_data_dir": p.output_data_dir,
            "output_intermediate_dir": p.output_intermediate_dir,
        }


def _read_json(path: str, *, required: bool) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except FileNotFoundError:
        if required:
            raise JobConfigError(
                f"{path} does not exist; the platform writes it before starting a training host"
            ) from None
        return {}
    except ValueError as exc:
        raise JobConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise JobConfigError(f"{path} must hold a JSON object, found {type(value).__name__}")
    return value
