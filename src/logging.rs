//! A small stderr logger for the `log` facade. User-facing reports go to
//! stdout; logs never do, so machine formats stay parseable.

use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::redact::Redactor;

/// Secrets of the run being checked, masked in every log line.
static REDACTOR: OnceLock<Mutex<Redactor>> = OnceLock::new();

/// Adds one more secret, such as an API token, as soon as it is known.
pub fn add_secret(secret: &str) {
    let slot = REDACTOR.get_or_init(|| Mutex::new(Redactor::default()));
    if let Ok(mut current) = slot.lock() {
        current.add(secret);
    }
}

/// Sets the secrets that log lines must not show, once the env files are read.
pub fn set_redactor(redactor: Redactor) {
    let slot = REDACTOR.get_or_init(|| Mutex::new(Redactor::default()));
    if let Ok(mut current) = slot.lock() {
        *current = redactor;
    }
}

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.target().starts_with("mastodon_oidc_check")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let mut text = record.args().to_string();
        if let Some(Ok(redactor)) = REDACTOR.get().map(Mutex::lock) {
            text = redactor.redact(&text);
        }
        eprintln!("{level}: {}", crate::report::neutralize(&text));
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger: warnings by default, more with each `-v`, errors only with `-q`.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::Error,
        (false, 0) => LevelFilter::Warn,
        (false, 1) => LevelFilter::Info,
        (false, 2) => LevelFilter::Debug,
        (false, _) => LevelFilter::Trace,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
