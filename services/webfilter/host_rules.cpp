#include "host_rules.h"

#include <algorithm>

namespace mp::webfilter {

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
