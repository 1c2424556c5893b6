#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "hal/nv_store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

signed_manifest sample_manifest(uint32_t svn, uint8_t fill) {
  signed_manifest s;
  s.fields.platform = {"Acme", "X11-DP"};
  s.fields.version = fmt::format("1.{}", svn);
  s.fields.svn = svn;
  s.fields.image_size = 3 * 4096 + 100;
  s.fields.merkle_root.fill(fill);
  s.fields.signer_key_id.fill(7);
  s.fields.created_at = 1795000000;
  s.body = encode_body(s.fields);
  s.sig.fill(fill);
  s.block_digests.resize(s.fields.block_count());
  for (size_t i = 0; i < s.block_digests.size(); ++i)
    s.block_digests[i].fill(static_cast<uint8_t>(fill + i));
  return s;
}

void check_same(const signed_manifest& a, const signed_manifest& b) {
  CHECK(a.body == b.body);
  CHECK(a.sig == b.sig);
  CHECK(a.fields == b.fields);
  CHECK(a.block_digests == b.block_digests);
}

recovery_journal sample_journal(recovery_journal::phase at, uint8_t fill = 1) {
  recovery_journal j;
  j.at = at;
  j.target = sample_manifest(4, fill);
  j.donor = "node-7";
  return j;
}

/// A store in a fresh directory, opened.
struct store {
  test::temp_dir dir;
  nv_store nv{dir.path("nv")};

  store() {
    REQUIRE_FALSE(nv.open());
  }

  std::string path(const std::string& name) const {
    return dir.path("nv/" + name);
  }

  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator{nv.dir()})
      names.insert(e.path().filename().string());
    return names;
  }

  void put(const std::string& name, const std::string& text) {
    test::write_bytes(path(name), {text.begin(), text.end()});
  }
};

std::string journal_error(store& s) {
  auto j = s.nv.journal();
  REQUIRE_FALSE(j);
  CHECK(has_code(j.error(), errc::malformed));
  return describe(j.error());
}

} // namespace

TEST_CASE("an empty store has no manifest, no journal and a floor of zero") {
  store s;
  auto m = s.nv.installed_manifest();
  REQUIRE(m);
  CHECK_FALSE(m->has_value());
  auto floor = s.nv.svn_floor();
  REQUIRE(floor);
  CHECK(*floor == 0);
  auto j = s.nv.journal();
  REQUIRE(j);
  CHECK_FALSE(j->has_value());
  CHECK(s.nv.staging_path() == s.path("staging.img"));
  CHECK(s.files().empty());
}

TEST_CASE("opening a store creates its directory and refuses one it cannot use") {
  test::temp_dir dir;
  nv_store nested{dir.path("a/b/c")};
  REQUIRE_FALSE(nested.open());
  CHECK(std::filesystem::is_directory(dir.path("a/b/c")));

  test::write_bytes(dir.path("file"), {1});
  nv_store under_file{dir.path("file/nv")};
  auto err = under_file.open();
  REQUIRE(err);
  CHECK_THAT(describe(err), Catch::Contains(dir.path("file/nv")));

  // Root ignores permission bits, so use a directory no one can create files in.
  auto locked = dir.path("locked");
  std::filesystem::create_directory(locked);
  ::chmod(locked.c_str(), 0500);
  nv_store unwritable{::geteuid() == 0 ? std::string{"/proc"} : locked};
  auto denied = unwritable.open();
  REQUIRE(denied);
  CHECK_THAT(describe(denied), Catch::Contains("not writable"));
  ::chmod(locked.c_str(), 0700);
}

TEST_CASE("the installed manifest survives a round trip and is replaced whole") {
  store s;
  REQUIRE_FALSE(s.nv.set_installed_manifest(sample_manifest(3, 1)));
  REQUIRE_FALSE(s.nv.set_installed_manifest(sample_manifest(5, 2)));
  auto back = s.nv.installed_manifest();
  REQUIRE(back);
  REQUIRE(back->has_value());
  check_same(**back, sample_manifest(5, 2));
  CHECK(s.files() == std::set<std::string>{"installed.fwm"});

  s.put("installed.fwm", "not a manifest");
  auto bad = s.nv.installed_manifest();
  REQUIRE_FALSE(bad);
  CHECK_THAT(describe(bad.error()), Catch::StartsWith("nv_store " + s.path("installed.fwm")));
}

