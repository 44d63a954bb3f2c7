# campaign-pilot: a batch job. Build: docker build -t campaign-pilot .
# Run: docker run --rm -v $PWD/pipeline.toml:/etc/campaign-pilot/pipeline.toml:ro \
#        --env-file secrets.env campaign-pilot            (default command: run)

# --- build: the same command .ci/run exercises ---
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked --bin campaign-pilot \
 && strip target/release/campaign-pilot

# --- runtime: small, non-root ---
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/campaign-pilot --shell /usr/sbin/nologin campaign-pilot \
 && mkdir -p /var/lib/campaign-pilot /etc/campaign-pilot \
 && chown 10001:10001 /var/lib/campaign-pilot
COPY --from=build /src/target/release/campaign-pilot /usr/local/bin/campaign-pilot
# The documented defaults; mount your own pipeline.toml over it (a ConfigMap in Kubernetes).
COPY pipeline.toml /etc/campaign-pilot/pipeline.toml
USER 10001:10001
WORKDIR /var/lib/campaign-pilot
# Relative paths in pipeline.toml resolve next to the config file, which is
# read-only here: state and reports go to the writable working directory.
ENV CAMPAIGN_PILOT_CONFIG=/etc/campaign-pilot/pipeline.toml \
    CAMPAIGN_PILOT__DATABASE__URL=sqlite:/var/lib/campaign-pilot/campaign-pilot.db \
    CAMPAIGN_PILOT__STORE__PATH=/var/lib/campaign-pilot/demo-data \
    CAMPAIGN_PILOT__ADS__PATH=/var/lib/campaign-pilot/demo-data \
    CAMPAIGN_PILOT__REPORT__DIR=/var/lib/campaign-pilot/reports \
    CAMPAIGN_PILOT_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/campaign-pilot"]
CMD ["run"]
