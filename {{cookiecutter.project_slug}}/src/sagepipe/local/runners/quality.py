"""QualityCheck steps: the monitor's analyzer against a baseline (see ``..quality_check``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..cache import CacheEntry, cache_key, reusable_entry
from ..check_step import flag, results_uri
from ..execution import now
from ..expressions import resolve
from ..plan import StepPlan
from ..quality_check import run_quality_check
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded

SUPPLIED_BASELINES = ("SuppliedBaselineStatistics", "SuppliedBaselineConstraints")


class QualityCheckRunner(InlineRunner):
    """Runs the check in-process; violations and missing baselines fail the step.

    With ``CacheConfig`` the step is cached like a job, keyed on the content of its inputs
    and supplied baselines. A check against the registry's latest Approved baselines is
    never cached: which version is approved can change between runs.
    """

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
        properties = run_quality_check(session, step.name, resolved)
        if cacheable:
            uri = results_uri(step.name, resolved)
            outputs = {uri: session.digest_uri(uri)}
            session.cache.store(
                CacheEntry(key, step.name, session.execution.id, now(), properties, outputs)
            )
        return succeeded(properties)

    def _content_keyed(self, resolved: Mapping[str, Any]) -> dict[str, Any] | None:
        """The step with its input and baseline URIs replaced by their content digests."""
        supplied = any(resolved.get(name) for name in SUPPLIED_BASELINES)
        if not flag(resolved.get("SkipCheck"), False) and not supplied:
            return None
        keyed: dict[str, Any] = json.loads(json.dumps(resolved, default=str))
        digest = self.session.digest_uri
        for item in (keyed.get("Arguments") or {}).get("ProcessingInputs") or []:
            source = item.get("S3Input") or {}
            if source.get("S3Uri"):
                source["S3Uri"] = f"content:{digest(str(source['S3Uri']))}"
        for name in SUPPLIED_BASELINES:
            if keyed.get(name):
                keyed[name] = f"content:{digest(str(keyed[name]))}"
        return keyed
