"""Evaluation: ranking metrics, significance tests, the RQ3/RQ5 analyses,
scores files, the paper table and the report of `bin/evaluate`."""
