// A Vulkan layer that reports what the driver made of every compute pipeline: the statistics of
// VK_KHR_pipeline_executable_properties (registers per thread, spills, instruction counts, as the
// driver chooses to expose them), one JSON line per pipeline, under the pipeline's label.
//
// Why: WebGPU shows nothing of the machine code its kernels become, yet whether a GEMM tile's
// accumulators stay in registers, and how many registers a thread takes (which caps how many
// workgroups share an SM), decides its speed (bench/RESULTS.md, eleventh session: register blocks
// past 8×8 ran at 60% and 6% of the 8×8 one, for reasons a timing cannot tell apart).
//
// How: the loader puts this layer between Dawn and the driver (`coengine --pipeline-stats FILE`
// sets VK_LAYER_PATH / VK_INSTANCE_LAYERS and Dawn's use_user_defined_labels_in_backend toggle).
// vkCreateDevice enables the extension and its feature where the device has them;
// vkCreateComputePipelines adds VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR and writes the
// statistics once the pipeline exists. Dawn names pipelines' shader modules (not the pipelines)
// through vkSetDebugUtilsObjectNameEXT, before it builds a pipeline from one: its prefix, then
// our label (kernel file, entry point, GEMM tile, override constants); each line carries the
// label of its pipeline's module. On a device without the extension (lavapipe) the lines still
// come, with "executables": null.
// Environment: COENGINE_VK_STATS_FILE (append JSON lines there; stderr when unset),
// COENGINE_VK_STATS_IR=1 (also capture the driver's internal representations, as "ir", where it
// offers any: lavapipe gives NIR, some drivers nothing).
//
// Build: bench/vk-stats/build.sh (gcc and Vulkan headers: Debian's libvulkan-dev).
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <vulkan/vulkan.h>
#include <vulkan/vk_layer.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_NAME "VK_LAYER_COENGINE_pipeline_stats"
#define EXPORT __attribute__((visibility("default")))
#define IR_LIMIT (1 << 20) /* characters kept of each internal representation */

// ---- dispatch state, keyed by the loader's dispatch pointer (the first word of a handle) ----

typedef struct Instance {
  void *key;
  VkInstance handle;
  PFN_vkGetInstanceProcAddr next_gipa;
  PFN_vkDestroyInstance destroy;
  PFN_vkEnumerateDeviceExtensionProperties enumerate_device_extensions;
  struct Instance *next;
} Instance;

typedef struct Device {
  void *key;
  VkDevice handle;
  int capture; /* the extension and feature are enabled */
  int capture_ir; /* COENGINE_VK_STATS_IR=1: the internal representations too */
  PFN_vkGetDeviceProcAddr next_gdpa;
  PFN_vkDestroyDevice destroy;
  PFN_vkCreateComputePipelines create_compute_pipelines;
  PFN_vkSetDebugUtilsObjectNameEXT set_object_name;
  PFN_vkDestroyShaderModule destroy_shader_module;
  PFN_vkGetPipelineExecutablePropertiesKHR executable_properties;
  PFN_vkGetPipelineExecutableStatisticsKHR executable_statistics;
  PFN_vkGetPipelineExecutableInternalRepresentationsKHR internal_representations;
  struct Device *next;
} Device;

/** The name Dawn gave a shader module (its label, after Dawn's prefix). */
typedef struct ModuleName {
  VkDevice device;
  VkShaderModule module;
  char *name;
  struct ModuleName *next;
} ModuleName;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Instance *instances;
static Device *devices;
static ModuleName *module_names;
static FILE *out;

static void *key_of(const void *handle) { return *(void *const *)handle; }

static Instance *find_instance(void *key) {
  for (Instance *i = instances; i; i = i->next) if (i->key == key) return i;
  return instances; /* physical devices share their instance's key; else the latest instance */
}

static Device *find_device(void *key) {
  for (Device *d = devices; d; d = d->next) if (d->key == key) return d;
  return NULL;
}

// ---- a growable string, for the JSON lines ----

