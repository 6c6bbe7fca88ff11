"""Kedro project settings: the defaults (OmegaConfigLoader on conf/, no hooks)."""
