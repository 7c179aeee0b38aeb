// "Web filter first": before a desktop's first process starts (as root), SystemDesktops hands
// its user to mp-webfilter (`webAdmit`) and waits for the Ack, i.e. for the uid's nftables rules
// to be in the kernel — so no autostart program gets a first second of unfiltered network.
#pragma once

#include "mp/bus/client.h"
#include "system_desktops.h"

namespace mp::session {

// `required`: no Ack, no desktop. Otherwise a missing mp-webfilter (`unavailable`) lets the
// desktop go on, with a warning; any other refusal still stops it.
SystemDesktops::WebAdmission web_filter_admission(mp::bus::Client& client, bool required);

}  // namespace mp::session
