"""The pipeline's steps: plain, typed functions that know nothing about the framework.

``Path`` parameters are folders (inputs, outputs, the model directory); the other
parameters are arguments or hyperparameters. Each function can be called directly on
local folders, which is what the tests and the notebook do.
"""
