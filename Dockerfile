# hourglass: build on Debian 12, run on Debian 12 slim with only the shared libraries.
#   docker build -t hourglass .
#   docker run -e DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB -e JWT_SECRET="$(openssl rand -hex 32)" \
#              --stop-timeout 15 -p 8000:8000 hourglass
# serve needs both variables (JWT_SECRET: at least 16 characters; a fixed one keeps sessions
# valid across restarts). SIGTERM lets requests finish for SHUTDOWN_TIMEOUT (10s), Docker's
# own default before it kills: --stop-timeout gives the drain room.

# Swagger UI and ReDoc for /docs and /redoc: fetched from npm at build time, compiled in.
FROM node:20-bookworm-slim AS docs-assets
WORKDIR /src
COPY scripts/assets.sh scripts/
RUN scripts/assets.sh /assets

FROM debian:12-slim AS build
# llhttp has no library package in Debian 12: node-llhttp ships the C sources we compile.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc libc6-dev meson ninja-build pkg-config python3 node-llhttp \
        libuv1-dev libpq-dev libsodium-dev libargon2-dev libjwt-dev libjansson-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=docs-assets /assets /assets
RUN meson setup /build --buildtype=release -Ddocs_assets=/assets \
    && ninja -C /build hourglass \
    && install -D -s /build/hourglass /out/hourglass

FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libuv1 libpq5 libsodium23 libargon2-1 libjwt0 libjansson4 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hourglass \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin hourglass
COPY --from=build /out/hourglass /usr/local/bin/hourglass
# numeric, so an orchestrator's "run as non-root" check can verify it
USER 10001:10001
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
# `hourglass healthcheck` GETs /health on $PORT: no curl needed in the image
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["hourglass", "healthcheck"]
ENTRYPOINT ["hourglass"]
CMD ["serve"]
