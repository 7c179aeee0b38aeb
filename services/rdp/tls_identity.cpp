#include "tls_identity.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace mp::rdp {

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;

// Opened with the final mode from the start: the key is never readable by others, not even
// for an instant.
File create_file(const std::filesystem::path& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  ::fchmod(fd, mode);  // O_CREAT's mode does not apply to an existing file
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    throw std::runtime_error("fdopen " + path.string());
  }
  return File(f);
}

bool loads(const TlsIdentity& id) {
  File key_file(std::fopen(id.private_key.c_str(), "r"));
  File cert_file(std::fopen(id.certificate.c_str(), "r"));
  if (!key_file || !cert_file) return false;
  Key key(PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  Certificate cert(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr), X509_free);
  return key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
}

void generate(const TlsIdentity& id, const std::string& common_name) {
  Key key(EVP_RSA_gen(2048), EVP_PKEY_free);
  if (!key) throw std::runtime_error("RSA key generation failed");
  Certificate cert(X509_new(), X509_free);
  if (!cert) throw std::runtime_error("X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  FILE* random = std::fopen("/dev/urandom", "rb");
  if (random == nullptr || std::fread(serial, 1, sizeof(serial), random) != sizeof(serial)) {
    if (random) std::fclose(random);
    throw std::runtime_error("no random serial number");
  }
  std::fclose(random);
  serial[0] &= 0x7f;  // a positive serial number
  BIGNUM* serial_bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert.get()));
  BN_free(serial_bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("multipoint"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("certificate signing failed");
  }
  // Key first, then certificate: a crash in between leaves a pair that fails to load and is
  // generated again, never a certificate for a lost key.
  {
    File out = create_file(id.private_key, 0600);
    if (PEM_write_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      throw std::runtime_error("cannot write " + id.private_key.string());
    }
  }
  {
    File out = create_file(id.certificate, 0644);
    if (PEM_write_X509(out.get(), cert.get()) != 1) {
      throw std::runtime_error("cannot write " + id.certificate.string());
    }
  }
}

}  // namespace

TlsIdentity ensure_tls_identity(const std::filesystem::path& dir, const std::string& common_name) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw std::runtime_error("cannot create " + dir.string() + ": " + error.message());
  ::chmod(dir.c_str(), 0700);
  TlsIdentity id{dir / "server.crt", dir / "server.key"};
  if (loads(id)) {
    ::chmod(id.private_key.c_str(), 0600);  // repair a loosened mode
    spdlog::info("TLS certificate {} (kept)", id.certificate.string());
    return id;
  }
  generate(id, common_name);
  if (!loads(id)) throw std::runtime_error("generated TLS identity does not load");
  spdlog::info("TLS certificate {} (generated)", id.certificate.string());
  return id;
}

}  // namespace mp::rdp
