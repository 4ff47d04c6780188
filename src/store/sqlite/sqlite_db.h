// A small RAII layer over the sqlite3 C API: a connection, prepared statements and a
// transaction guard, all reporting errors as values. Not thread-safe: the owner serialises use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "freezer/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fdr::sqlite {

// Maps an SQLite result code to an Error: busy/locked are kUnavailable and retryable, a damaged
// or foreign file is kCorruption, a refused open or write is kPermissionDenied.
Error errorFromCode(int rc, std::string message);

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. Binding never fails for a well-formed statement and
  // index; a failure is reported by the next step().
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::optional<int64_t>& value);
  Statement& bindNull(int index);

  // Runs to the next row: true if a row is available, false when done.
  [[nodiscard]] Result<bool> step();
  // Runs a statement that returns no rows (or whose rows are ignored) to completion.
  [[nodiscard]] Status run();
  // Makes the statement ready for a new use: resets it and clears its bindings. A statement left
  // stepped keeps a read transaction open, so every use starts and ends with a reset (see Use).
  void reset();

  // Columns are 0-based, as in SQLite.
  [[nodiscard]] bool isNull(int column) const;
  [[nodiscard]] int64_t int64At(int column) const;
  [[nodiscard]] std::string textAt(int column) const;
  [[nodiscard]] std::optional<int64_t> optionalInt64At(int column) const;

  [[nodiscard]] std::string_view sql() const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a reused statement when the scope of one use ends, whatever the outcome.
class Use {
 public:
  explicit Use(Statement& statement) : statement_(statement) { statement_.reset(); }
  ~Use() { statement_.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement* operator->() { return &statement_; }
  Statement& operator*() { return statement_; }

 private:
  Statement& statement_;
};

class Database {
 public:
  // Opens (creating if missing) the database file at `path`, read-write. Note that SQLite reads
  // the file lazily: a file that is not a database is only reported by the first statement.
  [[nodiscard]] static Result<Database> open(const std::string& path);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements that take no parameters (DDL, pragmas that return nothing).
  [[nodiscard]] Status exec(std::string_view sql);
  // Runs a statement returning a single integer (e.g. "PRAGMA user_version").
  [[nodiscard]] Result<int64_t> queryInt(std::string_view sql);
  // Runs a statement returning a single text value (e.g. "PRAGMA journal_mode=WAL").
  [[nodiscard]] Result<std::string> queryText(std::string_view sql);
  // Prepares a statement meant to be kept and reused for the life of the connection.
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);

  [[nodiscard]] int64_t lastInsertRowid() const;
  [[nodiscard]] int64_t changes() const;
  // The connection's latest error message, for context.
  [[nodiscard]] std::string lastError() const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction (through begin()), ROLLBACK on destruction unless committed.
class Transaction {
 public:
  [[nodiscard]] static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] Status commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_ = nullptr;  // null once committed, rolled back or moved from
};

}  // namespace fdr::sqlite
