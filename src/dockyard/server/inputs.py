"""Where the daemon finds what a request names: one resolver for train, build and deploy.

A request names its inputs the way a user would: an absolute path, ``file:///path``,
``s3://bucket/key`` in the artifact store, or (for a model archive) ``training-job:NAME``,
meaning that job's model artifact. Every API field that takes an input accepts the same
forms and refuses a bad one the same way: a :class:`~dockyard.errors.SpecError` naming
the field, with a hint that lists what the field accepts.

Two steps, kept apart: :func:`parse_input` reads the text into an :data:`InputRef`
(no I/O, so it can be tested and reused on its own), and :class:`InputResolver` looks
the reference up (the file system, the artifact store, the training jobs). Relative
paths are refused: the daemon's working directory is not the user's, so a relative path
would silently name something else. Nothing is extracted or hashed here; callers do
that with the path they get back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import unquote

from dockyard.adapters.artifacts.local import parse_uri
from dockyard.errors import NotFound, SpecError
from dockyard.ports.artifacts import ArtifactStore, ArtifactUri
from dockyard.spec.errors import SpecValueError
from dockyard.spec.uris import URI_HINT, parse_data_uri

ACCEPTED_FORMS = (
    "an absolute path, file:///absolute/path, s3://bucket/key in the artifact store, "
    "or training-job:NAME"
)
DATA_FORMS = "an absolute path, file:///absolute/path, or s3://bucket/key in the artifact store"
TRAINING_JOB_PREFIX = "training-job:"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

JobArtifact = Callable[[str], str]
"""A training job's name → its model artifact URI (``S3ModelArtifacts``).

Raises :class:`~dockyard.errors.NotFound` for an unknown job and
:class:`~dockyard.errors.Conflict` for one that has not completed; the resolver passes
those on unchanged.
"""


# --- what the text says (no I/O) -----------------------------------------------------


@dataclass(frozen=True)
class LocalPath:
    """A path on the daemon's machine (given plain or as ``file://``)."""

    path: Path


@dataclass(frozen=True)
class S3Location:
    """An object, or a folder of objects, in the artifact store."""

    uri: ArtifactUri


@dataclass(frozen=True)
class TrainingJobModel:
    """The model artifact a training job left behind."""

    name: str


InputRef = LocalPath | S3Location | TrainingJobModel


def parse_input(text: str, field: str, *, jobs: bool = True) -> InputRef:
    """Read ``text`` as one of the accepted forms; :class:`SpecError` naming ``field``.

    ``jobs`` says whether ``training-job:NAME`` makes sense for the field (it names a
    model archive, so only fields that take one accept it); the hint of every error
    lists exactly the forms the field accepts.
    """
    forms = ACCEPTED_FORMS if jobs else DATA_FORMS
    if not text.strip():
        raise SpecError("is empty", field=field, hint=_hint(None, forms))
    if text.startswith("/"):
        return LocalPath(Path(text))
    if text.startswith(TRAINING_JOB_PREFIX):
        return _training_job(text, field, jobs=jobs)
    if not _SCHEME.match(text):
        raise SpecError(
            f"{text!r} is a relative path",
            field=field,
            hint=_hint("give an absolute path; the daemon has its own working directory", forms),
        )
    try:
        parsed = parse_data_uri(text)
    except SpecValueError as error:
        advice = error.hint if error.hint != URI_HINT else None  # URI_HINT lists fewer forms
        raise SpecError(error.message, field=field, hint=_hint(advice, forms)) from None
    if parsed.scheme == "s3":
        return S3Location(parse_uri(text, field=field))
    # file URIs are percent-encoded (RFC 8089), as Path.as_uri() writes them
    return LocalPath(Path(unquote(parsed.path)))


def _hint(advice: str | None, forms: str) -> str:
    """Every hint ends with the forms the field accepts."""
    return f"{advice}; accepted: {forms}" if advice else f"give {forms}"


def _training_job(text: str, field: str, *, jobs: bool) -> TrainingJobModel:
    if not jobs:
        raise SpecError(
            f"{text!r} names a training job's model archive, which this field does not take",
            field=field,
            hint=_hint(None, DATA_FORMS),
        )
    name = text.removeprefix(TRAINING_JOB_PREFIX)
    if not name.strip():
        raise SpecError(
            f"{text!r} names no training job",
            field=field,
            hint=_hint("write training-job:NAME naming a completed job", ACCEPTED_FORMS),
        )
    return TrainingJobModel(name)


