#include "login_sessions.h"

#include <algorithm>

#include "random_token.h"

namespace mp::dashboard {

namespace {
constexpr std::size_t kTokenBytes = 32;  // 256 bits
}  // namespace

LoginSession LoginSessions::create(std::string user, std::string role, std::string client_address,
                                   Clock::time_point now, std::int64_t logged_in_at_ns) {
  LoginSession session{.id = random_hex(kTokenBytes),
                       .csrf_token = random_hex(kTokenBytes),
                       .user = std::move(user),
                       .role = std::move(role),
                       .client_address = std::move(client_address),
                       .logged_in_at_ns = logged_in_at_ns,
                       .created = now,
                       .last_used = now};
  std::lock_guard lock(mutex_);
  make_room(now);
  sessions_.emplace(session.id, session);
  return session;
}

std::optional<LoginSession> LoginSessions::use(std::string_view id, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

bool LoginSessions::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  return sessions_.erase(std::string(id)) > 0;
}

std::vector<std::pair<LoginSession, std::string>> LoginSessions::remove_if(
    const std::function<std::string(const LoginSession&)>& condemned) {
  std::vector<std::pair<LoginSession, std::string>> removed;
  std::lock_guard lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    std::string why = condemned(it->second);
    if (why.empty()) {
      ++it;
      continue;
    }
    removed.emplace_back(std::move(it->second), std::move(why));
    it = sessions_.erase(it);
  }
  return removed;
}

std::size_t LoginSessions::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool LoginSessions::expired(const LoginSession& session, Clock::time_point now) const {
  return now - session.last_used >= options_.idle_timeout ||
         now - session.created >= options_.lifetime;
}

void LoginSessions::make_room(Clock::time_point now) {
  if (sessions_.size() < options_.max_sessions) return;
  std::erase_if(sessions_, [&](const auto& entry) { return expired(entry.second, now); });
  while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) {
    auto oldest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    sessions_.erase(oldest);
  }
}

}  // namespace mp::dashboard
