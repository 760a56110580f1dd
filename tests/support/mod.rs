//! Test servers on 127.0.0.1 with certificates generated at test time, runs
//! of the built binary, and the fixtures that several tests share.
//!
//! Each integration test that needs them starts with `mod support;`.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod authentik;
pub mod cli;
pub mod fixture;
pub mod pki;
pub mod requests;
pub mod route;
pub mod server;
pub mod vectors;

pub use authentik::{authentik_discovery, authentik_discovery_routes, authentik_server, AUTHENTIK_ENV};
pub use cli::{env_file, fixtures, json_stdout, network_args, output_text, run, run_with_env, stderr, stdout};
pub use pki::{install_ring_provider, CertVariant, ServerCert, TestPki, WRONG_HOST_NAME};
pub use requests::{assert_client_secret_not_printed, assert_reported_urls, assert_secret_not_in_urls, reported_requests};
pub use route::{ParamRule, RecordedRequest, Route};
pub use server::ReplayServer;
pub use vectors::{load_vectors, Vector};
