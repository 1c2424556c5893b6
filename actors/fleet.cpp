#include "actors/fleet.hpp"

#include <algorithm>
#include <functional>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "transports/link_set.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<fleet_state>*;
using json = nlohmann::json;

/// A coordinator answers status from its mailbox; one slower than this is shown as "unknown"
/// rather than hold up the answer.
constexpr auto status_deadline = std::chrono::seconds(2);

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string{};
}

/// One target's line of the summary, from its coordinator's status (docs/status.md).
fleet_target target_of(const std::string& name, const std::string& status) {
  fleet_target t;
  t.name = name;
  auto s = json::parse(status, nullptr, false);
  if (s.is_discarded() || !s.is_object()) {
    t.component = "unknown";
    t.state = "unknown";
    return t;
  }
  t.component = text(s, "component");
  t.state = text(s, "state");
  if (s.contains("installed") && s["installed"].is_object()) {
    const auto& i = s["installed"];
    t.version = text(i, "version");
    t.svn = i.value("svn", 0u);
    if (auto root = from_hex(text(i, "root")); root && root->size() == sizeof(digest)) {
      digest d{};
      std::copy(root->begin(), root->end(), d.begin());
      t.root = d;
    }
  }
  if (s.contains("last_recovery") && s["last_recovery"].is_object()) {
    const auto& r = s["last_recovery"];
    t.last_outcome = r.value("succeeded", false) ? "succeeded" : "failed";
    t.last_number = r.value("number", uint64_t{0});
    t.last_at = r.value("finished_at", int64_t{0});
  }
  return t;
}

/// This node's summary, without the query's echo: its id, key, role, links, and each target's
/// state as its coordinator reports it. `done` runs once every coordinator answered or timed out.
void summarize_self(self_ptr self, std::function<void(fleet_answer_fields)> done) {
  const auto& ctx = *self->state.ctx;
  struct gathering {
    fleet_answer_fields fields;
    size_t pending = 0;
    std::function<void(fleet_answer_fields)> done;
  };
  auto g = std::make_shared<gathering>();
  g->fields.node = ctx.config.id;
  g->fields.node_key = ctx.node_key->public_part();
  g->fields.role = ctx.config.role;
  if (auto set = std::dynamic_pointer_cast<link_set>(ctx.link))
    for (const auto& l : set->links())
      g->fields.links.push_back({l.name, l.up});
  // Only what one answer can carry is asked for.
  auto count = std::min(ctx.target_names.size(), fleet_limits::max_targets);
  g->fields.truncated = count < ctx.target_names.size();
  g->fields.targets.resize(count);
  g->pending = count;
  g->done = std::move(done);
  if (count == 0) {
    g->done(std::move(g->fields));
    return;
  }
  for (uint32_t i = 0; i < count; ++i) {
    auto name = ctx.target_names[i];
    auto finish = [g, i, name](const std::string& status) {
      g->fields.targets[i] = target_of(name, status);
      if (--g->pending == 0)
        g->done(std::move(g->fields));
    };
    auto coord = find_role(self->system(), role_of(roles::coordinator, i));
    if (!coord) {
      finish({});
      continue;
    }
    self->request(coord, status_deadline, status_atom::value)
      .then([finish](std::string& status) { finish(status); },
            [finish](caf::error&) { finish({}); });
  }
}

void on_query(self_ptr self, const std::string& from, const fleet_query& q) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  // Our own broadcast, heard back on the group.
  if (q.fields.asker == ctx.config.id)
    return;
  if (!verify_fleet_query(q)) {
    ctx.log->debug("fleet", "query from {} ({}) not answered: its signature does not verify",
                   q.fields.asker, from);
    return;
  }
  if (st.answering >= fleet_bounds::max_answering) {
    ctx.log->debug("fleet", "query from {} ({}) not answered: {} queries are being answered",
                   q.fields.asker, from, st.answering);
    return;
  }
  ++st.answering;
  // The answer may take no more bytes than the query did (it never amplifies a forged source).
  auto limit = encode(q).size();
  summarize_self(self, [self, from, q, limit](fleet_answer_fields f) {
    auto& st = self->state;
    --st.answering;
    f.query_id = q.fields.query_id;
    f.challenge = q.fields.challenge;
    auto answer = make_fleet_answer(std::move(f), *st.ctx->node_key, limit);
    if (!answer) {
      st.ctx->log->warn("fleet", "query from {} ({}) not answered: {}", q.fields.asker, from,
                        describe(answer.error()));
      return;
    }
    st.ctx->link->send_datagram(from, encode(*answer));
    st.ctx->log->debug("fleet", "answered query {} from {} ({})", q.fields.query_id, q.fields.asker,
                       from);
  });
}

void drop(open_fleet_scan& scan, logger& log, const std::string& from, const fleet_answer& a,
          const std::string& why) {
  log.warn("fleet", "answer from {} claiming {} dropped: {}", from, a.fields.node, why);
  if (scan.report.dropped.size() < fleet_bounds::max_dropped)
    scan.report.dropped.push_back({from, a.fields.node, why});
  else
    ++scan.report.left_out;
}

