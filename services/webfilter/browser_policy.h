// What the web filter asks of the machine's browsers. In allow-only mode the proxy refuses TLS
// ClientHellos that carry Encrypted Client Hello (a hidden name behind an allowed one), and
// Chromium sends a placeholder ("GREASE") ECH extension in every ClientHello unless its policy
// turns ECH off: without this file, allow-only mode would refuse Chromium everywhere. DNS over
// HTTPS goes off too (it is one more way around the proxy's view of names).
#pragma once

#include <filesystem>
#include <string>

namespace mp::webfilter {

inline constexpr const char* kChromiumPolicyDir = "/etc/chromium/policies/managed";
inline constexpr const char* kChromiumPolicyFile = "multipoint-webfilter.json";

// Writes the managed policy file into `dir` (created if missing; the file 0644, replaced
// atomically). An error text, or empty.
std::string write_chromium_policy(const std::filesystem::path& dir);

}  // namespace mp::webfilter
