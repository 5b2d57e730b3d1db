#include "probe/pci_monitor.h"

#include <libudev.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "probe/detail/udev_ptr.h"

namespace cvm::probe {

struct PciMonitor::Impl {
  detail::UdevPtr udev;
  detail::UdevMonitorPtr monitor;
};

PciMonitor::PciMonitor(std::unique_ptr<Impl> impl, Callback cb,
                       std::chrono::milliseconds debounce)
    : impl_(std::move(impl)), on_change_(std::move(cb)), debounce_(debounce) {}

PciMonitor::~PciMonitor() = default;

Result<std::unique_ptr<PciMonitor>> PciMonitor::Open(
    Callback on_change, std::chrono::milliseconds debounce) {
  auto impl = std::make_unique<Impl>();
  impl->udev.reset(udev_new());
  if (!impl->udev) return ErrnoError(errno, "udev_new");
  // "udev": events after udev processed them (the device is ready).
  impl->monitor.reset(udev_monitor_new_from_netlink(impl->udev.get(), "udev"));
  if (!impl->monitor) return ErrnoError(errno, "udev_monitor_new_from_netlink");
  if (udev_monitor_filter_add_match_subsystem_devtype(
          impl->monitor.get(), "pci", /*devtype=*/nullptr) < 0 ||
      udev_monitor_enable_receiving(impl->monitor.get()) < 0) {
    return ErrnoError(errno, "udev_monitor (subsystem pci)");
  }
  return std::unique_ptr<PciMonitor>(
      new PciMonitor(std::move(impl), std::move(on_change), debounce));
}

int PciMonitor::fd() const noexcept {
  return udev_monitor_get_fd(impl_->monitor.get());
}

void PciMonitor::HandleReadable(Clock::time_point now) {
  // The socket is non-blocking: receive until it is empty.
  while (udev_device* raw = udev_monitor_receive_device(impl_->monitor.get())) {
    detail::UdevDevicePtr dev(raw);
    // The kernel-side filter is a hash; check the subsystem again.
    const char* subsystem = udev_device_get_subsystem(dev.get());
    if (subsystem == nullptr || std::string_view(subsystem) != "pci") continue;
    ++events_seen_;
    pending_ = true;
    due_ = now + debounce_;
  }
}

int PciMonitor::TimeoutMs(Clock::time_point now) const {
  if (!pending_) return -1;
  if (now >= due_) return 0;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(due_ - now);
  return static_cast<int>(left.count());
}

void PciMonitor::HandleTimeout(Clock::time_point now) {
  if (!pending_ || now < due_) return;
  pending_ = false;
  if (on_change_) on_change_();
}

void PciMonitor::RunOnce(std::chrono::milliseconds max_wait) {
  int timeout = TimeoutMs(Clock::now());
  int wait = static_cast<int>(max_wait.count());
  if (timeout >= 0) wait = std::min(wait, timeout);
  struct pollfd p {fd(), POLLIN, 0};
  int n = ::poll(&p, 1, wait);
  if (n > 0 && (p.revents & POLLIN)) HandleReadable(Clock::now());
  HandleTimeout(Clock::now());
}

}  // namespace cvm::probe
