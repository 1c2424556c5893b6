// fwrescue: the command-line tool. Keys, signing, inspection, and talking to a running daemon.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "image/hash.hpp"
#include "tools/fwrescue/admin_commands.hpp"
#include "tools/fwrescue/image_commands.hpp"
#include "tools/fwrescue/passwd_command.hpp"
#include "tools/fwrescue/revocation_commands.hpp"

int main(int argc, char** argv) {
  using namespace fwrescue::cli;
  if (!fwrescue::init_crypto()) {
    fmt::print(stderr, "fwrescue: cannot initialise libsodium\n");
    return exit_error;
  }
  CLI::App app{"fwrescue: BIOS image signing, verification and recovery control"};
  app.require_subcommand(1);
  keygen_options keygen;
  sign_options sign;
  verify_options verify;
  inspect_options inspect;
  add_keygen(app, keygen);
  add_sign(app, sign);
  add_verify(app, verify);
  add_inspect(app, inspect);
  revoke_options revoke;
  add_revoke(app, revoke);
  admin_options status;
  admin_options recover;
  admin_options reload;
  admin_options fleet;
  add_status(app, status);
  add_recover(app, recover);
  add_reload(app, reload);
  add_fleet(app, fleet);
  passwd_options passwd;
  add_passwd(app, passwd);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "fwrescue: {} (see fwrescue --help)\n", e.what());
    return exit_error;
  }
  if (app.got_subcommand("keygen"))
    return run_keygen(keygen);
  if (app.got_subcommand("sign"))
    return run_sign(sign);
  if (app.got_subcommand("verify"))
    return run_verify(verify);
  if (app.got_subcommand("revoke"))
    return run_revoke(revoke);
  if (app.got_subcommand("status"))
    return run_status(status);
  if (app.got_subcommand("recover"))
    return run_recover(recover);
  if (app.got_subcommand("fleet"))
    return run_fleet(fleet);
  if (app.got_subcommand("reload"))
    return run_reload(reload);
  if (app.got_subcommand("passwd"))
    return run_passwd(passwd);
  return run_inspect(inspect);
}
