"""A tiny step package for the framework's tests: stdlib only, fast, deterministic."""
