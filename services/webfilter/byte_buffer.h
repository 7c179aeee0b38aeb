// The proxy's byte buffers: fixed-size blocks from a free list, held by a connection only while
// bytes are in flight, so thousands of idle keep-alive connections cost no buffer memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace mp::webfilter {

// Fixed-size byte blocks, reused.
class BufferPool {
 public:
  explicit BufferPool(std::size_t block_size, std::size_t max_free = 1024)
      : size_(block_size), max_free_(max_free) {}
  std::size_t size() const { return size_; }
  std::size_t free_blocks() const { return free_.size(); }
  std::unique_ptr<char[]> get();
  void put(std::unique_ptr<char[]> block);

 private:
  std::size_t size_;
  std::size_t max_free_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// Bytes between a socket and the other side: [head, tail) of one pooled block, taken on first
// use and given back by release() once empty.
class Buffer {
 public:
  explicit Buffer(BufferPool& pool) : pool_(&pool) {}
  bool empty() const { return head_ == tail_; }
  std::size_t size() const { return tail_ - head_; }
  std::size_t space() const { return pool_->size() - size(); }
  const char* data() const { return block_.get() + head_; }
  std::string_view view() const { return {data(), size()}; }
  bool holds_block() const { return static_cast<bool>(block_); }

  // Contiguous room for space() bytes at the end; commit() what was written there.
  char* prepare();
  void commit(std::size_t n) { tail_ += n; }
  void consume(std::size_t n);
  // Appends what fits; returns how many bytes were taken.
  std::size_t append(const char* p, std::size_t n);
  std::size_t append(std::string_view s) { return append(s.data(), s.size()); }
  void clear() { head_ = tail_ = 0; }
  // Gives the block back to the pool if nothing is in it.
  void release();

 private:
  void compact();
  BufferPool* pool_;
  std::unique_ptr<char[]> block_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace mp::webfilter
