#include "parser_fuzz.h"

#include <string>
#include <string_view>

#include "host_rules.h"
#include "http_parser.h"
#include "tls_sni.h"

namespace mp::webfilter::test {

void fuzz_one(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const HttpLimits limits;

  // Request heads, fed in two pieces as the network might.
  HeadScanner scanner(limits, true);
  scanner.scan(in.substr(0, size / 2));
  if (scanner.scan(in) == HeadScanner::State::complete) {
    RequestHead request;
    if (!parse_request_head(in.substr(scanner.begin(), scanner.end() - scanner.begin()), request)) {
      if (auto uri = parse_absolute_uri(request.target)) {
        if (auto authority = split_authority(uri->authority)) normalize_host(authority->host);
      }
      if (auto authority = split_authority(request.host)) normalize_host(authority->host);
    }
  }
  HeadScanner responses(limits, false);
  if (responses.scan(in) == HeadScanner::State::complete) {
    ResponseHead response;
    parse_response_head(in.substr(responses.begin(), responses.end() - responses.begin()),
                        response);
  }

  ChunkedDecoder chunks;
  std::string_view rest = in;
  ChunkedDecoder::Step step;
  while (!rest.empty() && !chunks.done() && chunks.step(rest, step) && step.consumed > 0) {
    if (step.data_begin + step.data_size > step.consumed) __builtin_trap();
    rest.remove_prefix(step.consumed);
  }

  std::string name;
  parse_client_hello(in, name);

  Host host;
  normalize_host(in, host);
  if (auto rule = parse_rule(in)) {
    DomainSet set;
    set.add(*rule);
    if (normalize_host(in, host)) set.match(host);
  }
}

}  // namespace mp::webfilter::test
