#include "tests/actors/actor_fixture.hpp"

#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"
#include "actors/fetch.hpp"
#include "actors/transfer.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

/// A coordinator with a recorder under every role it sends to.
struct coordinator_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> discovery = record(roles::discovery);
  std::shared_ptr<mailbox_log> negotiation = record(roles::negotiation);
  std::shared_ptr<mailbox_log> transfer = record(roles::transfer);
  std::shared_ptr<mailbox_log> flasher = record(roles::flasher);
  std::shared_ptr<mailbox_log> monitor = record(roles::monitor);
  std::shared_ptr<mailbox_log> donor = record(roles::donor);
  test_image img = image();
  test_donor donor_a{"donor-a"};
  caf::actor coord;

  coordinator_fixture() {
    auto& rc = ctx->config.recovery;
    rc.max_attempts = 3;
    rc.backoff_initial_ms = 200;
    rc.backoff_max_ms = 5000;
  }

  void start() {
    coord = spawn(coordinator);
    caf::anon_send(coord, start_atom::value); // as the supervisor does once all are registered
    run();
  }

  nlohmann::json status() {
    return nlohmann::json::parse(ask<std::string>(coord, status_atom::value));
  }

  std::string phase() {
    return status()["state"].get<std::string>();
  }

  static flash_report bad_report() {
    return report(true, {{3, 5}}, "2 of 32 blocks do not match the installed manifest");
  }

  /// Starts a recovery the way the monitor does.
  void report_bad_flash() {
    caf::anon_send(coord, bad_report());
    run();
  }

  /// Negotiation answers every request with no compatible offer.
  void negotiation_finds_nothing() {
    negotiation->reply = [](const caf::message&) { return caf::make_message(ranking()); };
  }

  /// Discovery's answer to the latest image request: one offer from donor_a.
  void offers_arrive() {
    auto req = discovery->last<image_request>();
    caf::anon_send(coord, collected(req, {donor_a.candidate_for(req, img.manifest)}));
    run();
  }

  /// Negotiation ranks the latest offers as they came.
  void negotiate() {
    auto sent = negotiation->last<offers_collected>();
    answer(negotiation, negotiation->promises.size() - 1, ranking(sent.offers));
  }

  /// The number of the last transfer job and flash job handed out: reports must carry it.
  uint64_t transfer_job_id() {
    return transfer->last<transfer_job>().job;
  }
  uint64_t flash_job_id() {
    return flasher->last<flash_job>().job;
  }

  void walk_to_flashing() {
    report_bad_flash();
    offers_arrive();
    negotiate();
    auto job = transfer_job_id();
    caf::anon_send(coord, donor_confirmed{"donor-a", job});
    std::vector<bool> staged(img.manifest.fields.block_count(), false);
    staged[3] = staged[4] = true;
    caf::anon_send(
      coord,
      transfer_done{.target = img.manifest, .donor = "donor-a", .staged = staged, .job = job});
    run();
  }

  /// The flasher's answer to the last flash job.
  template <class T>
  void flasher_says(T msg) {
    msg.job = flash_job_id();
    caf::anon_send(coord, std::move(msg));
    run();
  }
};

} // namespace

TEST_CASE_METHOD(coordinator_fixture, "a bad flash report with auto_recover starts discovering") {
  ctx->config.svn_floor = 3;
  REQUIRE_FALSE(store->raise_svn_floor(4));
  start();
  CHECK(phase() == "idle");
  report_bad_flash();
  REQUIRE(discovery->count<image_request>() == 1);
  auto req = discovery->last<image_request>();
  CHECK(req.requester == "recipient");
  CHECK(req.platform == test_platform());
  CHECK(req.min_svn == 4); // the stored floor is above the configured one
  CHECK(phase() == "discovering");
  auto st = status();
  CHECK(st["recovery"]["reason"] == bad_report().detail);
  CHECK(st["recovery"]["attempt"] == 1);
  // While offers are awaited, the transfer readies memory for the blocks found bad.
  REQUIRE(transfer->count<ready_memory>() == 1);
  CHECK(transfer->last<ready_memory>().check.bad == bad_report().bad);
}

