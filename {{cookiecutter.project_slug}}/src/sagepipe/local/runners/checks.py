"""What the QualityCheck and ClarifyCheck runners share: a worker thread and the step cache.

A check runs on a worker thread like a job (Clarify's analyses in a job process of
their own, :mod:`..clarify_job`): Clarify's SHAP and bias analyses take seconds, and on
the scheduler's own thread they would hold up every other step (an Evaluate job that
ended could not be seen to end, a parallel check could not start). A stop ends a
Clarify analysis job like any job; a QualityCheck running when the execution is stopped
finishes, and its results are discarded with the execution's.

With ``CacheConfig`` a check is cached like a job, keyed on the content of its inputs and
supplied baselines, and on the engine code that computes it. A check against the
registry's latest Approved baselines is never cached (which version is approved can
change between runs), nor one that names its model by ``ModelName`` (a name, not the
model's content).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from ..cache import CacheEntry, cache_key, engine_digest, reusable_entry
from ..check_step import flag, results_uri
from ..execution import now
from ..expressions import resolve
from ..plan import StepPlan
from ..scheduler import StepOutcome
from ..session import RunSession
from .base import InlineRunner, succeeded


class CheckRunner(InlineRunner):
    """Runs one kind of check step on a worker thread, through the step cache."""

    concurrent = True
    #: The step's keys that name supplied baselines (part of the cache key by content).
    supplied_baselines: tuple[str, ...] = ()
    #: The engine's packages that compute the check (their code is part of the cache key).
    engine_packages: tuple[str, ...] = ()

    @abstractmethod
    def check(self, session: RunSession, name: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """Run the resolved check; return its properties (ValueError fails the step)."""

    def run(self, step: StepPlan) -> StepOutcome:
        """The step's settings sit beside its Arguments, so the whole step is resolved."""
        session = self.session
        resolved = resolve(step.raw, session.context())
        keyed = self._content_keyed(resolved)
        cacheable = session.use_cache and step.cache.enabled and keyed is not None
        key = cache_key(step.type, keyed, None) if cacheable and keyed is not None else ""
        if cacheable:
            entry = reusable_entry(session.cache, key, step.cache.expire_after, session.digest_uri)
            if entry is not None:
                return succeeded(entry.properties, cache_hit=True)
        properties = self.check(session, step.name, resolved)
        if cacheable:
            uri = results_uri(step.name, resolved)
            outputs = {uri: session.digest_uri(uri)}
            session.cache.store(
                CacheEntry(key, step.name, session.execution.id, now(), properties, outputs)
            )
        return succeeded(properties)

    def _content_keyed(self, resolved: Mapping[str, Any]) -> dict[str, Any] | None:
        """The step with its input and baseline URIs replaced by their content digests."""
        supplied = any(resolved.get(name) for name in self.supplied_baselines)
        if not flag(resolved.get("SkipCheck"), False) and not supplied:
            return None
        if resolved.get("ModelName"):
            return None
        keyed: dict[str, Any] = json.loads(json.dumps(resolved, default=str))
        digest = self.session.digest_uri
        for item in (keyed.get("Arguments") or {}).get("ProcessingInputs") or []:
            source = item.get("S3Input") or {}
            if source.get("S3Uri"):
                source["S3Uri"] = f"content:{digest(str(source['S3Uri']))}"
        for name in self.supplied_baselines:
            if keyed.get(name):
                keyed[name] = f"content:{digest(str(keyed[name]))}"
        keyed["EngineCode"] = engine_digest(*self.engine_packages)
        return keyed
