"""The engine's version: the one place it is written (``sagepipe.__version__`` reads it).

Bump it in the template whenever the engine changes in a way a project notices (a new
step type, a changed definition, a registry field); ``cruft update`` then brings the new
number along with the code. It is recorded in every compiled RegisterModel's metadata
and in the registry's lineage, so a model version says which engine built it.
"""

__version__ = "0.5.0"
