// Operator actions that mp-policy does not carry out itself — instant messages, log offs, take
// control, account and station changes — go into its audit log too (auditRecord), once they
// succeeded, so that "who did what, when, to which stations" is one list for the Manager and for
// `mpctl audit`. Fire and forget, on the bus thread: the action has happened either way, and a
// record that cannot be written is logged here.
#pragma once

#include <string>
#include <vector>

#include "mp/bus/client.h"

namespace mp::dashboard {

struct AuditNote {
  std::string action;  // e.g. "message", "log off", "user add"; empty: nothing to record
  std::string detail;
  std::vector<std::string> stations;
};

void record_audit(mp::bus::Client& client, const std::string& operator_name, AuditNote note);

}  // namespace mp::dashboard
