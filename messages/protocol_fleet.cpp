// The fleet query and answer (docs/fleet.md): their signed bodies, read and written, and the
// sizing that keeps an answer from ever being larger than the query that caused it.

#include <kj/exception.h>

#include "messages/protocol_codec.hpp"

namespace fwrescue {

namespace codec {

namespace {

/// The size limit of a fleet body: the whole message must fit the datagram bound.
constexpr size_t max_fleet_body = fleet_limits::max_datagram;

caf::error read_node_role(const char* field, schema::NodeRole in, node_role& out) {
  // Check the wire value before narrowing it, so 256 cannot pass as 0.
  auto role = static_cast<uint16_t>(in);
  if (role > static_cast<uint16_t>(node_role::console))
    return malformed(fmt::format("{} {} is unknown", field, role));
  out = static_cast<node_role>(role);
  return caf::none;
}

caf::error read_fleet_text(const char* field, capnp::Text::Reader in, text_rule rule,
                           std::string& out) {
  return read_text(field, in, rule, out, fleet_limits::max_text);
}

caf::error read_target(schema::FleetTarget::Reader in, fleet_target& out) {
  if (auto err =
        read_fleet_text("fleet_answer.targets[].name", in.getName(), text_rule::required, out.name))
    return err;
  if (auto err = read_fleet_text("fleet_answer.targets[].component", in.getComponent(),
                                 text_rule::required, out.component))
    return err;
  if (auto err = read_fleet_text("fleet_answer.targets[].version", in.getVersion(),
                                 text_rule::optional, out.version))
    return err;
  out.svn = in.getSvn();
  auto root = in.getRoot();
  if (root.size() != 0) {
    digest d{};
    if (auto err = read_fixed("fleet_answer.targets[].root", root, d))
      return err;
    out.root = d;
  }
  if (auto err = read_fleet_text("fleet_answer.targets[].state", in.getState(), text_rule::required,
                                 out.state))
    return err;
  if (auto err = read_fleet_text("fleet_answer.targets[].last_outcome", in.getLastOutcome(),
                                 text_rule::optional, out.last_outcome))
    return err;
  out.last_number = in.getLastNumber();
  out.last_at = in.getLastAt();
  return caf::none;
}

} // namespace

caf::expected<fleet_query_fields> decode_fleet_query_body(std::span<const uint8_t> bytes) {
  auto read = [](capnp::MessageReader& reader) -> caf::expected<fleet_query_fields> {
    auto root = reader.getRoot<schema::SignedBody>();
    if (root.which() != schema::SignedBody::FLEET_QUERY)
      return malformed(fmt::format("fleet_query.body holds signed body kind {}, not a fleet query",
                                   static_cast<unsigned>(root.which())));
    auto in = root.getFleetQuery();
    fleet_query_fields out;
    out.query_id = in.getQueryId();
    if (auto err = read_fixed("fleet_query.nonce", in.getNonce(), out.challenge))
      return err;
    if (auto err =
          read_fleet_text("fleet_query.asker", in.getAsker(), text_rule::required, out.asker))
      return err;
    if (auto err = read_fixed("fleet_query.asker_key", in.getAskerKey(), out.asker_key.bytes))
      return err;
    out.padding = static_cast<uint32_t>(in.getPadding().size());
    return out;
  };
  return parse<fleet_query_fields>(bytes, max_fleet_body, "fleet_query.body", read);
}

caf::expected<fleet_answer_fields> decode_fleet_answer_body(std::span<const uint8_t> bytes) {
  auto read = [](capnp::MessageReader& reader) -> caf::expected<fleet_answer_fields> {
    auto root = reader.getRoot<schema::SignedBody>();
    if (root.which() != schema::SignedBody::FLEET_ANSWER)
      return malformed(
        fmt::format("fleet_answer.body holds signed body kind {}, not a fleet answer",
                    static_cast<unsigned>(root.which())));
    auto in = root.getFleetAnswer();
    fleet_answer_fields out;
    out.query_id = in.getQueryId();
    if (auto err = read_fixed("fleet_answer.nonce", in.getNonce(), out.challenge))
      return err;
    if (auto err =
          read_fleet_text("fleet_answer.node", in.getNode(), text_rule::required, out.node))
      return err;
    if (auto err = read_fixed("fleet_answer.node_key", in.getNodeKey(), out.node_key.bytes))
      return err;
    if (auto err = read_node_role("fleet_answer.role", in.getRole(), out.role))
      return err;
    auto links = in.getLinks();
    if (links.size() > fleet_limits::max_links)
      return malformed(fmt::format("fleet_answer.links holds {} links; at most {}", links.size(),
                                   fleet_limits::max_links));
    for (auto link : links) {
      fleet_link l;
      if (auto err = read_fleet_text("fleet_answer.links[].name", link.getName(),
                                     text_rule::required, l.name))
        return err;
      l.up = link.getUp();
      out.links.push_back(std::move(l));
    }
    auto targets = in.getTargets();
    if (targets.size() > fleet_limits::max_targets)
      return malformed(fmt::format("fleet_answer.targets holds {} targets; at most {}",
                                   targets.size(), fleet_limits::max_targets));
    for (auto target : targets) {
      fleet_target t;
      if (auto err = read_target(target, t))
        return err;
      out.targets.push_back(std::move(t));
    }
    out.truncated = in.getTruncated();
    return out;
  };
  return parse<fleet_answer_fields>(bytes, max_fleet_body, "fleet_answer.body", read);
}

std::vector<uint8_t> encode_signed(const fleet_query_fields& f) {
  capnp::MallocMessageBuilder builder{first_segment_words(f.asker.size() + f.padding)};
  auto out = builder.initRoot<schema::SignedBody>().initFleetQuery();
  out.setQueryId(f.query_id);
  out.setNonce(as_data(f.challenge));
  out.setAsker(f.asker);
  out.setAskerKey(as_data(f.asker_key.bytes));
  out.initPadding(f.padding); // Cap'n Proto zeroes new data
  return to_bytes(builder);
}

std::vector<uint8_t> encode_signed(const fleet_answer_fields& f) {
  capnp::MallocMessageBuilder builder{first_segment_words(fleet_limits::max_datagram)};
  auto out = builder.initRoot<schema::SignedBody>().initFleetAnswer();
  out.setQueryId(f.query_id);
  out.setNonce(as_data(f.challenge));
  out.setNode(f.node);
  out.setNodeKey(as_data(f.node_key.bytes));
  out.setRole(static_cast<schema::NodeRole>(f.role));
  auto links = out.initLinks(static_cast<unsigned>(f.links.size()));
  for (unsigned i = 0; i < f.links.size(); ++i) {
    links[i].setName(f.links[i].name);
    links[i].setUp(f.links[i].up);
  }
  auto targets = out.initTargets(static_cast<unsigned>(f.targets.size()));
  for (unsigned i = 0; i < f.targets.size(); ++i) {
    const auto& t = f.targets[i];
    auto w = targets[i];
    w.setName(t.name);
    w.setComponent(t.component);
    w.setVersion(t.version);
    w.setSvn(t.svn);
    if (t.root)
      w.setRoot(as_data(*t.root));
    w.setState(t.state);
    w.setLastOutcome(t.last_outcome);
    w.setLastNumber(t.last_number);
    w.setLastAt(t.last_at);
  }
  out.setTruncated(f.truncated);
  return to_bytes(builder);
}

} // namespace codec

namespace {

/// Cuts a text to what a reader takes: our own names are ours to shorten, never to refuse.
void clip(std::string& s) {
  if (s.size() > fleet_limits::max_text)
    s.resize(fleet_limits::max_text);
}

void clip_all(fleet_answer_fields& f) {
  clip(f.node);
  if (f.links.size() > fleet_limits::max_links)
    f.links.resize(fleet_limits::max_links);
  if (f.targets.size() > fleet_limits::max_targets) {
    f.targets.resize(fleet_limits::max_targets);
    f.truncated = true;
  }
  for (auto& l : f.links)
    clip(l.name);
  for (auto& t : f.targets) {
    clip(t.name);
    clip(t.component);
    clip(t.version);
    clip(t.state);
    clip(t.last_outcome);
  }
}

} // namespace

fleet_query make_fleet_query(fleet_query_fields fields, const secret_key& key) {
  // The padding grows the message by itself rounded up to a word; a few rounds settle it.
  fields.padding = 0;
  fleet_query out;
  for (int round = 0; round < 4; ++round) {
    out.body = codec::encode_signed(fields);
    out.sig = key.sign(out.body);
    out.fields = fields;
    auto size = encode(out).size();
    if (size >= fleet_limits::max_datagram)
      break;
    fields.padding += static_cast<uint32_t>(fleet_limits::max_datagram - size);
  }
  return out;
}

caf::expected<fleet_answer> make_fleet_answer(fleet_answer_fields fields, const secret_key& key,
                                              size_t max_bytes) {
  max_bytes = std::min(max_bytes, fleet_limits::max_datagram);
  clip_all(fields);
  for (;;) {
    fleet_answer out;
    out.body = codec::encode_signed(fields);
    out.sig = key.sign(out.body);
    out.fields = fields;
    auto size = encode(out).size();
    if (size <= max_bytes)
      return out;
    if (fields.targets.empty())
      return make_error(errc::invalid_argument,
                        fmt::format("a fleet answer takes {} bytes even without targets; the "
                                    "query allows {}",
                                    size, max_bytes));
    fields.targets.pop_back();
    fields.truncated = true;
  }
}

bool verify_fleet_query(const fleet_query& q) {
  auto signed_fields = codec::decode_fleet_query_body(q.body);
  return signed_fields && *signed_fields == q.fields
         && verify_signature(q.fields.asker_key, q.body, q.sig);
}

bool verify_fleet_answer(const fleet_answer& a) {
  auto signed_fields = codec::decode_fleet_answer_body(a.body);
  return signed_fields && *signed_fields == a.fields
         && verify_signature(a.fields.node_key, a.body, a.sig);
}

} // namespace fwrescue
