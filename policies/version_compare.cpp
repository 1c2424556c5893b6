#include "policies/version_compare.hpp"

namespace fwrescue {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// The run of digits at the front of `s`, without its leading zeros; `s` moves past the run.
std::string_view take_number(std::string_view& s) {
  size_t end = 0;
  while (end < s.size() && is_digit(s[end]))
    ++end;
  auto run = s.substr(0, end);
  s.remove_prefix(end);
  auto first = run.find_first_not_of('0');
  return first == std::string_view::npos ? std::string_view{} : run.substr(first);
}

} // namespace

std::weak_ordering version_compare(std::string_view a, std::string_view b) {
  while (!a.empty() && !b.empty()) {
    bool da = is_digit(a.front());
    bool db = is_digit(b.front());
    if (da && db) {
      // Without leading zeros, the longer run is the larger number; equal lengths compare as
      // text. Values are never converted, so a 40-digit build number cannot overflow.
      auto na = take_number(a);
      auto nb = take_number(b);
      if (na.size() != nb.size())
        return na.size() <=> nb.size();
      if (auto c = na.compare(nb); c != 0)
        return c <=> 0;
      continue;
    }
    // A digit against a non-digit byte: the bytes' values place the number correctly, because
    // every number starts with a byte in '0'..'9'.
    auto ca = static_cast<unsigned char>(a.front());
    auto cb = static_cast<unsigned char>(b.front());
    if (ca != cb)
      return ca <=> cb;
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  return a.size() <=> b.size();
}

} // namespace fwrescue
