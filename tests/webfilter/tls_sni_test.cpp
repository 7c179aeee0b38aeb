// ClientHellos made by hand: whole, split at every byte, across records, broken, and garbage.
#include "tls_sni.h"

#include <gtest/gtest.h>

#include "client_hello.h"

namespace mp::webfilter {
namespace {

using test::client_hello;

HelloStatus parse(std::string_view data, std::string* name = nullptr) {
  std::string server_name;
  HelloStatus status = parse_client_hello(data, server_name);
  if (name) *name = server_name;
  return status;
}

TEST(ClientHello, ReadsTheServerName) {
  std::string name;
  EXPECT_EQ(parse(client_hello("www.example.com"), &name), HelloStatus::ok);
  EXPECT_EQ(name, "www.example.com");
}

TEST(ClientHello, EveryPrefixAsksForMoreThenTheWholeAnswers) {
  std::string hello = client_hello("school.test", 16384, 300);
  for (std::size_t n = 0; n < hello.size(); ++n) {
    ASSERT_EQ(parse(std::string_view(hello).substr(0, n)), HelloStatus::need_more) << n;
  }
  std::string name;
  EXPECT_EQ(parse(hello, &name), HelloStatus::ok);
  EXPECT_EQ(name, "school.test");
}

TEST(ClientHello, SpansSeveralRecords) {
  for (std::size_t record : {1u, 7u, 64u, 100u}) {
    std::string hello = client_hello("split.example.org", record, 200);
    for (std::size_t n = 0; n < hello.size(); n += 13) {
      ASSERT_EQ(parse(std::string_view(hello).substr(0, n)), HelloStatus::need_more) << n;
    }
    std::string name;
    EXPECT_EQ(parse(hello, &name), HelloStatus::ok) << record;
    EXPECT_EQ(name, "split.example.org");
  }
}

TEST(ClientHello, WithoutAServerName) { EXPECT_EQ(parse(client_hello("")), HelloStatus::no_sni); }

TEST(ClientHello, BytesAfterTheHelloAreNotItsBusiness) {
  std::string name;
  EXPECT_EQ(parse(client_hello("a.test") + "\x14\x03\x03\x00\x01\x01", &name), HelloStatus::ok);
  EXPECT_EQ(name, "a.test");
}

TEST(ClientHello, GarbageIsNotTlsAtOnce) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n"), HelloStatus::not_tls);
  EXPECT_EQ(parse("G"), HelloStatus::not_tls);
  EXPECT_EQ(parse("\x16\x02"), HelloStatus::not_tls);
  EXPECT_EQ(parse("\x16\x03\x09"), HelloStatus::not_tls);
  EXPECT_EQ(parse(std::string("\x80\x2e\x01\x03\x01", 5)), HelloStatus::not_tls);  // SSLv2
}

TEST(ClientHello, BrokenHellosAreMalformed) {
  std::string hello = client_hello("a.test");
  // Not a ClientHello (ServerHello type).
  std::string other = hello;
  other[5] = 2;
  EXPECT_EQ(parse(other), HelloStatus::malformed);
  // A zero-length record.
  EXPECT_EQ(parse(std::string("\x16\x03\x01\x00\x00", 5)), HelloStatus::malformed);
  // A second record of another type while the hello is incomplete.
  std::string split = client_hello("a.test", 10);
  split[15] = 0x17;
  EXPECT_EQ(parse(split), HelloStatus::malformed);
  // The extensions length overstates what follows.
  std::string lying = hello;
  std::size_t ext_len_at = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
  lying[ext_len_at] = static_cast<char>(0x7f);
  EXPECT_EQ(parse(lying), HelloStatus::malformed);
  // A server name with a control character.
  std::string control = client_hello("a.te\x01t");
  EXPECT_EQ(parse(control), HelloStatus::malformed);
  // Truncate the body but fix up the lengths so it parses as complete: malformed, not a crash.
  for (std::size_t cut = 1; cut < hello.size() - 9; cut += 3) {
    std::string t = hello.substr(0, hello.size() - cut);
    std::size_t record = t.size() - 5, message = t.size() - 9;
    t[3] = static_cast<char>(record >> 8);
    t[4] = static_cast<char>(record & 0xff);
    t[6] = static_cast<char>(message >> 16);
    t[7] = static_cast<char>((message >> 8) & 0xff);
    t[8] = static_cast<char>(message & 0xff);
    HelloStatus s = parse(t);
    EXPECT_TRUE(s == HelloStatus::malformed || s == HelloStatus::no_sni) << cut;
  }
}

TEST(ClientHello, TwoServerNamesAreMalformed) {
  std::string hello = client_hello("a.test");
  // Append a second host_name entry by building the extension by hand is tedious; instead,
  // repeat the whole server_name extension: duplicates are refused.
  std::size_t ext_start = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2 + 2;
  std::string sni_ext = hello.substr(ext_start, 4 + 2 + 1 + 2 + 6);
  std::string body = hello.substr(ext_start);
  std::string doubled = hello.substr(0, ext_start) + sni_ext + body;
  auto fix16 = [&](std::size_t at, std::size_t value) {
    doubled[at] = static_cast<char>(value >> 8);
    doubled[at + 1] = static_cast<char>(value & 0xff);
  };
  std::size_t grow = sni_ext.size();
  std::size_t record = hello.size() - 5 + grow, message = hello.size() - 9 + grow;
  fix16(3, record);
  doubled[6] = static_cast<char>(message >> 16);
  fix16(7, message & 0xffff);
  std::size_t ext_total = static_cast<unsigned char>(hello[ext_start - 2]) << 8 |
                          static_cast<unsigned char>(hello[ext_start - 1]);
  fix16(ext_start - 2, ext_total + grow);
  EXPECT_EQ(parse(doubled), HelloStatus::malformed);
}

TEST(ClientHello, SeesEncryptedClientHello) {
  ClientHello hello;
  EXPECT_EQ(parse_client_hello(client_hello("public.example", 16384, 0, true), hello),
            HelloStatus::ok);
  EXPECT_EQ(hello.server_name, "public.example");
  EXPECT_TRUE(hello.encrypted_client_hello);
  // Without a server name too, and across records.
  EXPECT_EQ(parse_client_hello(client_hello("", 16384, 0, true), hello), HelloStatus::no_sni);
  EXPECT_TRUE(hello.encrypted_client_hello);
  EXPECT_EQ(parse_client_hello(client_hello("split.example", 9, 100, true), hello),
            HelloStatus::ok);
  EXPECT_TRUE(hello.encrypted_client_hello);
  // A plain hello says no, also when the same ClientHello object is reused.
  EXPECT_EQ(parse_client_hello(client_hello("plain.example"), hello), HelloStatus::ok);
  EXPECT_FALSE(hello.encrypted_client_hello);
}

TEST(ClientHello, EncryptedClientHelloIsFoundWhereverItSits) {
  // The ECH extension before the server name, and the hello split at every byte before that.
  std::string hello = client_hello("a.example", 16384, 64, true);
  for (std::size_t n = 0; n < hello.size(); ++n) {
    ClientHello partial;
    ASSERT_EQ(parse_client_hello(std::string_view(hello).substr(0, n), partial),
              HelloStatus::need_more)
        << n;
  }
  // Two ECH extensions are a malformed hello, not a second chance.
  std::string twice = client_hello("a.example", 16384, 0, true);
  std::string ext = client_hello("a.example", 16384, 0, false);
  std::size_t ech_size = twice.size() - ext.size();
  std::string ech = twice.substr(twice.size() - ech_size);
  std::string doubled = twice + ech;
  auto fix16 = [&](std::size_t at, std::size_t value) {
    doubled[at] = static_cast<char>(value >> 8);
    doubled[at + 1] = static_cast<char>(value & 0xff);
  };
  fix16(3, twice.size() - 5 + ech_size);
  doubled[6] = static_cast<char>((twice.size() - 9 + ech_size) >> 16);
  fix16(7, (twice.size() - 9 + ech_size) & 0xffff);
  std::size_t ext_start = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
  std::size_t ext_total = static_cast<unsigned char>(twice[ext_start]) << 8 |
                          static_cast<unsigned char>(twice[ext_start + 1]);
  fix16(ext_start, ext_total + ech_size);
  ClientHello parsed;
  EXPECT_EQ(parse_client_hello(doubled, parsed), HelloStatus::malformed);
}

TEST(ClientHello, TooLargeIsRefused) {
  std::string big = client_hello("a.test", 16384, 40000);
  EXPECT_EQ(parse(big), HelloStatus::too_large);
  // A record header that announces too much is refused before the bytes come.
  EXPECT_EQ(parse(std::string("\x16\x03\x01\xff\xff", 5)), HelloStatus::malformed);
}

}  // namespace
}  // namespace mp::webfilter
