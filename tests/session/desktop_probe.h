// Looking at real desktops from a test: which processes run on a display (their environment
// names it), who they run as, whether the X server lets a client in.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mp::session::test {

// Live processes whose environment has DISPLAY=`display`.
std::set<pid_t> processes_on_display(const std::string& display);
// The first live process whose command line's first word ends with `program` and that has
// `argument` among its words (empty: any); 0 if none.
pid_t find_process(const std::string& program, const std::string& argument);
// The process on `display` (see processes_on_display) running `program`; 0 if none.
pid_t program_on_display(const std::string& display, const std::string& program);
std::optional<uid_t> uid_of(pid_t pid);
bool alive(pid_t pid);
// xdpyinfo against `display` with this Xauthority file: true if the server let it in.
bool display_accepts(const std::string& display, const std::string& xauthority);
// True if a window named `name` is mapped and viewable on `display` (xwininfo).
bool window_viewable(const std::string& display, const std::string& xauthority,
                     const std::string& name);

// A Linux user name unique to this test process, e.g. "mpt1234a".
std::string unique_user(char suffix);
// Removes a Linux account (and its home) that a test made mp-session create.
void delete_linux_account(const std::string& name);

}  // namespace mp::session::test
