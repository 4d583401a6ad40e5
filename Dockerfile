# One image for every role (gateway, rcm, oem, rwam, region) and the operator.
#   docker build -t ghcr.io/openrealm/openrealm:0.1.0 .
#   docker run --rm ghcr.io/openrealm/openrealm:0.1.0 serve gateway
#   (the chart runs `realm operator` from the same image: args ["operator"])
# Stage 1 builds a wheel; stage 2 installs only the wheel into a slim runtime.
FROM python:3.11-slim AS builder
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md* ./
COPY gameserver ./gameserver
COPY operator ./operator
COPY client ./client
RUN python -m build --wheel --outdir /wheels

FROM python:3.11-slim AS runtime
# The region server's replication kernels (numba) are compiled here, at build time, into
# REALM_NUMBA_CACHE_SEED, for a generic x86-64 CPU so the cache fits any node. At run time
# numba needs a writable cache directory and the pods' root filesystem is read-only (only
# /tmp, an emptyDir, is writable): the first process copies the seed to NUMBA_CACHE_DIR
# (gameserver/region/replication_kernels.py), so no server compiles (~10 s) when it starts.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REALM_HOST=0.0.0.0 \
    REALM_DATA_DIR=/tmp/realm-data \
    NUMBA_CPU_NAME=generic \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    REALM_NUMBA_CACHE_SEED=/opt/openrealm/numba-cache
COPY --from=builder /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && NUMBA_CACHE_DIR="$REALM_NUMBA_CACHE_SEED" python -c \
        "from gameserver.region import replication_kernels as k; k.warm()" \
    && chmod -R a+rX /opt/openrealm \
    && groupadd --system --gid 10001 realm \
    && useradd --system --uid 10001 --gid realm --home-dir /nonexistent --shell /usr/sbin/nologin realm
USER 10001:10001
# metrics + /healthz, gateway HTTP, game UDP, internal gRPC
EXPOSE 9100 8080 7777/udp 50051
ENTRYPOINT ["realm"]
CMD ["up"]
