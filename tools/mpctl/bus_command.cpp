#include "bus_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>

#include "mp/service/validation.h"
#include "tables.h"

namespace mp::mpctl {

using mp::schema::Envelope;
using mp::schema::Error;

int exit_code_for(const mp::bus::Reply& reply) {
  if (!reply.message) return exit_code::unreachable;  // nothing came back in time
  if (reply.message->is_error()) {
    return reply.error_kind() == Error::Kind::UNAVAILABLE ? exit_code::unreachable
                                                          : exit_code::refused;
  }
  return exit_code::refused;  // an answer, but not the one asked for
}

BusCommand::BusCommand(MpctlOptions options)
    : options_(std::move(options)),
      endpoints_(mp::bus::Endpoints::in_directory(options_.runtime_dir)),
      context_(1) {}

BusCommand::~BusCommand() = default;

std::optional<int> BusCommand::unreachable() const {
  const std::string path = endpoints_.requests.substr(std::string_view("ipc://").size());
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    int error = errno;
    std::cerr << "mpctl: cannot reach the multipoint bus at " << path << ": "
              << (error == ENOENT ? "no such socket (is multipoint running? try ./mp up)"
                                  : std::strerror(error))
              << "\n";
    return exit_code::unreachable;
  }
  if (!S_ISSOCK(st.st_mode)) {
    std::cerr << "mpctl: cannot reach the multipoint bus at " << path << ": not a socket\n";
    return exit_code::unreachable;
  }
  return std::nullopt;
}

mp::bus::Client& BusCommand::client() {
  if (!client_) {
    client_ = std::make_unique<mp::bus::Client>(
        context_, reactor_, endpoints_,
        mp::bus::ClientOptions{.service = "mpctl", .operator_name = options_.operator_name});
  }
  return *client_;
}

mp::bus::Reply BusCommand::ask(std::string_view service, const mp::bus::Build& body,
                               bool mutating) {
  return ask_with_key(service, body, mutating ? random_key() : std::string());
}

mp::bus::Reply BusCommand::ask_with_key(std::string_view service, const mp::bus::Build& body,
                                        const std::string& idempotency_key) {
  mp::bus::RequestOptions request{.deadline = options_.timeout};
  if (!idempotency_key.empty()) {
    request.idempotency_key = idempotency_key;
    request.attempts = 3;  // a retry is safe: the service applies the key once
  }
  return client().call(service, body, request);
}

int BusCommand::failure(const mp::bus::Reply& reply, std::string_view asked) const {
  if (!reply.message) {
    if (reply.local_error == Error::Kind::UNAVAILABLE) {
      std::cerr << "mpctl: the bus did not answer within " << options_.timeout.count() << " ms\n";
    } else {
      std::cerr << "mpctl: " << reply.local_error_text << "\n";
    }
  } else if (reply.message->is_error()) {
    auto source = reply.envelope().getHeader().getSource();
    // The broker answers for a service that is not there; name the service asked then.
    std::string_view who = source.size() > 0 && source != "bus"
                               ? std::string_view(source.begin(), source.size())
                               : asked;
    std::cerr << "mpctl: " << who << ": " << error_kind_name(reply.error_kind()) << ": "
              << reply.error_text() << "\n";
  } else {
    std::cerr << "mpctl: " << asked << " answered with an unexpected "
              << mp::bus::body_name(reply.envelope()) << "\n";
  }
  return exit_code_for(reply);
}

void BusCommand::audit(const std::string& action, const std::string& detail,
                       const std::vector<std::string>& stations) {
  // Short: without mp-policy the bus answers `unavailable` at once, and nothing is retried.
  auto reply = client().call(
      "policy",
      [&](Envelope::Builder e) {
        auto body = e.initAuditRecord();
        body.setAction(action);
        body.setDetail(mp::service::utf8_prefix(detail, 1000));
        auto list = body.initStations(static_cast<unsigned>(stations.size()));
        for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
      },
      mp::bus::RequestOptions{
          .deadline = std::min(options_.timeout, std::chrono::milliseconds(2000)),
          .idempotency_key = random_key()});
  if (!reply.ok()) {
    std::cerr << "mpctl: warning: not in the audit log: " << reply.error_text() << "\n";
  }
}

std::string random_key() {
  std::random_device random;
  std::string key;
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    std::uint32_t word = random();
    for (int j = 0; j < 8; ++j) {
      key.push_back(digits[word & 0xf]);
      word >>= 4;
    }
  }
  return key;
}

}  // namespace mp::mpctl
