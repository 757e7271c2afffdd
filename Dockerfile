# Multi-stage build: compile chat-node with the Swift toolchain, ship it on a
# slim Debian with only the hiredis runtime library.
ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so source edits do not refetch them.
COPY Package.swift ./
RUN mkdir -p Sources Tests && swift package resolve || true
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts/build-info.sh ./scripts/
# The context has no .git: pass the commit, e.g. CHAT_COMMIT=$(git rev-parse --short=12 HEAD) docker-compose build
ARG CHAT_COMMIT=
RUN CHAT_COMMIT="$CHAT_COMMIT" ./scripts/build-info.sh && swift build -c release --product chat-node --static-swift-stdlib \
    && mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/chat-node" /staging/ \
    && cp -R "$(swift build -c release --show-bin-path)/swift-chat-cluster_ChatNode.resources" /staging/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis0.14 zlib1g \
    && rm -rf /var/lib/apt/lists/*
# The web client's files travel in the resource bundle next to the executable.
COPY --from=build /staging/ /usr/local/bin/
USER nobody
ENV CHAT_HOST=0.0.0.0 \
    CHAT_PORT=8080
EXPOSE 8080
# SIGTERM drains the node: clients get 1001 and reconnect through the load balancer.
STOPSIGNAL SIGTERM
ENTRYPOINT ["chat-node"]
