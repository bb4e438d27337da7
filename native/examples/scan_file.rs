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
    segmenting: Option<&mut Segmenting>,
) -> (u64, usize) {
    let mut file = std::fs::File::open(path).expect("a readable file");
    let mut input = Input::new(None, false);
    let mut seg = segmenting.as_ref().map(|_| {
        Segmenter::new(Config {
            source: 0,
            first_run_index: 0,
            first_prompt_index: 0,
            rows: Arc::new(rows_from_toml(table, TABLE_TEXT)),
            bars: Arc::new(bars_from_toml(TABLE_TEXT)),
            release_every: RELEASE_EVERY,
            fold: Default::default(),
        })
    });
    let mut spill = Spill::new(
        Arc::new(Names::of_model_py()),
        [256, 4096, 4096, 4096, 4096],
        true,
    );
    // a piece of items through the segmenter (as lib.rs's State::scan feeds it), or (None) the
    // input's end
    let feed = |seg: &mut Option<Segmenter>, items: Option<Vec<_>>| -> f64 {
        let Some(seg) = seg.as_mut() else {
            return 0.0;
        };
        let start = Instant::now();
        let fed = match items {
            Some(items) => seg.feed(table, items),
            None => seg.finish(),
        };
        if let Err(why) = fed {
            eprintln!("{}: not ported: {}", path.display(), why.0);
        }
        start.elapsed().as_secs_f64()
    };
    // what the segmenter made final, pickled in whole spool blocks (as lib.rs's Scanner hands it)
    let mut hand = |seg: &mut Option<Segmenter>, totals: &mut Segmenting, ended: bool| {
        let Some(seg) = seg.as_mut() else {
            return;
        };
        let start = Instant::now();
        let done = seg.take_final();
        totals.records += done.runs.len()
            + done.prompts.len()
            + done.bars.len()
            + done.loads.len()
            + done.errors.len();
        totals.seconds += start.elapsed().as_secs_f64();
        let start = Instant::now();
        spill.absorb(done);
        drop(spill.hand(ended));
        while spill.holds_more() {
            drop(spill.hand(ended));
        }
        totals.pickling += start.elapsed().as_secs_f64();
    };
    let mut totals = Segmenting::default();
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
            input
                .scan_each(Some(pool), table, &block, Ok, |items| {
                    count += items.len();
                    totals.seconds += feed(&mut seg, Some(items));
                })
                .expect("a scan");
            hand(&mut seg, &mut totals, false);
        }
        if last {
            break;
        }
    }
    let rest = input.close(table);
    count += rest.len();
    totals.seconds += feed(&mut seg, Some(rest));
    totals.seconds += feed(&mut seg, None);
    hand(&mut seg, &mut totals, true);
    if let Some(segmenting) = segmenting {
        segmenting.seconds += totals.seconds;
        segmenting.records += totals.records;
        segmenting.pickling += totals.pickling;
    }
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