TEST_CASE_METHOD(coordinator_fixture, "reports that do not call for a recovery start none") {
  SECTION("auto_recover off") {
    ctx->config.monitor.auto_recover = false;
    start();
    report_bad_flash();
  }
  SECTION("an ok report") {
    start();
    caf::anon_send(coord, report(true, {}, "flash matches"));
    run();
  }
  SECTION("nothing to check against") {
    start();
    caf::anon_send(coord, report(false, {}, "no installed manifest"));
    run();
  }
  CHECK(discovery->count<image_request>() == 0);
  CHECK(phase() == "idle");
}

TEST_CASE_METHOD(coordinator_fixture,
                 "collected offers go to negotiation, ranked ones to transfer") {
  start();
  report_bad_flash();
  offers_arrive();
  CHECK(phase() == "negotiating");
  REQUIRE(negotiation->count<offers_collected>() == 1);
  auto sent = negotiation->last<offers_collected>();
  CHECK(sent.request.request_id == discovery->last<image_request>().request_id);
  REQUIRE(sent.offers.size() == 1);
  // Negotiation answers the request: the ranked candidates become a transfer job.
  REQUIRE(negotiation->promises.size() == 1);
  answer(negotiation, 0, ranking(sent.offers));
  REQUIRE(transfer->count<transfer_job>() == 1);
  auto job = transfer->last<transfer_job>();
  CHECK(job.request.request_id == sent.request.request_id);
  REQUIRE(job.candidates.size() == 1);
  CHECK(job.candidates[0].source.fields.donor == "donor-a");
  caf::anon_send(coord, donor_confirmed{"donor-a", job.job});
  caf::anon_send(coord, transfer_progress{"donor-a", 8, 32, job.job});
  // A report about another job (an earlier attempt's, say) changes nothing.
  caf::anon_send(coord, transfer_progress{"donor-z", 30, 32, job.job + 7});
  run();
  auto st = status();
  CHECK(st["state"] == "transferring");
  CHECK(st["recovery"]["donor"] == "donor-a");
  CHECK(st["progress"]["percent"] == 25);
}

TEST_CASE_METHOD(coordinator_fixture,
                 "only the first attempt's transfer gets the check that started the recovery") {
  start();
  auto offered_and_ranked = [&] {
    offers_arrive();
    negotiate();
  };
  SECTION("started by the monitor") {
    report_bad_flash();
    offered_and_ranked();
    REQUIRE(transfer->count<transfer_job>() == 1);
    auto first = transfer->last<transfer_job>().flash_check;
    CHECK(first.checked);
    CHECK(first.bad == bad_report().bad);
    // The transfer then fails: the next attempt must look at the flash afresh.
    caf::anon_send(coord, transfer_failed{"every donor failed", transfer_job_id()});
    run();
    advance(200ms);
    offered_and_ranked();
    REQUIRE(transfer->count<transfer_job>() == 2);
    CHECK_FALSE(transfer->last<transfer_job>().flash_check.checked);
  }
  SECTION("started by an operator") {
    caf::anon_send(coord, report(true, {}, "flash matches")); // a good check starts nothing
    run();
    CHECK(ask<std::string>(coord, recover_atom::value) == "recovery started");
    offered_and_ranked();
    REQUIRE(transfer->count<transfer_job>() == 1);
    CHECK_FALSE(transfer->last<transfer_job>().flash_check.checked);
  }
}

