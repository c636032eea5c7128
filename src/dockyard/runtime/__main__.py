"""Container entry point: ``python3 -m dockyard.runtime serve|train``.

SageMaker starts inference containers as ``docker run IMAGE serve`` and training
containers as ``docker run IMAGE train``; framework images use this module as their
exec-form ENTRYPOINT, so the platform's argument lands here. Each command is imported
only when chosen: serving never pays for the training code and vice versa.
"""

from __future__ import annotations

import sys

USAGE = """usage: python3 -m dockyard.runtime COMMAND

commands:
  serve   run the model server (SageMaker inference contract, port 8080)
  train   run the training entry point (SageMaker training contract)
"""

#: Exit status for a command line that cannot be understood (the shell convention).
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv[0]`` to the serve or train runner and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stderr.write("dockyard.runtime: no command given; expected 'serve' or 'train'\n")
        sys.stderr.write(USAGE)
        return EXIT_USAGE
    command, rest = args[0], args[1:]
    if command == "serve":
        from dockyard.runtime.serve.main import main as serve_main

        return serve_main(rest)
    if command == "train":
        from dockyard.runtime.train.main import main as train_main

        return train_main(rest)
    if command in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sys.stderr.write(
        f"dockyard.runtime: unknown command {command!r}; expected 'serve' or 'train'\n"
    )
    sys.stderr.write(USAGE)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
