//! The command line: argument definitions and the dispatch to each subcommand.
//! The binary only maps [`run`] to an exit status.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::check::{self, Options};
use crate::fetch::HttpOptions;
use crate::finding::Severity;
use crate::progress::Progress;
use crate::report::{self, github, human, json, junit, prometheus, sarif, Report, EXIT_OK, EXIT_USAGE};
use crate::rules;

#[derive(Debug, Parser)]
#[command(
    name = "mastodon-oidc-check",
    version,
    about = "Validate a Mastodon server's OpenID Connect login against its provider",
    long_about = "Reads Mastodon's .env.production exactly as Mastodon does, fetches the provider's \
discovery document and JWKS, and reports every setting that breaks or weakens the OIDC login.\n\n\
Exit status: 0 no finding at or above --fail-on, 1 the configuration is wrong, 2 usage error or \
unreadable input, 3 a network check could not complete."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log more to stderr (-v: requests, -vv: details).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log nothing but errors to stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

// One value is parsed per process, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an env file or a Mastodon directory against its provider.
    Check(CheckArgs),
    /// List every rule with its id, default severity and summary.
    Rules(RulesArgs),
    /// Print the documentation of one rule.
    Explain {
        /// Rule id, as printed in brackets after a finding.
        rule: String,
    },
    /// Print the effective OIDC settings as Mastodon will use them, with the file and line of each.
    Settings(crate::settings_view::SettingsArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page in roff, of the tool or of one subcommand.
    Man {
        /// Subcommand whose page to print, such as `check`.
        command: Option<String>,
    },
}

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette diagnostics with source snippets.
    Human,
    /// One JSON object (schema in docs/json.md).
    Json,
    /// SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::`), which annotate the run.
    Github,
    /// JUnit XML: one test case per rule, a failure per rule with findings at or above --fail-on.
    Junit,
    /// Prometheus text format for node_exporter's textfile collector (metrics in docs/prometheus.md).
    Prometheus,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// An env file, or a Mastodon directory (reads .env.production.local, .env.local, .env.production, .env).
    #[arg(default_value = ".env.production")]
    pub path: PathBuf,

    /// Output format; repeat with --output to write several formats in one run.
    #[arg(long, value_enum)]
    pub format: Vec<Format>,

    /// File for the --format given just before it (written as a whole, then renamed into place).
    #[arg(long, value_name = "FILE")]
    pub output: Vec<PathBuf>,

    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_name = "SEVERITY", default_value = "error", value_parser = severity_parser())]
    pub fail_on: Severity,

    /// Run only the rules that need no network.
    #[arg(long)]
    pub offline: bool,

    /// Read the discovery document from FILE instead of fetching it; nothing is fetched then.
    #[arg(long, value_name = "FILE")]
    pub discovery_file: Option<PathBuf>,

    /// Read the JWKS from FILE instead of fetching it; nothing is fetched then.
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,

    /// Time limit of each request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// PEM file of CA certificates trusted in addition to the system store.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Send requests for HOST to IP:PORT while TLS still verifies HOST (repeatable).
    #[arg(long, value_name = "HOST=IP:PORT", value_parser = parse_resolve)]
    pub resolve: Vec<(String, SocketAddr)>,

    /// Never ask DNS: hosts not given with --resolve fail as unresolvable.
    #[arg(long)]
    pub resolve_only: bool,

    /// A variable of Mastodon's process environment, which beats the files (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,

    /// Never use colour (NO_COLOR in the environment does the same).
    #[arg(long)]
    pub no_color: bool,

    /// Warn when the provider's TLS certificate expires in fewer than DAYS days.
    #[arg(long, value_name = "DAYS", default_value_t = rules::DEFAULT_WARNING_DAYS)]
    pub cert_warn_days: u32,

    /// Report an error when the provider's TLS certificate expires in fewer than DAYS days.
    #[arg(long, value_name = "DAYS", default_value_t = rules::DEFAULT_ERROR_DAYS)]
    pub cert_error_days: u32,

    /// Settings file with severity overrides and ignores (default: mastodon-oidc-check.toml next to PATH).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// authentik release to judge the version caveats for; it replaces what the server's pages reveal, and only the admin API overrides it.
    #[arg(long, value_name = "X.Y.Z")]
    pub authentik_version: Option<String>,

    /// File holding an authentik API token for the admin cross-check (AUTHENTIK_TOKEN in the environment works too).
    #[arg(long, value_name = "FILE")]
    pub authentik_token_file: Option<PathBuf>,

    /// Probe the live authorization and token endpoints, and Mastodon (few requests; see README); `--probe=provider` or `--probe=mastodon` sends only those.
    #[arg(long, value_name = "WHAT", value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "all")]
    pub probe: Option<crate::probe::ProbeScope>,

    /// Send the authorization probe even to an authentik provider without redirect URIs, which registers OIDC_REDIRECT_URI as its first one.
    #[arg(long)]
    pub allow_first_use_registration: bool,

    /// Mastodon's public URL for the Mastodon probes (default: https://WEB_DOMAIN or LOCAL_DOMAIN).
    #[arg(long, value_name = "URL", value_parser = parse_http_url)]
    pub mastodon_url: Option<String>,

    /// Host other than the issuer's that may receive the client secret during probes (repeatable).
    #[arg(long, value_name = "HOST")]
    pub allow_secret_host: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: RulesFormat,
}

