#pragma once

// A deterministic actor system for unit tests: CAF's test coordinator runs every message on the
// test's thread when the test says so, and timers fire only when the test advances the clock.
// The node's parts are fakes (tests/fakes/); nothing opens a socket or a device.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_view.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "image/signing.hpp"
#include "messages/node_events.hpp"
#include "tests/fakes/fake_flash.hpp"
#include "tests/fakes/fake_host_power.hpp"
#include "tests/fakes/fake_transport.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwrescue::test {

/// Configuration that selects the test coordinator.
class test_config : public caf::actor_system_config {
public:
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
    set("middleman.network-backend", caf::atom("testing"));
  }
};

// -- recording actors ----------------------------------------------------------------------------

/// Tells a recorder to answer the request it recorded at an index.
using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// What a recorder received, in order, with a promise for each message (so a test can answer a
/// request later, or never).
struct mailbox_log {
  std::vector<caf::message> messages;
  std::vector<caf::response_promise> promises;
  /// When set, a request is answered at once with what this returns (an empty message: no
  /// answer).
  std::function<caf::message(const caf::message&)> reply;

  template <class T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& m : messages)
      if (m.size() == 1 && m.match_element<T>(0))
        out.push_back(m.get_as<T>(0));
    return out;
  }

  template <class T>
  size_t count() const {
    return all<T>().size();
  }

  /// The last message of type T; fails the test when there is none.
  template <class T>
  T last() const {
    auto xs = all<T>();
    REQUIRE_FALSE(xs.empty());
    return xs.back();
  }

  /// How many messages consisted of the atom `a` alone.
  size_t atoms(caf::atom_value a) const {
    size_t n = 0;
    for (const auto& m : messages)
      if (m.size() == 1 && m.match_element<caf::atom_value>(0) && m.get_as<caf::atom_value>(0) == a)
        ++n;
    return n;
  }

  void clear() {
    messages.clear();
    promises.clear();
  }
};

/// Stores every message it receives in `log` and answers nothing unless `log->reply` says so.
inline caf::behavior recorder(caf::event_based_actor* self, std::shared_ptr<mailbox_log> log) {
  self->set_default_handler(
    [log](caf::scheduled_actor* s, caf::message_view& view) -> caf::result<caf::message> {
      auto msg = view.move_content_to_message();
      log->messages.push_back(msg);
      if (log->reply)
        if (auto answer = log->reply(msg); !answer.empty())
          return answer;
      log->promises.push_back(static_cast<caf::event_based_actor*>(s)->make_response_promise());
      return caf::delegated<caf::message>{};
    });
  // A promise must be delivered from its own actor: the test coordinator's execution units live
  // only while an actor runs.
  return {
    [log](answer_atom, uint64_t index, caf::message& reply) {
      log->promises.at(index).deliver(std::move(reply));
    },
  };
}

// -- test images and offers ----------------------------------------------------------------------

inline platform_id test_platform() {
  return {"Acme", "X11-DP"};
}

/// An image and its manifest signed by a release key, with every block digest.
struct test_image {
  std::vector<uint8_t> bytes;
  signed_manifest manifest;
};

inline test_image make_image(const secret_key& release, std::vector<uint8_t> bytes,
                             uint32_t svn = 5, platform_id platform = test_platform(),
                             uint32_t block_size = 1024,
                             std::string component = default_component) {
  manifest fields;
  fields.platform = std::move(platform);
  fields.component = std::move(component);
  fields.version = "2." + std::to_string(svn);
  fields.svn = svn;
  fields.image_size = bytes.size();
  fields.block_size = block_size;
  fields.created_at = 1795000000;
  tree_builder builder{hash_algorithm::blake2b_256, block_size};
  builder.update(bytes);
  auto tree = std::move(builder).finish();
  auto m = sign_manifest(release, fields, tree);
  REQUIRE(m);
  return {std::move(bytes), std::move(*m)};
}

/// An image request as the coordinator would build it.
inline image_request make_request(uint64_t id, uint32_t min_svn = 0,
                                  std::string requester = "recipient") {
  image_request r;
  r.request_id = id;
  for (size_t i = 0; i < r.challenge.size(); ++i)
    r.challenge[i] = static_cast<uint8_t>(id * 31 + i);
  r.requester = std::move(requester);
  r.platform = test_platform();
  r.min_svn = min_svn;
  return r;
}

/// A donor node as the recipient sees it: a name, a node key and a session address.
struct test_donor {
  std::string id;
  secret_key key = secret_key::generate();
  std::string address;
  node_role role = node_role::peer;
  /// The block set its offers carry (empty: the whole image).
  std::vector<uint8_t> holds;

