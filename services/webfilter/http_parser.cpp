#include "http_parser.h"

#include <cstring>

namespace mp::webfilter {

namespace {

constexpr std::size_t kMaxSkippedEmptyLines = 4;
constexpr std::size_t kMaxContentLengthDigits = 18;
constexpr std::size_t kMaxChunkLineBytes = 4096;
constexpr std::size_t kMaxTrailerBytes = 32 * 1024;

bool tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// field-value characters: VCHAR, SP, HTAB, obs-text. No NUL, no other controls, no DEL.
bool field_value_ok(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Request targets: visible ASCII only.
bool target_ok(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Calls `each` with every non-empty, trimmed element of a comma-separated list.
template <typename F>
bool for_each_token(std::string_view list, F&& each) {
  while (true) {
    auto comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (!item.empty() && !each(item)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

std::optional<std::uint64_t> parse_content_length(std::string_view s) {
  if (s.empty() || s.size() > kMaxContentLengthDigits) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// Splits a head into lines without their line ends; the final empty line ends it.
class LineReader {
 public:
  explicit LineReader(std::string_view head) : rest_(head) {}
  bool next(std::string_view& line) {
    auto nl = rest_.find('\n');
    if (nl == std::string_view::npos) return false;
    line = rest_.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    rest_.remove_prefix(nl + 1);
    return true;
  }

 private:
  std::string_view rest_;
};

// What requests and responses share: the fields and the framing headers.
struct FieldState {
  std::optional<std::uint64_t> content_length;
  bool content_length_conflict = false;
  bool content_length_invalid = false;
  bool has_transfer_encoding = false;
  bool chunked_last = false;  // the last coding listed is chunked
  bool only_chunked = true;   // every coding listed is chunked
  int chunked_count = 0;
  int host_count = 0;
  std::string_view host;
  bool close = false;
  bool keep_alive = false;
};

HttpError read_fields(LineReader& lines, std::vector<HeaderField>& fields,
                      std::vector<std::string_view>& connection_tokens, FieldState& state,
                      int error_status) {
  fields.clear();
  connection_tokens.clear();
  std::string_view line;
  while (lines.next(line)) {
    if (line.empty()) return {};
    if (line.front() == ' ' || line.front() == '\t') {
      return {error_status, "obsolete line folding"};
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return {error_status, "header line without a colon"};
    std::string_view name = line.substr(0, colon);
    if (!token(name)) return {error_status, "invalid header name"};
    std::string_view value = trim(line.substr(colon + 1));
    if (!field_value_ok(value)) return {error_status, "invalid character in a header value"};
    fields.push_back(HeaderField{name, value});

    if (iequals(name, "content-length")) {
      auto length = parse_content_length(value);
      if (!length) {
        state.content_length_invalid = true;
      } else if (state.content_length && *state.content_length != *length) {
        state.content_length_conflict = true;
      } else {
        state.content_length = length;
      }
    } else if (iequals(name, "transfer-encoding")) {
      state.has_transfer_encoding = true;
      for_each_token(value, [&](std::string_view coding) {
        bool chunked = iequals(coding, "chunked");
        state.chunked_last = chunked;
        if (chunked) {
          ++state.chunked_count;
        } else {
          state.only_chunked = false;
        }
        return true;
      });
    } else if (iequals(name, "host")) {
      ++state.host_count;
      state.host = value;
    } else if (iequals(name, "connection") || iequals(name, "proxy-connection")) {
      for_each_token(value, [&](std::string_view t) {
        if (iequals(t, "close")) state.close = true;
        if (iequals(t, "keep-alive")) state.keep_alive = true;
        connection_tokens.push_back(t);
        return true;
      });
    }
  }
  return {error_status, "unterminated head"};
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_hop_by_hop(std::string_view name, const std::vector<std::string_view>& connection_tokens) {
  static constexpr std::string_view kHopByHop[] = {
      "connection", "proxy-connection", "keep-alive",          "te",
      "trailer",    "upgrade",          "proxy-authorization", "proxy-authenticate"};
  for (auto h : kHopByHop) {
    if (iequals(name, h)) return true;
  }
  // Connection may name more, but never the fields that frame the message or name its host:
  // dropping those would make the proxy and the origin disagree.
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
      iequals(name, "host")) {
    return false;
  }
  for (auto t : connection_tokens) {
    if (iequals(name, t)) return true;
  }
  return false;
}

void HeadScanner::reset() {
  begin_ = pos_ = line_start_ = fields_start_ = lines_ = end_ = 0;
  in_start_line_ = true;
  error_ = {};
}

HeadScanner::State HeadScanner::fail(int status, const char* reason) {
  error_ = HttpError{status, reason};
  return State::error;
}

HeadScanner::State HeadScanner::scan(std::string_view data) {
  if (error_) return State::error;
  if (end_ != 0) return State::complete;
  const char* base = data.data();
  while (pos_ < data.size()) {
    const char* found =
        static_cast<const char*>(std::memchr(base + pos_, '\n', data.size() - pos_));
    std::size_t stop = found ? static_cast<std::size_t>(found - base) : data.size();
    // A CR is allowed only right before LF.
    for (std::size_t at = pos_; at < stop;) {
      const char* cr = static_cast<const char*>(std::memchr(base + at, '\r', stop - at));
      if (!cr) break;
      std::size_t cr_at = static_cast<std::size_t>(cr - base);
      bool before_lf = found && cr_at + 1 == stop;
      bool last_byte = !found && cr_at + 1 == data.size();
      if (!before_lf && !last_byte) return fail(request_ ? 400 : 502, "bare CR in the head");
      at = cr_at + 1;
    }
    if (in_start_line_) {
      if (stop - begin_ > limits_.max_request_line) {
        return fail(request_ ? 414 : 502, "request line too long");
      }
    } else if (stop - fields_start_ > limits_.max_header_bytes) {
      return fail(request_ ? 431 : 502, "header fields too large");
    }
    if (!found) {
      pos_ = data.size();
      if (data.back() == '\r') --pos_;  // look at it again when the next byte arrives
      return State::incomplete;
    }
    std::size_t content = stop - line_start_;
    if (content > 0 && base[stop - 1] == '\r') --content;
    pos_ = stop + 1;
    if (in_start_line_) {
      if (content == 0) {
        if (!request_ || ++lines_ > kMaxSkippedEmptyLines) {
          return fail(request_ ? 400 : 502, "empty start line");
        }
        begin_ = line_start_ = pos_;
        continue;
      }
      in_start_line_ = false;
      lines_ = 0;
      fields_start_ = line_start_ = pos_;
      continue;
    }
    if (content == 0) {
      end_ = pos_;
      return State::complete;
    }
    if (++lines_ > limits_.max_header_lines) {
      return fail(request_ ? 431 : 502, "too many header fields");
    }
    line_start_ = pos_;
  }
  return State::incomplete;
}

HttpError parse_request_head(std::string_view head, RequestHead& out) {
  LineReader lines(head);
  std::string_view line;
  if (!lines.next(line)) return {400, "no request line"};
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return {400, "malformed request line"};
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {400, "malformed request line"};
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!token(out.method)) return {400, "invalid method"};
  if (!target_ok(out.target)) return {400, "invalid request target"};
  if (version == "HTTP/1.1") {
    out.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    out.minor_version = 0;
  } else if (version.starts_with("HTTP/") && version.size() == 8 && version[6] == '.') {
    return {505, "HTTP version not supported"};
  } else {
    return {400, "malformed HTTP version"};
  }

  FieldState state;
  if (auto error = read_fields(lines, out.fields, out.connection_tokens, state, 400)) {
    return error;
  }
  if (state.content_length_invalid) return {400, "invalid Content-Length"};
  if (state.content_length_conflict) return {400, "conflicting Content-Length fields"};
  if (state.has_transfer_encoding) {
    if (out.minor_version == 0) return {400, "Transfer-Encoding in an HTTP/1.0 request"};
    if (state.content_length) return {400, "both Content-Length and Transfer-Encoding"};
    if (!state.chunked_last) return {400, "Transfer-Encoding does not end with chunked"};
    if (!state.only_chunked || state.chunked_count != 1) {
      return {501, "transfer coding not implemented"};
    }
  }
  if (state.host_count > 1) return {400, "more than one Host field"};
  if (out.minor_version == 1 && state.host_count == 0)
    return {400, "HTTP/1.1 request without Host"};
  out.has_host = state.host_count == 1;
  out.host = state.host;
  if (out.has_host && out.host.empty()) return {400, "empty Host"};
  out.content_length = state.content_length;
  out.chunked = state.has_transfer_encoding;
  out.close = state.close;
  out.keep_alive = state.keep_alive;
  if (out.is_connect() && out.has_body()) return {400, "CONNECT with a body"};
  return {};
}

HttpError parse_response_head(std::string_view head, ResponseHead& out) {
  LineReader lines(head);
  std::string_view line;
  if (!lines.next(line)) return {502, "no status line"};
  out.status_line = line;
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ') {
    return {502, "malformed status line from the origin"};
  }
  out.minor_version = line[7] - '0';
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return {502, "malformed status code from the origin"};
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || (line.size() > 12 && line[12] != ' ')) {
    return {502, "malformed status line from the origin"};
  }
  if (!field_value_ok(line)) return {502, "invalid character in the status line"};
  out.status = status;

  FieldState state;
  if (auto error = read_fields(lines, out.fields, out.connection_tokens, state, 502)) {
    return error;
  }
  out.has_transfer_encoding = state.has_transfer_encoding;
  out.chunked = state.has_transfer_encoding && state.chunked_last;
  // With Transfer-Encoding, Content-Length is ignored (RFC 9112 6.3).
  if (!state.has_transfer_encoding) {
    if (state.content_length_invalid || state.content_length_conflict) {
      return {502, "invalid Content-Length from the origin"};
    }
    out.content_length = state.content_length;
  } else {
    out.content_length.reset();
  }
  out.close = state.close;
  out.keep_alive = state.keep_alive;
  return {};
}

std::optional<AbsoluteUri> parse_absolute_uri(std::string_view target) {
  auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || !iequals(target.substr(0, scheme_end), "http")) {
    return std::nullopt;
  }
  std::string_view rest = target.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) return std::nullopt;
  auto path_start = rest.find_first_of("/?");
  AbsoluteUri uri;
  uri.authority = rest.substr(0, path_start);
  uri.path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (uri.authority.empty() || uri.authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  return uri;
}

bool ChunkedDecoder::step(std::string_view in, Step& out) {
  out = Step{};
  std::size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    switch (state_) {
      case State::size: {
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit >= 0) {
          if (++size_digits_ > 15) return false;
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          ++i;
          break;
        }
        if (size_digits_ == 0) return false;
        if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::extension;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return false;
        }
        ++i;
        break;
      }
      case State::extension:
        if (c == '\r') {
          state_ = State::size_lf;
        } else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') ||
                   ++line_bytes_ > kMaxChunkLineBytes) {
          return false;
        }
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return false;
        ++i;
        size_digits_ = 0;
        line_bytes_ = 0;
        state_ = remaining_ == 0 ? State::trailer : State::data;
        trailer_line_empty_ = true;
        break;
      case State::data: {
        std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(in.size() - i)));
        out.data_begin = i;
        out.data_size = n;
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::data_cr;
        out.consumed = i;
        return true;
      }
      case State::data_cr:
        if (c != '\r') return false;
        state_ = State::data_lf;
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return false;
        state_ = State::size;
        ++i;
        break;
      case State::trailer:
        if (c == '\r') {
          state_ = State::trailer_lf;
        } else if (c == '\n' || c == '\0' || ++trailer_bytes_ > kMaxTrailerBytes) {
          return false;
        } else {
          trailer_line_empty_ = false;
        }
        ++i;
        break;
      case State::trailer_lf:
        if (c != '\n') return false;
        ++i;
        if (trailer_line_empty_) {
          state_ = State::done;
          out.consumed = i;
          return true;
        }
        trailer_line_empty_ = true;
        state_ = State::trailer;
        break;
      case State::done:
        out.consumed = i;
        return true;
    }
  }
  out.consumed = i;
  return true;
}

}  // namespace mp::webfilter
