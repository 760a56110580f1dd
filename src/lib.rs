//! mastodon-oidc-check: validate a Mastodon server's OpenID Connect login
//! against what Mastodon will do and what the provider advertises.
//!
//! Modules by concept: [`envfile`] reads env files as Mastodon does,
//! [`mastodon`] interprets the settings, [`fetch`] and [`document`] gather the
//! provider documents, [`providers`] recognises provider families, [`rules`] contains
//! the rule registry, and [`check`] ties one run together.

pub mod check;
pub mod config;
pub mod document;
pub mod envfile;
pub mod fetch;
pub mod finding;
pub mod mastodon;
pub mod probe;
pub mod progress;
pub mod providers;
pub mod rules;
pub mod cli;
mod logging;
pub mod redact;
pub mod report;
pub mod settings_view;
pub mod suppress;
pub mod generate;