/// Output formats of `rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// One line per rule.
    Human,
    /// A JSON array of id, severity, summary and inputs.
    Json,
    /// The reference page docs/rules.md.
    Markdown,
}

/// Parses a severity; listing the values lets completions offer them.
fn severity_parser() -> impl clap::builder::TypedValueParser<Value = Severity> {
    use clap::builder::TypedValueParser;

    clap::builder::PossibleValuesParser::new(["error", "warning", "info"]).map(|text| text.parse::<Severity>().expect("only listed severities pass"))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err("the timeout must be greater than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_resolve(text: &str) -> Result<(String, SocketAddr), String> {
    let (host, address) = text.split_once('=').ok_or_else(|| format!("`{text}` is not HOST=IP:PORT"))?;
    if host.is_empty() {
        return Err(format!("`{text}` has no host before `=`"));
    }
    let address: SocketAddr = address.parse().map_err(|_| format!("`{address}` is not IP:PORT (write IPv6 as [::1]:443)"))?;
    Ok((host.to_ascii_lowercase(), address))
}

fn parse_http_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    if !matches!(url.scheme(), "https" | "http") || !url.has_host() {
        return Err(format!("`{text}` is not an http(s) URL with a host, such as https://mastodon.example"));
    }
    Ok(text.to_string())
}

