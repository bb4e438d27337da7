//! segment/queue.py's PromptQueue: the prompts received and not yet started, compact until they
//! leave the queue (a log of 1,000,000 `got prompt` lines held a Prompt record of each until it
//! ended: 1.25 GB). A queued prompt is its index, line and time (24 bytes); its record is made when
//! it starts, is dropped, is rejected or its run ends, and a run's end hands what is left to the
//! spill as it is (`Left`), which makes the records a block at a time. Records leave in table
//! order: a rejected prompt (taken from the back) waits for those queued before it.

use super::event::Value;
use super::phases::Ts;
use super::records::Prompt;
use std::collections::{HashMap, VecDeque};

/// One queued prompt as the queue holds it: 24 bytes, as queue.py's arrays hold it (an `Option<Ts>`
/// took 16 of 32: a queue of 3,000,000 reserved 134 MB, 100 MB now).
#[derive(Clone, Copy, Debug)]
struct Queued {
    index: u64,
    line: u64,
    /// The `got prompt` time, NO_TIME for none.
    got_at: Ts,
}

/// queue.py's NO_TIME: no time (a `got prompt` line without a stamp).
const NO_TIME: Ts = i64::MIN;

impl Queued {
    fn got_at(&self) -> Option<Ts> {
        (self.got_at != NO_TIME).then_some(self.got_at)
    }
}

#[derive(Debug, Default)]
pub struct PromptQueue {
    source: u64,
    run: u64,
    entries: VecDeque<Queued>,
    /// Queued prompts held whole (changed while queued), by index.
    whole: HashMap<u64, Prompt>,
    /// worker-comfyui's ids of queued prompts not held whole, by index (name_last).
    named: HashMap<u64, Value>,
    /// Rejected prompts waiting for those queued before them, by index.
    removed: Vec<Prompt>,
}

