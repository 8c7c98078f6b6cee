"""The stand-in fixtures (a cluster and a single server per session), shared with tests/standin."""
from standin.conftest import standin, standin_single  # noqa: F401 - pytest fixtures
