// Names typed at a logon, as log lines may show them.
#include "mp/service/user_name_redactor.h"

#include <gtest/gtest.h>

namespace mp::service {
namespace {

TEST(UserNameRedactor, AccountNamesAreLoggedAsTheyAre) {
  UserNameRedactor redactor;
  EXPECT_EQ(redactor.for_log("alice", true), "alice");
}

TEST(UserNameRedactor, UnknownNamesBecomeAShortKeyedHash) {
  UserNameRedactor redactor;
  std::string typed = "correct horse battery";  // a password typed into the name field
  std::string logged = redactor.for_log(typed, false);
  EXPECT_EQ(logged.rfind("unknown#", 0), 0u) << logged;
  EXPECT_EQ(logged.size(), std::string("unknown#").size() + 8);
  EXPECT_EQ(logged.find("horse"), std::string::npos);
  EXPECT_EQ(redactor.for_log(typed, false), logged) << "the same name, the same hash";
  EXPECT_NE(redactor.for_log("correct horse battery.", false), logged);
}

TEST(UserNameRedactor, TheHashDependsOnTheKey) {
  std::array<unsigned char, UserNameRedactor::kKeyBytes> a{}, b{};
  b[0] = 1;
  EXPECT_NE(UserNameRedactor(a).hashed("admin2"), UserNameRedactor(b).hashed("admin2"))
      << "without the process's key, a hash cannot be checked against guesses";
}

}  // namespace
}  // namespace mp::service
