# fluxgraph image: a release build on a distroless runtime.
#   docker buildx build --platform linux/arm64,linux/amd64 -t ghcr.io/fluxgraph/fluxgraph:0.1.0 .

# Build stage: the full toolchain, thrown away after the build.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Compiled into the binary (askama templates, rust-embed assets).
COPY templates ./templates
COPY assets ./assets
# Cargo.toml's [[bench]] targets must exist or the manifest does not load.
COPY benches ./benches
COPY examples/synthetic.rs ./examples/synthetic.rs
# --locked: build exactly the dependency versions in Cargo.lock.
RUN cargo build --release --locked

# Runtime: glibc, libgcc and CA certificates; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/fluxgraph /usr/local/bin/fluxgraph
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
EXPOSE 7420
ENTRYPOINT ["/usr/local/bin/fluxgraph"]
# Flux-source mode; with git-sync, pass `serve /repo/current ...` instead.
# Writes nothing but unpacked artifacts under /tmp: mount a volume there.
CMD ["serve", "--flux-source", "flux-system/flux-system", "--listen", "0.0.0.0:7420"]