TEST_CASE("the svn floor only ever rises") {
  store s;
  REQUIRE_FALSE(s.nv.raise_svn_floor(5));
  CHECK(*s.nv.svn_floor() == 5);
  REQUIRE_FALSE(s.nv.raise_svn_floor(3));
  CHECK(*s.nv.svn_floor() == 5);
  REQUIRE_FALSE(s.nv.raise_svn_floor(4294967295u));
  CHECK(*s.nv.svn_floor() == 4294967295u);
  auto text = read_file(s.path("svn_floor"), 100, "floor");
  REQUIRE(text);
  CHECK(std::string(text->begin(), text->end()) == "4294967295\n");
  // A fresh instance on the same directory sees the same floor.
  nv_store again{s.nv.dir()};
  CHECK(*again.svn_floor() == 4294967295u);
  CHECK(s.files() == std::set<std::string>{"svn_floor"});
}

TEST_CASE("a malformed svn floor is an error naming the file and is not overwritten") {
  store s;
  for (std::string bad : {"", "12a\n", "-1\n", "4294967296\n", "7\n\n"}) {
    s.put("svn_floor", bad);
    auto floor = s.nv.svn_floor();
    REQUIRE_FALSE(floor);
    CHECK(has_code(floor.error(), errc::malformed));
    CHECK_THAT(describe(floor.error()), Catch::StartsWith("nv_store " + s.path("svn_floor")));
  }
  s.put("svn_floor", "x\n");
  CHECK(s.nv.raise_svn_floor(1));
  auto kept = read_file(s.path("svn_floor"), 100, "floor");
  CHECK(std::string(kept->begin(), kept->end()) == "x\n");
}

TEST_CASE("the journal survives a round trip in every phase and is cleared with its manifest") {
  using phase = recovery_journal::phase;
  store s;
  for (auto at : {phase::transferring, phase::staged, phase::flashing}) {
    auto written = sample_journal(at);
    REQUIRE_FALSE(s.nv.write_journal(written));
    auto back = s.nv.journal();
    REQUIRE(back);
    REQUIRE(back->has_value());
    CHECK((*back)->at == at);
    CHECK((*back)->donor == "node-7");
    check_same((*back)->target, written.target);
  }
  auto text = read_file(s.path("journal"), 1000, "journal");
  CHECK(std::string(text->begin(), text->end())
        == "phase flashing\ndonor node-7\n");
  CHECK(s.files() == std::set<std::string>{"journal", "journal.fwm"});

  s.put("staging.img", "blocks");
  REQUIRE_FALSE(s.nv.clear_journal());
  CHECK(s.files().empty()); // the staging file goes with the journal
  auto gone = s.nv.journal();
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  REQUIRE_FALSE(s.nv.clear_journal());
}

TEST_CASE("a malformed journal is an error naming the file and line") {
  store s;
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(recovery_journal::phase::staged)));
  auto journal = s.path("journal");

  s.put("journal", "donor node-7\nphase flsahing\npower_before on\n");
  CHECK(journal_error(s) == "nv_store " + journal + ": line 2: unknown phase 'flsahing'");
  s.put("journal", "phase staged\ndonor a\npower_before sleeping\n");
  CHECK(journal_error(s) == "nv_store " + journal + ": line 3: unknown power state 'sleeping'");
  s.put("journal", "phase staged\ndonor a\npower_before on\ncolour red\n");
  CHECK(journal_error(s) == "nv_store " + journal + ": line 4: unknown key 'colour'");
  s.put("journal", "phase staged\nphase flashing\ndonor a\npower_before on\n");
  CHECK(journal_error(s) == "nv_store " + journal + ": line 2: 'phase' given twice");
  s.put("journal", "phase staged\npower_before on\n");
  CHECK(journal_error(s) == "nv_store " + journal + ": no 'donor' line");
}

TEST_CASE("the host's state before a recovery is recorded once and survives every journal write") {
  using phase = recovery_journal::phase;
  store s;
  auto none = s.nv.host_before();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  REQUIRE_FALSE(s.nv.remember_host_before(power_state::on));
  // A later attempt finds the host off because the first one turned it off; that must not
  // replace what the first one recorded.
  REQUIRE_FALSE(s.nv.remember_host_before(power_state::off));
  for (auto at : {phase::transferring, phase::staged, phase::flashing, phase::transferring})
    REQUIRE_FALSE(s.nv.write_journal(sample_journal(at, static_cast<uint8_t>(at) + 1)));
  auto recorded = s.nv.host_before();
  REQUIRE(recorded);
  REQUIRE(recorded->has_value());
  CHECK(**recorded == power_state::on);
  REQUIRE_FALSE(s.nv.forget_host_before());
  recorded = s.nv.host_before();
  REQUIRE(recorded);
  CHECK_FALSE(recorded->has_value());
  REQUIRE_FALSE(s.nv.forget_host_before()); // forgetting twice is fine

  SECTION("a malformed record is an error naming the file") {
    s.put("host_before", "sleeping\n");
    auto bad = s.nv.host_before();
    REQUIRE_FALSE(bad);
    CHECK_THAT(describe(bad.error()), Catch::Contains("host_before") && Catch::Contains("sleeping"));
  }
}