typedef struct { char *s; size_t n, cap; } Str;

static void put(Str *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *s2 = realloc(b->s, cap);
    if (!s2) return; /* out of memory: the line comes out short, the program goes on */
    b->s = s2; b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}
static void puts_(Str *b, const char *s) { put(b, s, strlen(s)); }

static void put_json_string(Str *b, const char *s, size_t limit) {
  puts_(b, "\"");
  for (size_t i = 0; i < limit && s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; put(b, esc, 2); }
    else if (c == '\n') puts_(b, "\\n");
    else if (c == '\t') puts_(b, "\\t");
    else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); puts_(b, esc); }
    else put(b, (const char *)&c, 1);
  }
  puts_(b, "\"");
}

static void write_line(const char *label, const char *json) {
  if (!out) {
    const char *path = getenv("COENGINE_VK_STATS_FILE");
    out = path && *path ? fopen(path, "a") : NULL;
    if (!out) out = stderr;
  }
  Str b = {0};
  puts_(&b, "{\"label\":");
  if (label) put_json_string(&b, label, 4096); else puts_(&b, "null");
  puts_(&b, ",");
  puts_(&b, json);
  puts_(&b, "}\n");
  if (b.s) { fputs(b.s, out); fflush(out); }
  free(b.s);
}

/** The label of a shader module (the caller holds the lock); NULL when Dawn named none. */
static const char *module_label(VkDevice dev, VkShaderModule m) {
  for (ModuleName *n = module_names; n; n = n->next) if (n->device == dev && n->module == m) return n->name;
  return NULL;
}

/** Forget a module's name (destroyed: its handle may come back for another module). Lock held. */
static void forget_module(VkDevice dev, VkShaderModule m) {
  for (ModuleName **p = &module_names; *p; p = &(*p)->next) {
    if ((*p)->device == dev && (*p)->module == m) { ModuleName *n = *p; *p = n->next; free(n->name); free(n); return; }
  }
}

// ---- reading a pipeline's executables ----

