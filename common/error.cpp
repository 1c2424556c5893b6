#include "common/error.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace fwrescue {

caf::error make_error(errc code, std::string what) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(what))};
}

bool has_code(const caf::error& err, errc code) {
  return err && err.category() == error_category && err.code() == static_cast<uint8_t>(code);
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  const auto& ctx = err.context();
  if (err.category() == error_category && ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

} // namespace fwrescue
