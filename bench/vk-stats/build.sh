#!/bin/bash
# Builds the pipeline-statistics Vulkan layer (pipeline_stats_layer.c) into bench/vk-stats/build/,
# beside which its manifest (VkLayer_coengine_pipeline_stats.json) points. Needs gcc and the
# Vulkan headers (Debian: libvulkan-dev). Used by `coengine --pipeline-stats FILE`.
# `build.sh SOURCE OUTPUT` builds another layer the same way (the tests' mock driver layer).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:-$here/pipeline_stats_layer.c}
out=${2:-$here/build/libVkLayer_coengine_pipeline_stats.so}
mkdir -p "$(dirname "$out")"
gcc -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -o "$out" "$src" -lpthread
echo "built $out"
