//! The scanner's Rust half on a file, without Python: for profiling (`perf record`) and timing
//! the per-line work apart from the conversion to Python objects.
//!
//!     cargo run --release --example scan_file -- [--serial] FILE...
//!
//! `--serial` scans on one thread (CPU times compare better on a busy machine).
//! Each file is read in blocks of whole lines (as comfylog/read/streams.py cuts them), each block
//! scanned by the library's `scan::Input`, as `Scanner.feed` scans it; a file that is a folder is
//! read file by file (a fleet). Prints lines, items and the time taken.

use _native::scan::Input;
use _native::table::Table;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

const BLOCK_BYTES: usize = 1 << 20;

fn scan_file(pool: &rayon::ThreadPool, table: &Arc<Table>, path: &std::path::Path) -> (u64, usize) {
    let mut file = std::fs::File::open(path).expect("a readable file");
    let mut input = Input::new(None);
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
        }
        if last {
            break;
        }
    }
    (input.lines, count + input.close().len())
}

fn main() {
    let table = Arc::new(
        Table::load(include_str!("../../src/comfylog/parse/messages.toml")).expect("the table"),
    );
    let mut paths = Vec::new();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for arg in std::env::args().skip(1) {
        if arg == "--serial" {
            threads = 1;
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
        let (l, i) = scan_file(&pool, &table, path);
        lines += l;
        items += i;
    }
    println!(
        "{} files: {lines} lines, {items} items in {:.2} s",
        paths.len(),
        start.elapsed().as_secs_f64()
    );
}
