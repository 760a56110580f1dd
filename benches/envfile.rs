//! Benchmark of the offline path: read a large env file as Ruby dotenv does
//! and run every rule that needs no network.
//!
//! Run with `cargo bench --bench envfile`. It prints the time per run and the
//! peak heap use, and exits with status 1 when a target in docs/benchmarks.md
//! is missed. A real `.env.production` is a few kilobytes; the input here is
//! close to the 1 MiB limit the reader accepts, to bound the worst case.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mastodon_oidc_check::envfile::{EnvSet, SourceFile};
use mastodon_oidc_check::rules::{self, Context, Input};

/// Targets for the whole offline check of the generated file, in release mode.
const MAX_TIME_PER_RUN: Duration = Duration::from_millis(500);
const MAX_PEAK_HEAP_BYTES: usize = 64 * 1024 * 1024;

struct CountingAllocator;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the layout is passed through unchanged to the system allocator.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` was returned by `alloc` above with this layout.
        unsafe { System.dealloc(pointer, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Builds an env file of about `target_bytes` mixing every construct the
/// reader handles: quotes, comments, references, duplicates, skipped lines.
fn generate(target_bytes: usize) -> String {
    let lines = [
        "OIDC_ENABLED=true",
        "OIDC_ISSUER=https://auth.example/application/o/mastodon/",
        "OIDC_SCOPE=openid,profile,email",
        "OIDC_CLIENT_SECRET='abc$def#ghi'",
        "OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback",
        "LOCAL_DOMAIN=mastodon.example",
        "# a comment line",
        "export PATH_PART=\"quoted value with spaces\"",
        "REF=${LOCAL_DOMAIN}/x",
        "MY-KEY=skipped",
        "MULTI=\"line one",
        "line two\"",
    ];
    let mut text = String::with_capacity(target_bytes + 256);
    let mut index = 0usize;
    while text.len() < target_bytes {
        let line = lines[index % lines.len()];
        // Mostly distinct keys, the worst case for per-key lookups.
        text.push_str(&format!("KEY_{index}=value_{index} # trailing comment\nOIDC_CUSTOM_{index}=\"quoted ${{KEY_{index}}}\"\n"));
        text.push_str(line);
        text.push('\n');
        index += 1;
    }
    text
}

fn run_once(text: &str) -> usize {
    let source = SourceFile::new(".env.production", text.as_bytes());
    let env = EnvSet::from_sources(vec![source], HashMap::new());
    let mut context = Context::new(&env);
    context.unavailable = vec![
        (Input::Discovery, "benchmark".into()),
        (Input::Jwks, "benchmark".into()),
        (Input::Network, "benchmark".into()),
    ];
    let (findings, _) = rules::run(&context);
    findings.len()
}

fn main() {
    let text = generate(1000 * 1024);
    let runs = 5;

    // One warm-up run, then the measured ones.
    let findings = run_once(&text);
    PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
    let baseline = CURRENT.load(Ordering::Relaxed);

    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(run_once(std::hint::black_box(&text)));
    }
    let per_run = started.elapsed() / runs;
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);

    println!("input: {} bytes, {} lines, {findings} findings", text.len(), text.lines().count());
    println!("time per run: {per_run:?} (target {MAX_TIME_PER_RUN:?})");
    println!("peak heap above baseline: {:.1} MiB (target {} MiB)", peak as f64 / 1048576.0, MAX_PEAK_HEAP_BYTES / 1048576);

    let mut missed = false;
    if per_run > MAX_TIME_PER_RUN {
        eprintln!("missed: time per run");
        missed = true;
    }
    if peak > MAX_PEAK_HEAP_BYTES {
        eprintln!("missed: peak heap");
        missed = true;
    }
    if missed {
        std::process::exit(1);
    }
}
