#include "mp/service/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <stdexcept>

namespace mp::service {

namespace {

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

// Database ---------------------------------------------------------------------------------

Database::Database(const std::filesystem::path& file, const Options& options) : file_(file) {
  // Private from the start: the file may hold secrets (password hashes), and SQLite gives its
  // -wal and -shm files the database's mode.
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string());
  ::close(fd);

  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + file.string() + ": " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    {
      Statement wal(*this, "PRAGMA journal_mode = WAL");
      if (!wal.step() || wal.text(0) != "wal") {
        throw std::runtime_error("cannot switch " + file.string() + " to WAL mode");
      }
    }
    // FULL: every commit is fsynced, so a committed change survives a crash of any kind.
    execute("PRAGMA synchronous = FULL");
    execute("PRAGMA foreign_keys = ON");
    for (const char* pragma : options.pragmas) execute(pragma);
    existed_before_ = user_version() > 0;
    migrate(options);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

Database::~Database() { sqlite3_close(db_); }

void Database::execute(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(std::string("SQLite: ") + message);
  }
}

std::int64_t Database::last_insert_rowid() { return sqlite3_last_insert_rowid(db_); }

int Database::user_version() {
  Statement s(*this, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

void Database::migrate(const Options& options) {
  const auto& migrations = options.migrations;
  int version = user_version();
  if (version > static_cast<int>(migrations.size())) {
    throw std::runtime_error(file_.string() + " has schema version " + std::to_string(version) +
                             ", newer than this " + options.program + " knows (" +
                             std::to_string(migrations.size()) + ")");
  }
  for (auto step = static_cast<std::size_t>(version); step < migrations.size(); ++step) {
    Transaction transaction(*this);
    execute(migrations[step]);
    execute(("PRAGMA user_version = " + std::to_string(step + 1)).c_str());
    transaction.commit();
  }
}

Database::Transaction::Transaction(Database& database) : database_(database) {
  database_.execute("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction() {
  if (!open_) return;
  try {
    database_.execute("ROLLBACK");
  } catch (const std::exception&) {
    // A failed COMMIT may already have rolled back; nothing else to undo.
  }
}

void Database::Transaction::commit() {
  database_.execute("COMMIT");
  open_ = false;
}

// Statement --------------------------------------------------------------------------------

Statement::Statement(Database& database, std::string_view sql) : db_(database.handle()) {
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr) !=
      SQLITE_OK) {
    fail(db_, "cannot prepare '" + std::string(sql) + "'");
  }
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement& Statement::bind(int index, std::string_view text) {
  check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(statement_, index, value));
  return *this;
}

Statement& Statement::bind_blob(int index, const std::vector<std::uint8_t>& bytes) {
  check(sqlite3_bind_blob(statement_, index, bytes.data(), static_cast<int>(bytes.size()),
                          SQLITE_TRANSIENT));
  return *this;
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

bool Statement::step() {
  int result = sqlite3_step(statement_);
  if (result == SQLITE_ROW) return true;
  if (result == SQLITE_DONE) return false;
  fail(db_, "statement failed");
}

std::int64_t Statement::int64(int column) { return sqlite3_column_int64(statement_, column); }

std::string Statement::text(int column) {
  auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  int size = sqlite3_column_bytes(statement_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::vector<std::uint8_t> Statement::blob(int column) {
  auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, column));
  int size = sqlite3_column_bytes(statement_, column);
  return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

void Statement::check(int result) {
  if (result != SQLITE_OK) fail(db_, "cannot bind a parameter");
}

// Applied requests -------------------------------------------------------------------------

std::optional<AppliedRequest> AppliedRequests::find(std::string_view key) {
  Statement s(database_, "SELECT body, reply FROM applied_requests WHERE key = ?1");
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return AppliedRequest{.body = s.text(0), .reply = s.blob(1)};
}

void AppliedRequests::record(std::string_view key, const AppliedRequest& applied,
                             std::int64_t now_ns) {
  Statement(database_,
            "INSERT OR REPLACE INTO applied_requests (key, body, reply, applied_at_ns) "
            "VALUES (?1, ?2, ?3, ?4)")
      .bind(1, key)
      .bind(2, applied.body)
      .bind_blob(3, applied.reply)
      .bind(4, now_ns)
      .run();
}

void AppliedRequests::prune(std::int64_t older_than_ns, std::size_t keep_at_most) {
  Statement(database_, "DELETE FROM applied_requests WHERE applied_at_ns < ?1")
      .bind(1, older_than_ns)
      .run();
  Statement(database_,
            "DELETE FROM applied_requests WHERE key IN (SELECT key FROM applied_requests "
            "ORDER BY applied_at_ns DESC, rowid DESC LIMIT -1 OFFSET ?1)")
      .bind(1, static_cast<std::int64_t>(keep_at_most))
      .run();
}

std::size_t AppliedRequests::count() {
  Statement s(database_, "SELECT COUNT(*) FROM applied_requests");
  return s.step() ? static_cast<std::size_t>(s.int64(0)) : 0;
}

}  // namespace mp::service
