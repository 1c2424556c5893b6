// Taking an image from a location: the checks a peer's image gets, only the missing runs read,
// and one bad block refusing the image.
#include <catch2/catch.hpp>

#include "tests/actors/actor_fixture.hpp"
#include "actors/location_pull.hpp"
#include "common/error.hpp"
#include "tests/fakes/fake_flash.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

/// A location in memory that records what it was asked to read.
class memory_location : public image_location {
public:
  std::vector<std::pair<located_image, std::vector<uint8_t>>> images;
  std::vector<std::vector<byte_run>> reads;
  uint64_t read_bytes = 0;

  std::string name() const override {
    return "memory";
  }
  caf::expected<std::vector<located_image>> list(std::vector<std::string>&) override {
    std::vector<located_image> out;
    for (const auto& [img, bytes] : images)
      out.push_back(img);
    return out;
  }
  caf::error read(const located_image& image, std::span<const byte_run> runs,
                  const run_sink& sink) override {
    reads.emplace_back(runs.begin(), runs.end());
    for (const auto& [img, bytes] : images) {
      if (img.where != image.where)
        continue;
      for (const auto& r : runs) {
        // Two pieces per run, as a network read hands them over.
        auto half = r.length / 2;
        std::span<const uint8_t> all{bytes.data() + r.offset, r.length};
        if (auto err = sink(r.offset, all.first(half)))
          return err;
        if (auto err = sink(r.offset + half, all.subspan(half)))
          return err;
        read_bytes += r.length;
      }
      return {};
    }
    return make_error(errc::io_failure, "gone");
  }
  uint64_t bytes_read() const override {
    return read_bytes;
  }
};

struct pull_fixture {
  temp_dir tmp;
  secret_key release = secret_key::generate();
  std::shared_ptr<fake_flash> chip = std::make_shared<fake_flash>(64 * 1024);
  memory_location loc;

  pull_fixture() {
    loc.images.reserve(4);
  }

  location_pull_options options() {
    location_pull_options o;
    o.rules.platform = test_platform();
    o.rules.flash_size = chip->geometry().size;
    o.rules.trusted_keys = {release.public_part()};
    o.chip = chip;
    o.staging_path = tmp.path("staging");
    o.verified_in_memory_bytes = 1 << 20;
    return o;
  }
  void add(const std::string& where, const test_image& img) {
    loc.images.push_back({{where, img.manifest}, img.bytes});
  }
};

} // namespace

TEST_CASE_METHOD(pull_fixture, "only the blocks the flash lacks are read, and they are staged") {
  auto img = make_image(release, random_bytes(64 * 1024, 3), 5);
  chip->cells() = img.bytes;
  // Blocks 4 and 5 and 20 damaged.
  std::fill_n(chip->cells().begin() + 4 * 1024, 2 * 1024, 0xff);
  std::fill_n(chip->cells().begin() + 20 * 1024, 1024, 0xff);
  add("a", img);
  auto got = pull_from_location(loc, options());
  REQUIRE(got);
  CHECK(got->where == "memory a");
  CHECK(got->pulled == 3);
  CHECK(got->reused == 61);
  REQUIRE(loc.reads.size() == 1);
  CHECK(loc.reads[0] == std::vector<byte_run>{{4 * 1024, 2 * 1024}, {20 * 1024, 1024}});
  CHECK(got->staged[4]);
  CHECK(got->staged[20]);
  CHECK_FALSE(got->staged[0]);
  auto staged = read_bytes(tmp.path("staging"));
  CHECK(std::equal(staged.begin() + 4 * 1024, staged.begin() + 6 * 1024,
                   img.bytes.begin() + 4 * 1024));
  REQUIRE(got->verified);
  CHECK(got->verified->holds(20));
}

TEST_CASE_METHOD(pull_fixture, "a bad block refuses the image and the next one is tried") {
  auto good = make_image(release, random_bytes(64 * 1024, 3), 5);
  auto tampered = make_image(release, random_bytes(64 * 1024, 4), 6);
  tampered.bytes[7 * 1024 + 3] ^= 1;
  chip->cells().assign(64 * 1024, 0xff);
  add("tampered", tampered);
  add("good", good);
  std::vector<std::string> notes;
  auto o = options();
  o.note = [&](const std::string& line) { notes.push_back(line); };
  auto got = pull_from_location(loc, o);
  REQUIRE(got);
  // The newer (svn 6) is tried first and refused at its bad block.
  CHECK(got->where == "memory good");
  CHECK(std::find(notes.begin(), notes.end(),
                  "tampered: block 7 does not match its signed digest")
        != notes.end());
}

TEST_CASE_METHOD(pull_fixture, "no usable image: one line with each image's reason") {
  auto old = make_image(release, random_bytes(64 * 1024, 3), 1);
  auto other = make_image(release, random_bytes(64 * 1024, 3), 5, platform_id{"Acme", "X12"});
  auto stranger = make_image(secret_key::generate(), random_bytes(64 * 1024, 3), 5);
  add("old", old);
  add("other", other);
  add("stranger", stranger);
  auto o = options();
  o.rules.svn_floor = 2;
  auto got = pull_from_location(loc, o);
  REQUIRE_FALSE(got);
  auto line = describe(got.error());
  CHECK(line.find("old: svn 1") != std::string::npos);
  CHECK(line.find("other: platform Acme:X12") != std::string::npos);
  CHECK(line.find("stranger: ") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(loc.reads.empty()); // nothing of a refused image is read
}

TEST_CASE_METHOD(pull_fixture, "a cancelled pull stops at the next piece") {
  auto img = make_image(release, random_bytes(64 * 1024, 3), 5);
  chip->cells().assign(64 * 1024, 0xff);
  add("a", img);
  auto o = options();
  int asked = 0;
  o.cancelled = [&] { return ++asked > 1; };
  auto got = pull_from_location(loc, o);
  REQUIRE_FALSE(got);
  CHECK(describe(got.error()).find("cancelled") != std::string::npos);
}
