"""Bias metrics, SHAP attributions and Clarify's ``analysis.json``, computed by us.

The ClarifyCheck step's job and the project's ``explain`` command both use this
package. It needs numpy and pandas only (see docs/monitoring.md for why not smclarify
or shap): :mod:`.bias` holds the metrics as smclarify defines them, :mod:`.shap` exact
and kernel SHAP, :mod:`.analysis` reads Clarify's ``analysis_config.json`` and writes
``analysis.json``, :mod:`.drift` checks a new analysis against a baseline one.
"""
