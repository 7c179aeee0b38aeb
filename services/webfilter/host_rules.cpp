#include "host_rules.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace mp::webfilter {

namespace {

constexpr std::size_t kMaxHostBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;
constexpr std::size_t kMaxRawHostBytes = 1024;  // before IDNA; keeps idn2's work bounded

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// One part of a WHATWG IPv4 address: decimal, 0x-hex (possibly empty) or 0-octal.
std::optional<std::uint64_t> ipv4_number(std::string_view s) {
  unsigned radix = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    radix = 8;
    s.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : s) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (digit >= radix) return std::nullopt;
    value = value * radix + digit;
    if (value > 0xFFFFFFFFull) value = 0x100000000ull;  // saturate: too big either way
  }
  return value;
}

// WHATWG's "ends in a number": the host is then an IPv4 address or invalid.
bool ends_in_number(std::string_view host) {
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  return ipv4_number(last).has_value();
}

bool parse_ipv4(std::string_view host, std::uint32_t& address) {
  std::uint64_t parts[4];
  std::size_t count = 0;
  while (true) {
    auto dot = host.find('.');
    std::string_view part = host.substr(0, dot);
    if (part.empty() || count == 4) return false;
    auto value = ipv4_number(part);
    if (!value) return false;
    parts[count++] = *value;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (parts[i] > 255) return false;
  }
  std::uint64_t last_limit = 1ull << (8 * (5 - count));
  if (parts[count - 1] >= last_limit) return false;
  std::uint64_t value = parts[count - 1];
  for (std::size_t i = 0; i + 1 < count; ++i) value += parts[i] << (8 * (3 - i));
  address = static_cast<std::uint32_t>(value);
  return true;
}

bool normalize_ipv6(std::string_view inner, Host& out) {
  if (inner.empty() || inner.size() > 64 || inner.find('%') != std::string_view::npos) {
    return false;
  }
  char text[INET6_ADDRSTRLEN];
  std::memcpy(text, inner.data(), std::min(inner.size(), sizeof text - 1));
  text[std::min(inner.size(), sizeof text - 1)] = '\0';
  if (inner.size() >= sizeof text) return false;
  in6_addr address;
  if (inet_pton(AF_INET6, text, &address) != 1) return false;
  if (!inet_ntop(AF_INET6, &address, text, sizeof text)) return false;
  out.text.assign(text);
  out.kind = HostKind::ipv6;
  return true;
}

// Validates a lowercase ASCII name without trailing dot and decides name versus IPv4.
bool finish_name(Host& out) {
  std::string& s = out.text;
  if (s.empty() || s.size() > kMaxHostBytes) return false;
  if (ends_in_number(s)) {
    std::uint32_t address;
    if (!parse_ipv4(s, address)) return false;
    char text[INET_ADDRSTRLEN];
    in_addr in{htonl(address)};
    if (!inet_ntop(AF_INET, &in, text, sizeof text)) return false;
    s.assign(text);
    out.kind = HostKind::ipv4;
    return true;
  }
  std::size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!label_char(c) || ++label > kMaxLabelBytes) return false;
  }
  if (label == 0) return false;
  out.kind = HostKind::name;
  return true;
}

}  // namespace

bool normalize_host(std::string_view raw, Host& out) {
  out.text.clear();
  out.kind = HostKind::name;
  if (raw.empty() || raw.size() > kMaxRawHostBytes) return false;
  if (raw.front() == '[') {
    if (raw.size() < 3 || raw.back() != ']') return false;
    return normalize_ipv6(raw.substr(1, raw.size() - 2), out);
  }
  if (raw.find(':') != std::string_view::npos) return normalize_ipv6(raw, out);

  bool ascii = true;
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      ascii = false;
    } else if (u <= 0x20 || u == 0x7f) {
      return false;
    }
  }
  if (ascii) {
    out.text.resize(raw.size());
    std::transform(raw.begin(), raw.end(), out.text.begin(), lower);
  } else {
    // U-labels: IDNA2008 with UTS#46 mapping (case folding, full-width dots), to A-labels.
    std::string input(raw);
    char* output = nullptr;
    int rc =
        idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input.c_str()),
                       reinterpret_cast<uint8_t**>(&output), IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK || output == nullptr) {
      idn2_free(output);
      return false;
    }
    out.text.assign(output);
    idn2_free(output);
    for (char& c : out.text) c = lower(c);
  }
  if (!out.text.empty() && out.text.back() == '.') out.text.pop_back();
  return finish_name(out);
}

std::optional<Host> normalize_host(std::string_view raw) {
  Host host;
  if (!normalize_host(raw, host)) return std::nullopt;
  return host;
}

