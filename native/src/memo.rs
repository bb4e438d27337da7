//! What the message table made of recent texts, kept by text.
//!
//! Real logs repeat their lines: a LoRA's missed keys at every prompt, `Requested to load WanVAE`,
//! a custom node's banner at each run. In the shared corpus three lines in four, once their prefix
//! is read, are a text seen among the last thousand or so distinct ones of the same log. What the
//! order-free scan makes of a text (scan.rs's `Segmented`: the tqdm states and messages in it) is a
//! function of the text and the table alone, so a text seen again takes the result made the first
//! time instead of the needle search and the rows' regexes. A memo is made for one table and
//! serves no other: handed another (whose rows its results would misname), it panics, which the
//! scanner reports as its error.
//!
//! The memo is a direct-mapped table (a slot per hash, the newest text wins it): bounded in memory
//! (texts longer than MAX_TEXT_BYTES are not kept) and in time (one hash and one comparison a
//! line), whatever the input. One memo serves one input: nothing is carried from a log to the next.
//!
//! Its size is chosen small on purpose. A memo of 8192 slots keeps a few percent more of a long
//! log's lines (a LoRA's thousand missed keys a prompt), but on benchmark files made by
//! concatenating copies of the corpus it also keeps texts from one copy to the next, which no real
//! log repeats so: the corpus-20mb file's hit rate is 79% with 1024 slots against 77% for its
//! logs one by one, and 87% with 8192 against 80%.

use crate::table::Table;
use std::sync::Arc;

/// Slots of a memo (a power of two).
const SLOTS: usize = 1024;
/// Longer texts are not kept (few repeat, and they would hold memory).
pub const MAX_TEXT_BYTES: usize = 512;

/// A slot: the text's hash, the text, and what was made of it.
type Slot<T> = Option<(u64, Box<str>, Arc<T>)>;

pub struct Memo<T> {
    /// The id of the table whose results it keeps (`Table::id`).
    table: u64,
    slots: Vec<Slot<T>>,
}

impl<T> Memo<T> {
    /// An empty memo of what `table` makes of texts.
    pub fn new(table: &Table) -> Self {
        Memo {
            table: table.id(),
            slots: Vec::new(),
        }
    }

    /// The memo, an empty one of the same table left in its place.
    pub fn take(&mut self) -> Self {
        std::mem::replace(
            self,
            Memo {
                table: self.table,
                slots: Vec::new(),
            },
        )
    }

    /// The value kept for `text`, else `make()`'s, kept for next time unless `keep` says no.
    ///
    /// `table` is the table `make` runs: a memo of another table's results panics.
    pub fn get_or(
        &mut self,
        table: &Table,
        text: &str,
        make: impl FnOnce() -> T,
        keep: impl FnOnce(&T) -> bool,
    ) -> Arc<T> {
        assert_eq!(
            table.id(),
            self.table,
            "a memo of one message table used with another"
        );
        if text.len() > MAX_TEXT_BYTES {
            return Arc::new(make());
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let hash = text_hash(text);
        let slot = &mut self.slots[(hash as usize) & (SLOTS - 1)];
        if let Some((known, key, value)) = slot {
            if *known == hash && **key == *text {
                return Arc::clone(value);
            }
        }
        let value = Arc::new(make());
        if keep(&value) {
            *slot = Some((hash, text.into(), Arc::clone(&value)));
        }
        value
    }
}

/// A fast hash of a text (FxHash's multiply-rotate, eight bytes at a time, the high bits folded
/// into the low ones that pick the slot). Not for adversaries: a collision costs a miss, no more.
fn text_hash(text: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let bytes = text.as_bytes();
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 29) ^ (h >> 47)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::table;

    #[test]
    fn a_text_seen_again_takes_the_first_result() {
        let table = table();
        let mut memo: Memo<usize> = Memo::new(&table);
        let mut made = 0;
        let keys = [
            "Requested to load WanVAE",
            "lora key not loaded: lora_unet_down_blocks_2_attentions_0_proj_in.alpha",
            "Requested to load WanTEModel",
            "",
        ];
        for _ in 0..3 {
            for key in keys {
                memo.get_or(
                    &table,
                    key,
                    || {
                        made += 1;
                        key.len()
                    },
                    |_| true,
                );
            }
        }
        assert_eq!(made, keys.len());
        assert_eq!(*memo.get_or(&table, keys[1], || 0, |_| true), keys[1].len());
    }

    #[test]
    fn long_texts_and_refused_values_are_not_kept() {
        let table = table();
        let mut memo: Memo<()> = Memo::new(&table);
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let mut made = 0;
        for _ in 0..2 {
            memo.get_or(&table, &long, || made += 1, |_| true);
            memo.get_or(&table, "Sampling:  50%|", || made += 1, |_| false);
        }
        assert_eq!(made, 4);
    }

    #[test]
    #[should_panic(expected = "a memo of one message table used with another")]
    fn a_memo_serves_its_own_table_only() {
        let (own, other) = (table(), table());
        let mut memo: Memo<usize> = Memo::new(&own);
        memo.get_or(&own, "got prompt", || 1, |_| true);
        let mut taken = memo.take();
        taken.get_or(&own, "got prompt", || 2, |_| true);
        memo.get_or(&other, "got prompt", || 3, |_| true);
    }

    #[test]
    fn texts_differing_in_one_byte_hash_apart() {
        let a = text_hash("Prompt executed in 3.14 seconds");
        let b = text_hash("Prompt executed in 3.15 seconds");
        assert_ne!(a & (SLOTS as u64 - 1), b & (SLOTS as u64 - 1));
    }
}
