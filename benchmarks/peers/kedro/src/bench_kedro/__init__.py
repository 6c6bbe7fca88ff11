"""The generated project's pipeline as a Kedro project (benchmark peer)."""
