// The TLS certificate and key mp-rdp presents. Self-signed, generated on first start and kept,
// so clients that pinned it (xfreerdp's known_hosts) keep trusting it across restarts.
#pragma once

#include <filesystem>
#include <string>

namespace mp::rdp {

struct TlsIdentity {
  std::filesystem::path certificate;  // PEM
  std::filesystem::path private_key;  // PEM, mode 0600
};

// Uses DIR/server.crt and DIR/server.key when both exist and load; otherwise generates an RSA
// 2048 key and a 10-year self-signed certificate for `common_name`. DIR is created mode 0700.
// Throws std::runtime_error when neither works.
TlsIdentity ensure_tls_identity(const std::filesystem::path& dir, const std::string& common_name);

}  // namespace mp::rdp