static void put_statistic(Str *b, const VkPipelineExecutableStatisticKHR *s) {
  char num[64];
  put_json_string(b, s->name, VK_MAX_DESCRIPTION_SIZE);
  puts_(b, ":");
  switch (s->format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: puts_(b, s->value.b32 ? "true" : "false"); return;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: snprintf(num, sizeof num, "%lld", (long long)s->value.i64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: snprintf(num, sizeof num, "%llu", (unsigned long long)s->value.u64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: // JSON has no NaN or infinity
      if (isfinite(s->value.f64)) snprintf(num, sizeof num, "%.17g", s->value.f64); else snprintf(num, sizeof num, "null");
      break;
    default: snprintf(num, sizeof num, "null"); break;
  }
  puts_(b, num);
}

static void put_representations(Str *b, Device *d, const VkPipelineExecutableInfoKHR *ei) {
  uint32_t n = 0;
  if (!d->internal_representations || d->internal_representations(d->handle, ei, &n, NULL) != VK_SUCCESS || !n) return;
  VkPipelineExecutableInternalRepresentationKHR *irs = calloc(n, sizeof *irs);
  size_t *allocated = calloc(n, sizeof *allocated);
  if (!irs || !allocated) { free(irs); free(allocated); return; }
  const uint32_t count = n; /* what was allocated: freed whatever the driver says later */
  for (uint32_t i = 0; i < count; i++) irs[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
  // Twice: the sizes (pData null), then the data, one byte more than asked (a terminator).
  VkResult r = d->internal_representations(d->handle, ei, &n, irs);
  if (n > count) n = count;
  for (uint32_t i = 0; i < n; i++) {
    allocated[i] = irs[i].dataSize;
    irs[i].pData = allocated[i] ? calloc(allocated[i] + 1, 1) : NULL;
  }
  if (r == VK_SUCCESS || r == VK_INCOMPLETE) r = d->internal_representations(d->handle, ei, &n, irs);
  if (n > count) n = count;
  puts_(b, ",\"ir\":[");
  for (uint32_t i = 0; i < n; i++) {
    if (i) puts_(b, ",");
    puts_(b, "{\"name\":");
    put_json_string(b, irs[i].name, VK_MAX_DESCRIPTION_SIZE);
    puts_(b, ",\"text\":");
    if ((r == VK_SUCCESS || r == VK_INCOMPLETE) && irs[i].pData && irs[i].isText) {
      size_t len = irs[i].dataSize < allocated[i] ? irs[i].dataSize : allocated[i];
      ((char *)irs[i].pData)[len] = 0; /* the buffer holds allocated + 1 bytes */
      put_json_string(b, irs[i].pData, IR_LIMIT);
    } else {
      puts_(b, "null");
    }
    if (r == VK_INCOMPLETE) puts_(b, ",\"truncated\":true");
    puts_(b, "}");
  }
  puts_(b, "]");
  for (uint32_t i = 0; i < count; i++) free(irs[i].pData);
  free(irs);
  free(allocated);
}

/** The statistics of every executable of `pipeline`, as `"executables":[...]`; NULL when none. */
static char *describe(Device *d, VkPipeline pipeline) {
  VkPipelineInfoKHR pi = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipeline};
  uint32_t n = 0;
  if (d->executable_properties(d->handle, &pi, &n, NULL) != VK_SUCCESS) return NULL;
  VkPipelineExecutablePropertiesKHR *props = calloc(n ? n : 1, sizeof *props);
  if (!props) return NULL;
  for (uint32_t i = 0; i < n; i++) props[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  if (d->executable_properties(d->handle, &pi, &n, props) != VK_SUCCESS) n = 0;
  Str b = {0};
  puts_(&b, "\"executables\":[");
  for (uint32_t e = 0; e < n; e++) {
    char num[32];
    if (e) puts_(&b, ",");
    puts_(&b, "{\"name\":");
    put_json_string(&b, props[e].name, VK_MAX_DESCRIPTION_SIZE);
    snprintf(num, sizeof num, "%u", props[e].subgroupSize);
    puts_(&b, ",\"subgroupSize\":");
    puts_(&b, num);
    puts_(&b, ",\"stats\":{");
    VkPipelineExecutableInfoKHR ei = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipeline, e};
    uint32_t sn = 0;
    if (d->executable_statistics(d->handle, &ei, &sn, NULL) == VK_SUCCESS && sn) {
      VkPipelineExecutableStatisticKHR *st = calloc(sn, sizeof *st);
      if (st) {
        for (uint32_t i = 0; i < sn; i++) st[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
        uint32_t got = sn;
        VkResult r = d->executable_statistics(d->handle, &ei, &got, st);
        if (r == VK_SUCCESS || r == VK_INCOMPLETE) { // (incomplete: what fitted is still right)
          if (got > sn) got = sn;
          for (uint32_t i = 0; i < got; i++) { if (i) puts_(&b, ","); put_statistic(&b, &st[i]); }
        }
        free(st);
      }
    }
    puts_(&b, "}");
    if (d->capture_ir) put_representations(&b, d, &ei);
    puts_(&b, "}");
  }
  puts_(&b, "]");
  free(props);
  return b.s;
}

// ---- intercepted commands ----

static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateInstance(const VkInstanceCreateInfo *ci, const VkAllocationCallbacks *alloc, VkInstance *inst) {
  VkLayerInstanceCreateInfo *chain = (VkLayerInstanceCreateInfo *)ci->pNext;
  while (chain && !(chain->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO && chain->function == VK_LAYER_LINK_INFO)) {
    chain = (VkLayerInstanceCreateInfo *)chain->pNext;
  }
  if (!chain) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = chain->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  chain->u.pLayerInfo = chain->u.pLayerInfo->pNext;
  PFN_vkCreateInstance create = (PFN_vkCreateInstance)gipa(VK_NULL_HANDLE, "vkCreateInstance");
  VkResult r = create(ci, alloc, inst);
  if (r != VK_SUCCESS) return r;
  Instance *i = calloc(1, sizeof *i);
  if (!i) { /* without its entry it could not be destroyed through this layer */
    ((PFN_vkDestroyInstance)gipa(*inst, "vkDestroyInstance"))(*inst, alloc);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  i->key = key_of(*inst);
  i->handle = *inst;
  i->next_gipa = gipa;
  i->destroy = (PFN_vkDestroyInstance)gipa(*inst, "vkDestroyInstance");
  i->enumerate_device_extensions = (PFN_vkEnumerateDeviceExtensionProperties)gipa(*inst, "vkEnumerateDeviceExtensionProperties");
  pthread_mutex_lock(&lock);
  i->next = instances;
  instances = i;
  pthread_mutex_unlock(&lock);
  return r;
}

static VKAPI_ATTR void VKAPI_CALL layer_DestroyInstance(VkInstance inst, const VkAllocationCallbacks *alloc) {
  if (!inst) return; /* a valid no-op */
  pthread_mutex_lock(&lock);
  Instance *found = NULL;
  for (Instance **p = &instances; *p; p = &(*p)->next) {
    if ((*p)->key == key_of(inst)) { found = *p; *p = found->next; break; }
  }
  pthread_mutex_unlock(&lock);
  if (found) { found->destroy(inst, alloc); free(found); }
}

static int has_extension(Instance *i, VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  if (!i || !i->enumerate_device_extensions || i->enumerate_device_extensions(pd, NULL, &n, NULL) != VK_SUCCESS) return 0;
  VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
  if (!e) return 0;
  int found = 0;
  if (i->enumerate_device_extensions(pd, NULL, &n, e) == VK_SUCCESS) {
    for (uint32_t k = 0; k < n; k++) if (!strcmp(e[k].extensionName, name)) found = 1;
  }
  free(e);
  return found;
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateDevice(VkPhysicalDevice pd, const VkDeviceCreateInfo *ci, const VkAllocationCallbacks *alloc, VkDevice *dev) {
  VkLayerDeviceCreateInfo *chain = (VkLayerDeviceCreateInfo *)ci->pNext;
  while (chain && !(chain->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && chain->function == VK_LAYER_LINK_INFO)) {
    chain = (VkLayerDeviceCreateInfo *)chain->pNext;
  }
  if (!chain) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = chain->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr gdpa = chain->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  chain->u.pLayerInfo = chain->u.pLayerInfo->pNext;
  pthread_mutex_lock(&lock);
  Instance *inst = find_instance(key_of(pd));
  pthread_mutex_unlock(&lock);
  PFN_vkCreateDevice create = (PFN_vkCreateDevice)gipa(inst ? inst->handle : VK_NULL_HANDLE, "vkCreateDevice");
  if (!create) return VK_ERROR_INITIALIZATION_FAILED;

  // Enable the extension and its feature (unless the application already asks for them).
  VkDeviceCreateInfo mine = *ci;
  const char **names = NULL;
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR feature = {
    VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, (void *)ci->pNext, VK_TRUE};
  int capture = has_extension(inst, pd, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
  if (capture) {
    int asked = 0;
    for (uint32_t k = 0; k < ci->enabledExtensionCount; k++) {
      if (!strcmp(ci->ppEnabledExtensionNames[k], VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) asked = 1;
    }
    for (const VkBaseInStructure *s = ci->pNext; s; s = s->pNext) {
      if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR) asked = 2;
    }
    if (asked < 2) mine.pNext = &feature;
    if (!asked) {
      names = malloc((ci->enabledExtensionCount + 1) * sizeof *names);
      if (!names) return VK_ERROR_OUT_OF_HOST_MEMORY;
      for (uint32_t k = 0; k < ci->enabledExtensionCount; k++) names[k] = ci->ppEnabledExtensionNames[k];
      names[ci->enabledExtensionCount] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
      mine.enabledExtensionCount = ci->enabledExtensionCount + 1;
      mine.ppEnabledExtensionNames = names;
    }
  } else {
    fprintf(stderr, LAYER_NAME ": the device lacks " VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME "; no statistics\n");
  }
  VkResult r = create(pd, &mine, alloc, dev);
  free(names);
  if (r != VK_SUCCESS) return r;

  Device *d = calloc(1, sizeof *d);
  if (!d) { /* without its entry it could not be destroyed through this layer */
    ((PFN_vkDestroyDevice)gdpa(*dev, "vkDestroyDevice"))(*dev, alloc);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  d->key = key_of(*dev);
  d->handle = *dev;
  d->next_gdpa = gdpa;
  d->destroy = (PFN_vkDestroyDevice)gdpa(*dev, "vkDestroyDevice");
  d->create_compute_pipelines = (PFN_vkCreateComputePipelines)gdpa(*dev, "vkCreateComputePipelines");
  d->set_object_name = (PFN_vkSetDebugUtilsObjectNameEXT)gdpa(*dev, "vkSetDebugUtilsObjectNameEXT");
  d->destroy_shader_module = (PFN_vkDestroyShaderModule)gdpa(*dev, "vkDestroyShaderModule");
  d->executable_properties = (PFN_vkGetPipelineExecutablePropertiesKHR)gdpa(*dev, "vkGetPipelineExecutablePropertiesKHR");
  d->executable_statistics = (PFN_vkGetPipelineExecutableStatisticsKHR)gdpa(*dev, "vkGetPipelineExecutableStatisticsKHR");
  d->internal_representations = (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)gdpa(*dev, "vkGetPipelineExecutableInternalRepresentationsKHR");
  d->capture = capture && d->executable_properties && d->executable_statistics;
  const char *ir = getenv("COENGINE_VK_STATS_IR");
  d->capture_ir = d->capture && ir && !strcmp(ir, "1");
  pthread_mutex_lock(&lock);
  d->next = devices;
  devices = d;
  pthread_mutex_unlock(&lock);
  return r;
}

static VKAPI_ATTR void VKAPI_CALL layer_DestroyDevice(VkDevice dev, const VkAllocationCallbacks *alloc) {
  if (!dev) return; /* a valid no-op */
  pthread_mutex_lock(&lock);
  for (ModuleName **p = &module_names; *p;) {
    if ((*p)->device == dev) { ModuleName *n = *p; *p = n->next; free(n->name); free(n); } else p = &(*p)->next;
  }
  Device *found = NULL;
  for (Device **p = &devices; *p; p = &(*p)->next) {
    if ((*p)->key == key_of(dev)) { found = *p; *p = found->next; break; }
  }
  pthread_mutex_unlock(&lock);
  if (found) { found->destroy(dev, alloc); free(found); }
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateComputePipelines(VkDevice dev, VkPipelineCache cache, uint32_t count,
    const VkComputePipelineCreateInfo *infos, const VkAllocationCallbacks *alloc, VkPipeline *pipelines) {
  pthread_mutex_lock(&lock);
  Device *d = find_device(key_of(dev));
  pthread_mutex_unlock(&lock);
  if (!d) return VK_ERROR_INITIALIZATION_FAILED;
  VkResult r;
  if (d->capture) {
    VkComputePipelineCreateInfo *mine = malloc(count * sizeof *mine);
    if (!mine) return VK_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < count; i++) {
      mine[i] = infos[i];
      mine[i].flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
      if (d->capture_ir) mine[i].flags |= VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR;
    }
    r = d->create_compute_pipelines(dev, cache, count, mine, alloc, pipelines);
    free(mine);
  } else {
    r = d->create_compute_pipelines(dev, cache, count, infos, alloc, pipelines);
  }
  if (r != VK_SUCCESS) return r;
  for (uint32_t i = 0; i < count; i++) {
    // Without the extension (lavapipe) the line still says which pipelines were made, and that
    // the driver gave no statistics.
    char *json = d->capture ? describe(d, pipelines[i]) : strdup("\"executables\":null");
    if (!json) continue;
    pthread_mutex_lock(&lock);
    write_line(module_label(dev, infos[i].stage.module), json);
    pthread_mutex_unlock(&lock);
    free(json);
  }
  return r;
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_SetDebugUtilsObjectNameEXT(VkDevice dev, const VkDebugUtilsObjectNameInfoEXT *info) {
  static const char prefix[] = "Dawn_ShaderModule_";
  pthread_mutex_lock(&lock);
  Device *d = find_device(key_of(dev));
  if (info->objectType == VK_OBJECT_TYPE_SHADER_MODULE && info->pObjectName) {
    const char *label = strstr(info->pObjectName, prefix);
    label = label ? label + sizeof prefix - 1 : info->pObjectName;
    VkShaderModule m = (VkShaderModule)(uintptr_t)info->objectHandle;
    ModuleName *n = module_names;
    while (n && !(n->device == dev && n->module == m)) n = n->next;
    if (!n && (n = calloc(1, sizeof *n))) { n->device = dev; n->module = m; n->next = module_names; module_names = n; }
    if (n) { free(n->name); n->name = strdup(label); }
  }
  pthread_mutex_unlock(&lock);
  return d && d->set_object_name ? d->set_object_name(dev, info) : VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL layer_DestroyShaderModule(VkDevice dev, VkShaderModule m, const VkAllocationCallbacks *alloc) {
  pthread_mutex_lock(&lock);
  Device *d = find_device(key_of(dev));
  forget_module(dev, m);
  pthread_mutex_unlock(&lock);
  if (d && d->destroy_shader_module) d->destroy_shader_module(dev, m, alloc);
}

// ---- lookup ----

static PFN_vkVoidFunction intercepted(const char *name) {
#define HOOK(fn) if (!strcmp(name, "vk" #fn)) return (PFN_vkVoidFunction)layer_##fn;
  HOOK(CreateDevice)
  HOOK(DestroyDevice)
  HOOK(CreateComputePipelines)
  HOOK(SetDebugUtilsObjectNameEXT)
  HOOK(DestroyShaderModule)
#undef HOOK
  return NULL;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL coengine_GetDeviceProcAddr(VkDevice dev, const char *name) {
  if (!strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)coengine_GetDeviceProcAddr;
  if (!dev) return NULL;
  PFN_vkVoidFunction f = intercepted(name);
  if (f) return f;
  pthread_mutex_lock(&lock);
  Device *d = find_device(key_of(dev));
  pthread_mutex_unlock(&lock);
  return d ? d->next_gdpa(dev, name) : NULL;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL coengine_GetInstanceProcAddr(VkInstance inst, const char *name) {
  if (!strcmp(name, "vkGetInstanceProcAddr")) return (PFN_vkVoidFunction)coengine_GetInstanceProcAddr;
  if (!strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)coengine_GetDeviceProcAddr;
  if (!strcmp(name, "vkCreateInstance")) return (PFN_vkVoidFunction)layer_CreateInstance;
  if (!strcmp(name, "vkDestroyInstance")) return (PFN_vkVoidFunction)layer_DestroyInstance;
  PFN_vkVoidFunction f = intercepted(name);
  if (f) return f;
  if (!inst) return NULL;
  pthread_mutex_lock(&lock);
  Instance *i = find_instance(key_of(inst));
  pthread_mutex_unlock(&lock);
  return i ? i->next_gipa(inst, name) : NULL;
}

EXPORT VKAPI_ATTR VkResult VKAPI_CALL coengine_NegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *v) {
  if (v->loaderLayerInterfaceVersion < 2) return VK_ERROR_INITIALIZATION_FAILED;
  v->loaderLayerInterfaceVersion = 2;
  v->pfnGetInstanceProcAddr = coengine_GetInstanceProcAddr;
  v->pfnGetDeviceProcAddr = coengine_GetDeviceProcAddr;
  v->pfnGetPhysicalDeviceProcAddr = NULL;
  return VK_SUCCESS;
}
