"""The training runner: what ``docker run IMAGE train`` executes inside a framework image.

It implements SageMaker script mode the way the open-source training toolkit does: read
``/opt/ml/input/config/*.json``, export the ``SM_*`` variables, turn hyperparameters into
command-line arguments, stage the user's code in ``/opt/ml/code``, run the entry script as
a child process, forward SIGTERM to it, and report the outcome through the exit code and
``/opt/ml/output/failure``. Standard library only: this package ships into images on its own.
"""
