#include "privacy_notice.h"

#include <spdlog/spdlog.h>

namespace mp::session {

PrivacyNotice::PrivacyNotice(SessionStore& store, Desktops& desktops, std::string text)
    : store_(store), desktops_(desktops), text_(std::move(text)) {}

std::string PrivacyNotice::for_user(const std::string& user) const {
  if (text_.empty() || store_.notice_acknowledged(user)) return "";
  return text_;
}

void PrivacyNotice::acknowledged(std::uint64_t session_id) {
  auto record = store_.session(session_id);
  if (!record || !store_.user(record->user)) return;
  {
    SessionStore::Transaction transaction(store_);
    store_.set_notice_acknowledged(record->user);
    transaction.commit();
  }
  spdlog::info("{} acknowledged the privacy notice", record->user);
  for (const auto& open : store_.open_sessions_of_user(record->user)) {
    desktops_.set_privacy_notice(open.id, "");
  }
}

}  // namespace mp::session
