// The proxy's own answers: well-formed HTTP, the rule named, nothing injected.
#include "block_page.h"

#include <gtest/gtest.h>

namespace mp::webfilter {
namespace {

TEST(BlockPage, NamesTheHostAndTheRule) {
  std::string out;
  write_error_page({.status = 403,
                    .host = "www.example.com",
                    .message = "blocked by the block list of group lab-a: *.example.com"},
                   out);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 403 Forbidden\r\n")) << out;
  auto end = out.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  std::string body = out.substr(end + 4);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(body.find("This site is blocked"), std::string::npos);
  EXPECT_NE(body.find("<b>www.example.com</b>"), std::string::npos);
  EXPECT_NE(body.find("group lab-a: *.example.com"), std::string::npos);
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
}

TEST(BlockPage, EscapesWhatItQuotes) {
  std::string out;
  write_error_page({.status = 403, .host = "a<script>.test", .message = "x \"&\" y"}, out);
  EXPECT_EQ(out.find("<script>"), std::string::npos);
  EXPECT_NE(out.find("a&lt;script&gt;.test"), std::string::npos);
  EXPECT_NE(out.find("x &quot;&amp;&quot; y"), std::string::npos);
}

TEST(BlockPage, OtherErrorsCloseOrAnswerHeadWithoutABody) {
  std::string out;
  write_error_page({.status = 502, .host = "origin.test", .message = "refused", .close = true},
                   out);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(out.find("origin.test"), std::string::npos);  // only a 403 names the host
  write_error_page({.status = 504, .message = "slow", .head_only = true}, out);
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;
  EXPECT_NE(out.find("Content-Length: "), std::string::npos);
  EXPECT_STREQ(status_text(431), "Request Header Fields Too Large");
  EXPECT_STREQ(status_text(999), "Error");
}

}  // namespace
}  // namespace mp::webfilter