TEST_CASE("a journal of an earlier version hands its power_before line to the host record") {
  using phase = recovery_journal::phase;
  store s;
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::flashing)));
  s.put("journal", "phase flashing\ndonor node-7\npower_before reset_held\n");
  auto legacy = s.nv.host_before();
  REQUIRE(legacy);
  REQUIRE(legacy->has_value());
  CHECK(**legacy == power_state::reset_held);
  // Rewriting the journal drops the line but keeps the state.
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::transferring, 9)));
  auto kept = s.nv.host_before();
  REQUIRE(kept);
  REQUIRE(kept->has_value());
  CHECK(**kept == power_state::reset_held);
}

TEST_CASE("a journal is always paired with the manifest it was written with") {
  using phase = recovery_journal::phase;
  store s;
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::transferring, 1)));
  struct stat before {};
  REQUIRE(::stat(s.path("journal.fwm").c_str(), &before) == 0);

  // A phase change with the same target keeps its manifest file as it is.
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::staged, 1)));
  struct stat after {};
  REQUIRE(::stat(s.path("journal.fwm").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);

  // A new target replaces the manifest with the journal.
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::transferring, 2)));
  auto back = s.nv.journal();
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK((*back)->at == phase::transferring);
  check_same((*back)->target, sample_journal(phase::transferring, 2).target);

  // When the new target's manifest cannot be written, the old journal is gone rather than left
  // pointing at a manifest it was not written with.
  std::filesystem::remove(s.path("journal.fwm"));
  std::filesystem::create_directory(s.path("journal.fwm"));
  CHECK(s.nv.write_journal(sample_journal(phase::flashing, 3)));
  auto after_failure = s.nv.journal();
  REQUIRE(after_failure);
  CHECK_FALSE(after_failure->has_value());
  std::filesystem::remove(s.path("journal.fwm"));

  // A journal whose manifest is missing says so.
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(phase::staged, 1)));
  std::filesystem::remove(s.path("journal.fwm"));
  auto orphan = s.nv.journal();
  REQUIRE_FALSE(orphan);
  CHECK_THAT(describe(orphan.error()),
             Catch::Contains(s.path("journal.fwm")) && Catch::Contains("missing"));
}

TEST_CASE("a donor id with a line break is refused before anything is written") {
  store s;
  auto j = sample_journal(recovery_journal::phase::staged);
  j.donor = "node-7\nphase flashing";
  auto err = s.nv.write_journal(j);
  REQUIRE(err);
  CHECK(has_code(err, errc::invalid_argument));
  CHECK(s.files().empty());
}

TEST_CASE("writes leave no temporary files, and opening removes those a crash left") {
  store s;
  REQUIRE_FALSE(s.nv.set_installed_manifest(sample_manifest(3, 1)));
  REQUIRE_FALSE(s.nv.raise_svn_floor(3));
  REQUIRE_FALSE(s.nv.write_journal(sample_journal(recovery_journal::phase::staged)));
  CHECK(s.files() == std::set<std::string>{"installed.fwm", "journal", "journal.fwm", "svn_floor"});

  s.put(".journal.tmp.AbC123", "half a journal");
  s.put("staging.img", "staged bytes");
  REQUIRE_FALSE(s.nv.open());
  CHECK(s.files()
        == std::set<std::string>{"installed.fwm", "journal", "journal.fwm", "staging.img",
                                 "svn_floor"});
}

TEST_CASE("journal phases have stable names") {
  using phase = recovery_journal::phase;
  CHECK(std::string{to_string(phase::transferring)} == "transferring");
  CHECK(std::string{to_string(phase::staged)} == "staged");
  CHECK(std::string{to_string(phase::flashing)} == "flashing");
}

TEST_CASE("the revocation list is stored and read back") {
  store s;
  auto none = s.nv.revocations();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  signed_revocations r;
  r.fields.serial = 3;
  r.fields.roots.push_back(digest{});
  r.body = *encode_revocation_body(r.fields);
  REQUIRE_FALSE(s.nv.set_revocations(r));
  auto back = s.nv.revocations();
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK((*back)->fields == r.fields);
  s.put("revocations.fwr", "garbage");
  auto bad = s.nv.revocations();
  REQUIRE_FALSE(bad);
  CHECK_THAT(describe(bad.error()), Catch::Contains("revocations.fwr"));
}
