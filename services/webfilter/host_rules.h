// Web rules: hosts normalised by lib/hostname (the normaliser mp-policy uses for its lists:
// lowercase, no trailing dot, IDNA A-labels, IP literals in canonical form) and matched by whole
// labels through hash sets, one lookup per label suffix. Pure: no I/O, fuzzable.
//
// Rule meaning (as mp-policy documents its lists): "example.com" and "*.example.com" both match
// example.com and every name below it (www.example.com, a.b.example.com); the "*." form is kept
// only to name the rule as it was written. "notexample.com" matches neither. IP addresses may be
// listed too (block lists): they match the same address in any spelling, and nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "mp/hostname/host_name.h"

namespace mp::webfilter {

using mp::hostname::Host;
using mp::hostname::HostKind;
using mp::hostname::normalize_host;

struct Authority {
  std::string_view host;  // as written (an IPv6 literal keeps its brackets)
  std::uint16_t port = 0;
  bool has_port = false;
};
// Splits "host", "host:port", "[v6]" or "[v6]:port". Port 0, a port above 65535 or an empty
// port after ':' are invalid.
std::optional<Authority> split_authority(std::string_view authority);

struct Rule {
  std::string domain;     // normalised (an IP address in canonical form when `address`)
  bool wildcard = false;  // written "*.domain"
  bool address = false;   // an IPv4 or IPv6 address
  std::string text() const { return wildcard ? "*." + domain : domain; }
};
// Reads one list entry: "example.com", "*.example.com", any case, trailing dot, U-labels; or an
// IP address ("192.0.2.1", "[2001:db8::1]").
std::optional<Rule> parse_rule(std::string_view text);

// A set of rules, matched in O(labels of the host) hash lookups without allocating.
class DomainSet {
 public:
  void add(const Rule& rule);
  bool empty() const { return size() == 0; }
  std::size_t size() const { return plain_.size() + wildcard_.size() + addresses_.size(); }

  struct Match {
    std::string_view domain;  // the matching rule's domain; empty: no match
    bool wildcard = false;
    explicit operator bool() const { return !domain.empty(); }
    std::string rule_text() const;
  };
  // `host` must be normalised: a name is matched by label suffixes, an address exactly.
  Match match(const Host& host) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;
  Set plain_;     // written "example.com"
  Set wildcard_;  // written "*.example.com"
  Set addresses_;
};

enum class WebMode { off, allow_only, block_only };

// Why a request was allowed or refused; the text for people comes from describe().
enum class Reason {
  mode_off,        // allowed: no web filtering
  listed_allowed,  // allowed: on the allow list
  not_blocked,     // allowed: not on the block list
  ip_allowed,      // allowed: IP literal, block-only mode
  listed_blocked,  // refused: on the block list
  not_allowed,     // refused: not on the allow list
  ip_refused,      // refused: IP literal in allow-only mode
  doh_canary,      // refused: Firefox's DoH canary domain
  list_loading,    // refused: the station's list is still being fetched from mp-policy
};

struct Verdict {
  bool allowed = false;
  Reason reason = Reason::mode_off;
  DomainSet::Match rule;  // the rule that decided, if one did
};

// A domain list compiled once and shared by every station whose policy names it.
struct CompiledList {
  DomainSet set;
  std::vector<std::string> rejected;  // entries parse_rule refused
};
std::shared_ptr<const CompiledList> compile_list(const std::vector<std::string>& domains);

// The web policy of one station as the proxy applies it.
class WebRules {
 public:
  WebRules() = default;
  WebRules(WebMode mode, const std::vector<std::string>& domains, std::string source)
      : WebRules(with_list(mode, compile_list(domains), std::move(source))) {}
  static WebRules with_list(WebMode mode, std::shared_ptr<const CompiledList> list,
                            std::string source);
  // Refuses everything (but says why) until the station's list has arrived: fail closed.
  static WebRules loading(std::string source);

  Verdict decide(const Host& host) const;
  // "blocked by the block list of group:lab-a: *.example.com"
  std::string describe(const Verdict& verdict) const;

  WebMode mode() const { return mode_; }
  const std::string& source() const { return source_; }
  std::size_t size() const { return list_ ? list_->set.size() : 0; }
  // Entries that parse_rule refused (logged by the caller).
  const std::vector<std::string>& rejected() const;

 private:
  WebMode mode_ = WebMode::off;
  std::shared_ptr<const CompiledList> list_;  // null: empty
  std::string source_;
  bool loading_ = false;
};

inline constexpr std::string_view kDohCanary = "use-application-dns.net";

}  // namespace mp::webfilter
