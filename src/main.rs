use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(mastodon_oidc_check::cli::run(std::env::args_os().collect()))
}