pub(crate) fn parse_env(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if name.is_empty() {
        return Err(format!("`{text}` has no name before `=`"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A failure that ends the process with status 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Check(#[from] check::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error("unknown rule `{0}`; `mastodon-oidc-check rules` lists them")]
    UnknownRule(String),
    #[error("{0}")]
    Arguments(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parses the arguments and runs the subcommand; returns the exit status.
pub fn run(arguments: Vec<std::ffi::OsString>) -> u8 {
    let matches = match Cli::command().try_get_matches_from(&arguments) {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return EXIT_USAGE;
        }
    };
    crate::logging::init(cli.verbose, cli.quiet);

    let result = match &cli.command {
        Command::Check(args) => {
            let check_matches = matches.subcommand_matches("check").expect("the check subcommand matched");
            run_check(args, check_matches)
        }
        Command::Rules(args) => print_rules(args),
        Command::Explain { rule } => explain(rule),
        Command::Settings(args) => crate::settings_view::render(args)
            .map(|text| {
                print_stdout(&text);
                EXIT_OK
            })
            .map_err(|error| UsageError::Check(error.into())),
        Command::Completions { shell } => {
            print_stdout(&crate::generate::completions(*shell));
            Ok(EXIT_OK)
        }
        Command::Man { command } => crate::generate::man_page(command.as_deref())
            .map(|page| {
                print_stdout(&page);
                EXIT_OK
            })
            .map_err(UsageError::Arguments),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_USAGE
        }
    }
}

/// Pairs each --output with the --format written just before it; a format
/// without an --output goes to stdout, and at most one may.
fn destinations(args: &CheckArgs, matches: &clap::ArgMatches) -> Result<Vec<(Format, Option<PathBuf>)>, UsageError> {
    let format_indices: Vec<usize> = matches.indices_of("format").map(Iterator::collect).unwrap_or_default();
    let output_indices: Vec<usize> = matches.indices_of("output").map(Iterator::collect).unwrap_or_default();
    let mut pairs: Vec<(Format, Option<PathBuf>)> = args.format.iter().map(|format| (*format, None)).collect();
    if pairs.is_empty() {
        pairs.push((Format::Human, None));
    }

    for (output, index) in args.output.iter().zip(output_indices) {
        let owner = format_indices.iter().rposition(|format_index| *format_index < index);
        let owner = match owner {
            Some(owner) => owner,
            None if args.format.len() <= 1 => 0,
            None => return Err(UsageError::Arguments(format!("--output {} comes before any --format", output.display()))),
        };
        if pairs[owner].1.is_some() {
            return Err(UsageError::Arguments(format!("two --output files follow one --format: {}", output.display())));
        }
        pairs[owner].1 = Some(output.clone());
    }
    let to_stdout = pairs.iter().filter(|(_, path)| path.is_none()).count();
    if to_stdout > 1 {
        return Err(UsageError::Arguments("only one --format can go to stdout; give the others an --output FILE".into()));
    }
    Ok(pairs)
}

impl CheckArgs {
    /// Builds the run options these arguments describe.
    pub fn to_options(&self) -> Options {
        Options {
            path: self.path.clone(),
            process_env: self.env.iter().cloned().collect::<HashMap<_, _>>(),
            offline: self.offline,
            discovery_file: self.discovery_file.clone(),
            jwks_file: self.jwks_file.clone(),
            config: self.config.clone(),
            authentik_version: self.authentik_version.clone(),
            authentik_token_file: self.authentik_token_file.clone(),
            probe: self.probe.is_some(),
            probe_scope: self.probe.unwrap_or_default(),
            allow_first_use_registration: self.allow_first_use_registration,
            mastodon_url: self.mastodon_url.clone(),
            allowed_secret_hosts: self.allow_secret_host.iter().map(|host| host.to_ascii_lowercase()).collect(),
            http: HttpOptions {
                timeout: self.timeout,
                ca_file: self.ca_file.clone(),
                resolve: self.resolve.clone(),
                resolve_only: self.resolve_only,
                ..HttpOptions::default()
            },
            certificate_expiry: rules::ExpiryThresholds {
                warning_days: self.cert_warn_days,
                error_days: self.cert_error_days,
            },
            now: None,
            progress: Progress::default(),
        }
    }
}

fn run_check(args: &CheckArgs, matches: &clap::ArgMatches) -> Result<u8, UsageError> {
    let destinations = destinations(args, matches)?;
    let mut options = args.to_options();
    options.progress = progress_line(&destinations);
    let config = crate::config::load(&args.path, args.config.as_deref())?;
    let mut outcome = check::run(&options)?;
    report::policy::apply(&mut outcome.findings, &outcome.env, config.as_ref());
    let report = Report::new(outcome, args.fail_on);

    for (format, path) in destinations {
        let to_terminal = path.is_none() && std::io::stdout().is_terminal();
        let color = to_terminal && !args.no_color && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        let text = match format {
            Format::Human => human::render(&report, human::Style { color, width: terminal_width() }),
            Format::Json => json::render(&report),
            Format::Sarif => sarif::render(&report),
            Format::Github => github::render(&report),
            Format::Junit => junit::render(&report),
            Format::Prometheus => prometheus::render(&report),
        };
        match path {
            Some(path) => write_atomically(&path, &text)?,
            None => print_stdout(&text),
        }
    }
    Ok(report.exit_code())
}

/// Returns the progress line on stderr, shown only to a person at a terminal.
/// That needs the human report on stdout, stderr on a terminal, and neither
/// -v nor -q, because log lines would break the line and -q requests silence.
fn progress_line(destinations: &[(Format, Option<PathBuf>)]) -> Progress {
    let human_on_stdout = destinations.iter().any(|(format, path)| *format == Format::Human && path.is_none());
    if human_on_stdout && std::io::stderr().is_terminal() && log::max_level() == log::LevelFilter::Warn {
        // COLUMNS is rarely exported, and 80 columns fit almost any terminal.
        let width = std::env::var("COLUMNS").ok().and_then(|columns| columns.parse().ok()).unwrap_or(80);
        Progress::stderr(width)
    } else {
        Progress::default()
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|columns| columns.parse().ok()).unwrap_or(100)
}

/// Writes stdout, ignoring a closed pipe (`| head`).
fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes a temporary file next to `path`, then renames it into place, so a
/// reader such as node_exporter never reads half a file.
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), UsageError> {
    let write_error = |source| UsageError::Write { path: path.to_path_buf(), source };
    let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        write_error(error)
    })
}

fn print_rules(args: &RulesArgs) -> Result<u8, UsageError> {
    let text = match args.format {
        RulesFormat::Json => {
            let rules: Vec<serde_json::Value> = rules::registry()
                .map(|rule| {
                    serde_json::json!({
                        "id": rule.id,
                        "severity": rule.severity,
                        "summary": rule.summary,
                        "needs": rule.needs,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&rules).expect("a JSON value always serializes") + "\n"
        }
        RulesFormat::Human => {
            let width = rules::registry().map(|rule| rule.id.len()).max().unwrap_or(0);
            rules::registry()
                .map(|rule| format!("{:width$}  {:7}  {}\n", rule.id, rule.severity.as_str(), rule.summary))
                .collect()
        }
        RulesFormat::Markdown => rules::markdown(),
    };
    print_stdout(&text);
    Ok(EXIT_OK)
}

fn explain(id: &str) -> Result<u8, UsageError> {
    let rule = rules::find(id).ok_or_else(|| UsageError::UnknownRule(id.to_string()))?;
    let needs: Vec<&str> = rule.needs.iter().map(|input| input.as_str()).collect();
    let text = format!(
        "{}\n\nSeverity: {}\nNeeds: {}\nDocumentation: {}\n\n{}\n\n{}\n",
        rule.id,
        rule.severity,
        needs.join(", "),
        rules::help_uri(rule.id),
        rule.summary,
        wrap_paragraphs(rule.explanation, terminal_width().min(100))
    );
    print_stdout(&text);
    Ok(EXIT_OK)
}

/// Wraps each paragraph at spaces only, so URLs and values stay whole.
fn wrap_paragraphs(text: &str, width: usize) -> String {
    let options = textwrap::Options::new(width.max(40))
        .break_words(false)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    text.split("\n\n").map(|paragraph| textwrap::fill(paragraph, &options)).collect::<Vec<_>>().join("\n\n")
}

/// Exit statuses, re-exported for the binary.
pub use report::{EXIT_FINDINGS, EXIT_INCOMPLETE};
