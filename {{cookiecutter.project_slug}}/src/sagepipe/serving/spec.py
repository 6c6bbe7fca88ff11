"""The endpoint specification: which models a server loads and how it serves them.

The spec is a JSON file that the server re-reads on every (re)load, so a redeploy writes a
new spec and asks the running server to reload: new workers start on the new spec while the
old ones finish what they are answering.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MAX_PAYLOAD_MB = 6.0
DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass
class VariantSpec:
    """One production variant (answers) or shadow variant (sampled copy, never answers)."""

    name: str
    model_dir: str
    model_package: str = ""  # "group/version", for humans and headers
    model_sha256: str = ""
    role: str = "production"  # or "shadow"
    sampling_percentage: float = 100.0  # shadow only: share of requests copied to it


@dataclass
class CaptureSpec:
    """SageMaker-style data capture settings."""

    enabled: bool = False
    sampling_percentage: float = 100.0
    destination: str = ""


@dataclass
class EndpointSpec:
    """Everything a model server needs to know, written by deploy and read by each worker."""

    endpoint_name: str
    variants: list[VariantSpec]
    capture: CaptureSpec = field(default_factory=CaptureSpec)
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    default_accept: str | None = None

    @property
    def production(self) -> VariantSpec:
        """The variant whose response is returned."""
        return next(v for v in self.variants if v.role == "production")

    @property
    def shadow(self) -> VariantSpec | None:
        """The shadow variant, if one is configured."""
        return next((v for v in self.variants if v.role == "shadow"), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointSpec:
        """Inverse of :meth:`to_dict`."""
        variants = [VariantSpec(**v) for v in data["variants"]]
        capture = CaptureSpec(**data.get("capture", {}))
        rest = {k: v for k, v in data.items() if k not in ("variants", "capture")}
        spec = cls(variants=variants, capture=capture, **rest)
        if sum(v.role == "production" for v in variants) != 1:
            raise ValueError("an endpoint spec needs exactly one production variant")
        return spec

    def write(self, path: Path) -> None:
        """Write atomically, so a reloading worker never reads half a spec."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> EndpointSpec:
        """Read a spec written by :meth:`write`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
