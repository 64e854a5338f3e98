# flashbench in a container: `flashbench serve` for docker-compose.yml, or `flashbench run`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/flashbench /usr/local/bin/flashbench
COPY scenarios /opt/flashbench/scenarios
COPY fixtures /opt/flashbench/fixtures
WORKDIR /opt/flashbench
ENTRYPOINT ["flashbench"]
CMD ["--help"]
