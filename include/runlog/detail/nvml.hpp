// SPDX-License-Identifier: MIT
#pragma once
// NVIDIA GPUs for the system sampler, with no link dependency: NVML is opened with dlopen at run
// time (libnvidia-ml.so.1, or the file named by RUNLOG_NVML_LIBRARY — the tests point it at a fake
// library). No library, a missing symbol, a failed nvmlInit or no GPU: no GPU keys, silently. A
// query that fails for one GPU leaves out that key only.
//
// Keys, W&B's names (wandb-offline-format.md §3.9), per GPU index i:
//   gpu.<i>.gpu                   utilisation, %          nvmlDeviceGetUtilizationRates
//   gpu.<i>.memory                memory busy time, %     (same call)
//   gpu.<i>.memoryAllocated       memory used, % of total nvmlDeviceGetMemoryInfo
//   gpu.<i>.memoryAllocatedBytes  memory used, bytes      (same call)
//   gpu.<i>.memoryTotalBytes      memory total, bytes     (same call)
//   gpu.<i>.temp                  °C                      nvmlDeviceGetTemperature (GPU sensor)
//   gpu.<i>.powerWatts            W                       nvmlDeviceGetPowerUsage (mW / 1000)
//
// The declarations below are NVML's C ABI (the few calls used), written here so no NVIDIA header
// is needed to build.

#include <string>

#include "../value.hpp"
#include "os.hpp"

#if defined(__linux__)
#include <dlfcn.h>
#define RUNLOG_HAVE_DLOPEN 1
#else
#define RUNLOG_HAVE_DLOPEN 0
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

class nvml_gpus {
  public:
    nvml_gpus() {
#if RUNLOG_HAVE_DLOPEN
        const std::string path = get_env("RUNLOG_NVML_LIBRARY").value_or("libnvidia-ml.so.1");
        library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (library_ == nullptr) return;
        if (!bind(init_, "nvmlInit_v2") || !bind(shutdown_, "nvmlShutdown") ||
            !bind(count_, "nvmlDeviceGetCount_v2") ||
            !bind(handle_, "nvmlDeviceGetHandleByIndex_v2") ||
            !bind(utilization_, "nvmlDeviceGetUtilizationRates") ||
            !bind(memory_, "nvmlDeviceGetMemoryInfo") ||
            !bind(temperature_, "nvmlDeviceGetTemperature") ||
            !bind(power_, "nvmlDeviceGetPowerUsage") || init_() != success) {
            close();
            return;
        }
        initialised_ = true;
        if (count_(&devices_) != success) devices_ = 0;
#endif
    }
    nvml_gpus(const nvml_gpus&) = delete;
    nvml_gpus& operator=(const nvml_gpus&) = delete;
    ~nvml_gpus() {
        close();
    }

    /// GPUs found (0 without NVML).
    unsigned int count() const noexcept {
        return devices_;
    }

    /// Adds each GPU's keys to `out`.
    void sample(value& out) const {
        for (unsigned int i = 0; i < devices_; ++i) {
            device handle = nullptr;
            if (handle_(i, &handle) != success) continue;
            const std::string prefix = "gpu." + std::to_string(i) + ".";
            utilization u{};
            if (utilization_(handle, &u) == success) {
                out[prefix + "gpu"] = u.gpu;
                out[prefix + "memory"] = u.memory;
            }
            memory_info m{};
            if (memory_(handle, &m) == success && m.total > 0) {
                out[prefix + "memoryAllocated"] =
                    static_cast<double>(static_cast<std::int64_t>(
                        10000.0 * static_cast<double>(m.used) / static_cast<double>(m.total) +
                        0.5)) /
                    100.0;
                out[prefix + "memoryAllocatedBytes"] = m.used;
                out[prefix + "memoryTotalBytes"] = m.total;
            }
            unsigned int celsius = 0;
            if (temperature_(handle, 0 /* NVML_TEMPERATURE_GPU */, &celsius) == success)
                out[prefix + "temp"] = celsius;
            unsigned int milliwatts = 0;
            if (power_(handle, &milliwatts) == success)
                out[prefix + "powerWatts"] = static_cast<double>(milliwatts) / 1000.0;
        }
    }

  private:
    // NVML's ABI: nvmlReturn_t is an int enum (0 = NVML_SUCCESS); nvmlDevice_t an opaque pointer.
    using device = struct nvml_device_opaque*;
    struct utilization {
        unsigned int gpu, memory;
    };
    struct memory_info {
        unsigned long long total, free, used;
    };
    static constexpr int success = 0;

    template <class F>
    bool bind(F& fn, const char* name) {
#if RUNLOG_HAVE_DLOPEN
        void* symbol = dlsym(library_, name);
        fn = reinterpret_cast<F>(symbol);
        return symbol != nullptr;
#else
        (void)fn;
        (void)name;
        return false;
#endif
    }

    void close() noexcept {
#if RUNLOG_HAVE_DLOPEN
        if (initialised_ && shutdown_ != nullptr) shutdown_();
        if (library_ != nullptr) dlclose(library_);
#endif
        library_ = nullptr;
        initialised_ = false;
        devices_ = 0;
    }

    void* library_ = nullptr;
    bool initialised_ = false;
    unsigned int devices_ = 0;
    int (*init_)() = nullptr;
    int (*shutdown_)() = nullptr;
    int (*count_)(unsigned int*) = nullptr;
    int (*handle_)(unsigned int, device*) = nullptr;
    int (*utilization_)(device, utilization*) = nullptr;
    int (*memory_)(device, memory_info*) = nullptr;
    int (*temperature_)(device, int, unsigned int*) = nullptr;
    int (*power_)(device, unsigned int*) = nullptr;
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
