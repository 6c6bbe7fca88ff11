"""From a step's image URI to the environment its local job runs in.

The resolver knows the AWS framework images (``table.AWS_RUNTIMES``), the project's own
image (its repository name and ``requirements.lock``) and any extra entries a project
adds. Environments are built once per resolver and image (then reused from the shared
cache), so parallel jobs of one runtime never build twice.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from . import lock as lockfile
from .build import BuildError, Environment, build_environment
from .interpreters import _full_version, find_interpreter
from .table import Runtime, framework_runtime, parse_image


class UnknownImage(Exception):
    """An image without a local runtime; ``str()`` is one line with the two ways out."""


class RuntimeResolver:
    """Map image URIs to :class:`Runtime` entries and build their environments.

    ``project_repository`` is the ECR repository name of the project image (any registry,
    any tag); its packages come from ``lock_file`` for Python ``project_python``.
    """

    def __init__(
        self,
        *,
        project_repository: str | None = None,
        lock_file: Path | None = None,
        project_python: str | None = None,
        key_packages: tuple[str, ...] = ("numpy", "pandas", "scikit-learn"),
        extra: Iterable[Runtime] = (),
        cache: Path | None = None,
    ) -> None:
        self.project_repository = project_repository
        self.lock_file = Path(lock_file) if lock_file else None
        self.project_python = project_python or f"{sys.version_info.major}.{sys.version_info.minor}"
        self.key_packages = key_packages
        self.extra = tuple(extra)
        self.cache = cache
        self._built: dict[str, Environment] = {}
        self._lock = threading.Lock()
        self._image_locks: dict[str, threading.Lock] = {}

    def runtime_for(self, image_uri: str) -> Runtime:
        """The runtime ``image_uri`` stands for; raises :class:`UnknownImage`."""
        ref = parse_image(image_uri or "")
        if ref is not None:
            for runtime in self.extra:
                if ref.repository == runtime.repository and (
                    ref.tag == runtime.version or ref.tag.startswith(runtime.version + "-")
                ):
                    return runtime
            if self.project_repository and ref.repository == self.project_repository:
                return self._project_runtime(ref.tag)
        found = framework_runtime(image_uri or "")
        if found is not None:
            return found
        ways = "add it to the runtime table in settings"
        if self.project_repository:
            ways += f", or use the project image ({self.project_repository})"
        else:
            ways += ", or use the project image"
        raise UnknownImage(f"image {image_uri!r} has no local runtime: {ways}")

    def _project_runtime(self, tag: str) -> Runtime:
        if self.lock_file is None or not self.lock_file.is_file():
            raise UnknownImage(
                f"project image {self.project_repository}:{tag} needs "
                f"{self.lock_file or 'requirements.lock'}, which does not exist; "
                "create it with `uv pip compile --universal --extra aws pyproject.toml "
                "-o requirements.lock`"
            )
        try:
            lines = lockfile.read_lock(self.lock_file)
        except ValueError as exc:
            raise UnknownImage(str(exc)) from None
        pins = lockfile.pins_for(lines, self.project_python)
        return Runtime(
            name="project",
            repository=str(self.project_repository),
            version=tag,
            python=self.project_python,
            packages=tuple(pins),
            key_packages=self.key_packages,
            source=str(self.lock_file),
            lock_file=str(self.lock_file),
        )

    def project_environment(self) -> Environment | None:
        """The project image's environment (its lock's), or None without a project image.

        Raises :class:`UnknownImage` or :class:`BuildError` like :meth:`environment_for`.
        """
        if not self.project_repository or self.lock_file is None or not self.lock_file.is_file():
            return None
        return self.environment_for(self.project_repository)[1]

    def environment_for(self, image_uri: str) -> tuple[Runtime, Environment]:
        """The runtime of ``image_uri`` and its ready environment (built on first use)."""
        runtime = self.runtime_for(image_uri)
        ident = f"{runtime.name}:{runtime.repository}:{runtime.version}"
        with self._lock:
            if ident in self._built:
                return runtime, self._built[ident]
            image_lock = self._image_locks.setdefault(ident, threading.Lock())
        with image_lock:
            if ident not in self._built:
                self._built[ident] = self._environment(runtime, image_uri)
        return runtime, self._built[ident]

    def _environment(self, runtime: Runtime, image_uri: str) -> Environment:
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        # The project's own interpreter already is the lock's environment when every pin
        # matches (CI installs with the lock): no second copy to build.
        if (
            runtime.lock_file is not None
            and runtime.python == current
            and not lockfile.mismatches(list(runtime.packages))
        ):
            return Environment(
                Path(sys.executable),
                _full_version(),
                {p.partition("==")[0]: p.partition("==")[2] for p in runtime.packages},
            )
        try:
            interpreter = find_interpreter(runtime.python)
        except LookupError as exc:
            raise BuildError(f"image {image_uri}: {exc}") from None
        return build_environment(
            interpreter, list(runtime.packages), what=image_uri, root=self.cache
        )


def describe(runtime: Runtime, environment: Environment, image_uri: str) -> dict[str, object]:
    """What the run history keeps per job: image, interpreter and key package versions."""
    wanted = {n.lower() for n in runtime.key_packages}
    packages = {k: v for k, v in sorted(environment.packages.items()) if k.lower() in wanted}
    record: dict[str, object] = {
        "Image": image_uri,
        "Runtime": runtime.name,
        "Python": environment.python_version,
        "Interpreter": str(environment.python),
        "Packages": packages,
    }
    if environment.notice:
        record["Notice"] = environment.notice
    return record
