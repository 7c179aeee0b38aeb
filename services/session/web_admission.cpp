#include "web_admission.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

namespace mp::session {

namespace {

// mp-webfilter confirms a user's rules within this (one nft run), or the desktop waits no more.
constexpr std::chrono::milliseconds kWebAdmissionDeadline{5000};

}  // namespace

SystemDesktops::WebAdmission web_filter_admission(mp::bus::Client& client, bool required) {
  return [&client, required, admissions = std::uint64_t{0}](
             const UnixAccount& account, std::function<void(const std::string&)> done) mutable {
    client.request(
        "webfilter",
        [&](mp::schema::Envelope::Builder e) {
          auto admit = e.initWebAdmit();
          admit.setUid(account.uid);
          admit.setUser(account.name);
        },
        // Admitting a uid twice changes nothing: a retry is harmless, and the key lets the bus
        // answer it from the first attempt.
        mp::bus::RequestOptions{.deadline = kWebAdmissionDeadline,
                                .idempotency_key = "web-admit:" + std::to_string(account.uid) +
                                                   ":" + std::to_string(++admissions),
                                .attempts = 2},
        [done, required, user = account.name](mp::bus::Reply reply) {
          if (reply.ok()) return done("");
          if (!required && reply.error_kind() == mp::schema::Error::Kind::UNAVAILABLE) {
            spdlog::warn("{}'s web traffic is not filtered: {}", user, reply.error_text());
            return done("");
          }
          done("the web filter did not take " + user + " in (" + reply.error_text() +
               "); the desktop does not start unfiltered");
        });
  };
}

}  // namespace mp::session