TEST_CASE_METHOD(coordinator_fixture, "an attempt every donor answered busy is waited out "
                                      "without counting, for recovery.busy_wait_s in all") {
  ctx->config.recovery.busy_wait_s = 1;
  start();
  report_bad_flash();
  auto attempt = [&] { return status()["recovery"]["attempt"].get<uint32_t>(); };
  uint32_t waits = 0;
  for (;;) {
    offers_arrive();
    negotiate();
    auto asked = discovery->count<image_request>();
    // The donors asked for 1000 ms: half of it is the longest wait, from its half on.
    caf::anon_send(coord, transfer_failed{"every donor failed: donor-a: busy", transfer_job_id(),
                                          1000});
    run();
    CHECK(phase() == "discovering");
    advance(200ms);
    if (discovery->count<image_request>() == asked + 1)
      break; // the wait allowed is spent: this one counted, asked again after the backoff
    advance(49ms);
    CHECK(discovery->count<image_request>() == asked);
    advance(251ms);
    REQUIRE(discovery->count<image_request>() == asked + 1);
    CHECK(attempt() == 1);
    ++waits;
    REQUIRE(waits <= 4); // each wait is at least 250 ms, 1 s in all
  }
  CHECK(waits >= 2); // each wait is at most 500 ms
  CHECK(attempt() == 2);
  // A failure that was not only busy donors counts at once (and the backoff doubles).
  offers_arrive();
  negotiate();
  caf::anon_send(coord, transfer_failed{"every donor failed: donor-a: stalled", transfer_job_id()});
  run();
  advance(400ms);
  CHECK(attempt() == 3);
}

TEST_CASE_METHOD(coordinator_fixture, "no compatible image: retried after backoff, then failed") {
  negotiation_finds_nothing();
  start();
  report_bad_flash();
  offers_arrive();
  REQUIRE(transfer->count<transfer_job>() == 0);
  CHECK(phase() == "discovering"); // waiting for the retry
  // Attempt 2 after 200 ms, attempt 3 after 400 ms more.
  advance(199ms);
  CHECK(discovery->count<image_request>() == 1);
  advance(1ms);
  REQUIRE(discovery->count<image_request>() == 2);
  CHECK(status()["recovery"]["attempt"] == 2);
  auto first = discovery->all<image_request>()[0];
  auto second = discovery->all<image_request>()[1];
  CHECK(first.request_id != second.request_id); // a fresh request, not a replay
  offers_arrive();
  advance(399ms);
  CHECK(discovery->count<image_request>() == 2);
  advance(1ms);
  REQUIRE(discovery->count<image_request>() == 3);
  offers_arrive();
  // max_attempts = 3: no fourth attempt.
  advance(1h);
  CHECK(discovery->count<image_request>() == 3);
  auto st = status();
  CHECK(st["state"] == "failed");
  CHECK_FALSE(st.contains("recovery"));
  CHECK(st["last_recovery"]["succeeded"] == false);
  CHECK(st["last_recovery"]["detail"].get<std::string>().find("no compatible image")
        != std::string::npos);
  CHECK(st["last_negotiation"]["policy"] == "prefer-console");
  // The memory readied at the start is released: an unchecked report says so.
  REQUIRE(transfer->count<ready_memory>() == 2);
  CHECK_FALSE(transfer->last<ready_memory>().check.checked);
  // One recovery failed, not one per attempt; no source served it.
  auto recoveries = ctx->metrics->recoveries.snapshot().series;
  REQUIRE(recoveries.size() == 1);
  CHECK(recoveries[0].values == std::vector<std::string>{ctx->target, "failed", "none"});
  CHECK(recoveries[0].value == 1);
}

TEST_CASE_METHOD(coordinator_fixture, "the backoff stays at its maximum however many attempts") {
  auto& rc = ctx->config.recovery;
  rc.max_attempts = 70;
  rc.backoff_initial_ms = 3;
  rc.backoff_max_ms = 5;
  negotiation_finds_nothing();
  start();
  report_bad_flash();
  for (uint32_t attempt = 1; attempt < rc.max_attempts; ++attempt) {
    INFO("attempt " << attempt);
    offers_arrive();
    auto backoff = attempt == 1 ? 3ms : 5ms;
    advance(backoff - 1ms);
    REQUIRE(discovery->count<image_request>() == attempt);
    advance(1ms);
    REQUIRE(discovery->count<image_request>() == attempt + 1);
  }
  offers_arrive();
  CHECK(phase() == "failed");
}

