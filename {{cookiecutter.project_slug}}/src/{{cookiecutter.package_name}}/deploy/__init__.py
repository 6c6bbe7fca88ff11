"""Deploy: promotion gates, smoke tests and the deploy CLI commands.

``inference.py`` is the serving handler that ships inside ``model.tar.gz``; the serving
machinery itself is generic and lives in ``sagepipe.serving``.
"""
