//! Runs of the built binary, and the files those runs read.
//!
//! Every test starts the binary through [`run`] or [`run_with_env`], so every
//! `check` gets `--resolve-only` and no test ever queries DNS: a host that is
//! not given with `--resolve` fails to resolve instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::pki::TestPki;
use super::server::ReplayServer;

/// Environment variables of the developer's shell that would change a run: `NO_COLOR` turns colour off,
/// and `AUTHENTIK_TOKEN` makes every authentik run read the admin API.
const CLEARED_VARIABLES: [&str; 2] = ["NO_COLOR", "AUTHENTIK_TOKEN"];

/// Returns the `fixtures/` directory of the crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs the binary with `arguments` and waits for it to exit.
///
/// A `check` run gets `--resolve-only` unless `arguments` already contains it.
/// The subcommand is the first argument that is not an option, so `-vv check` is a `check` run too.
pub fn run<S: AsRef<str>>(arguments: &[S]) -> Output {
    run_with_env(arguments, &[])
}

/// Runs the binary as [`run`] does, with `variables` set in its environment.
/// A variable listed here is set even where [`run`] clears it.
pub fn run_with_env<S: AsRef<str>>(arguments: &[S], variables: &[(&str, &str)]) -> Output {
    let mut arguments: Vec<&str> = arguments.iter().map(AsRef::as_ref).collect();
    let subcommand = arguments.iter().find(|argument| !argument.starts_with('-'));
    if subcommand == Some(&"check") && !arguments.contains(&"--resolve-only") {
        arguments.push("--resolve-only");
    }

    let mut command = Command::new(env!("CARGO_BIN_EXE_mastodon-oidc-check"));
    command.args(&arguments);
    for name in CLEARED_VARIABLES {
        command.env_remove(name);
    }
    command.envs(variables.iter().copied());
    command.output().expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns stdout and stderr joined by a line break, for assertions on everything the run printed.
pub fn output_text(output: &Output) -> String {
    format!("{}\n{}", stdout(output), stderr(output))
}

/// Parses stdout as JSON, and panics with both streams when it is not.
pub fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}\n{}", stdout(output), stderr(output)))
}

/// Writes `.env.production` with `contents` into a fresh temporary directory,
/// which is removed when the returned handle is dropped.
pub fn env_file<C: AsRef<[u8]> + ?Sized>(contents: &C) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(".env.production");
    std::fs::write(&path, contents.as_ref()).expect("env file written");
    (dir, path)
}

/// Returns `--ca-file` and `--resolve` arguments that send auth.example to `server` and trust the test CA.
pub fn network_args(pki: &TestPki, server: &ReplayServer) -> Vec<String> {
    vec!["--ca-file".into(), pki.ca_pem_path().display().to_string(), "--resolve".into(), server.resolve_arg("auth.example")]
}
