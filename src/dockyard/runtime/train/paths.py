"""The ``/opt/ml`` layout a training container sees.

The contract fixes every path below ``/opt/ml``. ``DOCKYARD_ML_ROOT`` moves the root for
tests that run the runner on a host directory; it is a test hook, not a user setting, and
the platform never sets it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_ML_ROOT = "/opt/ml"
ML_ROOT_ENV = "DOCKYARD_ML_ROOT"


@dataclass(frozen=True)
class MlPaths:
    """Absolute paths of the training layout under one root."""

    root: str

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> MlPaths:
        env = os.environ if environ is None else environ
        return cls(env.get(ML_ROOT_ENV) or DEFAULT_ML_ROOT)

    @property
    def code_dir(self) -> str:
        return os.path.join(self.root, "code")

    @property
    def model_dir(self) -> str:
        return os.path.join(self.root, "model")

    @property
    def input_dir(self) -> str:
        return os.path.join(self.root, "input")

    @property
    def input_config_dir(self) -> str:
        return os.path.join(self.input_dir, "config")

    @property
    def input_data_dir(self) -> str:
        return os.path.join(self.input_dir, "data")

    @property
    def output_dir(self) -> str:
        return os.path.join(self.root, "output")

    @property
    def output_data_dir(self) -> str:
        return os.path.join(self.output_dir, "data")

    @property
    def output_intermediate_dir(self) -> str:
        return os.path.join(self.output_dir, "intermediate")

    @property
    def failure_file(self) -> str:
        return os.path.join(self.output_dir, "failure")

    @property
    def success_file(self) -> str:
        return os.path.join(self.output_dir, "success")

    def config_file(self, name: str) -> str:
        return os.path.join(self.input_config_dir, name)

    def channel_dir(self, channel: str) -> str:
        return os.path.join(self.input_data_dir, channel)
