#include "browser_policy.h"

#include <sys/stat.h>

#include <fstream>

namespace mp::webfilter {

std::string write_chromium_policy(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  auto file = dir / kChromiumPolicyFile;
  auto temporary = dir / (std::string(kChromiumPolicyFile) + ".new");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "{\n"
           "  \"EncryptedClientHelloEnabled\": false,\n"
           "  \"DnsOverHttpsMode\": \"off\"\n"
           "}\n";
    if (!out.flush()) return "cannot write " + temporary.string();
  }
  chmod(temporary.c_str(), 0644);  // every user's browser reads it
  std::filesystem::rename(temporary, file, ec);
  if (ec) return "cannot replace " + file.string() + ": " + ec.message();
  return "";
}

}  // namespace mp::webfilter
