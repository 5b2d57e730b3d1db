#pragma once
// RAII aliases for libudev handles: no udev_*_unref call appears elsewhere.
// Include only from .cpp files (it pulls in libudev.h).

#include <libudev.h>

#include <memory>

#include "probe/detail/c_free.h"

namespace cvm::probe::detail {

using UdevPtr = std::unique_ptr<udev, CFree<&udev_unref>>;
using UdevEnumeratePtr =
    std::unique_ptr<udev_enumerate, CFree<&udev_enumerate_unref>>;
using UdevDevicePtr = std::unique_ptr<udev_device, CFree<&udev_device_unref>>;
using UdevHwdbPtr = std::unique_ptr<udev_hwdb, CFree<&udev_hwdb_unref>>;
using UdevMonitorPtr =
    std::unique_ptr<udev_monitor, CFree<&udev_monitor_unref>>;

}  // namespace cvm::probe::detail
