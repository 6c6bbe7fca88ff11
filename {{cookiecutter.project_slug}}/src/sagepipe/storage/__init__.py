"""The bottom layer: where the engine keeps bytes, and how it names and checks them.

``objects`` (the local stand-in for S3), ``sqlite`` (the one way to open a SQLite
store), ``digests`` (sha256 of files and bytes, and the strict artifact check),
``digest_memo`` (file digests remembered across runs), ``archives`` (the reproducible
tar writer and the safe extractor) and ``workspace`` (where a project's workspace is).

Everything here uses the standard library only and imports nothing else from sagepipe
except ``sagepipe.private``: ``local``, ``registry``, ``serving`` and the project's own
code build on it, never the other way round.
"""
