//! The scanner's Rust half on a file, without Python: for profiling (`perf record`) and timing
//! the per-line work apart from the conversion to Python objects.
//!
//!     cargo run --release --example scan_file -- [--serial] FILE...
//!
//! `--serial` scans on one thread (CPU times compare better on a busy machine).
//! `--segment` also segments each file in Rust (native/src/segment, rows read from messages.toml)
//! and prints the time spent segmenting apart (the scan thread's two halves under
//! COMFYLOG_SEGMENTER=native) and the records made, and the time spent pickling their whole spool
//! blocks and writing their JSON rows (segment/pickle.rs, jsonrows.rs; also on the scan thread).
//! Each file is read in blocks of whole lines (as comfylog/read/streams.py cuts them), each block
//! scanned by the library's `scan::Input`, as `Scanner.feed` scans it; a file that is a folder is
//! read file by file (a fleet). Prints lines, items and the time taken.

use _native::scan::Input;
use _native::segment::pickle::{Names, Spill};
use _native::segment::{bars_from_toml, rows_from_toml, Config, Segmenter, RELEASE_EVERY};
use _native::table::Table;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

const BLOCK_BYTES: usize = 1 << 20;

const TABLE_TEXT: &str = include_str!("../../src/comfylog/parse/messages.toml");

/// Seconds spent segmenting and records made, over all files (with `--segment`), and seconds
/// spent pickling whole spool blocks of them (segment/pickle.rs).
#[derive(Default)]
struct Segmenting {
    seconds: f64,
    records: usize,
    pickling: f64,
}

fn scan_file(
    pool: &rayon::ThreadPool,
    table: &Arc<Table>,
    path: &std::path::Path,
    mut segmenting: Option<&mut Segmenting>,
) -> (u64, usize) {
    let mut file = std::fs::File::open(path).expect("a readable file");
    let mut input = Input::new(None);
    let mut seg = segmenting.as_ref().map(|_| {
        Segmenter::new(Config {
            source: 0,
            first_run_index: 0,
            first_prompt_index: 0,
            rows: Arc::new(rows_from_toml(table, TABLE_TEXT)),
            bars: Arc::new(bars_from_toml(TABLE_TEXT)),
            release_every: RELEASE_EVERY,
        })
    });
    let mut spill = Spill::new(
        Arc::new(Names::of_model_py()),
        [256, 4096, 4096, 4096, 4096],
        true,
    );
    // a block's items through the segmenter, or (None) the input's end
    let mut segment = |items: Option<Vec<_>>, segmenting: &mut Option<&mut Segmenting>| {
        if let (Some(seg), Some(totals)) = (seg.as_mut(), segmenting.as_deref_mut()) {
            let items_were_none = items.is_none();
            let start = Instant::now();
            let fed = match items {
                Some(items) => seg.feed(table, items),
                None => seg.finish(),
            };
            if let Err(why) = fed {
                eprintln!("{}: not ported: {}", path.display(), why.0);
            }
            let done = seg.take_final();
            totals.records += done.runs.len()
                + done.prompts.len()
                + done.bars.len()
                + done.loads.len()
                + done.errors.len();
            totals.seconds += start.elapsed().as_secs_f64();
            let start = Instant::now();
            spill.absorb(done);
            drop(spill.hand(items_were_none));
            totals.pickling += start.elapsed().as_secs_f64();
        }
    };
    let mut count = 0;
    let mut carry: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; BLOCK_BYTES];
    loop {
        let n = file.read(&mut chunk).expect("read");
        let last = n == 0;
        carry.extend_from_slice(&chunk[..n]);
        let cut = if last {
            carry.len()
        } else {
            match memchr::memrchr(b'\n', &carry) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        if cut > 0 {
            let block: Vec<u8> = carry.drain(..cut).collect();
            // no redaction: no line is handed to `redact`
            let items = input.scan(pool, table, &block, Ok).expect("a scan");
            count += items.len();
            segment(Some(items), &mut segmenting);
        }
        if last {
            break;
        }
    }
    let rest = input.close();
    count += rest.len();
    segment(Some(rest), &mut segmenting);
    segment(None, &mut segmenting);
    (input.lines, count)
}

fn main() {
    let table = Arc::new(Table::load(TABLE_TEXT).expect("the table"));
    let mut segmenting: Option<Segmenting> = None;
    let mut paths = Vec::new();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for arg in std::env::args().skip(1) {
        if arg == "--serial" {
            threads = 1;
            continue;
        }
        if arg == "--segment" {
            segmenting = Some(Segmenting::default());
            continue;
        }
        let path = std::path::PathBuf::from(arg);
        if path.is_dir() {
            let mut inner: Vec<_> = std::fs::read_dir(&path)
                .expect("a folder")
                .map(|e| e.expect("an entry").path())
                .collect();
            inner.sort();
            paths.extend(inner);
        } else {
            paths.push(path);
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let start = Instant::now();
    let (mut lines, mut items) = (0, 0);
    for path in &paths {
        let (l, i) = scan_file(&pool, &table, path, segmenting.as_mut());
        lines += l;
        items += i;
    }
    println!(
        "{} files: {lines} lines, {items} items in {:.2} s",
        paths.len(),
        start.elapsed().as_secs_f64()
    );
    if let Some(totals) = segmenting {
        println!(
            "of which segmenting: {:.2} s, {} records; pickling whole blocks: {:.2} s",
            totals.seconds, totals.records, totals.pickling
        );
    }
}
