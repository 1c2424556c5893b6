#pragma once

#include <optional>
#include <string>
#include <utility>

namespace icmb_bus {

/// A value, or the one line that says why there is none.
template <class T>
struct outcome {
  std::optional<T> value;
  std::string error;

  static outcome ok(T v) {
    return outcome{std::move(v), {}};
  }
  static outcome fail(std::string what) {
    return outcome{std::nullopt, std::move(what)};
  }
  explicit operator bool() const {
    return value.has_value();
  }
};

} // namespace icmb_bus
