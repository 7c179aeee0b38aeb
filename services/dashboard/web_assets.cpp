#include "web_assets.h"

namespace mp::dashboard {

const WebAsset* find_web_asset(std::string_view name) {
  for (const auto& asset : web_assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

std::string_view content_type_of(std::string_view name) {
  auto ends_with = [&](std::string_view suffix) { return name.ends_with(suffix); };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

}  // namespace mp::dashboard