TEST_CASE_METHOD(coordinator_fixture, "a staged image is flashed, verified and recorded") {
  start();
  walk_to_flashing();
  CHECK(phase() == "flashing");
  REQUIRE(flasher->count<flash_job>() == 1);
  auto job = flasher->last<flash_job>();
  CHECK(job.target.fields.merkle_root == img.manifest.fields.merkle_root);
  CHECK(job.donor == "donor-a");
  // The flasher learns which blocks were staged and which stay on the flash.
  REQUIRE(job.staged.size() == img.manifest.fields.block_count());
  CHECK(job.staged[3]);
  CHECK_FALSE(job.staged[0]);
  // The flash must not be checked or served while it is rewritten.
  CHECK(monitor->atoms(pause_atom::value) == 1);
  REQUIRE(donor->count<own_image_state>() == 1);
  CHECK_FALSE(donor->last<own_image_state>().servable);

  REQUIRE_FALSE(store->set_installed_manifest(img.manifest)); // as the flasher does
  flasher_says(flash_done{3, 8, report(true, {}, "flash matches")});
  // The flasher's own check after writing is the verification: no second pass by the monitor,
  // which resumes its periodic checks; the node serves its image again.
  CHECK(monitor->atoms(resume_atom::value) == 1);
  CHECK(monitor->atoms(check_atom::value) == 0);
  CHECK(donor->last<own_image_state>().servable);
  auto st = status();
  CHECK(st["state"] == "done");
  CHECK(st["last_check"]["ok"] == true);
  CHECK(st["last_recovery"]["succeeded"] == true);
  CHECK(st["last_recovery"]["donor"] == "donor-a");
  CHECK(st["last_recovery"]["version"] == img.manifest.fields.version);
  CHECK(st["installed"]["version"] == img.manifest.fields.version);
  CHECK(discovery->count<image_request>() == 1); // nothing retried
  // Counted once, with its duration and the flasher's.
  auto recoveries = ctx->metrics->recoveries.snapshot().series;
  REQUIRE(recoveries.size() == 1);
  CHECK(recoveries[0].values == std::vector<std::string>{ctx->target, "succeeded", "peers"});
  CHECK(recoveries[0].value == 1);
  CHECK(ctx->metrics->recovery_seconds.snapshot().series.at(0).count == 1);
  CHECK(ctx->metrics->flash_seconds.snapshot().series.at(0).count == 1);
}

TEST_CASE_METHOD(coordinator_fixture, "a failed flash is tried again from the staged image "
                                      "before the network is asked again") {
  ctx->config.recovery.flash_retries = 2;
  start();
  walk_to_flashing();
  // What the transfer and the flasher leave in the journal.
  REQUIRE_FALSE(store->write_journal({recovery_journal::phase::flashing, img.manifest, "donor-a"}));
  SECTION("a flash that does not verify after writing") {
    flasher_says(flash_done{3, 8, bad_report()});
  }
  SECTION("a flash that failed while writing") {
    flasher_says(flash_failed{"flash: erase of sector 0x3000 failed"});
  }
  CHECK_FALSE(donor->last<own_image_state>().servable);
  CHECK(monitor->atoms(resume_atom::value) == 1);
  CHECK(phase() == "staged");
  advance(200ms);
  // Flash 2 of 3, from the journal: no discovery, no transfer.
  REQUIRE(flasher->count<flash_job>() == 2);
  CHECK(flasher->last<flash_job>().staged.empty()); // the flasher checks each staged block
  CHECK(phase() == "flashing");
  CHECK(discovery->count<image_request>() == 1);
  flasher_says(flash_failed{"flash: erase of sector 0x3000 failed"});
  advance(200ms);
  REQUIRE(flasher->count<flash_job>() == 3);
  flasher_says(flash_failed{"flash: erase of sector 0x3000 failed"});
  // Three flashes failed: only now is the network asked again.
  advance(200ms);
  CHECK(flasher->count<flash_job>() == 3);
  REQUIRE(discovery->count<image_request>() == 2);
  CHECK(status()["recovery"]["attempt"] == 2);
}

TEST_CASE_METHOD(coordinator_fixture, "a flash that failed before writing asks the network "
                                      "again at once") {
  start();
  walk_to_flashing();
  REQUIRE_FALSE(store->write_journal({recovery_journal::phase::staged, img.manifest, "donor-a"}));
  flasher_says(flash_failed{"staged block 3 does not match the signed Merkle root", 0, true});
  advance(200ms);
  CHECK(flasher->count<flash_job>() == 1);
  REQUIRE(discovery->count<image_request>() == 2);
}

