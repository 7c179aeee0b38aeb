// A service's durable state file: SQLite in WAL mode with synchronous=FULL (a committed
// transaction survives kill -9 and power loss), schema migrations by user_version, prepared
// statements, transactions, and the replies of applied mutating requests (for idempotent
// retries). One writer: the service's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace mp::service {

class Database {
 public:
  struct Options {
    std::string program;                      // e.g. "mp-policy", for errors
    std::span<const char* const> migrations;  // entry i takes user_version i to i + 1
    std::vector<const char*> pragmas;         // run after the common ones, before migrating
  };

  // Opens (creating if needed, mode 0600) and migrates the database. Throws std::runtime_error
  // if the file cannot be opened, is not a database, or was written by a newer schema.
  Database(const std::filesystem::path& file, const Options& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // True if the database held state before this process opened it (the restart path).
  bool existed_before() const { return existed_before_; }
  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

  // Runs one or more statements that return no rows; throws std::runtime_error on failure.
  void execute(const char* sql);
  // The rowid of the last successful INSERT on this connection.
  std::int64_t last_insert_rowid();

  // One transaction; rolled back unless commit() is called.
  class Transaction {
   public:
    explicit Transaction(Database& database);  // BEGIN IMMEDIATE: takes the write lock now
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

   private:
    Database& database_;
    bool open_ = true;
  };

 private:
  int user_version();
  void migrate(const Options& options);

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  bool existed_before_ = false;
};

// One prepared statement; binds by 1-based index, reads columns by 0-based index.
class Statement {
 public:
  Statement(Database& database, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::uint64_t value) {
    return bind(index, static_cast<std::int64_t>(value));
  }
  Statement& bind_blob(int index, const std::vector<std::uint8_t>& bytes);
  // For statements run many times in a loop.
  void reset();

  // True while there is a row to read.
  bool step();
  void run() {
    while (step()) {
    }
  }

  std::int64_t int64(int column);
  std::uint64_t uint64(int column) { return static_cast<std::uint64_t>(int64(column)); }
  std::string text(int column);
  std::vector<std::uint8_t> blob(int column);

 private:
  void check(int result);
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

// A mutating request already applied under an idempotency key, and what it answered.
struct AppliedRequest {
  std::string body;                 // body name of the request, e.g. "userAdd"
  std::vector<std::uint8_t> reply;  // mp::bus::body_to_bytes of the reply
};

// The applied_requests table (key, body, reply, applied_at_ns), which the service's migrations
// create.
class AppliedRequests {
 public:
  explicit AppliedRequests(Database& database) : database_(database) {}

  std::optional<AppliedRequest> find(std::string_view key);
  void record(std::string_view key, const AppliedRequest& applied, std::int64_t now_ns);
  // Forgets keys applied before `older_than_ns`, then the oldest beyond `keep_at_most`.
  void prune(std::int64_t older_than_ns, std::size_t keep_at_most);
  std::size_t count();

 private:
  Database& database_;
};

}  // namespace mp::service
