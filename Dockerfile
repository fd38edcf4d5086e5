# syntax=docker/dockerfile:1
#
# A static, non-root image of the bk-mcp servers: both binaries, built for
# musl and statically linked, on an empty base with only the CA certificates.
#
#   docker build -t bk-mcp .
#
#   # MCP over stdio (the entrypoint; what MCP clients run):
#   docker run -i --rm -e BUILDKITE_API_TOKEN bk-mcp
#   # the bundled demo organisation, no token and no network:
#   docker run -i --rm bk-mcp --demo
#   # Streamable HTTP at http://localhost:3000/mcp:
#   docker run --rm -p 3000:3000 -e BUILDKITE_API_TOKEN \
#     --entrypoint /usr/local/bin/bk-mcp-http bk-mcp --listen 0.0.0.0:3000
#
# The log cache lives in /home/nonroot/.cache/bk-mcp; mount a volume there
# (owned by 65532) to keep it across containers.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS build
# musl-dev: the C runtime for the static link; the others build aws-lc-rs (TLS crypto).
RUN apk add --no-cache musl-dev ca-certificates cmake make perl
WORKDIR /src
COPY . .
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p bk-mcp-stdio -p bk-mcp-http \
 && mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs /rootfs/home/nonroot/.cache /rootfs/tmp \
 && cp target/release/bk-mcp-stdio target/release/bk-mcp-http /rootfs/usr/local/bin/ \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'nonroot:x:65532:' > /rootfs/etc/group \
 && chmod 1777 /rootfs/tmp

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bk-mcp" \
      org.opencontainers.image.description="A Model Context Protocol server for Buildkite CI: pipelines, builds, jobs, logs, artifacts, Test Engine and failure triage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/bk-mcp/bk-mcp" \
      org.opencontainers.image.url="https://github.com/bk-mcp/bk-mcp" \
      org.opencontainers.image.documentation="https://github.com/bk-mcp/bk-mcp#readme" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      io.modelcontextprotocol.server.name="io.github.bk-mcp/bk-mcp"
COPY --from=build /rootfs/etc /etc
COPY --from=build /rootfs/usr /usr
COPY --from=build --chown=65532:65532 /rootfs/home /home
COPY --from=build --chown=65532:65532 /rootfs/tmp /tmp
ENV HOME=/home/nonroot \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/bk-mcp-stdio"]