TEST_CASE_METHOD(coordinator_fixture, "a job whose actor dies fails, and the recovery goes on") {
  start();
  SECTION("the transfer dies mid-transfer: the network is asked again") {
    report_bad_flash();
    offers_arrive();
    negotiate();
    auto worker = sys.registry().get<caf::actor>(roles::transfer);
    caf::anon_send_exit(worker, caf::exit_reason::kill);
    run();
    CHECK(phase() == "discovering");
    advance(200ms);
    REQUIRE(discovery->count<image_request>() == 2);
  }
  SECTION("the flasher dies mid-flash: flashed again from the staged image") {
    walk_to_flashing();
    REQUIRE_FALSE(
      store->write_journal({recovery_journal::phase::flashing, img.manifest, "donor-a"}));
    auto dead = sys.registry().get<caf::actor>(roles::flasher);
    flasher = record(roles::flasher); // the supervisor's replacement
    caf::anon_send_exit(dead, caf::exit_reason::kill);
    run();
    advance(200ms);
    REQUIRE(flasher->count<flash_job>() == 1);
    CHECK(phase() == "flashing");
  }
}

TEST_CASE_METHOD(coordinator_fixture, "a phase that makes no progress fails the attempt") {
  ctx->config.recovery.stall_timeout_s = 30;
  start();
  report_bad_flash();
  offers_arrive();
  negotiate();
  auto job = transfer_job_id();
  caf::anon_send(coord, donor_confirmed{"donor-a", job});
  run();
  advance(29s);
  caf::anon_send(coord, transfer_progress{"donor-a", 8, 32, job}); // progress moves the deadline
  run();
  advance(29s);
  CHECK(phase() == "transferring");
  advance(1s); // 30 s after the last progress
  CHECK(phase() == "discovering");
  CHECK(status()["recovery"]["attempt"] == 1);
  advance(200ms);
  CHECK(status()["recovery"]["attempt"] == 2);
}

TEST_CASE_METHOD(coordinator_fixture, "a flash no donor can mend starts no recovery") {
  start();
  auto r = report(true, {}, "the installed image of 99 bytes does not fit ...");
  SECTION("unfixable") {
    r.fault = flash_fault::unfixable;
  }
  SECTION("unreadable") {
    r.fault = flash_fault::unreadable;
  }
  // Sent on every monitor pass: none of them starts a recovery.
  for (int pass = 0; pass < 3; ++pass)
    caf::anon_send(coord, r);
  run();
  CHECK(discovery->count<image_request>() == 0);
  auto st = status();
  CHECK(st["state"] == "idle");
  CHECK(st["last_check"]["fault"] == to_string(r.fault));
  CHECK(st["last_check"]["detail"] == r.detail);
}

TEST_CASE_METHOD(coordinator_fixture, "an operator's recover request") {
  start();
  CHECK(ask<std::string>(coord, recover_atom::value) == "recovery started");
  CHECK(discovery->count<image_request>() == 1);
  CHECK(status()["recovery"]["reason"] == "operator request");
  auto again = ask<std::string>(coord, recover_atom::value);
  CHECK(again.find("already in progress") != std::string::npos);
  CHECK(discovery->count<image_request>() == 1);
}

TEST_CASE_METHOD(coordinator_fixture, "safe hold refuses every recovery") {
  start();
  caf::anon_send(coord, hold_atom::value);
  run();
  CHECK(ask<std::string>(coord, recover_atom::value).find("refused") == 0);
  report_bad_flash();
  CHECK(discovery->count<image_request>() == 0);
  auto st = status();
  CHECK(st["safe_hold"] == true);
  CHECK(st["state"] == "failed");
}

TEST_CASE_METHOD(coordinator_fixture, "safe hold stops a pending retry") {
  negotiation_finds_nothing();
  start();
  report_bad_flash();
  offers_arrive();
  caf::anon_send(coord, hold_atom::value);
  run();
  advance(1h);
  CHECK(discovery->count<image_request>() == 1);
}

