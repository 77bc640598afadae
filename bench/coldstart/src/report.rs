//! The cold-start tables: medians, ratios to the baselines, sizes, peak RSS and the goals of
//! issue 12; written between two markers of BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::{BoxError, Kind, Sample, Subject};

pub const BEGIN: &str = "<!-- coldstart:begin (written by `make bench`) -->";
pub const END: &str = "<!-- coldstart:end -->";

const MIB: f64 = 1024.0 * 1024.0;
/// Issue 12's goals.
const INIT_RATIO: f64 = 1.3;
const FIRST_RESPONSE_RATIO: f64 = 2.0;
const SIZE_MIB: f64 = 8.0;
const RSS_MIB: f64 = 40.0;

pub struct Context {
    pub runs: usize,
    pub system_roots: bool,
    pub elapsed: Duration,
    pub cpu: String,
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

fn median_u64(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct Row<'a> {
    subject: &'a Subject,
    init: Option<Duration>,
    first: Option<Duration>,
    size: Sizes,
    rss_kib: Option<u64>,
}

/// A subject's binary: the x86_64 one the bench runs, and the arm64 bootstrap cargo-lambda
/// built of it (`--arm64`), which is what Lambda runs and what the size goal is about.
#[derive(Clone, Copy, Default)]
pub struct Sizes {
    pub x86_64: Option<u64>,
    pub arm64: Option<u64>,
}

fn rows<'a>(subjects: &'a [Subject], samples: &[Vec<Sample>], sizes: &[Sizes]) -> Vec<Row<'a>> {
    subjects
        .iter()
        .zip(samples)
        .zip(sizes)
        .map(|((subject, samples), size)| Row {
            subject,
            init: median(samples.iter().map(|s| s.init).collect()),
            first: median(samples.iter().filter_map(|s| s.first_response).collect()),
            size: *size,
            rss_kib: median_u64(samples.iter().filter_map(|s| s.peak_rss_kib).collect()),
        })
        .collect()
}

fn opt_ms(value: Option<Duration>) -> String {
    value.map_or("–".into(), |d| format!("{:.1} ms", ms(d)))
}

fn ratio(value: Option<Duration>, base: Option<Duration>) -> Option<f64> {
    Some(value?.as_secs_f64() / base?.as_secs_f64())
}

fn opt_ratio(value: Option<f64>) -> String {
    value.map_or("–".into(), |r| format!("{r:.2}×"))
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| format!("{:.1} MiB", b as f64 / MIB))
}

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "–",
    }
}

pub fn render(
    subjects: &[Subject],
    samples: &[Vec<Sample>],
    sizes: &[Sizes],
    parts: &[(String, Vec<Duration>)],
    context: &Context,
) -> String {
    let rows = rows(subjects, samples, sizes);
    let find = |kind| rows.iter().find(|row| row.subject.kind == kind);
    let (hello_init, hello_first) = find(Kind::Hello).map_or((None, None), |r| (r.init, r.first));
    let bare_first = find(Kind::Bare).and_then(|r| r.first);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} on {} ({}), x86_64 release builds (lto, codegen-units = 1, strip); {} cold starts \
         each after one uncounted round; medians. moto on HTTPS with a test CA, trusted through \
         `SSL_CERT_FILE` ({}). This harness run took {:.0} s.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        context.cpu,
        std::thread::available_parallelism().map_or(0, |n| n.get()).to_string() + " cores",
        context.runs,
        if context.system_roots { "the system bundle plus the test CA" } else { "the test CA alone" },
        context.elapsed.as_secs_f64(),
    );
    let header = "| binary | init | × hello | first response | × hello | × bare SDK | size | arm64 | peak RSS |\n\
                  |---|---|---|---|---|---|---|---|---|";
    let line = |out: &mut String, row: &Row| {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.subject.label,
            opt_ms(row.init),
            opt_ratio(ratio(row.init, hello_init)),
            opt_ms(row.first),
            opt_ratio(ratio(row.first, hello_first)),
            opt_ratio(ratio(row.first, bare_first)),
            mib(row.size.x86_64),
            mib(row.size.arm64),
            mib(row.rss_kib.map(|k| k * 1024)),
        );
    };
    let _ = writeln!(out, "**Functions against the baselines**\n\n{header}");
    for row in rows.iter().filter(|r| matches!(r.subject.kind, Kind::Hello | Kind::Bare | Kind::Function)) {
        line(&mut out, row);
    }
    let _ = writeln!(out, "\n**Levers on the baselines** (each row changes one thing)\n\n{header}");
    for row in rows.iter().filter(|r| matches!(r.subject.kind, Kind::Hello | Kind::Bare | Kind::Lever)) {
        line(&mut out, row);
    }
    let _ = writeln!(out, "\n**The parts of a function's init**, timed in-process in a fresh process\n");
    let _ = writeln!(out, "| part | median |\n|---|---|");
    for (part, values) in parts {
        let value = median(values.clone()).map_or("–".into(), |d| format!("{:.2} ms", ms(d)));
        let _ = writeln!(out, "| {part} | {value} |");
    }
    let _ = writeln!(
        out,
        "\n**Goals** (issue 12): init ≤ {INIT_RATIO}× hello; first response ≤ {FIRST_RESPONSE_RATIO}× \
         hello's (and, for scale, × the bare SDK's); stripped arm64 bootstrap ≤ {SIZE_MIB} MiB ({}); peak RSS \
         ≤ {RSS_MIB} MiB.\n",
        if rows.iter().any(|row| row.size.arm64.is_some()) {
            "built by cargo-lambda as `sam build` does"
        } else {
            "not built in this run: the x86_64 binary's size instead"
        }
    );
    let _ = writeln!(
        out,
        "| function | init | first response vs hello | (vs bare SDK) | size | peak RSS |\n|---|---|---|---|---|---|"
    );
    for row in rows.iter().filter(|r| r.subject.kind == Kind::Function) {
        let init = ratio(row.init, hello_init);
        let first = ratio(row.first, hello_first);
        let first_bare = ratio(row.first, bare_first);
        let _ = writeln!(
            out,
            "| {} | {} {} | {} {} | {} {} | {} {} | {} {} |",
            row.subject.label,
            mark(init.map(|r| r <= INIT_RATIO)),
            opt_ratio(init),
            mark(first.map(|r| r <= FIRST_RESPONSE_RATIO)),
            opt_ratio(first),
            mark(first_bare.map(|r| r <= FIRST_RESPONSE_RATIO)),
            opt_ratio(first_bare),
            mark(row.size.arm64.or(row.size.x86_64).map(|b| b as f64 / MIB <= SIZE_MIB)),
            mib(row.size.arm64.or(row.size.x86_64)),
            mark(row.rss_kib.map(|k| k as f64 / 1024.0 <= RSS_MIB)),
            mib(row.rss_kib.map(|k| k * 1024)),
        );
    }
    out
}

/// Replaces what stands between the markers in `path` (or appends the markers and `text`).
pub fn write_between_markers(path: &Path, text: &str) -> Result<(), BoxError> {
    let current = std::fs::read_to_string(path)?;
    let block = format!("{BEGIN}\n{text}{END}");
    let updated = match (current.find(BEGIN), current.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &current[..begin], &current[end + END.len()..])
        }
        _ => format!("{current}\n{block}\n"),
    };
    std::fs::write(path, updated)?;
    Ok(())
}
