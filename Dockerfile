# persona-mock in a container: built with the Rust toolchain, run from a
# minimal image as a non-root user, listening on 0.0.0.0:9577.
#   docker build -t persona-mock .
#   docker run --rm -p 9577:9577 persona-mock
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY scenarios ./scenarios
COPY benches ./benches
COPY README.md ./
RUN cargo build --release --locked --bin persona-mock

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/persona-mock /usr/local/bin/persona-mock
# Inside a container the mock must listen beyond loopback; the control API
# then answers only with --control-token (health answers regardless).
ENV PERSONA_MOCK_HOST=0.0.0.0 \
    PERSONA_MOCK_PORT=9577
EXPOSE 9577
USER nonroot
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=3 \
  CMD ["/usr/local/bin/persona-mock", "health"]
ENTRYPOINT ["/usr/local/bin/persona-mock"]