std::optional<Authority> split_authority(std::string_view authority) {
  Authority out;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = authority.substr(0, close + 1);
    rest = authority.substr(close + 1);
  } else {
    auto colon = authority.find(':');
    out.host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (out.host.empty()) return std::nullopt;
  if (rest.empty()) return out;
  if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return std::nullopt;
  std::uint32_t port = 0;
  for (char c : rest.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(port);
  out.has_port = true;
  return out;
}

std::optional<Rule> parse_rule(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  Rule rule;
  if (text.size() > 2 && text[0] == '*' && text[1] == '.') {
    rule.wildcard = true;
    text.remove_prefix(2);
  }
  Host host;
  if (!normalize_host(text, host) || (host.is_ip() && rule.wildcard)) return std::nullopt;
  rule.domain = std::move(host.text);
  rule.address = host.is_ip();
  return rule;
}

std::string DomainSet::Match::rule_text() const {
  std::string text = wildcard ? "*." : "";
  text.append(domain);
  return text;
}

void DomainSet::add(const Rule& rule) {
  (rule.address ? addresses_ : rule.wildcard ? wildcard_ : plain_).insert(rule.domain);
}

DomainSet::Match DomainSet::match(const Host& host) const {
  if (host.is_ip()) {
    auto it = addresses_.find(std::string_view(host.text));
    return it == addresses_.end() ? Match{} : Match{*it, false};
  }
  // The host itself, then each parent: the first (most specific) rule found decides.
  std::string_view suffix = host.text;
  while (!suffix.empty()) {
    if (auto it = plain_.find(suffix); it != plain_.end()) return Match{*it, false};
    if (auto it = wildcard_.find(suffix); it != wildcard_.end()) return Match{*it, true};
    auto dot = suffix.find('.');
    if (dot == std::string_view::npos) break;
    suffix.remove_prefix(dot + 1);
  }
  return Match{};
}

std::shared_ptr<const CompiledList> compile_list(const std::vector<std::string>& domains) {
  auto list = std::make_shared<CompiledList>();
  for (const auto& text : domains) {
    if (auto rule = parse_rule(text)) {
      list->set.add(*rule);
    } else {
      list->rejected.push_back(text);
    }
  }
  return list;
}

WebRules WebRules::with_list(WebMode mode, std::shared_ptr<const CompiledList> list,
                             std::string source) {
  WebRules rules;
  rules.mode_ = mode;
  rules.list_ = std::move(list);
  rules.source_ = std::move(source);
  return rules;
}

WebRules WebRules::loading(std::string source) {
  WebRules rules = with_list(WebMode::allow_only, nullptr, std::move(source));
  rules.loading_ = true;
  return rules;
}

const std::vector<std::string>& WebRules::rejected() const {
  static const std::vector<std::string> kNone;
  return list_ ? list_->rejected : kNone;
}

Verdict WebRules::decide(const Host& host) const {
  if (host.kind == HostKind::name) {
    std::string_view name = host.text;
    if (name == kDohCanary || (name.size() > kDohCanary.size() && name.ends_with(kDohCanary) &&
                               name[name.size() - kDohCanary.size() - 1] == '.')) {
      return Verdict{.allowed = false, .reason = Reason::doh_canary};
    }
  }
  if (loading_) return Verdict{.allowed = false, .reason = Reason::list_loading};
  static const DomainSet kEmpty;
  const DomainSet& domains = list_ ? list_->set : kEmpty;
  switch (mode_) {
    case WebMode::off:
      return Verdict{.allowed = true, .reason = Reason::mode_off};
    case WebMode::block_only: {
      auto match = domains.match(host);
      if (match) return Verdict{.allowed = false, .reason = Reason::listed_blocked, .rule = match};
      if (host.is_ip()) return Verdict{.allowed = true, .reason = Reason::ip_allowed};
      return Verdict{.allowed = true, .reason = Reason::not_blocked};
    }
    case WebMode::allow_only: {
      if (host.is_ip()) return Verdict{.allowed = false, .reason = Reason::ip_refused};
      auto match = domains.match(host);
      if (match) return Verdict{.allowed = true, .reason = Reason::listed_allowed, .rule = match};
      return Verdict{.allowed = false, .reason = Reason::not_allowed};
    }
  }
  return Verdict{.allowed = false, .reason = Reason::not_allowed};
}

std::string WebRules::describe(const Verdict& verdict) const {
  std::string source = source_.empty() ? std::string("the web policy") : source_;
  if (auto colon = source.find(':'); colon != std::string::npos) source[colon] = ' ';
  switch (verdict.reason) {
    case Reason::mode_off:
      return "allowed: web filtering is off";
    case Reason::listed_allowed:
      return "allowed by the allow list of " + source + ": " + verdict.rule.rule_text();
    case Reason::not_blocked:
      return "allowed: not on the block list of " + source;
    case Reason::ip_allowed:
      return "allowed: IP address in block-only mode (" + source + ")";
    case Reason::listed_blocked:
      return "blocked by the block list of " + source + ": " + verdict.rule.rule_text();
    case Reason::not_allowed:
      return "blocked: not on the allow list of " + source;
    case Reason::ip_refused:
      return "blocked: IP addresses are not allowed in allow-only mode (" + source + ")";
    case Reason::doh_canary:
      return "blocked: use-application-dns.net is refused so browsers keep DNS-over-HTTPS off";
    case Reason::list_loading:
      return "blocked for a moment: the web list of " + source +
             " is still being loaded; try again in a few seconds";
  }
  return "blocked";
}

}  // namespace mp::webfilter
