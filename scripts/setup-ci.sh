#!/bin/bash
# CI setup: a software Vulkan driver so that Dawn (npm `webgpu`) finds an adapter without a GPU,
# Debian's Fashion-MNIST package, which the data tests prepare when it is present, and the Vulkan
# headers (and gcc) that the pipeline-statistics layer's test builds it with (bench/vk-stats).
# Installs Mesa lavapipe >= 24 from Debian's bookworm-backports (bookworm's own Mesa 22 lavapipe
# is too old: Dawn rejects it). Idempotent and quiet; does nothing when a new enough Mesa is
# already installed. Needs root (CI containers run as root) and a Debian bookworm base.
set -euo pipefail

fashion_mnist() {
  if dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q 'install ok installed'; then return 0; fi
  [ "$(id -u)" -eq 0 ] || { echo "setup-ci: not root, skipping dataset-fashion-mnist (its test will skip)"; return 0; }
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    && echo "fashion-mnist: installed" || echo "setup-ci: dataset-fashion-mnist unavailable (its test will skip)"
}

vulkan_headers() {
  if [ -f /usr/include/vulkan/vk_layer.h ] && command -v gcc >/dev/null; then return 0; fi
  [ "$(id -u)" -eq 0 ] || { echo "setup-ci: not root, not installing libvulkan-dev/gcc (the pipeline-stats test skips without them, and fails under CI=true)"; return 0; }
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan-dev gcc libc6-dev >/dev/null
  echo "vulkan headers: libvulkan-dev $(dpkg-query -W -f='${Version}' libvulkan-dev)"
}

have=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$have" in
  2[4-9].*|[3-9][0-9].*) echo "lavapipe: mesa-vulkan-drivers $have (already installed)"; fashion_mnist; vulkan_headers; exit 0 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-ci: installing Mesa lavapipe needs root (found mesa-vulkan-drivers '${have:-none}')" >&2
  exit 1
fi

# The Debian mirror in use, from deb822 sources or the classic list.
uri=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
fi
uri=${uri:-http://deb.debian.org/debian}

echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
fashion_mnist
vulkan_headers
