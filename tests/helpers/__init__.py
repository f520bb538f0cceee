"""Helpers shared by the tests, imported as ``helpers`` (pytest.ini puts ``tests/`` on the path)."""
