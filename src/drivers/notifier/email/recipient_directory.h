// Who to tell about a project's instances. The e-mail notifier asks a RecipientDirectory for the
// users of the project a notification is about; the production one is Keystone
// (keystone_recipient_directory.h), tests use their own.
#pragma once

#include <string>
#include <vector>

#include "freezer/result.h"

namespace fdr::drivers::email {

struct Recipient {
  std::string user_id;
  std::string name;
  std::string email;   // empty when the user has none: the notifier skips and reports them
  bool owner = false;  // owns one of the instances (Nova's server user_id)
};

class RecipientDirectory {
 public:
  virtual ~RecipientDirectory() = default;
  // The users holding a role on `project_id` (directly or through a group) and the users in
  // `owner_user_ids`, each once; disabled or deleted users are left out, and a project that no
  // longer exists has no users. An error when the directory cannot be asked (retryable when
  // asking again later may work).
  [[nodiscard]] virtual Result<std::vector<Recipient>> usersOf(
      const std::string& project_id, const std::vector<std::string>& owner_user_ids) = 0;
};

}  // namespace fdr::drivers::email
