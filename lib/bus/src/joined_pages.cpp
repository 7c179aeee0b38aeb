#include "mp/bus/joined_pages.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <stdexcept>

namespace mp::bus {

using mp::schema::Envelope;

Incoming join_pages(const std::vector<Incoming>& pages) {
  if (pages.empty()) throw std::invalid_argument("join_pages: no pages");
  auto first = capnp::toDynamic(pages.front().envelope());
  KJ_IF_MAYBE (active, first.which()) {
    capnp::StructSchema::Field body_field = *active;
    if (body_field.getType().which() != capnp::schema::Type::STRUCT) {
      throw std::invalid_argument("join_pages: the body is not a structure");
    }
    std::vector<capnp::DynamicStruct::Reader> bodies;
    for (const auto& page : pages) {
      auto envelope = capnp::toDynamic(page.envelope());
      auto which = envelope.which();
      const capnp::StructSchema::Field* page_field = nullptr;
      KJ_IF_MAYBE (field, which) {
        page_field = field;
      }
      if (page_field == nullptr || *page_field != body_field) {
        throw std::invalid_argument("join_pages: pages of different kinds");
      }
      bodies.push_back(envelope.get(body_field).as<capnp::DynamicStruct>());
    }

    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<Envelope>();
    root.setHeader(pages.front().header());
    auto body = capnp::toDynamic(root).init(body_field).as<capnp::DynamicStruct>();
    const auto& last = bodies.back();
    for (auto field : body_field.getType().asStruct().getFields()) {
      if (field.getType().which() != capnp::schema::Type::LIST) {
        // A union member that is not active in the last page stays unset.
        if (last.has(field)) body.set(field, last.get(field));
        continue;
      }
      unsigned total = 0;
      for (const auto& page_body : bodies) {
        if (page_body.has(field)) total += page_body.get(field).as<capnp::DynamicList>().size();
      }
      auto joined = body.init(field, total).as<capnp::DynamicList>();
      unsigned next = 0;
      for (const auto& page_body : bodies) {
        if (!page_body.has(field)) continue;
        for (auto item : page_body.get(field).as<capnp::DynamicList>()) joined.set(next++, item);
      }
    }
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    // Built here from pages that were each checked: limits sized to the joined message, which
    // may well be larger than one bus message.
    Limits limits;
    limits.max_message_bytes = bytes.size();
    limits.traversal_limit_words = words.size() * 8 + 1024;
    DecodeError error = DecodeError::none;
    auto joined_message = Incoming::decode(bytes.begin(), bytes.size(), limits, &error);
    if (!joined_message) {
      throw std::invalid_argument(std::string("join_pages: ") + to_string(error));
    }
    return std::move(*joined_message);
  }
  throw std::invalid_argument("join_pages: the first page has no body");
}

}  // namespace mp::bus
