"""Data quality: great-expectations suites and the gate step that runs them."""
