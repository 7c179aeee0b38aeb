#pragma once

#include <filesystem>
#include <string>

namespace mp::test {

// A fresh directory under $TMPDIR (short, so ipc socket paths stay under 107 bytes),
// removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mp-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace mp::test
