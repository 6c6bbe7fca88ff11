"""Inference script: model_fn and predict_fn; input_fn and output_fn are the image's defaults."""

import os

import joblib
from features import positive_column


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(input_data, model):
    # The probability of the positive class, one value per record.
    return model.predict_proba(input_data)[:, positive_column(model)]
