"""End-to-end tests (issue 5): real Kafka brokers, real MirrorMaker 2, stand-in ArangoDB clusters and
real `dc2dc worker` processes, nothing mocked. About 4 minutes on an idle 2-core machine:

    pytest tests/e2e            # all of them
    pytest -m "not slow"        # everything else
"""
