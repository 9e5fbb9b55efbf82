# Production image: a build stage makes a venv from the hash-pinned requirements.txt with uv, the runtime stage
# copies only that venv and the app. Build from example/ (the context), with the build info already written:
#   python -m app.build_info            # or CI's version component
#   docker build -f product.Dockerfile --build-arg VERSION=1.2.3 --build-arg GIT_REVISION=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t text-analytics:1.2.3 .
# BASE_IMAGE may be any image with python3 (>= 3.11, with the venv module) for both stages: the official slim
# image by default, or a Debian rootfs made offline with mmdebstrap (python3 + python3-venv).
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# No ARG in this stage and the per-build ones last in the next: a changed ARG value invalidates the cache of every
# step after it, and Debian's buildah 1.28 restores nothing after any ARG from a registry cache (buildah#4315).
# uv is pinned with hashes (requirements-build.txt) and comes, like the dependencies, from the package index the
# build environment is configured with: no registry address is written here. Both installers trust the image's CA
# store (PIP_CERT, UV_SYSTEM_CERTS), so a proxy CA installed in the base image (or mounted over its bundle by the
# image-build component's `ca_bundle`) works for both.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_SYSTEM_CERTS=1
COPY requirements-build.txt /tmp/requirements-build.txt
RUN if [ -f /etc/ssl/certs/ca-certificates.crt ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi \
 && python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --quiet --require-hashes -r /tmp/requirements-build.txt
COPY requirements.txt /tmp/requirements.txt
# The venv is made by the base's own python3 (its path is the same in the runtime stage); every package is
# checked against the hashes in requirements.txt, and nothing else is installed (--without-pip: uv installs into
# it, and the seeded pip + setuptools would add ~25 MB to the runtime image).
RUN python3 -m venv /opt/venv --without-pip \
 && /opt/uv/bin/uv pip sync --quiet --python /opt/venv/bin/python --require-hashes /tmp/requirements.txt
# The code, compiled here at the path it has at run time: the runtime stage takes both in one step, after all of
# its own set-up, so a code change rebuilds as few steps as possible.
COPY gunicorn.conf.py /app/
COPY app/ /app/app/
RUN python3 -m compileall -q /app

FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STATUS=prod \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_SAVE_PATH=/app/logs
# The code stays root-owned (read-only for the service); only the log directory is writable.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app/logs && chown app:app /app/logs
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# python's urllib, so the image needs no curl; PORT is read at check time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/livez', timeout=4)"]
# Exec form: gunicorn is PID 1 and gets SIGTERM itself, so in-flight requests drain (graceful_timeout).
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
COPY --from=build /app/ /app/
# Build metadata last: it changes with every commit (see the build stage).
ARG VERSION=unknown
ARG GIT_REVISION=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="text-analytics" \
      org.opencontainers.image.description="Reference FastAPI service: text analytics behind X-Token auth" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
