# The console's image: Django + Channels (Daphne), the Celery worker, and Redis, on Debian bookworm.
# One image serves the three services of docker-compose.dev.yml, so building it needs nothing but
# the Debian base image and a package mirror. Berth can make the base image itself:
#
#   python -m engine bootstrap debian        # debian:bookworm-slim from the host's debootstrap
#   docker build -t berth-console .          # with DOCKER_HOST pointing at Berth or Docker
#
# PIP_INDEX_URL (build argument) points pip at a mirror when PyPI is out of reach.
FROM debian:bookworm-slim

ARG PIP_INDEX_URL=
ARG PIP_TRUSTED_HOST=
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DJANGO_SETTINGS_MODULE=console.settings \
    BERTH_VAR_DIR=/var/lib/berth-console

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates redis-server \
 && rm -rf /var/lib/apt/lists/*

# Requirements first: the layer with the packages is reused while only the code changes.
COPY requirements.txt /app/requirements.txt
RUN python3 -m venv /opt/venv \
 && pip install ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} ${PIP_TRUSTED_HOST:+--trusted-host "$PIP_TRUSTED_HOST"} \
        -r /app/requirements.txt

COPY . /app
WORKDIR /app

# The console runs unprivileged; it reaches the engine through the socket mounted into it.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/berth-console --create-home berth \
 && chmod 0700 /var/lib/berth-console
USER berth
VOLUME /var/lib/berth-console
EXPOSE 8000

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "console.asgi:application"]
