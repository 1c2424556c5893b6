// Fuzzes the recovery journal as a restarted daemon reads it: through nv_store::journal()
// (hal/nv_store.hpp), from the files `journal` (text) and `journal.fwm` (its target's
// manifest file) in the store's directory. A crash, a full disk or a hand edit can leave
// anything there, and the daemon reads it before it does anything else.
//
// Input: the journal's text, then, from the first "FWRMANIF" (a manifest file's magic) on, the
// manifest file; without the magic there is no journal.fwm. nv_store::host_before() reads the
// same text (an earlier version's `power_before` line). Whatever reads as a journal must
// hold the target that file decodes to, and written back with nv_store::write_journal it must
// read back the same (a donor id with a line break is refused instead: the format is lines).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "common/error.hpp"
#include "fuzz/fuzz_check.hpp"
#include "hal/nv_store.hpp"

namespace fwrescue::fuzz {
namespace {

namespace fs = std::filesystem;

/// A directory under tmpfs when there is one (write_journal syncs what it writes), removed
/// when the process exits normally.
class scratch_dir {
public:
  scratch_dir() {
    auto base = fs::is_directory("/dev/shm") ? fs::path{"/dev/shm"} : fs::temp_directory_path();
    auto pattern = (base / "fwrescue-journal-fuzz.XXXXXX").string();
    check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    path_ = pattern;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const {
    return path_;
  }

private:
  fs::path path_;
};

/// One directory per process, reused by every input: creating one per input would cost more
/// than the parse.
const fs::path& work_dir() {
  static const scratch_dir dir;
  return dir.path();
}

void write_file(const fs::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  check(static_cast<bool>(out), "write the input file");
}

nv_store open_store(const char* name) {
  nv_store store{(work_dir() / name).string()};
  check(!store.open(), "open the store");
  return store;
}

bool same(const signed_manifest& a, const signed_manifest& b) {
  return a.body == b.body && a.sig == b.sig && a.fields == b.fields
         && a.block_digests == b.block_digests;
}

void check_written_back(const recovery_journal& j) {
  static nv_store store = open_store("written");
  auto err = store.write_journal(j);
  if (j.donor.find_first_of("\r\n") != std::string::npos) {
    check(static_cast<bool>(err), "a donor id with a line break is refused");
    return;
  }
  check(!err, "a journal that was read can be written");
  auto back = store.journal();
  check(back && *back, "a written journal reads back");
  const auto& k = **back;
  check(k.at == j.at && k.donor == j.donor && same(k.target, j.target),
        "a written journal reads back the same");
}

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  static nv_store store = fuzz::open_store("read");
  std::span<const uint8_t> input{data, size};
  auto magic =
    std::search(input.begin(), input.end(), manifest_file_magic.begin(), manifest_file_magic.end());
  auto text = input.first(static_cast<size_t>(magic - input.begin()));
  auto manifest_file = input.subspan(text.size());

  auto dir = std::filesystem::path{store.dir()};
  fuzz::write_file(dir / "journal", text);
  if (manifest_file.empty())
    std::filesystem::remove(dir / "journal.fwm");
  else
    fuzz::write_file(dir / "journal.fwm", manifest_file);

  // The host's state before flashing: without a host_before file, read from the legacy
  // `power_before` line of a journal written by an earlier version.
  auto power = store.host_before();
  check(static_cast<bool>(power) || !describe(power.error()).empty(),
        "an error says what is wrong");

  auto j = store.journal();
  check(static_cast<bool>(j) || !describe(j.error()).empty(), "an error says what is wrong");
  if (!j || !*j)
    return 0;
  auto target = decode_manifest_file(manifest_file);
  check(target && fuzz::same((*j)->target, *target), "the journal's target is journal.fwm's");
  fuzz::check_written_back(**j);
  return 0;
}