  explicit test_donor(std::string name, node_role r = node_role::peer)
    : id(std::move(name)), address(id + ":47711"), role(r) {
  }

  /// This donor's signed offer of `img` answering `req`.
  offer offer_for(const image_request& req, const signed_manifest& img) const {
    offer_fields f;
    f.request_id = req.request_id;
    f.challenge = req.challenge;
    f.donor = id;
    f.donor_key = key.public_part();
    f.role = role;
    f.max_uploads = 2;
    f.session_address = address;
    f.manifest_body = img.body;
    f.manifest_sig = img.sig;
    f.holds = holds;
    return make_offer(std::move(f), key);
  }

  /// The offer as a candidate that passed discovery.
  candidate candidate_for(const image_request& req, const signed_manifest& img) const {
    auto o = offer_for(req, img);
    auto m = offered_manifest(o);
    REQUIRE(m);
    auto role = o.fields.role;
    return {.source = std::move(o),
            .from = id + ":47710",
            .manifest = std::move(*m),
            .rtt_us = 1000,
            .role = role};
  }
};

// The values below are built field by field: the structs grow, and a brace list would have to
// name every member (-Wmissing-field-initializers).

/// Offers collected for `req`.
inline offers_collected collected(const image_request& req, std::vector<candidate> offers,
                                  std::vector<offer_verdict> rejected = {}) {
  offers_collected out;
  out.request = req;
  out.offers = std::move(offers);
  out.rejected = std::move(rejected);
  return out;
}

/// A negotiation outcome under prefer-console.
inline negotiation_result ranking(std::vector<candidate> ranked = {},
                                  std::vector<offer_verdict> verdicts = {}) {
  negotiation_result out;
  out.policy = "prefer-console";
  out.ranked = std::move(ranked);
  out.verdicts = std::move(verdicts);
  return out;
}

/// A verdict on `donor`'s offer: compatible when `reason` is empty.
inline offer_verdict verdict(std::string donor, uint32_t svn, std::string reason = {},
                             uint32_t rank = 0) {
  offer_verdict v;
  v.donor = std::move(donor);
  v.role = "peer";
  v.svn = svn;
  v.compatible = reason.empty();
  v.reason = std::move(reason);
  v.rank = rank;
  return v;
}

/// A monitor report: ok when checked and `bad` is empty.
inline flash_report report(bool checked, std::vector<leaf_range> bad, std::string detail) {
  flash_report r;
  r.checked = checked;
  r.block_count = 32;
  r.bad = std::move(bad);
  r.detail = std::move(detail);
  return r;
}

/// Decodes every frame, failing the test on one that does not decode.
inline std::vector<wire_message> decode_all(const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<wire_message> out;
  for (const auto& f : frames) {
    auto m = decode(f);
    REQUIRE(m);
    out.push_back(std::move(*m));
  }
  return out;
}

/// The messages of type T among `msgs`.
template <class T>
std::vector<T> only(const std::vector<wire_message>& msgs) {
  std::vector<T> out;
  for (const auto& m : msgs)
    if (auto* x = std::get_if<T>(&m))
      out.push_back(*x);
  return out;
}

// -- the transport seen by one actor -------------------------------------------------------------

/// Hands a fake transport's events to one actor, decoded as the router would, without the
/// router: lets a test drive discovery, transfer or the donor on their own.
class actor_bridge : public transport_events {
public:
  caf::actor target;

  void on_datagram(const std::string& from, std::vector<uint8_t> bytes) override {
    auto m = decode(bytes);
    REQUIRE(m);
    caf::anon_send(target, datagram_message{from, std::move(*m)});
  }
  void on_session_opened(session_id id, const std::string& peer, bool inbound) override {
    caf::anon_send(target, session_opened_event{id, peer, inbound});
  }
  void on_frame(session_id id, std::vector<uint8_t> bytes) override {
    auto m = decode(bytes);
    REQUIRE(m);
    caf::anon_send(target, session_message{id, std::move(*m)});
  }
  void on_session_closed(session_id id, const std::string& reason) override {
    caf::anon_send(target, session_closed_event{id, reason});
  }
  void on_session_drained(session_id id) override {
    caf::anon_send(target, session_drained_event{id});
  }
};

// -- the fixture ---------------------------------------------------------------------------------

