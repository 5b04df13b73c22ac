#!/bin/bash
# Builds the pipeline-statistics Vulkan layer (pipeline_stats_layer.c) into bench/vk-stats/build/,
# beside which its manifest (VkLayer_coengine_pipeline_stats.json) points. Needs gcc and the
# Vulkan headers (Debian: libvulkan-dev). Used by `coengine --pipeline-stats FILE`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$here/build"
gcc -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
  -o "$here/build/libVkLayer_coengine_pipeline_stats.so" "$here/pipeline_stats_layer.c" -lpthread
echo "built $here/build/libVkLayer_coengine_pipeline_stats.so"
