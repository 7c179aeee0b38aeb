// HTTP/1.x message heads and chunked framing, parsed with hard limits and strict syntax so the
// proxy and the origin never disagree about where a message ends. Pure: no I/O, no allocation
// beyond the caller's reused header vector; every view points into the caller's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::webfilter {

struct HttpLimits {
  std::size_t max_request_line = 8 * 1024;   // longer: 414
  std::size_t max_header_bytes = 32 * 1024;  // all header lines together; longer: 431
  std::size_t max_header_lines = 100;        // more: 431
};

// status 0: no error. `reason` is a static string.
struct HttpError {
  int status = 0;
  const char* reason = "";
  explicit operator bool() const { return status != 0; }
};

// Finds the end of a message head as bytes arrive, checking the limits, bare CR and line
// counts without rescanning what it has seen. `data` passed to scan() always starts at the
// message's first byte and only grows between calls.
class HeadScanner {
 public:
  enum class State { incomplete, complete, error };
  // `request`: limits answer 414/431 and leading empty lines are skipped; else (responses) 502.
  HeadScanner(const HttpLimits& limits, bool request) : limits_(limits), request_(request) {}

  State scan(std::string_view data);
  // Valid when complete: the head is data[begin(), end()), end() just past the empty line.
  std::size_t begin() const { return begin_; }
  std::size_t end() const { return end_; }
  const HttpError& error() const { return error_; }
  void reset();

 private:
  State fail(int status, const char* reason);

  const HttpLimits& limits_;
  bool request_;
  std::size_t begin_ = 0;       // first byte of the start line (after skipped empty lines)
  std::size_t pos_ = 0;         // next byte to look at
  std::size_t line_start_ = 0;  // first byte of the current line
  std::size_t fields_start_ = 0;
  std::size_t lines_ = 0;
  bool in_start_line_ = true;
  std::size_t end_ = 0;
  HttpError error_;
};

struct HeaderField {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
};

bool iequals(std::string_view a, std::string_view b);
// Whether the proxy drops this header when forwarding (RFC 9110 7.6.1), given the message's
// Connection tokens.
bool is_hop_by_hop(std::string_view name, const std::vector<std::string_view>& connection_tokens);

struct RequestHead {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;  // HTTP/1.0 or HTTP/1.1
  std::vector<HeaderField> fields;
  std::vector<std::string_view> connection_tokens;  // from Connection and Proxy-Connection
  std::string_view host;                            // the Host field's value
  bool has_host = false;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;       // Connection: close
  bool keep_alive = false;  // Connection: keep-alive (HTTP/1.0)

  bool is_connect() const { return method == "CONNECT"; }
  bool is_head() const { return method == "HEAD"; }
  // Whether the client wants the connection kept after this exchange.
  bool wants_keep_alive() const { return minor_version == 1 ? !close : keep_alive && !close; }
  bool has_body() const { return chunked || (content_length && *content_length > 0); }
};

// Parses a complete head (as HeadScanner found it). On error, `out` is unspecified.
HttpError parse_request_head(std::string_view head, RequestHead& out);

struct ResponseHead {
  int minor_version = 1;
  int status = 0;
  std::string_view status_line;  // without the line end
  std::vector<HeaderField> fields;
  std::vector<std::string_view> connection_tokens;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;
  bool keep_alive = false;
  bool has_transfer_encoding = false;
};

HttpError parse_response_head(std::string_view head, ResponseHead& out);

// "http://host:port/path?q" -> authority "host:port", path "/path?q". Refuses userinfo ('@'),
// fragments and schemes other than http (https URIs go through CONNECT).
struct AbsoluteUri {
  std::string_view authority;
  std::string_view path;  // as written: empty or "?q" when the URI has no path (send "/" first)
};
std::optional<AbsoluteUri> parse_absolute_uri(std::string_view target);

// Chunked transfer coding: finds where the body ends and which bytes are data.
class ChunkedDecoder {
 public:
  struct Step {
    std::size_t consumed = 0;    // bytes of the input this step used (a prefix)
    std::size_t data_begin = 0;  // within them, this range is chunk data
    std::size_t data_size = 0;
  };
  // Consumes framing up to and including at most one run of data. False: malformed.
  bool step(std::string_view in, Step& out);
  bool done() const { return state_ == State::done; }
  void reset() { *this = ChunkedDecoder{}; }

 private:
  enum class State { size, extension, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done };
  State state_ = State::size;
  std::uint64_t remaining_ = 0;
  std::size_t size_digits_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  bool trailer_line_empty_ = true;
};

}  // namespace mp::webfilter
