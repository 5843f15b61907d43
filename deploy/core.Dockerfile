# core-svc: the chat core. Build from the repository root:
#   docker build -f deploy/core.Dockerfile -t chat-core .
# The builder's Debian release matches the runtime's (same glibc).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY proto ./proto
COPY migrations ./migrations
COPY core-svc ./core-svc
COPY edge ./edge
COPY pg-local ./pg-local
COPY service-kit ./service-kit
# Every workspace member must be present for cargo to load the workspace.
COPY bench ./bench
RUN cargo build --release --locked -p core-svc --bin core-svc

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home chat
COPY --from=build /src/target/release/core-svc /usr/local/bin/core-svc
USER 10001
# DATABASE_URL and CHAT_JWT_SECRET (or CHAT_JWKS_URL) come from the environment.
ENV CHAT_GRPC_ADDR=0.0.0.0:50051 \
    CHAT_METRICS_ADDR=0.0.0.0:9090 \
    CHAT_LOG_FORMAT=json
EXPOSE 50051 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/core-svc"]
