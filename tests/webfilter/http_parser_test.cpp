// Request and response heads, the limits, and chunked framing; every input split at every byte.
#include "http_parser.h"

#include <gtest/gtest.h>

namespace mp::webfilter {
namespace {

using namespace std::string_literals;

HttpLimits limits;

struct Scanned {
  HeadScanner::State state;
  HttpError error;
  std::string head;
};

// Feeds `data` in pieces of `step` bytes, as the network might.
Scanned scan(std::string_view data, std::size_t step = SIZE_MAX, bool request = true) {
  HeadScanner scanner(limits, request);
  HeadScanner::State state = HeadScanner::State::incomplete;
  for (std::size_t end = std::min(step, data.size());; end = std::min(end + step, data.size())) {
    state = scanner.scan(data.substr(0, end));
    if (state != HeadScanner::State::incomplete || end == data.size()) break;
  }
  Scanned s{state, scanner.error(), ""};
  if (state == HeadScanner::State::complete) {
    s.head = std::string(data.substr(scanner.begin(), scanner.end() - scanner.begin()));
  }
  return s;
}

HttpError parse(std::string_view head, RequestHead& out) {
  auto s = scan(head);
  if (s.state == HeadScanner::State::error) return s.error;
  EXPECT_EQ(s.state, HeadScanner::State::complete) << head;
  static std::string kept;
  kept = s.head;
  return parse_request_head(kept, out);
}

int status_of(std::string_view head) {
  RequestHead r;
  return parse(head, r).status;
}

TEST(HeadScanner, FindsTheEndWhateverTheSplit) {
  std::string request = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nBODY";
  for (std::size_t step = 1; step <= request.size(); ++step) {
    auto s = scan(request, step);
    ASSERT_EQ(s.state, HeadScanner::State::complete) << step;
    EXPECT_EQ(s.head, "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n");
  }
}

TEST(HeadScanner, AcceptsBareLfAndSkipsLeadingEmptyLines) {
  EXPECT_EQ(scan("GET / HTTP/1.1\nHost: a\n\n").state, HeadScanner::State::complete);
  auto s = scan("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(s.state, HeadScanner::State::complete);
  EXPECT_EQ(s.head.substr(0, 3), "GET");
  EXPECT_EQ(scan("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n").error.status, 400);
}

TEST(HeadScanner, RefusesBareCrAtAnySplit) {
  std::string request = "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n";
  for (std::size_t step = 1; step <= request.size(); ++step) {
    EXPECT_EQ(scan(request, step).error.status, 400) << step;
  }
}

TEST(HeadScanner, EnforcesTheLimits) {
  std::string long_line = "GET /" + std::string(8200, 'a') + " HTTP/1.1\r\n";
  EXPECT_EQ(scan(long_line).error.status, 414);
  EXPECT_EQ(scan(long_line.substr(0, 8300)).error.status, 414);  // before its end arrives
  std::string just = "GET /" + std::string(8192 - 15, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(scan(just).state, HeadScanner::State::complete);

  std::string big = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 40; ++i)
    big += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  EXPECT_EQ(scan(big + "\r\n").error.status, 431);
  EXPECT_EQ(scan(big).error.status, 431);  // no need to wait for the end

  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(scan(many + "\r\n").error.status, 431);
  std::string hundred = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(scan(hundred + "\r\n").state, HeadScanner::State::complete);
}

TEST(RequestHead, ParsesTheUsualRequest) {
  RequestHead r;
  ASSERT_FALSE(
      parse("GET http://a.test/x?y HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, "
            "X-Drop\r\nX-Drop: 1\r\nAccept: */*\r\n\r\n",
            r));
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "http://a.test/x?y");
  EXPECT_EQ(r.minor_version, 1);
  EXPECT_EQ(r.host, "a.test");
  EXPECT_TRUE(r.wants_keep_alive());
  EXPECT_TRUE(is_hop_by_hop("x-drop", r.connection_tokens));
  EXPECT_TRUE(is_hop_by_hop("Proxy-Authorization", r.connection_tokens));
  EXPECT_FALSE(is_hop_by_hop("Accept", r.connection_tokens));
  EXPECT_FALSE(r.has_body());
}

TEST(RequestHead, ConnectionCannotHideTheFramingFields) {
  RequestHead r;
  ASSERT_FALSE(
      parse("POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length, host\r\n"
            "Content-Length: 3\r\n\r\n",
            r));
  EXPECT_FALSE(is_hop_by_hop("Content-Length", r.connection_tokens));
  EXPECT_FALSE(is_hop_by_hop("Host", r.connection_tokens));
}

TEST(RequestHead, KeepAliveRulesOfBothVersions) {
  RequestHead r;
  ASSERT_FALSE(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n", r));
  EXPECT_FALSE(r.wants_keep_alive());
  ASSERT_FALSE(parse("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", r));
  EXPECT_TRUE(r.wants_keep_alive());
  ASSERT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", r));
  EXPECT_FALSE(r.wants_keep_alive());
}

TEST(RequestHead, RefusesMalformedInput) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);  // obs-fold
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);            // space before colon
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("PRI * HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status_of("\x16\x03\x01\x02\x01\x01\r\n\r\n"), 400);
}

TEST(RequestHead, HostRules) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);  // 1.1 without Host
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 400);
  RequestHead r;
  ASSERT_FALSE(parse("GET / HTTP/1.0\r\n\r\n", r));  // the proxy refuses it; the parser not
  EXPECT_FALSE(r.has_host);
}