impl PromptQueue {
    pub fn new(source: u64) -> PromptQueue {
        PromptQueue {
            source,
            ..PromptQueue::default()
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Queue a prompt received on `line` (its `got prompt`).
    pub fn append(&mut self, run: u64, index: u64, line: u64, got_at: Option<Ts>) {
        if self.entries.is_empty() {
            self.run = run;
        }
        self.entries.push_back(Queued {
            index,
            line,
            got_at: got_at.unwrap_or(NO_TIME),
        });
    }

    fn record(&mut self, q: Queued) -> Prompt {
        if let Some(prompt) = self.whole.remove(&q.index) {
            return prompt;
        }
        let mut prompt = Prompt::new(q.index, self.run, q.got_at(), q.line, self.source);
        prompt.last_line = q.line;
        prompt.prompt_id = self.named.remove(&q.index);
        prompt
    }

    pub fn head_index(&self) -> Option<u64> {
        self.entries.front().map(|q| q.index)
    }

    pub fn head_line(&self) -> Option<u64> {
        self.entries.front().map(|q| q.line)
    }

    /// Each queued prompt's `got prompt` time, oldest first (no record made).
    pub fn got_ats(&self) -> Vec<Option<Ts>> {
        self.entries
            .iter()
            .map(|q| self.whole.get(&q.index).map_or(q.got_at(), |p| p.got_at))
            .collect()
    }

    /// The latest received, held whole from now on: the caller may change it.
    pub fn last(&mut self) -> Option<&mut Prompt> {
        let q = *self.entries.back()?;
        if !self.whole.contains_key(&q.index) {
            let prompt = self.record(q);
            self.whole.insert(q.index, prompt);
        }
        self.whole.get_mut(&q.index)
    }

    /// worker-comfyui's id for the latest received, unless it has one: kept beside the queue, not
    /// as a record held whole (a worker queues every job it is sent).
    pub fn name_last(&mut self, id: Value) {
        let Some(q) = self.entries.back() else {
            return;
        };
        match self.whole.get_mut(&q.index) {
            Some(prompt) => {
                prompt.prompt_id.get_or_insert(id);
            }
            None => {
                self.named.entry(q.index).or_insert(id);
            }
        }
    }

    /// Take the latest received out (rejected): the records that can go to the table now, in order.
    pub fn remove_last(&mut self) -> Vec<Prompt> {
        let Some(q) = self.entries.pop_back() else {
            return Vec::new();
        };
        let prompt = self.record(q);
        let at = self.removed.partition_point(|p| p.index < prompt.index);
        self.removed.insert(at, prompt);
        self.ready(Vec::new())
    }

    /// The oldest queued prompt's index, and the records that go to the table now, in order: the
    /// rejected ones received before it, it, and those before the next queued one.
    pub fn pop_front(&mut self) -> Option<(u64, Vec<Prompt>)> {
        let q = self.entries.pop_front()?;
        let mut out = self.ready_before(q.index);
        out.push(self.record(q));
        Some((q.index, self.ready(out)))
    }

    fn ready_before(&mut self, index: u64) -> Vec<Prompt> {
        let cut = self.removed.partition_point(|p| p.index < index);
        self.removed.drain(..cut).collect()
    }

    fn ready(&mut self, mut out: Vec<Prompt>) -> Vec<Prompt> {
        match self.head_index() {
            None => out.append(&mut self.removed),
            Some(head) => out.extend(self.ready_before(head)),
        }
        out
    }

    /// The next records left, oldest first (the run ended: they are `unfinished`); none once
    /// every one has left.
    pub fn leave(&mut self) -> Vec<Prompt> {
        match self.pop_front() {
            Some((_, records)) => records,
            None => std::mem::take(&mut self.removed),
        }
    }

    /// Every record left, oldest first.
    pub fn drain(mut self) -> impl Iterator<Item = Prompt> {
        std::iter::from_fn(move || Some(self.leave()).filter(|records| !records.is_empty()))
            .flatten()
    }

    /// Prompts in the queue and waiting (a count for positions).
    pub fn records(&self) -> u64 {
        (self.entries.len() + self.removed.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(n: u64) -> PromptQueue {
        let mut q = PromptQueue::new(0);
        for i in 0..n {
            q.append(0, i, 10 + i, Some(1_000 * i as i64));
        }
        q
    }

    #[test]
    fn records_leave_in_index_order_around_a_rejected_prompt() {
        let mut q = queue(4);
        q.last().expect("a prompt").status = "invalid";
        assert!(q.remove_last().is_empty(), "3 waits for 0, 1 and 2");
        q.last().expect("a prompt").invalid_outputs = 2;
        assert!(q.remove_last().is_empty(), "2 waits too");
        let (index, out) = q.pop_front().expect("0");
        assert_eq!(index, 0);
        assert_eq!(out.iter().map(|p| p.index).collect::<Vec<_>>(), vec![0]);
        let (index, out) = q.pop_front().expect("1");
        assert_eq!(index, 1);
        let left: Vec<(u64, &str, u64)> = out
            .iter()
            .map(|p| (p.index, p.status, p.invalid_outputs))
            .collect();
        assert_eq!(
            left,
            vec![
                (1, "unfinished", 0),
                (2, "unfinished", 2),
                (3, "invalid", 0)
            ]
        );
        assert!(q.is_empty() && q.records() == 0);
    }

    #[test]
    fn a_name_is_kept_beside_the_queue_and_the_first_stays() {
        let mut q = queue(3);
        q.name_last(Value::Text("first".into()));
        q.name_last(Value::Text("again".into()));
        assert!(q.whole.is_empty(), "a named prompt is not held whole");
        q.append(0, 3, 13, Some(3_000));
        q.last().expect("a prompt").status = "invalid";
        q.name_last(Value::Text("held".into()));
        let ids: Vec<Option<Value>> = q.drain().map(|p| p.prompt_id).collect();
        assert_eq!(
            ids,
            vec![
                None,
                None,
                Some(Value::Text("first".into())),
                Some(Value::Text("held".into()))
            ]
        );
    }

    #[test]
    fn a_record_is_the_one_received() {
        let mut q = queue(3);
        q.append(0, 3, 13, None);
        let made: Vec<Prompt> = q.drain().collect();
        assert_eq!(made.len(), 4);
        assert_eq!((made[3].got_at, made[0].got_at), (None, Some(0)));
        let p = &made[2];
        assert_eq!(
            (p.index, p.line, p.last_line, p.got_at),
            (2, 12, 12, Some(2_000))
        );
        assert!(p.received && !p.started && p.status == "unfinished");
    }
}