# --- where it is (I/O) ----------------------------------------------------------------


class _Want(Enum):
    """What the caller needs the input to be."""

    FILE = "a model archive file"
    ANY = "a file or a directory"
    DIRECTORY = "a directory"


@dataclass(frozen=True)
class ResolvedInput:
    """An input found on the daemon's machine.

    ``path`` is where to read it; ``uri`` is its canonical name (``s3://…`` or
    ``file://…``, a training job's model given by its artifact URI), for records and
    descriptions.
    """

    path: Path
    uri: str


class InputResolver:
    """Resolves inputs named in API requests to paths on the daemon's machine."""

    def __init__(self, artifacts: ArtifactStore, job_artifact: JobArtifact) -> None:
        self._artifacts = artifacts
        self._job_artifact = job_artifact

    def model_archive(self, text: str, field: str) -> ResolvedInput:
        """A model archive (``model.tar.gz``): an existing file; any accepted form."""
        ref = parse_input(text, field, jobs=True)
        return self._find(ref, field, _Want.FILE, ACCEPTED_FORMS)

    def data(self, text: str, field: str) -> ResolvedInput:
        """Channel data: an existing file, or a directory (an s3:// prefix reads as one)."""
        ref = parse_input(text, field, jobs=False)
        return self._find(ref, field, _Want.ANY, DATA_FORMS)

    def directory(self, text: str, field: str) -> ResolvedInput:
        """An existing directory (an s3:// prefix reads as one)."""
        ref = parse_input(text, field, jobs=False)
        return self._find(ref, field, _Want.DIRECTORY, DATA_FORMS)

    def _find(self, ref: InputRef, field: str, want: _Want, forms: str) -> ResolvedInput:
        if isinstance(ref, TrainingJobModel):
            return self._job_model(ref.name, field, want)
        if isinstance(ref, LocalPath):
            return _local(ref.path, field, want, forms)
        return self._stored(ref.uri, field, want, forms)

    def _job_model(self, name: str, field: str, want: _Want) -> ResolvedInput:
        uri = self._job_artifact(name)  # NotFound / Conflict pass through as they are
        try:
            return self._find(parse_input(uri, field, jobs=False), field, want, DATA_FORMS)
        except SpecError as error:
            raise SpecError(
                f"the model of training job {name!r} cannot be read: {error.message}",
                field=field,
                hint=_hint("train it again", ACCEPTED_FORMS),
            ) from None

    def _stored(self, uri: ArtifactUri, field: str, want: _Want, forms: str) -> ResolvedInput:
        is_object = bool(uri.key) and not uri.key.endswith("/") and self._artifacts.exists(uri)
        if is_object and want is not _Want.DIRECTORY:
            return ResolvedInput(self._artifacts.local_path(uri), str(uri))
        if is_object:
            raise SpecError(
                f"{uri} is an object in the artifact store, not {want.value}",
                field=field,
                hint=_hint("give the folder (prefix) that holds it", forms),
            )
        try:
            folder = self._artifacts.local_dir(uri)
        except NotFound:
            raise SpecError(
                f"nothing in the artifact store at {uri}",
                field=field,
                hint=_hint("upload it there first", forms),
            ) from None
        if want is _Want.FILE:
            raise SpecError(
                f"{uri} is a folder in the artifact store, not {want.value}",
                field=field,
                hint=_hint("give the full key of the model.tar.gz object", forms),
            )
        return ResolvedInput(folder, str(ArtifactUri(uri.bucket, _as_folder(uri.key))))


def _local(path: Path, field: str, want: _Want, forms: str) -> ResolvedInput:
    if not path.exists():
        raise SpecError(
            f"{path} does not exist on the daemon's machine",
            field=field,
            hint=_hint("check the path", forms),
        )
    if want is _Want.FILE and not path.is_file():
        raise SpecError(
            f"{path} is a directory, not {want.value}",
            field=field,
            hint=_hint("give the path of the model.tar.gz file", forms),
        )
    if want is _Want.DIRECTORY and not path.is_dir():
        raise SpecError(
            f"{path} is a file, not {want.value}",
            field=field,
            hint=_hint("give the directory that holds it", forms),
        )
    return ResolvedInput(path, path.as_uri())


def _as_folder(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"