TEST(RequestHead, FramingConflictsAre400) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
      400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501);
  EXPECT_EQ(status_of("CONNECT a:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"), 400);
  RequestHead r;
  ASSERT_FALSE(
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", r));
  EXPECT_EQ(r.content_length, 5u);
  ASSERT_FALSE(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", r));
  EXPECT_TRUE(r.chunked);
}

TEST(ResponseHead, FramingAndStatus) {
  ResponseHead r;
  ASSERT_FALSE(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_length, 12u);
  ASSERT_FALSE(parse_response_head("HTTP/1.1 204\r\n\r\n", r));
  EXPECT_EQ(r.status, 204);
  ASSERT_FALSE(parse_response_head(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", r));
  EXPECT_TRUE(r.chunked);
  EXPECT_FALSE(r.content_length);
  ASSERT_FALSE(parse_response_head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", r));
  EXPECT_EQ(r.minor_version, 0);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(parse_response_head("HTTP/1.1 2000 OK\r\n\r\n", r).status, 502);
  EXPECT_EQ(parse_response_head("HTTP/1.1 099 OK\r\n\r\n", r).status, 502);
  EXPECT_EQ(parse_response_head("ICY 200 OK\r\n\r\n", r).status, 502);
  EXPECT_EQ(
      parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", r)
          .status,
      502);
}

TEST(AbsoluteUri, SplitsAuthorityAndPath) {
  auto uri = parse_absolute_uri("http://a.test:8080/p?q").value();
  EXPECT_EQ(uri.authority, "a.test:8080");
  EXPECT_EQ(uri.path, "/p?q");
  uri = parse_absolute_uri("HTTP://a.test").value();
  EXPECT_EQ(uri.path, "");
  uri = parse_absolute_uri("http://a.test?q").value();
  EXPECT_EQ(uri.authority, "a.test");
  EXPECT_EQ(uri.path, "?q");
  EXPECT_FALSE(parse_absolute_uri("https://a.test/"));
  EXPECT_FALSE(parse_absolute_uri("http://good.test@evil.test/"));
  EXPECT_FALSE(parse_absolute_uri("http:///path"));
  EXPECT_FALSE(parse_absolute_uri("http://a.test/#frag"));
  EXPECT_FALSE(parse_absolute_uri("a.test:443"));
}

// Decodes a whole chunked body fed `step` bytes at a time: {data, consumed, ok}.
std::tuple<std::string, std::size_t, bool> dechunk(std::string_view body, std::size_t step) {
  ChunkedDecoder decoder;
  std::string data;
  std::size_t at = 0;
  std::size_t available = 0;
  while (!decoder.done()) {
    available = std::min(available + step, body.size());
    ChunkedDecoder::Step s;
    while (at < available && !decoder.done()) {
      if (!decoder.step(body.substr(at, available - at), s)) return {data, at, false};
      data.append(body.substr(at + s.data_begin, s.data_size));
      at += s.consumed;
      if (s.consumed == 0) break;
    }
    if (available == body.size() && !decoder.done()) return {data, at, false};
  }
  return {data, at, true};
}

TEST(Chunked, DecodesAtEverySplit) {
  std::string body =
      "6\r\nhello \r\n8;ext=\"x\"\r\nchunked \r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\nNEXT";
  for (std::size_t step = 1; step <= body.size(); ++step) {
    auto [data, consumed, ok] = dechunk(body, step);
    ASSERT_TRUE(ok) << step;
    EXPECT_EQ(data, "hello chunked 0123456789");
    EXPECT_EQ(consumed, body.size() - 4);  // stops before the next message
  }
}

TEST(Chunked, RefusesBrokenFraming) {
  for (std::string bad : {"x\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n", "\r\n",
                          "1000000000000000\r\n", "5;\x01\r\n", "0\r\nbad\n\r\n"}) {
    auto [data, consumed, ok] = dechunk(bad, bad.size());
    EXPECT_FALSE(ok) << bad;
  }
}

}  // namespace
}  // namespace mp::webfilter
