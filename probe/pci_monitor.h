#pragma once
// PciMonitor: agent mode's "the PCI devices changed" signal. A udev monitor
// on the pci subsystem (kernel events as udev re-broadcasts them); any
// add, remove, bind, unbind or change of a PCI device starts a debounce
// window, and the callback runs once when the window passes without
// another event, so a burst (a GPU and its audio function, a driver
// rebind) gives one rescan. The owner polls fd() and calls the handlers;
// nothing here starts a thread.

#include <chrono>
#include <functional>
#include <memory>

#include "probe/result.h"

namespace cvm::probe {

class PciMonitor {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void()>;

  static Result<std::unique_ptr<PciMonitor>> Open(
      Callback on_change, std::chrono::milliseconds debounce);
  ~PciMonitor();
  PciMonitor(const PciMonitor&) = delete;
  PciMonitor& operator=(const PciMonitor&) = delete;

  // The monitor's socket: poll it for POLLIN.
  int fd() const noexcept;
  // Reads every queued event; a pci event (re)starts the debounce window.
  void HandleReadable(Clock::time_point now);
  // The poll(2) timeout until the callback is due: -1 when none is pending.
  int TimeoutMs(Clock::time_point now) const;
  // Runs the callback once if the window has passed.
  void HandleTimeout(Clock::time_point now);
  // One round: poll up to `max_wait` (less when a callback is due), then
  // handle what came.
  void RunOnce(std::chrono::milliseconds max_wait);

  // Events seen (pci only), for tests and metrics.
  long events_seen() const noexcept { return events_seen_; }

 private:
  struct Impl;
  PciMonitor(std::unique_ptr<Impl> impl, Callback cb,
             std::chrono::milliseconds debounce);

  std::unique_ptr<Impl> impl_;
  Callback on_change_;
  std::chrono::milliseconds debounce_;
  bool pending_ = false;
  Clock::time_point due_{};
  long events_seen_ = 0;
};

}  // namespace cvm::probe
