#include "store/sqlite/sqlite_db.h"

#include <climits>
#include <utility>

#include <sqlite3.h>

namespace fdr::sqlite {
namespace {

int sqlLength(std::string_view sql) {
  return sql.size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(sql.size());
}

}  // namespace

Error errorFromCode(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error{ErrorCode::kUnavailable, std::move(message), /*retryable=*/true};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT: return Error{ErrorCode::kCorruption, std::move(message)};
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return Error{ErrorCode::kPermissionDenied, std::move(message)};
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL: return Error{ErrorCode::kUnavailable, std::move(message)};
    case SQLITE_CONSTRAINT: return Error{ErrorCode::kConflict, std::move(message)};
    default: return Error{ErrorCode::kInternal, std::move(message)};
  }
}

// --- Statement ---

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies the bytes, so the caller's string may go away.
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  if (value) return bind(index, *value);
  return bindNull(index);
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(errorFromCode(rc, std::string(sqlite3_errmsg(db_))));
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::int64At(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::textAt(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::optional<int64_t> Statement::optionalInt64At(int column) const {
  if (isNull(column)) return std::nullopt;
  return int64At(column);
}

std::string_view Statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text == nullptr ? std::string_view() : std::string_view(text);
}

// --- Database ---

Result<Database> Database::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return std::unexpected(errorFromCode(rc, std::move(message)));
  }
  sqlite3_extended_result_codes(db, 1);
  return Database(db);
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

// Every Statement must be finalized first; sqlite3_close_v2 defers the close until they are.
Database::~Database() {
  sqlite3_close_v2(db_);
}

Status Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string what = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return std::unexpected(errorFromCode(rc, std::move(what)));
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), sqlLength(sql), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return std::unexpected(errorFromCode(rc, sqlite3_errmsg(db_)));
  }
  return Statement(db_, stmt);
}

Result<int64_t> Database::queryInt(std::string_view sql) {
  auto statement = prepare(sql);
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step();
  if (!row) return std::unexpected(row.error());
  if (!*row)
    return std::unexpected(Error{ErrorCode::kInternal, "no row from: " + std::string(sql)});
  return statement->int64At(0);
}

Result<std::string> Database::queryText(std::string_view sql) {
  auto statement = prepare(sql);
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step();
  if (!row) return std::unexpected(row.error());
  if (!*row)
    return std::unexpected(Error{ErrorCode::kInternal, "no row from: " + std::string(sql)});
  return statement->textAt(0);
}

int64_t Database::lastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

std::string Database::lastError() const {
  return sqlite3_errmsg(db_);
}

// --- Transaction ---

Result<Transaction> Transaction::begin(Database& db) {
  if (auto s = db.exec("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Database* db = std::exchange(db_, nullptr);
  if (db == nullptr) return fail(ErrorCode::kInternal, "transaction already finished");
  if (auto s = db->exec("COMMIT"); !s) {
    // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open: roll it back so the
    // connection is usable again and nothing half-done stays pending.
    (void)db->exec("ROLLBACK");
    return s;
  }
  return {};
}

}  // namespace fdr::sqlite