/// An actor system on the test coordinator plus a node context built from fakes: a 64 KiB
/// flash of 4 KiB sectors holding nothing (0xff), host power on, a fake transport, a real
/// nv_store in a temporary directory, a node key and one trusted release key.
struct actor_fixture {
  static constexpr uint64_t flash_size = 64 * 1024;

  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  temp_dir dir;
  secret_key release_key = secret_key::generate();
  std::shared_ptr<fake_flash> chip = std::make_shared<fake_flash>(flash_size);
  std::shared_ptr<fake_host_power> power = std::make_shared<fake_host_power>();
  std::shared_ptr<fake_transport> link = std::make_shared<fake_transport>();
  std::shared_ptr<nv_store> store;
  std::shared_ptr<node_context> ctx = std::make_shared<node_context>();
  std::vector<caf::actor> spawned;
  std::vector<std::pair<std::shared_ptr<mailbox_log>, caf::actor>> recorders;

  actor_fixture() {
    sys.await_actors_before_shutdown(false);
    store = std::make_shared<nv_store>(dir.path("state"));
    REQUIRE_FALSE(store->open());
    auto& c = ctx->config;
    c.id = "recipient";
    c.state_dir = store->dir();
    c.platform = test_platform();
    c.monitor.interval_s = 0;
    c.monitor.check_at_start = false;
    ctx->log = std::make_shared<logger>(c.id, log_level::error, false);
    ctx->chip = chip;
    ctx->power = power;
    ctx->store = store;
    ctx->link = link;
    ctx->node_key = std::make_shared<const secret_key>(secret_key::generate());
    ctx->trusted_keys = {release_key.public_part()};
    ctx->policies = make_policy_registry();
  }

  ~actor_fixture() {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
    // Promises hold their recorder: break the cycle so nothing leaks.
    for (auto& [log, a] : recorders)
      log->clear();
    for (auto role : {roles::coordinator, roles::monitor, roles::discovery, roles::negotiation,
                      roles::transfer, roles::flasher, roles::donor, roles::router})
      sys.registry().erase(role);
  }

  /// An image of `size` random bytes signed by the trusted release key.
  test_image image(size_t size = 32 * 1024, uint64_t seed = 1, uint32_t svn = 5) {
    return make_image(release_key, random_bytes(size, seed), svn);
  }

  /// Spawns an actor of the node with this fixture's context.
  template <class F>
  caf::actor spawn(F fun) {
    auto a = sys.spawn(fun, context_ptr{ctx});
    spawned.push_back(a);
    return a;
  }

  /// Registers `a` under `role`, replacing whatever was there.
  void put_role(caf::atom_value role, const caf::actor& a) {
    sys.registry().erase(role);
    sys.registry().put(role, a);
  }

  /// Registers a recorder under `role` and returns what it receives.
  std::shared_ptr<mailbox_log> record(caf::atom_value role) {
    auto log = std::make_shared<mailbox_log>();
    auto a = sys.spawn(recorder, log);
    spawned.push_back(a);
    recorders.emplace_back(log, a);
    put_role(role, a);
    return log;
  }

  /// Makes the recorder behind `log` answer the `index`th message it recorded with `reply`.
  template <class T>
  void answer(const std::shared_ptr<mailbox_log>& log, size_t index, T reply) {
    for (auto& [l, a] : recorders)
      if (l == log)
        caf::anon_send(a, answer_atom::value, uint64_t{index}, caf::make_message(std::move(reply)));
    run();
  }

  /// Sends a request to `dest` from a helper actor and returns the answer once everything ran.
  template <class T, class... Ts>
  T ask(const caf::actor& dest, Ts... xs) {
    auto out = std::make_shared<std::optional<T>>();
    // `dest` travels as a spawn argument: CAF 0.17 binds a null reference for an actor spawned
    // without arguments, which the sanitizers reject.
    auto helper = sys.spawn(
      [=](caf::event_based_actor* self, const caf::actor& to) {
        self->request(to, caf::infinite, xs...).then([=](T& x) { *out = std::move(x); });
      },
      dest);
    spawned.push_back(helper);
    run();
    REQUIRE(out->has_value());
    return std::move(**out);
  }

  /// The state of a stateful actor spawned here (safe: every actor runs on this thread).
  template <class State>
  State& state_of(const caf::actor& a) {
    auto* ptr = caf::actor_cast<caf::abstract_actor*>(a);
    return dynamic_cast<caf::stateful_actor<State>&>(*ptr).state;
  }

  /// Runs every pending message until none is left.
  void run() {
    sched.run();
  }

  /// Advances the clock by `d`, firing the timers that fall due one at a time, each at its own
  /// time, and running what each sends before the next (so a timer set by a timer fires too).
  template <class Duration>
  void advance(Duration d) {
    auto& clock = sched.clock();
    auto target = clock.now() + std::chrono::duration_cast<caf::timespan>(d);
    sched.run();
    while (!clock.schedule().empty() && clock.schedule().begin()->first <= target) {
      clock.trigger_timeout();
      sched.run();
    }
    clock.current_time = target;
  }
};

} // namespace fwrescue::test
