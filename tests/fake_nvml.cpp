// SPDX-License-Identifier: MIT
// A stand-in for libnvidia-ml.so.1 with the few NVML calls runlog makes, for the tests (loaded
// through RUNLOG_NVML_LIBRARY). FAKE_NVML_MODE picks the behaviour: "ok" (default: two GPUs with
// fixed readings), "init_fails" (nvmlInit_v2 returns an error), "queries_fail" (GPU 1's
// utilisation and power queries fail).
#include <cstdlib>
#include <cstring>

namespace {
const char* mode() {
    const char* m = std::getenv("FAKE_NVML_MODE");
    return m != nullptr ? m : "ok";
}
struct device_tag {
    unsigned int index;
};
device_tag devices[2] = {{0}, {1}};
}  // namespace

extern "C" {
struct fake_utilization {
    unsigned int gpu, memory;
};
struct fake_memory {
    unsigned long long total, free, used;
};

int nvmlInit_v2() {
    return std::strcmp(mode(), "init_fails") == 0 ? 1 : 0;
}
int nvmlShutdown() {
    return 0;
}
int nvmlDeviceGetCount_v2(unsigned int* count) {
    *count = 2;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** handle) {
    if (index > 1) return 2;
    *handle = &devices[index];
    return 0;
}
int nvmlDeviceGetUtilizationRates(void* handle, fake_utilization* u) {
    const unsigned int i = static_cast<device_tag*>(handle)->index;
    if (i == 1 && std::strcmp(mode(), "queries_fail") == 0) return 999;
    u->gpu = 40 + 10 * i;
    u->memory = 20 + i;
    return 0;
}
int nvmlDeviceGetMemoryInfo(void* handle, fake_memory* m) {
    const unsigned int i = static_cast<device_tag*>(handle)->index;
    m->total = 16ull << 30;
    m->used = (4ull << 30) * (i + 1);
    m->free = m->total - m->used;
    return 0;
}
int nvmlDeviceGetTemperature(void* handle, int sensor, unsigned int* celsius) {
    if (sensor != 0) return 2;
    *celsius = 60 + static_cast<device_tag*>(handle)->index;
    return 0;
}
int nvmlDeviceGetPowerUsage(void* handle, unsigned int* milliwatts) {
    const unsigned int i = static_cast<device_tag*>(handle)->index;
    if (i == 1 && std::strcmp(mode(), "queries_fail") == 0) return 999;
    *milliwatts = 150500 + 1000 * i;
    return 0;
}
}
