// Counters of wf-syslog, rendered as Prometheus text for GET /metrics. Every counter is an
// atomic: thread-safe, lock-free increments from the receiver, forwarder and HTTP threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace wf {

struct LogMetrics {
  std::atomic<uint64_t> received_udp{0};  // datagrams
  std::atomic<uint64_t> received_tcp{0};  // frames
  std::atomic<uint64_t> bytes_udp{0};
  std::atomic<uint64_t> bytes_tcp{0};
  std::atomic<uint64_t> stored{0};  // lines written to the store
  std::atomic<uint64_t> sealed{0};  // requests sealed
  std::atomic<uint64_t> forwarded{0};
  // Dropped messages, by reason.
  std::atomic<uint64_t> dropped_parse{0};        // not a syslog message
  std::atomic<uint64_t> dropped_oversize{0};     // UDP datagram over max_frame_bytes
  std::atomic<uint64_t> dropped_frame{0};        // TCP framing error (connection closed)
  std::atomic<uint64_t> dropped_truncated{0};    // TCP connection closed inside a frame
  std::atomic<uint64_t> dropped_connections{0};  // TCP connections refused: max_connections
  std::atomic<uint64_t> dropped_sealed{0};       // line for a sealed request
  std::atomic<uint64_t> dropped_bad_id{0};       // trace/request id that cannot name a file
  std::atomic<uint64_t> dropped_io{0};           // the store could not write
  std::atomic<uint64_t> dropped_forward{0};      // forward queue full or upstream send failed
  std::atomic<uint64_t> connections{0};          // TCP connections open (gauge)
  std::atomic<int64_t> follows{0};               // follow=1 streams open (gauge)
  std::atomic<uint64_t> retention_deleted{0};    // request logs deleted by retention
  std::atomic<uint64_t> retention_deleted_bytes{0};

  std::string Render() const;
};

}  // namespace wf
