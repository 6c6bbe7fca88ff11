"""Inference script with model_fn only: decoding, predict and encoding are the image's defaults."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