void on_answer(self_ptr self, const std::string& from, const fleet_answer& a) {
  auto& st = self->state;
  if (!st.scan || st.scan->window_over)
    return;
  auto& scan = *st.scan;
  const auto& ctx = *st.ctx;
  if (scan.report.nodes.size() >= fleet_bounds::max_answers) {
    ++scan.report.left_out;
    return;
  }
  auto judged = judge_answer(a, {scan.query, ctx.config.id, ctx.console_keys, st.pins, scan.kept});
  switch (judged.verdict) {
    case fleet_verdict::stale:
      ctx.log->debug("fleet", "answer from {} ({}) ignored: {}", a.fields.node, from, judged.why);
      return;
    case fleet_verdict::duplicate:
      return;
    case fleet_verdict::drop:
      drop(scan, *ctx.log, from, a, judged.why);
      return;
    case fleet_verdict::keep:
      break;
  }
  if (!st.pins.find(a.fields.node) && st.pins.learn(a.fields.node, a.fields.node_key))
    ctx.log->info("fleet", "pinned key {} for {} (first seen at {})", key_text(a.fields.node_key),
                  a.fields.node, from);
  scan.kept[a.fields.node] = a.fields.node_key;
  scan.report.nodes.push_back({from, false, a.fields});
}

/// Answers the operator once the window has passed and this node's own summary is in.
void finish_if_done(self_ptr self) {
  auto& st = self->state;
  if (!st.scan || !st.scan->window_over || !st.scan->own)
    return;
  auto scan = std::move(*st.scan);
  st.scan.reset();
  if (st.pins.changed())
    if (auto err = st.pins.save())
      st.ctx->log->error("fleet", "cannot keep the fleet pins: {}", describe(err));
  scan.report.nodes.insert(scan.report.nodes.begin(), std::move(*scan.own));
  st.ctx->log->info("fleet", "query {}: {} node(s) listed, {} answer(s) dropped",
                    scan.query.query_id, scan.report.nodes.size(), scan.report.dropped.size());
  scan.promise.deliver(std::move(scan.report));
}

void on_scan(self_ptr self, const fleet_scan_request& r) {
  auto& st = self->state;
  auto promise = self->make_response_promise();
  if (st.scan) {
    promise.deliver(make_error(errc::invalid_argument,
                               "a fleet query is already being collected; try again shortly"));
    return;
  }
  const auto& ctx = *st.ctx;
  auto wait =
    r.wait.count() > 0
      ? std::clamp(r.wait, fleet_bounds::min_wait, fleet_bounds::max_wait)
      : node_discovery_window(std::chrono::milliseconds(ctx.config.recovery.discovery_window_ms),
                              ctx.link->properties());
  open_fleet_scan scan;
  randombytes_buf(&scan.query.query_id, sizeof(scan.query.query_id));
  randombytes_buf(scan.query.challenge.data(), scan.query.challenge.size());
  scan.query.asker = ctx.config.id;
  scan.query.asker_key = ctx.node_key->public_part();
  scan.promise = std::move(promise);
  scan.report.asker = ctx.config.id;
  scan.report.window_ms = static_cast<uint64_t>(wait.count());
  auto query = make_fleet_query(scan.query, *ctx.node_key);
  scan.query = query.fields;
  st.scan = std::move(scan);
  ctx.link->broadcast(encode(query));
  ctx.log->info("fleet", "query {} sent on every link; collecting answers for {} ms",
                query.fields.query_id, wait.count());
  auto id = query.fields.query_id;
  summarize_self(self, [self, id](fleet_answer_fields f) {
    auto& st = self->state;
    if (!st.scan || st.scan->query.query_id != id)
      return;
    st.scan->own = fleet_entry{{}, true, std::move(f)};
    finish_if_done(self);
  });
  self->delayed_send(self, wait, timeout_atom::value, id);
}

} // namespace

std::string fleet_pin_path(const node_context& ctx) {
  return ctx.config.state_dir + "/fleet_pins";
}

caf::behavior fleet(caf::stateful_actor<fleet_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  self->state.pins = fleet_pins{fleet_pin_path(*ctx)};
  if (auto err = self->state.pins.load())
    ctx->log->error("fleet", "fleet pins not read, starting with none: {}", describe(err));
  return {
    [=](start_atom) {},
    [=](fleet_scan_request& r) { on_scan(self, r); },
    [=](datagram_message& dm) {
      if (auto* q = std::get_if<fleet_query>(&dm.msg))
        on_query(self, dm.from, *q);
      else if (auto* a = std::get_if<fleet_answer>(&dm.msg))
        on_answer(self, dm.from, *a);
    },
    [=](timeout_atom, uint64_t id) {
      auto& st = self->state;
      if (!st.scan || st.scan->query.query_id != id)
        return;
      st.scan->window_over = true;
      finish_if_done(self);
    },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
