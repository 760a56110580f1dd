//! Shell completion scripts and man pages, generated from the clap
//! definition in `crate::cli`, so they always match the arguments.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Returns the completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();

    // NOTE: clap_complete 4.6 escapes the hyphens of the binary name one way
    // where it sets `cmd` and another way in the `case` labels of its bash
    // script, so nothing after the first word completed. Aligning the labels
    // with the assignments fixes it; the test completes `check --fo`.
    if shell == Shell::Bash {
        return script.replace("mastodon__subcmd__oidc__subcmd__check", "mastodon__oidc__check");
    }
    script
}

/// Returns the roff man page of the tool, or of one subcommand as
/// `mastodon-oidc-check-SUBCOMMAND(1)`.
pub fn man_page(subcommand: Option<&str>) -> Result<String, String> {
    let mut command = Cli::command();
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let names: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_string()).collect();
            let sub = command
                .find_subcommand(name)
                .ok_or_else(|| format!("unknown subcommand `{name}`; expected one of {}", names.join(", ")))?
                .clone();
            let display = format!("{}-{}", command.get_name(), sub.get_name());
            sub.display_name(display).version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff).map_err(|error| format!("cannot render the man page: {error}"))?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}
