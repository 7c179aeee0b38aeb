// The page's files (services/dashboard/web/), compiled into the binary by embed_assets.cmake so
// the dashboard works offline and from any directory: no CDN, no files to install beside it.
#pragma once

#include <span>
#include <string_view>

namespace mp::dashboard {

struct WebAsset {
  std::string_view name;  // file name in web/, e.g. "app.js"
  std::string_view content;
};

std::span<const WebAsset> web_assets();
// nullptr if there is no such file.
const WebAsset* find_web_asset(std::string_view name);
// By the name's extension; "application/octet-stream" for anything unknown.
std::string_view content_type_of(std::string_view name);

}  // namespace mp::dashboard
