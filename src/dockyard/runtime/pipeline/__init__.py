"""The router of a multi-container endpoint replica (see :mod:`.router`)."""
