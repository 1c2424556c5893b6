// The directory location: what it lists from a golden-copy directory or a medium, what it
// refuses to open, and how a read ends when the medium goes away.
#include <filesystem>

#include <catch2/catch.hpp>

#include "tests/actors/actor_fixture.hpp"
#include "common/error.hpp"
#include "sources/dir_location.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
namespace fs = std::filesystem;

namespace {

struct dir_fixture {
  temp_dir tmp;
  secret_key release = secret_key::generate();
  test_image img = make_image(release, random_bytes(64 * 1024, 7), 5);

  void put(const std::string& dir, const std::string& name, const test_image& i) {
    fs::create_directories(dir);
    write_bytes(dir + "/" + name, i.bytes);
    write_bytes(dir + "/" + name + ".fwm", encode_manifest_file(i.manifest));
  }
};

/// Every byte the sink receives, at its offset.
struct collected {
  std::vector<uint8_t> bytes;
  uint64_t calls = 0;
  run_sink sink() {
    return [this](uint64_t at, std::span<const uint8_t> b) -> caf::error {
      if (bytes.size() < at + b.size())
        bytes.resize(at + b.size());
      std::copy(b.begin(), b.end(), bytes.begin() + static_cast<ptrdiff_t>(at));
      ++calls;
      return {};
    };
  }
};

} // namespace

TEST_CASE_METHOD(dir_fixture, "a directory lists its images by their manifests") {
  auto dir = tmp.path("golden");
  put(dir, "bios.fd", img);
  write_bytes(dir + "/notes.txt", {'h', 'i'});
  write_bytes(dir + "/broken.fd.fwm", {'n', 'o', 'p', 'e'});
  dir_location loc{"local", {dir}, 0};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].where == dir + "/bios.fd");
  CHECK((*found)[0].manifest.fields.merkle_root == img.manifest.fields.merkle_root);
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].starts_with(dir + "/broken.fd.fwm: "));
}

TEST_CASE_METHOD(dir_fixture, "a missing directory is one line naming it") {
  dir_location local{"local", {tmp.path("nowhere")}, 0};
  std::vector<std::string> skipped;
  auto found = local.list(skipped);
  REQUIRE_FALSE(found);
  CHECK(describe(found.error()) == tmp.path("nowhere") + ": no such directory");
  dir_location removable{"removable", {tmp.path("media")}, 1};
  auto none = removable.list(skipped);
  REQUIRE_FALSE(none);
  CHECK(describe(none.error()).starts_with("no medium: "));
}

TEST_CASE_METHOD(dir_fixture, "media are the watched directory and the directories in it") {
  auto media = tmp.path("media");
  put(media + "/usb0", "bios.fd", img);
  put(media + "/pcmcia0/deeper", "bios.fd", img); // two levels down: not a medium's top
  dir_location loc{"removable", {media}, 1};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].where == media + "/usb0/bios.fd");
}

TEST_CASE_METHOD(dir_fixture, "links, devices and pipes on a medium are never opened") {
  auto media = tmp.path("media");
  put(tmp.path("elsewhere"), "bios.fd", img);
  fs::create_directories(media + "/usb0");
  fs::create_symlink(tmp.path("elsewhere") + "/bios.fd.fwm", media + "/usb0/link.fd.fwm");
  fs::create_directory_symlink(tmp.path("elsewhere"), media + "/usb1");
  // A manifest whose image is a link to a device.
  write_bytes(media + "/usb0/dev.fwm", encode_manifest_file(img.manifest));
  fs::create_symlink("/dev/zero", media + "/usb0/dev");
  dir_location loc{"removable", {media}, 1};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].where == media + "/usb0/dev");
  collected got;
  std::vector<byte_run> runs{{0, 1024}};
  auto err = loc.read((*found)[0], runs, got.sink());
  REQUIRE(err);
  CHECK(got.calls == 0);
}

TEST_CASE_METHOD(dir_fixture, "runs are read exactly") {
  auto dir = tmp.path("golden");
  put(dir, "bios.fd", img);
  dir_location loc{"local", {dir}, 0};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  collected got;
  std::vector<byte_run> runs{{1024, 2048}, {10240, 1024}, {64 * 1024 - 1024, 1024}};
  REQUIRE_FALSE(loc.read((*found)[0], runs, got.sink()));
  for (const auto& r : runs)
    for (uint64_t i = r.offset; i < r.offset + r.length; ++i)
      REQUIRE(got.bytes[i] == img.bytes[i]);
  CHECK(loc.bytes_read() >= 4096);
}

TEST_CASE_METHOD(dir_fixture, "an image of another size than its manifest's is refused") {
  auto dir = tmp.path("golden");
  put(dir, "bios.fd", img);
  auto shorter = img.bytes;
  shorter.resize(shorter.size() - 1);
  write_bytes(dir + "/bios.fd", shorter);
  dir_location loc{"local", {dir}, 0};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  collected got;
  std::vector<byte_run> runs{{0, 1024}};
  auto err = loc.read((*found)[0], runs, got.sink());
  REQUIRE(err);
  CHECK(describe(err) == dir + "/bios.fd is 65535 bytes; its manifest says 65536");
}

TEST_CASE_METHOD(dir_fixture, "a medium removed while it is read ends the read") {
  auto media = tmp.path("media");
  // Big enough for several chunks of the read.
  auto big = make_image(release, random_bytes(3 << 20, 9), 5);
  put(media + "/usb0", "bios.fd", big);
  dir_location loc{"removable", {media}, 1};
  std::vector<std::string> skipped;
  auto found = loc.list(skipped);
  REQUIRE(found);
  uint64_t pieces = 0;
  run_sink pull_the_stick = [&](uint64_t, std::span<const uint8_t>) -> caf::error {
    if (++pieces == 1)
      fs::remove_all(media + "/usb0");
    return {};
  };
  std::vector<byte_run> runs{{0, 3 << 20}};
  auto err = loc.read((*found)[0], runs, pull_the_stick);
  REQUIRE(err);
  CHECK(describe(err) == media + "/usb0/bios.fd disappeared while it was read (medium removed?)");
  CHECK(pieces == 1);
}
