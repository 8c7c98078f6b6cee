"""The core of dc2dc, by role: ``arango`` (the HTTP client), ``source``, ``destination`` and ``ops``
(CLI, check, lag); ``topology``, ``snapshot`` (rules shared by both sides) and ``errors`` at the root.
"""
