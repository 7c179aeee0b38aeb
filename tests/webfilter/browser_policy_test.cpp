#include "browser_policy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::webfilter {
namespace {

TEST(BrowserPolicy, ChromiumGetsEchAndDnsOverHttpsTurnedOffInAFileEveryoneReads) {
  mp::test::TempDir dir{"mp-chromium-policy"};
  auto managed = dir.path() / "etc" / "chromium" / "policies" / "managed";
  ASSERT_EQ(write_chromium_policy(managed), "");
  auto file = managed / kChromiumPolicyFile;
  auto policy = nlohmann::json::parse(mp::test::read_file(file), nullptr, false);
  ASSERT_FALSE(policy.is_discarded());
  EXPECT_EQ(policy["EncryptedClientHelloEnabled"], false);
  EXPECT_EQ(policy["DnsOverHttpsMode"], "off");
  struct stat info {};
  ASSERT_EQ(stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  // Written again at every start: the same file, nothing left over.
  ASSERT_EQ(write_chromium_policy(managed), "");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(managed), {}), 1);
  EXPECT_NE(write_chromium_policy("/proc/no/such/place"), "");
}

}  // namespace
}  // namespace mp::webfilter
