#include "mp/bus/tap.h"

#include <capnp/compat/json.h>
#include <capnp/serialize-text.h>
#include <kj/exception.h>

#include "socket_options.h"

namespace mp::bus {

TapSubscriber::TapSubscriber(zmq::context_t& context, Reactor& reactor, const Endpoints& endpoints,
                             const std::string& topic_prefix, Limits limits, Handler handler)
    : reactor_(reactor),
      limits_(limits),
      handler_(std::move(handler)),
      socket_(context, zmq::socket_type::sub) {
  detail::apply_common_options(socket_, limits_);
  socket_.set(zmq::sockopt::rcvhwm, 100000);
  socket_.set(zmq::sockopt::subscribe, topic_prefix);
  socket_.connect(endpoints.tap);
  reactor_.watch_socket(socket_, [this] { on_readable(); });
}

TapSubscriber::~TapSubscriber() { reactor_.unwatch_socket(socket_); }

void TapSubscriber::on_readable() {
  std::vector<zmq::message_t> frames;
  for (int n = 0; n < 512; ++n) {
    if (!detail::receive_multipart(socket_, frames)) return;
    if (frames.size() != 2) {
      ++rejected_;
      continue;
    }
    std::string topic = detail::to_string(frames[0]);
    auto message = Incoming::decode(std::move(frames[1]), limits_);
    if (!message) {
      ++rejected_;
      continue;
    }
    handler_(topic, *message);
    if (reactor_.stopping()) return;
  }
}

bool carries_secret(mp::schema::Envelope::Reader envelope) {
  switch (envelope.which()) {
    case mp::schema::Envelope::CREDENTIALS:
    case mp::schema::Envelope::AUTHENTICATE:
    case mp::schema::Envelope::USER_ADD:
    case mp::schema::Envelope::USER_MODIFY:
      return true;
    default:
      return false;
  }
}

void copy_redacted(mp::schema::Envelope::Reader from, mp::schema::Envelope::Builder to) {
  to.setHeader(from.getHeader());
  copy_body(from, to);
  auto redact = [](auto body) {
    if (body.getPassword().size() > 0) body.setPassword(kRedacted);
  };
  switch (to.which()) {
    case mp::schema::Envelope::CREDENTIALS:
      redact(to.getCredentials());
      break;
    case mp::schema::Envelope::AUTHENTICATE:
      redact(to.getAuthenticate());
      break;
    case mp::schema::Envelope::USER_ADD:
      redact(to.getUserAdd());
      break;
    case mp::schema::Envelope::USER_MODIFY:
      redact(to.getUserModify());
      break;
    default:
      break;
  }
}

zmq::message_t tap_frame(const Incoming& message) {
  if (!carries_secret(message.envelope())) return message.to_frame();
  Outgoing copy;
  copy_redacted(message.envelope(), copy.envelope());
  return copy.to_frame();
}

namespace {

// Runs `print` on `envelope`, or on a redacted copy of it when it carries a secret.
template <typename Print>
std::string printed_redacted(mp::schema::Envelope::Reader envelope, Print print) {
  if (!carries_secret(envelope)) return print(envelope);
  Outgoing copy;
  copy_redacted(envelope, copy.envelope());
  return print(copy.envelope().asReader());
}

}  // namespace

std::string envelope_to_json(mp::schema::Envelope::Reader envelope) {
  try {
    capnp::JsonCodec codec;
    return printed_redacted(envelope, [&codec](mp::schema::Envelope::Reader e) {
      return std::string(codec.encode(e).cStr());
    });
  } catch (const kj::Exception& e) {
    return std::string("{\"undecodable\":\"") + body_name(envelope) + "\"}";
  }
}

std::string envelope_to_text(mp::schema::Envelope::Reader envelope) {
  try {
    capnp::TextCodec codec;
    return printed_redacted(envelope, [&codec](mp::schema::Envelope::Reader e) {
      return std::string(codec.encode(e).cStr());
    });
  } catch (const kj::Exception& e) {
    return "(undecodable " + body_name(envelope) + ")";
  }
}

}  // namespace mp::bus
