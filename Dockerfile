# flashbench in a container: `flashbench serve` for docker-compose.yml, or `flashbench run`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Nothing to install: TLS is rustls, SQLite is compiled in. The chart font is embedded from
# fixtures/ at build time.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY fixtures ./fixtures
# Cargo.toml names test targets (`harness = false`), and cargo wants their files to load it.
COPY tests ./tests
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/flashbench /usr/local/bin/flashbench
COPY scenarios /opt/flashbench/scenarios
COPY fixtures /opt/flashbench/fixtures
WORKDIR /opt/flashbench
ENTRYPOINT ["flashbench"]
CMD ["--help"]
