// The proxy's own answers: the block page (403, naming the host and the rule that refused it)
// and the other error pages (400, 408, 502, 503, 504, ...), as whole HTTP/1.1 responses.
#pragma once

#include <string>
#include <string_view>

namespace mp::webfilter {

// "Forbidden", "Bad Gateway", ...; "Error" for a status it does not know.
const char* status_text(int status);

struct ErrorPage {
  int status = 0;
  std::string_view host;     // named on a 403 page (empty: not named)
  std::string_view message;  // why, for people: the rule, the failure
  bool close = false;        // adds "Connection: close"
  bool head_only = false;    // an answer to HEAD: the head without the body
};

// Writes the whole response into `out` (replacing what it held). Text is HTML-escaped.
void write_error_page(const ErrorPage& page, std::string& out);

}  // namespace mp::webfilter
