// Paged answers put back together. An authority answers a large state (a snapshot, a station
// list) in pages, each well under the bus's message limit; a reader that wants the whole state
// at once (mpctl's tables, a replica consumer that replaces its state wholesale) joins them here,
// in its own memory, where the bus limit does not apply.
#pragma once

#include <vector>

#include "mp/bus/frame.h"

namespace mp::bus {

// One envelope with the body kind of the pages: every list field of the body holds the items of
// all pages, in page order; every other field (e.g. `nextCursor`, a snapshot's `info`) is the
// last page's. The header is the first page's. Throws std::invalid_argument for no pages or pages
// with different body kinds.
Incoming join_pages(const std::vector<Incoming>& pages);

}  // namespace mp::bus
