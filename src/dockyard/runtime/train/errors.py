"""Why a training run failed, worded for ``/opt/ml/output/failure``.

The platform shows the first 1,024 characters of that file as the job's FailureReason, so
the message leads with what went wrong. Two families, as in the training toolkit:

- :class:`TrainingError`: the job's set-up or the user's code is at fault (no entry
  script, a remote code location, a failing script). Reported as the message alone.
- anything else is a fault of the runner itself; reported as ``Framework Error:`` with
  the traceback.

A failing child is reported in the toolkit's format, which tools already parse::

    ExecuteUserScriptError:
    ExitCode 1
    ErrorMessage "ValueError: boom"
    Command "/usr/bin/python3 train.py -C 1.0"
"""

from __future__ import annotations

import signal


class TrainingError(Exception):
    """A failure caused by the job's inputs or code; the message is the failure reason.

    The runner then exits 1, whatever the child's own status was, as the training
    toolkit does for every client error: the platform reads any non-zero exit as a
    failed job, and the child's status is in the failure text (``ExitCode N``).
    """

    exit_code = 1


class JobConfigError(TrainingError):
    """The job is not set up so that anything can run (no entry script, bad code source)."""


class CalledProcessError(TrainingError):
    """A child process (the user's script, pip) exited non-zero."""

    def __init__(
        self,
        cmd: list[str],
        return_code: int,
        output: str = "",
        info: str | None = None,
    ) -> None:
        self.cmd = cmd
        self.return_code = return_code
        self.output = output
        self.info = info
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [
            f"{type(self).__name__}:",
            f"ExitCode {exit_status(self.return_code)}",
            f'ErrorMessage "{self.output}"',
        ]
        if self.info:
            lines.append(f'ExtraInfo "{self.info}"')
        lines.append(f'Command "{" ".join(self.cmd)}"')
        return "\n".join(lines).strip()


class ExecuteUserScriptError(CalledProcessError):
    """The user's entry point exited non-zero."""


class InstallRequirementsError(CalledProcessError):
    """``pip install -r requirements.txt`` failed."""


class InstallModuleError(CalledProcessError):
    """``pip install .`` of a user package failed."""


def exit_status(return_code: int) -> int:
    """A Popen return code as a process exit status (``-15`` -> ``143``)."""
    return 128 - return_code if return_code < 0 else return_code


def describe_return_code(return_code: int) -> str | None:
    """A hint for the exit codes that mean something beyond "the script failed"."""
    if return_code in (137, -signal.SIGKILL):
        return "OutOfMemory: Process killed by SIGKILL (signal 9)"
    if return_code < 0:
        try:
            name = signal.Signals(-return_code).name
        except ValueError:
            name = f"signal {-return_code}"
        return f"Process killed by {name}"
    return None
