// Pooled byte buffers and the socket I/O on them (over real socketpairs).
#include "byte_buffer.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "socket_side.h"

namespace mp::webfilter {
namespace {

TEST(ByteBuffer, HoldsABlockOnlyWhileBytesAreInFlight) {
  BufferPool pool(16);
  Buffer buffer(pool);
  EXPECT_FALSE(buffer.holds_block());
  EXPECT_EQ(buffer.append("hello"), 5u);
  EXPECT_TRUE(buffer.holds_block());
  buffer.consume(5);
  EXPECT_TRUE(buffer.empty());
  buffer.release();
  EXPECT_FALSE(buffer.holds_block());
  EXPECT_EQ(pool.free_blocks(), 1u);
  Buffer other(pool);
  other.append("x");
  EXPECT_EQ(pool.free_blocks(), 0u);  // the block was reused
}

TEST(ByteBuffer, TakesWhatFitsAndMakesRoomByCompacting) {
  BufferPool pool(8);
  Buffer buffer(pool);
  EXPECT_EQ(buffer.append("0123456789"), 8u);
  EXPECT_EQ(buffer.space(), 0u);
  buffer.consume(6);
  EXPECT_EQ(buffer.view(), "67");
  // Room for 6 at the end after moving the two bytes to the front.
  char* p = buffer.prepare();
  std::memcpy(p, "abcdef", 6);
  buffer.commit(6);
  EXPECT_EQ(buffer.view(), "67abcdef");
  buffer.release();  // not empty: kept
  EXPECT_TRUE(buffer.holds_block());
}

TEST(ByteBuffer, PoolKeepsAtMostItsLimit) {
  BufferPool pool(8, 2);
  for (int i = 0; i < 5; ++i) pool.put(pool.get());
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(pool.get());
  for (auto& b : blocks) pool.put(std::move(b));
  EXPECT_EQ(pool.free_blocks(), 2u);
}

TEST(SocketSide, ReadsFlushesAndForwardsOnlyWhenReady) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  BufferPool pool(64);
  Side a(pool), b(pool);
  a.fd = fds[0];
  b.fd = fds[1];
  // Not readable until epoll said so: no syscall, no change.
  ASSERT_EQ(send(fds[0], "ping", 4, 0), 4);
  EXPECT_FALSE(read_into(b));
  note_events(b, EPOLLIN);
  EXPECT_TRUE(read_into(b));
  EXPECT_EQ(b.in.view(), "ping");
  EXPECT_FALSE(b.readable);  // a short read drained it
  // forward() sends at once when nothing is queued.
  EXPECT_EQ(forward(b, "pong", 4), 4u);
  EXPECT_TRUE(b.out.empty());
  char got[8];
  EXPECT_EQ(recv(fds[0], got, sizeof got, 0), 4);
  // A full socket: forward() queues, flush() sends once writable again.
  std::string big(1 << 20, 'x');
  std::size_t taken = forward(a, big.data(), big.size());
  EXPECT_LT(taken, big.size());
  EXPECT_FALSE(a.writable);
  EXPECT_FALSE(flush(a));  // not writable: nothing tried
  // The peer ends: end of stream is seen once.
  close(fds[0]);
  a.fd = -1;
  for (int i = 0; i < 100000 && !b.eof; ++i) {
    note_events(b, EPOLLIN);
    read_into(b);
    b.in.clear();
  }
  EXPECT_TRUE(b.eof);
  close(fds[1]);
}

}  // namespace
}  // namespace mp::webfilter