TEST_CASE_METHOD(coordinator_fixture,
                 "an interrupted recovery in the journal is resumed at start") {
  SECTION("flashing: the flasher is asked again at once") {
    REQUIRE_FALSE(
      store->write_journal({recovery_journal::phase::flashing, img.manifest, "donor-a"}));
    start();
    REQUIRE(flasher->count<flash_job>() == 1);
    CHECK(flasher->last<flash_job>().target.fields.merkle_root == img.manifest.fields.merkle_root);
    CHECK(monitor->atoms(pause_atom::value) == 1);
    CHECK(discovery->count<image_request>() == 0);
    auto st = status();
    CHECK(st["state"] == "flashing");
    CHECK(st["recovery"]["donor"] == "donor-a");
  }
  SECTION("transferring: a new discovery") {
    REQUIRE_FALSE(
      store->write_journal({recovery_journal::phase::transferring, img.manifest, "donor-a"}));
    start();
    CHECK(flasher->count<flash_job>() == 0);
    CHECK(discovery->count<image_request>() == 1);
    CHECK(phase() == "discovering");
  }
}

TEST_CASE_METHOD(coordinator_fixture, "status JSON describes the node") {
  ctx->config.svn_floor = 2;
  start();
  auto st = status();
  CHECK(st["node"] == "recipient");
  CHECK(st["role"] == "peer");
  CHECK(st["state"] == "idle");
  CHECK(st["safe_hold"] == false);
  CHECK(st["policy"] == ctx->config.recovery.policy);
  CHECK(st["installed"].is_null());
  CHECK(st["turned_away"]["datagrams"] == 3);
  CHECK(st["turned_away"]["sessions"] == 5);
  CHECK(st["svn_floor"] == 2);
  CHECK(st["last_check"]["checked"] == false);
  CHECK_FALSE(st.contains("recovery"));
  CHECK_FALSE(st.contains("last_recovery"));

  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  REQUIRE_FALSE(store->raise_svn_floor(5));
  report_bad_flash();
  auto req = discovery->last<image_request>();
  auto offers = collected(req, {donor_a.candidate_for(req, img.manifest)});
  negotiation->reply = [](const caf::message& m) {
    auto& o = m.get_as<offers_collected>(0);
    return caf::make_message(
      ranking(o.offers,
              {verdict("donor-a", 5, "", 1), verdict("donor-b", 1, "svn 1 is below the floor 5")}));
  };
  caf::anon_send(coord, offers);
  run();
  st = status();
  CHECK(st["svn_floor"] == 5);
  CHECK(st["installed"]["version"] == img.manifest.fields.version);
  CHECK(st["installed"]["platform"] == "Acme:X11-DP");
  CHECK(st["last_check"]["checked"] == true);
  CHECK(st["last_check"]["ok"] == false);
  CHECK(st["recovery"]["attempt"] == 1);
  auto verdicts = st["last_negotiation"]["offers"];
  REQUIRE(verdicts.size() == 2);
  CHECK(verdicts[0]["rank"] == 1);
  CHECK(verdicts[1]["compatible"] == false);
  CHECK(verdicts[1]["reason"] == "svn 1 is below the floor 5");
}

TEST_CASE_METHOD(coordinator_fixture, "a boot failure with a flash that does not verify starts "
                                      "a recovery at once") {
  auto watcher = record(roles::boot_watch);
  start();
  caf::anon_send(coord, boot_result{false, "no_output", "no console output within 60 s"});
  run();
  // The verdict waits for a check of the flash.
  REQUIRE(monitor->count<check_atom>() == 1);
  CHECK(phase() == "idle");
  report_bad_flash();
  CHECK(phase() == "discovering");
  CHECK(status()["recovery"]["reason"].get<std::string>().starts_with(
    "boot failure: no console output within 60 s; 2 of 32 blocks"));
  CHECK(watcher->count<power_cycle>() == 0);
  CHECK(status()["boot"]["history"].size() == 1);
}

