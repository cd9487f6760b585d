# Sluice container image: a static-ish release build on Debian, run as an unprivileged user.
#   docker build -t sluice .
#   docker build --build-arg FEATURES=aws -t sluice .    # with AWS Secrets Manager (aws: secrets)
#   docker run --rm -p 6432:6432 -p 9930:9930 -v $PWD/sluice.toml:/etc/sluice/sluice.toml:ro sluice
FROM rust:1-bookworm AS build
WORKDIR /src
ARG FEATURES=""
COPY . .
RUN cargo build --release --locked -p sluice --features "$FEATURES" \
 && install -D target/release/sluice /out/sluice

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
USER sluice
# Client listener and the admin listener (metrics, /livez, /readyz). Bind them to 0.0.0.0 in
# the config file inside a container.
EXPOSE 6432 9930
ENV SLUICE_CONFIG=/etc/sluice/sluice.toml
# SIGTERM drains: no new clients, transactions in flight finish within shutdown_timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice"]
