#!/usr/bin/env bash
# Builds Kiln's images as OCI archives, without a container engine or a registry:
#   target/images/kiln-operator-VERSION.tar, kiln-trainer-VERSION.tar, kiln-data-jobs-VERSION.tar
# Each is an OCI image layout in a tar with Docker's manifest.json beside it: `docker load -i`,
# `kind load image-archive` and `skopeo copy oci-archive:FILE docker://REGISTRY/...` all take it;
# scripts/publish.sh REGISTRY pushes all of them, and the chart, to a registry.
#
# Layers: the operating-system files of a few Debian packages (glibc, libgcc, libstdc++, zlib: the
# ones installed on the build machine, their versions listed in /usr/share/kiln/packages.txt), a Java
# runtime made with jlink, and the application. Every image runs as uid 65532 (nonroot).
#
#   scripts/build-images.sh                         the three images, tagged with the chart's appVersion
#   KILN_LIBTORCH_CUDA=/path/libtorch/lib scripts/build-images.sh
#                                                   also kiln-trainer-VERSION-cuda.tar (libtorch 2.7.1 for
#                                                   CUDA 12.8 with NCCL, from PyTorch's libtorch download;
#                                                   UNVERIFIED: it cannot be built or run without that download and a GPU)
#   KILN_IMAGE_REGISTRY=registry.example.com/ml scripts/build-images.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/java-env.sh

OUT="$ROOT/target/images"
WORK="$OUT/work"
registry="${KILN_IMAGE_REGISTRY:-ghcr.io/kiln-dev}"
version="$(scripts/app-version.sh)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then revision="$revision-dirty"; fi
# The packages whose files make the operating-system layer: what the JVM and libtorch link against.
packages=(libc6 libgcc-s1 libstdc++6 zlib1g)
# The Java modules Kiln's programs use (Quarkus, Fabric8, Netty, Jackson, DJL).
modules=java.base,java.desktop,java.logging,java.management,java.naming,java.net.http,java.security.jgss,java.sql,java.xml,jdk.crypto.ec,jdk.management,jdk.unsupported,jdk.zipfs

for tool in dpkg dpkg-query git; do
  command -v "$tool" >/dev/null || { echo "build-images: needs $tool (a Debian or Ubuntu build machine)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$WORK"

echo "build-images: building the applications" >&2
./mvnw -q -B -ntp install -DskipTests -pl operator,trainer-image,data-jobs,images -am
for module in trainer-image data-jobs images; do
  ./mvnw -q -B -ntp -pl "$module" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$WORK/$module-lib"
  cp "$module"/target/kiln-*.jar "$WORK/$module-lib/"
done

echo "build-images: the operating system from Debian packages: ${packages[*]}" >&2
rootfs="$WORK/rootfs"
mkdir -p "$rootfs"/usr/{bin,lib,lib64,sbin} "$rootfs"/etc "$rootfs"/usr/share/kiln
# Debian's merged /usr: /lib, /lib64, /bin and /sbin are links into /usr.
for link in bin lib lib64 sbin; do ln -s "usr/$link" "$rootfs/$link"; done
for package in "${packages[@]}"; do
  dpkg -L "$package" | while read -r path; do
    [[ -f "$path" || -L "$path" ]] || continue
    case "$path" in /usr/share/doc/*|/usr/share/man/*|/usr/share/lintian/*|/usr/share/locale/*|/usr/share/gcc/*|/usr/share/gdb/*) continue ;; esac
    mkdir -p "$rootfs$(dirname "$path")"
    cp -a "$path" "$rootfs$path"
  done
done
dpkg-query -W -f='${Package}=${Version}\n' "${packages[@]}" > "$rootfs/usr/share/kiln/packages.txt"
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
echo "hosts: files dns" > "$rootfs/etc/nsswitch.conf"

echo "build-images: a Java runtime (jlink: $modules)" >&2
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --output "$WORK/java"

cuda=()
if [[ -n "${KILN_LIBTORCH_CUDA:-}" ]]; then
  [[ -f "$KILN_LIBTORCH_CUDA/libtorch_cuda.so" ]] || { echo "build-images: $KILN_LIBTORCH_CUDA has no libtorch_cuda.so" >&2; exit 1; }
  cuda=(--libtorch "$KILN_LIBTORCH_CUDA")
fi

echo "build-images: writing the images" >&2
"$JAVA_HOME/bin/java" -cp "$WORK/images-lib/*" dev.kiln.images.ImageBuilder \
  --rootfs "$rootfs" --java "$WORK/java" --operator operator/target/quarkus-app \
  --trainer-lib "$WORK/trainer-image-lib" --data-jobs-lib "$WORK/data-jobs-lib" "${cuda[@]}" \
  --registry "$registry" --version "$version" --revision "$revision" --out "$OUT"
rm -rf "$OUT/layers"
