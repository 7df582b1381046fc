# syntax=docker/dockerfile:1
#
# oauth-broker container image.
#
#   docker build -t oauth-broker .
#   docker run --rm -p 8080:8080 -p 9090:9090 oauth-broker
#
# Stages:
#   build             compiles the release binary (dependencies cached in their own layer)
#   tableau-lib-npm   default: fetches Tableau's Extensions API library from npm, pinned
#                     by version and sha256 (the same pin as scripts/fetch-tableau-lib.sh)
#   tableau-lib-none  offline builds: takes assets/static/vendor/ as it is in the build context
#   runtime           distroless, non-root: the binary, assets/, config/ and the .trex template
#
# Tableau's Extensions API library is not in the repository (see
# assets/static/vendor/README.md): by default the image fetches it from the npm package
# @tableau/tabextsandbox (MIT), and the build fails if its sha256 differs from
# TABLEAU_LIB_SHA256 (give a new hash together with a new TABLEAU_SANDBOX_VERSION). Without
# network, build with the vendor folder as it is (the page then runs standalone, and says so):
#
#   docker build --build-arg TABLEAU_LIB=none -t oauth-broker .
#
# or put the file into assets/static/vendor/ first (scripts/fetch-tableau-lib.sh does), or
# point extension.tableau_api_url (BROKER__EXTENSION__TABLEAU_API_URL) at a URL serving it.
#
# Base images are pinned by tag. Pin them by digest too (image:tag@sha256:...) where your
# registry access allows it; the digests could not be looked up where this file was written.

# Which tableau-lib-* stage provides assets/static/vendor/: "npm" (default) or "none".
ARG TABLEAU_LIB=npm

############################################################################################
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# 1. Dependencies only, against stub sources, so this layer is reused until Cargo.toml or
#    Cargo.lock change. Only the binary target is built: `--bin oauth-broker` keeps cargo from
#    compiling any [[bench]], [[example]] or [[test]] targets, whose sources are not here.
#    (A target declared in Cargo.toml without a `path`, whose default file is missing, still
#    stops cargo while it reads the manifest: create a stub for it here if one is added.)
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked --bin oauth-broker \
    && rm -rf src

# 2. The real sources, and every file the build embeds (include_str!/include_bytes!):
#    assets/ and manifests/oauth-broker.trex. config/ is copied too in case a default is
#    embedded; it costs only a rebuild of this crate when it changes.
COPY src ./src
COPY assets ./assets
COPY config ./config
COPY manifests/oauth-broker.trex ./manifests/oauth-broker.trex
COPY clients/js/oauth-broker-client.js ./clients/js/oauth-broker-client.js
# Make sure cargo rebuilds the crate rather than trusting the stub build's fingerprints
# (COPY keeps the files' original, possibly older, modification times).
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin oauth-broker \
    && cp target/release/oauth-broker /usr/local/bin/oauth-broker

############################################################################################
# --build-arg TABLEAU_LIB=none: the vendor folder exactly as in the build context
# (README.md, plus the library if someone put it there).
FROM scratch AS tableau-lib-none
COPY assets/static/vendor/ /vendor/

############################################################################################
# Default (TABLEAU_LIB=npm): Tableau's Extensions API library from the
# @tableau/tabextsandbox package, whose runtime copies live under sandboxResources/.
FROM node:22-slim AS tableau-lib-npm
ARG TABLEAU_SANDBOX_VERSION=1.16.0
ARG TABLEAU_LIB_SHA256=ff825543c37122899e08856f0eb2dd860d4e6bbf1b461791a772358903a32a8c
WORKDIR /tmp/tabextsandbox
RUN npm pack --silent "@tableau/tabextsandbox@${TABLEAU_SANDBOX_VERSION}" \
    && tar -xzf "tableau-tabextsandbox-${TABLEAU_SANDBOX_VERSION}.tgz" \
    && mkdir -p /vendor \
    && cp package/sandboxResources/tableau.extensions.1.latest.min.js /vendor/ \
    && printf '%s  %s\n' "${TABLEAU_LIB_SHA256}" /vendor/tableau.extensions.1.latest.min.js > /tmp/lib.sha256 \
    && sha256sum -c /tmp/lib.sha256

############################################################################################
# Picks the stage named by TABLEAU_LIB (a build stage, not an image: nothing to tag).
# hadolint ignore=DL3006
FROM tableau-lib-${TABLEAU_LIB} AS tableau-lib

############################################################################################
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

ARG VERSION=0.1.0
ARG SOURCE_URL=https://github.com/oauth-broker/oauth-broker
LABEL org.opencontainers.image.title="oauth-broker" \
      org.opencontainers.image.description="Signs Tableau dashboard extensions in to OAuth 2.0 providers over a WebSocket, keeping the client secret on the server" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"

# The binary reads config/ and assets/ relative to its working directory.
WORKDIR /app
COPY --from=build /usr/local/bin/oauth-broker /app/oauth-broker
COPY config/ ./config/
COPY assets/ ./assets/
COPY --from=tableau-lib /vendor/ ./assets/static/vendor/
COPY manifests/oauth-broker.trex ./manifests/oauth-broker.trex

# Listen on every interface inside the container; everything else comes from config/ and
# the environment (BROKER__SECTION__KEY, BROKER_ENV=production, SPOTIFY_CLIENT_ID, ..., and
# the *_FILE forms for secrets).
ENV BROKER__SERVER__BIND=0.0.0.0:8080 \
    BROKER__SERVER__METRICS_BIND=0.0.0.0:9090

# 8080: the service (/, /ws, /signin, /complete, /healthz, /readyz); 9090: /metrics
EXPOSE 8080 9090

# distroless's "nonroot" user, given by number so Kubernetes' runAsNonRoot can verify it
USER 65532:65532

# No curl in the image: the binary asks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/oauth-broker", "healthcheck"]

# SIGTERM starts a graceful drain (server.shutdown_grace_secs, default 20 s): give
# `docker stop -t` / terminationGracePeriodSeconds more than that.
STOPSIGNAL SIGTERM

ENTRYPOINT ["/app/oauth-broker"]
CMD ["serve"]
