#include "byte_buffer.h"

#include <algorithm>
#include <cstring>

namespace mp::webfilter {

std::unique_ptr<char[]> BufferPool::get() {
  if (free_.empty()) return std::unique_ptr<char[]>(new char[size_]);
  auto block = std::move(free_.back());
  free_.pop_back();
  return block;
}

void BufferPool::put(std::unique_ptr<char[]> block) {
  if (free_.size() < max_free_) free_.push_back(std::move(block));
}

char* Buffer::prepare() {
  if (!block_) block_ = pool_->get();
  // Room at the end for everything that is free: move the bytes to the front when it is short.
  if (pool_->size() - tail_ < space()) compact();
  return block_.get() + tail_;
}

void Buffer::consume(std::size_t n) {
  head_ += n;
  if (head_ == tail_) head_ = tail_ = 0;
}

std::size_t Buffer::append(const char* p, std::size_t n) {
  n = std::min(n, space());
  if (n == 0) return 0;
  std::memcpy(prepare(), p, n);
  tail_ += n;
  return n;
}

void Buffer::release() {
  if (block_ && empty()) pool_->put(std::move(block_));
}

void Buffer::compact() {
  std::memmove(block_.get(), block_.get() + head_, size());
  tail_ -= head_;
  head_ = 0;
}

}  // namespace mp::webfilter
