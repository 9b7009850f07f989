//! Heap bytes a folded `ConversationState` keeps, measured with a counting allocator: the live
//! cache of `baton serve` holds one per conversation.
//!
//! `cargo run --release -p baton-core --example state_memory -- CONVERSATIONS.jsonl`
//!
//! Prints the bytes freed when the states are dropped (what each state holds) and, apart, what
//! building them left allocated besides (the regex engines' lazy-DFA caches, shared by every
//! conversation and bounded: they stop growing once the text's variety is seen).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static NET: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        NET.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NET.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        NET.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with layout `l`.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: state_memory CONVERSATIONS.jsonl")?;
    let policy = baton_core::Policy::default();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut conversations = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let c = baton_core::model::parse_conversation(line, &Default::default())
            .map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        conversations.push(c);
    }
    let fold = |c: &baton_core::model::Conversation| {
        let mut s = baton_core::ConversationState::new();
        for m in &c.messages {
            s.push(&policy, &c.customer, m);
        }
        s
    };
    let before = NET.load(Ordering::Relaxed);
    let states: Vec<_> = conversations.iter().map(fold).collect();
    let built = NET.load(Ordering::Relaxed);
    let n = states.len().max(1) as isize;
    drop(states);
    let dropped = NET.load(Ordering::Relaxed);
    let held = (built - dropped) / n;
    println!(
        "{n} conversations: {held} heap bytes per state (+{} inline); shared caches grew {} KB",
        std::mem::size_of::<baton_core::ConversationState>(),
        (dropped - before) / 1024
    );
    Ok(())
}
