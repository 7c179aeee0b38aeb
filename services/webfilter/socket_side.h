// One non-blocking socket of a proxied connection with its two buffers, and the I/O on it. A
// socket is read or written only after epoll said it is ready, so no syscall is spent on one
// that has nothing to read or no room.
#pragma once

#include <cstddef>
#include <cstdint>

#include "byte_buffer.h"

namespace mp::webfilter {

struct Side {
  explicit Side(BufferPool& pool) : in(pool), out(pool) {}
  int fd = -1;
  Buffer in;   // what the socket sent us
  Buffer out;  // what waits to be sent to it
  bool eof = false;
  bool failed = false;
  bool shut_write = false;
  // What epoll last said: cleared by a short read, a short write or EAGAIN, set again by the
  // next event.
  bool readable = false;
  bool writable = true;
  std::uint32_t events = 0;  // the epoll interest set now
};

// Records an epoll event's readiness.
void note_events(Side& side, std::uint32_t events);
// One recv into `in` if the socket is readable and there is room; true if anything changed
// (bytes, end of stream, failure).
bool read_into(Side& side);
// One send of `out`; true if anything changed.
bool flush(Side& side);
// Sends what it can at once when nothing is queued, queues what fits of the rest; returns how
// many bytes it took. A failed side takes everything (its owner closes it).
std::size_t forward(Side& to, const char* p, std::size_t n);

}  // namespace mp::webfilter