TEST_CASE_METHOD(coordinator_fixture, "an image that verifies but does not boot is power-cycled, "
                                      "then excluded and replaced") {
  auto watcher = record(roles::boot_watch);
  ctx->config.boot.failures_to_exclude = 2;
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  start();
  auto good_check = [&] {
    auto r = report(true, {}, "flash matches");
    r.root = img.manifest.fields.merkle_root;
    caf::anon_send(coord, r);
    run();
  };
  caf::anon_send(coord, boot_result{false, "no_pattern", "no success pattern"});
  run();
  good_check();
  REQUIRE(watcher->count<power_cycle>() == 1);
  CHECK(phase() == "idle");
  CHECK(status()["boot"]["failed_roots"].empty());

  caf::anon_send(coord, boot_result{false, "no_pattern", "no success pattern"});
  run();
  good_check();
  CHECK(watcher->count<power_cycle>() == 1);
  CHECK(phase() == "discovering");
  auto req = discovery->last<image_request>();
  REQUIRE(req.exclude_roots.size() == 1);
  CHECK(req.exclude_roots[0] == img.manifest.fields.merkle_root);
  CHECK(status()["boot"]["failed_roots"].size() == 1);
}

TEST_CASE_METHOD(coordinator_fixture, "a boot raises the svn floor to the image that booted") {
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  start();
  auto before = *store->svn_floor();
  caf::anon_send(coord, boot_result{true, "booted", "the console showed 'login:'"});
  run();
  CHECK(*store->svn_floor() == img.manifest.fields.svn);
  CHECK(before < img.manifest.fields.svn);
  CHECK(monitor->count<check_atom>() == 0);
}

namespace {

/// A location the coordinator only hands on: the fetch (recorded here) would read it.
class named_image : public image_location {
public:
  std::string name() const override {
    return "http";
  }
  caf::expected<std::vector<located_image>> list(std::vector<std::string>&) override {
    return std::vector<located_image>{};
  }
  caf::error read(const located_image&, std::span<const byte_run>, const run_sink&) override {
    return caf::none;
  }
  uint64_t bytes_read() const override {
    return 0;
  }
};

} // namespace

TEST_CASE_METHOD(coordinator_fixture,
                 "a recovery from a named image fetches it alone, once, and is numbered") {
  auto fetch = record(roles::fetch);
  start();
  CHECK(status()["recoveries"] == 0);
  auto loc = std::make_shared<named_image>();
  auto answer = ask<recovery_started>(coord, recover_from_location{loc, "SimpleUpdate of x"});
  CHECK(answer.started);
  CHECK(answer.number == 1);
  REQUIRE(fetch->count<fetch_job>() == 1);
  auto job = fetch->last<fetch_job>();
  CHECK(job.location == loc);
  CHECK(job.source == "requested");
  CHECK(discovery->count<image_request>() == 0); // recovery.sources (peers) is not walked
  CHECK(status()["recovery"]["number"] == 1);
  CHECK(status()["recovery"]["reason"] == "SimpleUpdate of x");
  // A second request while it runs starts nothing and names the one running.
  auto busy = ask<recovery_started>(coord, recover_from_location{loc, "again"});
  CHECK_FALSE(busy.started);
  CHECK(busy.number == 1);
  CHECK(fetch->count<fetch_job>() == 1);
  // The image fails its checks: the recovery ends at once, without another attempt.
  caf::anon_send(coord, fetch_failed{job.job, "requested", "signed by an unknown key"});
  run();
  advance(1h);
  CHECK(fetch->count<fetch_job>() == 1);
  CHECK(discovery->count<image_request>() == 0);
  auto st = status();
  CHECK(st["state"] == "failed");
  CHECK(st["last_recovery"]["number"] == 1);
  CHECK(st["last_recovery"]["succeeded"] == false);
  CHECK(st["last_recovery"]["detail"].get<std::string>().find("unknown key")
        != std::string::npos);
  // The next recovery, asked for over the admin socket, is number 2 and walks the sources.
  CHECK(ask<std::string>(coord, recover_atom::value) == "recovery started");
  CHECK(discovery->count<image_request>() == 1);
  CHECK(status()["recoveries"] == 2);
  CHECK(status()["recovery"]["number"] == 2);
}
