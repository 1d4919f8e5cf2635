# The GANscope server image. Build: `docker build -t ganscope .`
# Run:  docker run -p 127.0.0.1:8000:8000 -v ganscope-data:/data \
#         -e GANSCOPE_ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" \
#         ganscope
# constraints.txt pins the CUDA build of torch, so the same image trains on a GPU host
# (`docker run --gpus all ...`, or the `gpu` profile of docker-compose.yml) and on the CPU.
# The same image is a Ray node (`ray start ...`: the `ray` profile of docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Dependencies first, from pyproject.toml and constraints.txt alone: a change to the source
# reuses this layer instead of downloading torch again (several GB).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = p['optional-dependencies']; \
print('\n'.join(p['dependencies'] + extras['server'] + extras['postgres'] + extras['ray']))" > /tmp/deps.txt \
 && pip install -c constraints.txt -r /tmp/deps.txt \
 && rm /tmp/deps.txt

# The project itself; its dependencies are all satisfied by the layer above.
COPY README.md ./
COPY gan_core ./gan_core
COPY server ./server
COPY webui ./webui
RUN pip install -c constraints.txt '.[server,postgres,ray]'

# Unprivileged user. /data is created and chowned before VOLUME so that a fresh named volume
# starts out owned by that user (later changes to a VOLUME path would be discarded).
RUN useradd --system --create-home --home-dir /home/ganscope --uid 10001 --user-group ganscope \
 && mkdir /data && chown ganscope:ganscope /data
ENV GANSCOPE_DATA_DIR=/data \
    GANSCOPE_HOST=0.0.0.0 \
    GANSCOPE_PORT=8000
VOLUME /data
USER ganscope
WORKDIR /data
EXPOSE 8000

# GANSCOPE_HOST=0.0.0.0 is the only address reachable from outside a container, so the server
# refuses to start until GANSCOPE_ADMIN_TOKEN is set: fail closed, with a message saying so.
# slim has no curl: the health check is Python's urllib (any non-2xx answer raises, exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('GANSCOPE_PORT', '8000'), timeout=4)"]

CMD ["ganscope", "serve"]
