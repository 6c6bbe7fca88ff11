"""Governance records of a registered model: model cards and lineage."""
