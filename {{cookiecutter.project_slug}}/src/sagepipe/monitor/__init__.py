"""Model Monitor's file formats and our own monitoring job.

AWS has closed Model Monitor to new customers, so the job is ours; its files keep Model
Monitor's layouts so tools that read them keep working:

- ``statistics.json`` / ``constraints.json``: per-feature statistics and suggested
  constraints of a baseline dataset (:mod:`.baseline`);
- ``constraint_violations.json``: the checks of a monitoring run (:mod:`.checks`);
- model quality in the ``binary_classification_metrics`` layout (:mod:`.model_quality`).

Everything streams in fixed-size chunks: memory does not grow with the record count.
"""
