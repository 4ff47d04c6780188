// RecipientDirectory over Keystone v3: role assignments of the project (effective, so groups
// are expanded) and GET /v3/users/{id} for each user's e-mail, through the shared
// KeystoneClient (src/clients/keystone). The admin credentials of [keystone_authtoken] must be
// allowed to list role assignments and read users (the "admin" role, or a reader role with
// identity:list_role_assignments and identity:get_user).
#pragma once

#include "clients/keystone/keystone_client.h"
#include "drivers/notifier/email/recipient_directory.h"

namespace fdr::drivers::email {

class KeystoneRecipientDirectory final : public RecipientDirectory {
 public:
  // `keystone` must outlive this object.
  explicit KeystoneRecipientDirectory(keystone::KeystoneClient& keystone) : keystone_(keystone) {}

  [[nodiscard]] Result<std::vector<Recipient>> usersOf(
      const std::string& project_id, const std::vector<std::string>& owner_user_ids) override;

 private:
  keystone::KeystoneClient& keystone_;
};

}  // namespace fdr::drivers::email
