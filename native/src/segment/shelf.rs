//! pending.py's `Shelf`: a running prompt's bars painted before it ended (phases::fold) and the
//! activities it no longer needs, set aside compactly until it ends, read back in order once. A
//! prompt of 400,000 stamped bars held every Bar (two Strings each) and the activity of every bar
//! line until it ended (281-347 MB): here they are bytes, zlib-compressed a block at a time (the
//! zlib level spool.py and pickle.rs use), in memory.

use super::phases::{BarEv, Ts};
use super::records::{Bar, BarKind};
use crate::scan::Activity;
use crate::table::Phase;
use std::io::{Read, Write};

/// Records one block holds (pending.py's SHELF_BLOCK).
pub const SHELF_BLOCK: usize = 4096;

/// A record a shelf can hold: written to bytes and read back as it was.
pub trait Shelved: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(input: &mut &[u8]) -> Self;
}

pub struct Shelf<T> {
    block: usize,
    items: Vec<T>,
    blocks: Vec<Vec<u8>>,
    count: usize,
}

impl<T: Shelved> Shelf<T> {
    pub fn new(block: usize) -> Self {
        Shelf {
            block: block.max(1),
            items: Vec::new(),
            blocks: Vec::new(),
            count: 0,
        }
    }

    pub fn push(&mut self, item: T) {
        self.items.push(item);
        self.count += 1;
        if self.items.len() >= self.block {
            let mut raw = Vec::new();
            for item in self.items.drain(..) {
                item.put(&mut raw);
            }
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
            z.write_all(&raw).expect("compressing into memory");
            self.blocks
                .push(z.finish().expect("compressing into memory"));
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every record in order, a block at a time.
    pub fn drain(self) -> impl Iterator<Item = T> {
        let Shelf { blocks, items, .. } = self;
        blocks
            .into_iter()
            .flat_map(|block| {
                let mut raw = Vec::new();
                flate2::read::ZlibDecoder::new(&block[..])
                    .read_to_end(&mut raw)
                    .expect("a block this shelf wrote");
                let mut records = Vec::new();
                let mut input = &raw[..];
                while !input.is_empty() {
                    records.push(T::get(&mut input));
                }
                records
            })
            .chain(items)
    }
}

fn put_u64(out: &mut Vec<u8>, x: u64) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn get_u64(input: &mut &[u8]) -> u64 {
    let (head, rest) = input.split_at(8);
    *input = rest;
    u64::from_le_bytes(head.try_into().expect("8 bytes"))
}

fn put_f64(out: &mut Vec<u8>, x: f64) {
    put_u64(out, x.to_bits());
}

fn get_f64(input: &mut &[u8]) -> f64 {
    f64::from_bits(get_u64(input))
}

fn put_u8(out: &mut Vec<u8>, x: u8) {
    out.push(x);
}

fn get_u8(input: &mut &[u8]) -> u8 {
    let x = input[0];
    *input = &input[1..];
    x
}

fn put_opt_u64(out: &mut Vec<u8>, x: Option<u64>) {
    match x {
        None => put_u8(out, 0),
        Some(x) => {
            put_u8(out, 1);
            put_u64(out, x);
        }
    }
}

fn get_opt_u64(input: &mut &[u8]) -> Option<u64> {
    (get_u8(input) != 0).then(|| get_u64(input))
}

fn put_ts(out: &mut Vec<u8>, x: Option<Ts>) {
    put_opt_u64(out, x.map(|t| t as u64));
}

fn get_ts(input: &mut &[u8]) -> Option<Ts> {
    get_opt_u64(input).map(|t| t as Ts)
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn get_str(input: &mut &[u8]) -> String {
    let len = get_u64(input) as usize;
    let (head, rest) = input.split_at(len);
    *input = rest;
    String::from_utf8(head.to_vec()).expect("a text this shelf wrote")
}

fn phase_of(index: u8) -> Phase {
    match index {
        0 => Phase::Load,
        1 => Phase::Inference,
        2 => Phase::Wait,
        _ => Phase::Other,
    }
}

fn bar_kind_of(index: u8) -> BarKind {
    match index {
        0 => BarKind::Sampling,
        1 => BarKind::Loading,
        _ => BarKind::Other,
    }
}

impl Shelved for Activity {
    fn put(&self, out: &mut Vec<u8>) {
        put_u8(out, self.phase.index());
        put_u64(out, self.first_ts as u64);
        put_u64(out, self.last_ts as u64);
        put_u64(out, self.first_line);
        put_u64(out, self.last_line);
        put_f64(out, self.resolution);
    }

    fn get(input: &mut &[u8]) -> Self {
        Activity {
            phase: phase_of(get_u8(input)),
            first_ts: get_u64(input) as i64,
            last_ts: get_u64(input) as i64,
            first_line: get_u64(input),
            last_line: get_u64(input),
            resolution: get_f64(input),
        }
    }
}

impl Shelved for (Bar, BarEv) {
    fn put(&self, out: &mut Vec<u8>) {
        let (bar, ev) = self;
        put_opt_u64(out, bar.prompt);
        match &bar.label {
            None => put_u8(out, 0),
            Some(label) => {
                put_u8(out, 1);
                put_str(out, label);
            }
        }
        put_f64(out, bar.total);
        put_f64(out, bar.done);
        put_opt_u64(out, bar.final_rate.map(f64::to_bits));
        put_str(out, &bar.rate_unit);
        put_f64(out, bar.elapsed_s);
        put_u64(out, bar.line);
        put_u64(out, bar.end_line);
        put_u8(out, bar.kind.index() as u8);
        put_u64(out, bar.source);
        put_ts(out, bar.start);
        put_ts(out, bar.end);
        put_ts(out, ev.ts);
        put_ts(out, ev.end_ts);
        put_u64(out, ev.end_line);
        put_ts(out, ev.ts_before);
        put_f64(out, ev.first_elapsed_s);
    }

    fn get(input: &mut &[u8]) -> Self {
        let bar = Bar {
            prompt: get_opt_u64(input),
            label: (get_u8(input) != 0).then(|| get_str(input)),
            total: get_f64(input),
            done: get_f64(input),
            final_rate: get_opt_u64(input).map(f64::from_bits),
            rate_unit: get_str(input),
            elapsed_s: get_f64(input),
            line: get_u64(input),
            end_line: get_u64(input),
            kind: bar_kind_of(get_u8(input)),
            source: get_u64(input),
            start: get_ts(input),
            end: get_ts(input),
        };
        let ev = BarEv {
            ts: get_ts(input),
            end_ts: get_ts(input),
            end_line: get_u64(input),
            ts_before: get_ts(input),
            first_elapsed_s: get_f64(input),
        };
        (bar, ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shelf_reads_back_what_it_held_in_order() {
        let mut shelf = Shelf::new(3);
        let acts: Vec<Activity> = (0..10u64)
            .map(|i| Activity {
                phase: phase_of((i % 4) as u8),
                first_ts: i as i64 * 7 - 3,
                last_ts: i as i64 * 9,
                first_line: i,
                last_line: i + 2,
                resolution: if i % 3 == 0 { 0.0 } else { 60.0 },
            })
            .collect();
        for act in &acts {
            shelf.push(act.clone());
        }
        assert_eq!(shelf.len(), 10);
        assert_eq!(shelf.drain().collect::<Vec<_>>(), acts);
        let mut bars = Shelf::new(2);
        for i in 0..5u64 {
            let bar = Bar {
                prompt: (i % 2 == 0).then_some(i),
                label: (i % 3 != 0).then(|| format!("Loading {i} é")),
                total: 20.0,
                done: i as f64,
                final_rate: (i != 1).then_some(1.5 * i as f64),
                rate_unit: "it/s".into(),
                elapsed_s: 0.25 * i as f64,
                line: 10 + i,
                end_line: 11 + i,
                kind: bar_kind_of(i as u8 % 3),
                source: 1,
                start: (i != 2).then_some(-5),
                end: Some(i as i64),
            };
            let ev = BarEv {
                ts: Some(i as i64),
                end_ts: (i != 3).then_some(99),
                end_line: 11 + i,
                ts_before: None,
                first_elapsed_s: 0.5,
            };
            bars.push((bar, ev));
        }
        let back: Vec<(Bar, BarEv)> = bars.drain().collect();
        assert_eq!(back.len(), 5);
        assert_eq!(back[4].0.label.as_deref(), Some("Loading 4 é"));
        assert_eq!(back[3].0.label, None);
        assert_eq!(back[1].0.final_rate, None);
        assert_eq!(back[2].0.start, None);
        assert_eq!(back[0].0.start, Some(-5));
        assert_eq!(back[3].1.end_ts, None);
        assert_eq!(back[2].0.kind, BarKind::Other);
    }
}
