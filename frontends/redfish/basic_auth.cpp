#include "frontends/redfish/basic_auth.hpp"

#include <algorithm>
#include <vector>

#include <sodium.h>

namespace fwrescue::redfish {

namespace {

/// "Basic " in any case, then base64 of "user:password"; false when the header is not that.
bool decode(std::string_view header, std::string& user, std::string& password) {
  constexpr std::string_view scheme = "basic ";
  if (header.size() <= scheme.size()
      || !std::equal(scheme.begin(), scheme.end(), header.begin(),
                     [](char a, char b) { return a == (b | 0x20); }))
    return false;
  auto text = header.substr(scheme.size());
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  constexpr size_t max_decoded = credential_limits::max_user + 1 + credential_limits::max_password;
  if (text.size() > (max_decoded + 2) / 3 * 4)
    return false;
  std::vector<unsigned char> bin(max_decoded);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bin.data(), bin.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL)
        != 0
      || end != text.data() + text.size())
    return false;
  std::string_view pair{reinterpret_cast<const char*>(bin.data()), len};
  auto colon = pair.find(':');
  if (colon == std::string_view::npos)
    return false;
  user = pair.substr(0, colon);
  password = pair.substr(colon + 1);
  sodium_memzero(bin.data(), bin.size());
  return true;
}

} // namespace

basic_auth::basic_auth(credentials creds, options o)
  : creds_(std::move(creds)), options_(o),
    limiter_(o.checks_per_client_per_s, o.checks_per_s, 256) {
  randombytes_buf(secret_.data(), secret_.size());
}

basic_auth::key basic_auth::key_of(std::string_view header) const {
  key k{};
  crypto_generichash(k.data(), k.size(), reinterpret_cast<const unsigned char*>(header.data()),
                     header.size(), secret_.data(), secret_.size());
  return k;
}

bool basic_auth::remembered(const key& k, clock::time_point now) {
  auto it = passed_.find(k);
  if (it == passed_.end())
    return false;
  if (it->second > now)
    return true;
  passed_.erase(it);
  return false;
}

void basic_auth::remember(const key& k, clock::time_point now) {
  std::erase_if(passed_, [&](const auto& e) { return e.second <= now; });
  if (passed_.size() >= options_.remembered && !passed_.empty())
    passed_.erase(std::min_element(passed_.begin(), passed_.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; }));
  passed_[k] = now + options_.remember;
}

basic_auth::verdict basic_auth::check(std::string_view header, const std::string& client,
                                      clock::time_point now) {
  if (header.empty())
    return verdict::refused;
  auto k = key_of(header);
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    if (remembered(k, now))
      return verdict::allowed;
    if (!limiter_.allow(client, now))
      return verdict::throttled;
  }
  std::string user;
  std::string password;
  if (!decode(header, user, password))
    return verdict::refused;
  bool ok = false;
  {
    std::lock_guard<std::mutex> one_at_a_time{check_mtx_};
    ++checks_;
    ok = creds_.verify(user, password);
  }
  sodium_memzero(password.data(), password.size());
  if (!ok)
    return verdict::refused;
  std::lock_guard<std::mutex> guard{state_mtx_};
  remember(k, now);
  return verdict::allowed;
}

} // namespace fwrescue::redfish
