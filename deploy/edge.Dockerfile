# edge: REST and WebSocket in front of the core. Build from the repository root:
#   docker build -f deploy/edge.Dockerfile -t chat-edge .
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
RUN cargo build --release --locked -p edge --bin edge

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home chat
COPY --from=build /src/target/release/edge /usr/local/bin/edge
USER 10001
ENV CHAT_HTTP_ADDRS=0.0.0.0:8000 \
    CHAT_CORE_URL=http://core:50051 \
    CHAT_LOG_FORMAT=json
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/edge"]
