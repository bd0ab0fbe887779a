#!/usr/bin/env bash
# Builds the runtime image without a Docker engine, from a binary built here: a scratch
# image holding only the binary, the four shared libraries it links and a /tmp, run as
# 65532. The Dockerfile is the reference build; this is for machines that only have buildah.
#   cargo build --release --locked && deploy/build-image-buildah.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-localhost/fluxgraph:dev}"
bin=target/release/fluxgraph
[ -x "$bin" ] || { echo "build it first: cargo build --release --locked" >&2; exit 1; }
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}" BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null' EXIT
root=$(buildah mount "$ctr")
install -D -m 0755 "$bin" "$root/usr/local/bin/fluxgraph"
# The libraries the dynamic loader needs, at the paths the binary asks for.
for lib in $(ldd "$bin" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  install -D -m 0755 "$lib" "$root$lib"
done
install -d -m 1777 "$root/tmp"
printf 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' | install -D -m 0644 /dev/stdin "$root/etc/passwd"
buildah config --user 65532:65532 --port 7420 --workingdir /tmp \
  --entrypoint '["/usr/local/bin/fluxgraph"]' \
  --cmd 'serve --flux-source flux-system/flux-system --listen 0.0.0.0:7420' "$ctr"
buildah commit --quiet "$ctr" "$tag" >/dev/null
echo "$tag: $(du -sh "$root" | cut -f1) unpacked"
