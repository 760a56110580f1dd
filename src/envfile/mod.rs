//! Reading Mastodon's env files the way Mastodon reads them.
//!
//! [`parse`] reproduces Ruby dotenv 3.1.4 for one file; [`EnvSet`] applies
//! the Rails file precedence on top: process environment first, then the first
//! file in [`RAILS_PRODUCTION_FILES`] that defines a key.

mod parse;
mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use parse::{parse, Entry, ParsedFile, Quote, Reference};
pub use source::{SourceFile, Span};

/// Files the dotenv Railtie loads for `RAILS_ENV=production`, first one wins
/// (dotenv 3.1 `lib/dotenv/rails.rb`). Missing files are skipped.
pub const RAILS_PRODUCTION_FILES: [&str; 4] = [".env.production.local", ".env.local", ".env.production", ".env"];

/// Largest env file read; a real `.env.production` is a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Failure to read the input files; the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes; this is not a Mastodon env file")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("no env file found in {dir}: expected one of .env.production.local, .env.local, .env.production, .env")]
    NoFiles { dir: PathBuf },
}

/// Source of an effective value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An entry of `files[index]`.
    File(usize),
    /// The process environment given with `--env`.
    Process,
}

/// The effective value of one variable.
#[derive(Clone, Debug)]
pub struct Value<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub origin: Origin,
    pub entry: Option<&'a Entry>,
}

/// Every file Mastodon loads, in precedence order, plus the process environment.
#[derive(Clone, Debug, Default)]
pub struct EnvSet {
    pub files: Vec<ParsedFile>,
    pub process: HashMap<String, String>,
    /// Env files Mastodon also loads from the same directory that this run
    /// did not read, because a single file was given.
    pub unread_siblings: Vec<PathBuf>,
    /// Docker Compose files in the Mastodon directory that pass an env file
    /// to the containers with `env_file:`.
    pub compose_files: Vec<PathBuf>,
    /// `config/omniauth.yml` of the checked Mastodon directory when it holds
    /// the whole OIDC block as YAML with ERB (a revision on Mastodon's main
    /// branch after mid-2025), where values pass through YAML.
    pub yaml_omniauth: Option<PathBuf>,
}

impl EnvSet {
    /// Loads a single file, or the Rails file list from a directory.
    pub fn load(path: &Path, process: HashMap<String, String>) -> Result<EnvSet, LoadError> {
        let paths: Vec<PathBuf> = if path.is_dir() {
            let found: Vec<PathBuf> = RAILS_PRODUCTION_FILES
                .iter()
                .map(|name| path.join(name))
                .filter(|candidate| candidate.is_file())
                .collect();
            if found.is_empty() {
                return Err(LoadError::NoFiles { dir: path.to_path_buf() });
            }
            found
        } else {
            vec![path.to_path_buf()]
        };

        let unread_siblings = if path.is_dir() { Vec::new() } else { unread_siblings(path) };
        let mut sources = Vec::new();
        for path in paths {
            sources.push(read_source(&path)?);
        }
        let mut env = EnvSet::from_sources(sources, process);
        env.unread_siblings = unread_siblings;
        let dir = if path.is_dir() { Some(path) } else { path.parent() };
        env.compose_files = dir.map(compose_files_with_env_file).unwrap_or_default();
        env.yaml_omniauth = dir.and_then(yaml_omniauth);
        Ok(env)
    }

    /// Parses sources given in precedence order. Each file gets, as Ruby's
    /// `ENV`, the process environment and the values of the files before it.
    pub fn from_sources(sources: Vec<SourceFile>, process: HashMap<String, String>) -> EnvSet {
        let mut applied = process.clone();
        let mut files = Vec::new();
        for source in sources {
            let parsed = parse(source, &|name| applied.get(name).cloned());
            for entry in &parsed.entries {
                if !applied.contains_key(&entry.key) {
                    let effective = parsed.get(&entry.key).expect("the key was just parsed");
                    applied.insert(entry.key.clone(), effective.value.clone());
                }
            }
            files.push(parsed);
        }
        EnvSet {
            files,
            process,
            unread_siblings: Vec::new(),
            compose_files: Vec::new(),
            yaml_omniauth: None,
        }
    }

    /// Returns the value Mastodon reads for a key.
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        if let Some((name, value)) = self.process.get_key_value(key) {
            return Some(Value { key: name, value, origin: Origin::Process, entry: None });
        }
        self.files.iter().enumerate().find_map(|(index, file)| {
            file.get(key).map(|entry| Value {
                key: &entry.key,
                value: &entry.value,
                origin: Origin::File(index),
                entry: Some(entry),
            })
        })
    }

    /// Lists every key defined anywhere, in first-seen order.
    pub fn keys(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::new();
        for key in self.process.keys() {
            if seen.insert(key.as_str()) {
                keys.push(key.as_str());
            }
        }
        for file in &self.files {
            for entry in &file.entries {
                if seen.insert(entry.key.as_str()) {
                    keys.push(entry.key.as_str());
                }
            }
        }
        keys
    }

    /// Lists every assignment of a key across files, in precedence order.
    pub fn all_assignments<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (usize, &'a Entry)> + 'a {
        self.files
            .iter()
            .enumerate()
            .flat_map(move |(index, file)| file.assignments(key).map(move |entry| (index, entry)))
    }
}

/// File names Docker Compose looks for in a project directory.
const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// Lists the Compose files of a directory that use `env_file:`. A file that
/// cannot be read, or is larger than the env file limit, is left out.
fn compose_files_with_env_file(dir: &Path) -> Vec<PathBuf> {
    use std::io::Read;

    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut found = Vec::new();
    for name in COMPOSE_FILES {
        let candidate = dir.join(name);
        let Ok(file) = std::fs::File::open(&candidate) else { continue };
        let mut text = String::new();
        if file.take(MAX_FILE_BYTES).read_to_string(&mut text).is_ok() && text.contains("env_file") {
            found.push(candidate);
        }
    }
    found
}

/// Returns `config/omniauth.yml` when it renders the OIDC settings into YAML:
/// an `oidc:` block that reads `OIDC_ISSUER` through ERB.
fn yaml_omniauth(dir: &Path) -> Option<PathBuf> {
    use std::io::Read;

    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let candidate = dir.join("config").join("omniauth.yml");
    let file = std::fs::File::open(&candidate).ok()?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES).read_to_string(&mut text).ok()?;
    let has_block = text.lines().any(|line| line.trim_start().starts_with("oidc:"));
    (has_block && text.contains("OIDC_ISSUER")).then_some(candidate)
}

/// Lists the other Rails env files next to a file that is itself one of them.
fn unread_siblings(path: &Path) -> Vec<PathBuf> {
    let is_rails_file = path.file_name().and_then(|name| name.to_str()).is_some_and(|name| RAILS_PRODUCTION_FILES.contains(&name));
    let Some(dir) = path.parent().filter(|_| is_rails_file) else { return Vec::new() };
    RAILS_PRODUCTION_FILES
        .iter()
        .map(|name| dir.join(name))
        .filter(|candidate| candidate.is_file() && candidate.file_name() != path.file_name())
        .collect()
}

fn read_source(path: &Path) -> Result<SourceFile, LoadError> {
    use std::io::Read;

    let read_error = |source| LoadError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;

    // Read one byte past the limit instead of trusting the file size, so a
    // FIFO or a device cannot make the read unbounded.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    Ok(SourceFile::new(path, &bytes))
}
