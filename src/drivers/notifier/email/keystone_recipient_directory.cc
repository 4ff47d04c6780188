#include "drivers/notifier/email/keystone_recipient_directory.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace fdr::drivers::email {

Result<std::vector<Recipient>> KeystoneRecipientDirectory::usersOf(
    const std::string& project_id, const std::vector<std::string>& owner_user_ids) {
  const std::string first_owner = owner_user_ids.empty() ? std::string() : owner_user_ids.front();
  auto found = keystone_.projectRecipients(project_id, first_owner);
  std::vector<Recipient> out;
  size_t owners_done = 1;  // projectRecipients() took the first owner
  if (found) {
    out.reserve(found->size());
    for (const keystone::Recipient& r : *found) {
      out.push_back(Recipient{r.user_id, r.name, r.email, r.owner});
    }
  } else if (found.error().code == ErrorCode::kNotFound) {
    // The project was deleted since (Keystone answers 404): nobody holds a role on it; its
    // instances' owners may still be there.
    spdlog::info("email notifier: project {} no longer exists: {}", project_id,
                 found.error().message);
    owners_done = 0;
  } else {
    return withContext(found.error(), "users of project " + project_id);
  }
  // The other owners, one by one.
  for (size_t i = owners_done; i < owner_user_ids.size(); ++i) {
    const std::string& id = owner_user_ids[i];
    auto known =
        std::find_if(out.begin(), out.end(), [&](const Recipient& r) { return r.user_id == id; });
    if (known != out.end()) {
      known->owner = true;
      continue;
    }
    auto user = keystone_.user(id);
    if (!user) {
      if (user.error().code == ErrorCode::kNotFound) {
        spdlog::info("email notifier: owner {} of instances in project {} no longer exists", id,
                     project_id);
        continue;
      }
      return withContext(user.error(), "owner " + id + " of project " + project_id);
    }
    if (user->enabled) out.push_back(Recipient{user->id, user->name, user->email, true});
  }
  return out;
}

}  // namespace fdr::drivers::email
