# The dc2dc worker image used by docker-compose.yml: `pip install .` of this repository.
FROM python:3.12-slim

# confluent-kafka and orjson ship manylinux wheels, so no compiler is needed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY agents ./agents
COPY topics ./topics
COPY mirrormaker ./mirrormaker
COPY devcluster ./devcluster
RUN pip install --no-cache-dir . && rm -rf /src

# A fixed uid/gid: docker-compose.yml gives this group read access to the ArangoDB JWT secret.
RUN groupadd --system --gid 10001 dc2dc && useradd --system --create-home --uid 10001 --gid dc2dc dc2dc
USER dc2dc
WORKDIR /home/dc2dc

CMD ["dc2dc", "--help"]
