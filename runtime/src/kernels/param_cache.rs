//! Host copies of parameter tensors for inference, reused from one forward
//! pass to the next while the tensor still holds the same buffer.
//!
//! Code outside dfdx 0.13 can read a `Cpu` tensor only by copying it
//! (`copy_into`), so every inference pass through a dense layer copied its
//! whole weight matrix: for the MLP at batch 1 that copy took longer than
//! the product itself. Here the copy is made once and kept.
//!
//! **Why a kept copy can't go stale.** An entry holds a clone of the tensor,
//! which shares (and so pins) its buffer: the buffer is neither freed nor
//! reused while the entry lives. Every write to a `Cpu` tensor's data in
//! dfdx (`copy_from`, `IndexMut`, the fills, the optimizers' updates, `axpy`)
//! goes through `Arc::make_mut`, which gives the written tensor a fresh
//! buffer when its buffer is shared, as a cached one is. So a tensor whose
//! first element has the address of an entry's first element still holds
//! exactly the data of that entry. Entries are keyed by that address, the
//! buffer's length and the element type.
//!
//! Only inference passes (no tape) read and fill the cache. A pass with a
//! tape (training) empties it first, so that the optimizer's update, which
//! follows, writes in place instead of copying buffers the cache pins. At
//! most [`CAPACITY_BYTES`] of copies are kept; the least recently used go
//! first.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::scratch::{host_copy, Scratch};

/// Most bytes of kept copies.
pub(crate) const CAPACITY_BYTES: usize = 256 << 20;

/// A host copy of a parameter: a fresh one, or one shared with the cache.
pub(crate) enum HostParam<E: Elem> {
    Copied(Scratch<E>),
    Shared(Arc<Vec<E>>),
}

impl<E: Elem> Deref for HostParam<E> {
    type Target = [E];
    fn deref(&self) -> &[E] {
        match self {
            HostParam::Copied(s) => s,
            HostParam::Shared(v) => v,
        }
    }
}

/// The data of `t` (its whole buffer, like [`host_copy`]). With `reuse`
/// (an inference pass), a copy kept from an earlier call with the same
/// buffer, or a new copy that is kept; without it (a training pass), the
/// cache is emptied and a pooled copy returned.
pub(crate) fn host_param<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>, reuse: bool) -> HostParam<E> {
    if !reuse {
        clear();
        return HostParam::Copied(host_copy(t));
    }
    let len = t.shape().num_elements();
    if len == 0 {
        return HostParam::Copied(host_copy(t));
    }
    let key = Key {
        // The address of element 0 is the buffer's start (dfdx tensors have
        // no offset); only compared, never dereferenced.
        addr: &t[Default::default()] as *const E as usize,
        len,
        ty: TypeId::of::<E>(),
    };
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(Cache::default);
    cache.clock += 1;
    let now = cache.clock;
    if let Some(entry) = cache.entries.get_mut(&key) {
        if let Some(data) = entry.data.downcast_ref::<Arc<Vec<E>>>() {
            entry.last_use = now;
            return HostParam::Shared(data.clone());
        }
    }
    let bytes = len * std::mem::size_of::<E>();
    let mut copy = vec![E::zero(); len];
    t.copy_into(&mut copy);
    let data = Arc::new(copy);
    if bytes <= CAPACITY_BYTES {
        cache.make_room(bytes);
        cache.bytes += bytes;
        cache.entries.insert(
            key,
            Entry {
                _pin: Box::new(t.clone()),
                data: Box::new(data.clone()),
                bytes,
                last_use: now,
            },
        );
    }
    HostParam::Shared(data)
}

/// Drops every kept copy (and unpins their buffers).
pub(crate) fn clear() {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(cache) = cache.as_mut() {
        if !cache.entries.is_empty() {
            cache.entries.clear();
            cache.bytes = 0;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    addr: usize,
    len: usize,
    ty: TypeId,
}

struct Entry {
    /// A clone of the tensor: keeps its buffer alive and unwritten.
    _pin: Box<dyn Any + Send>,
    /// The `Arc<Vec<E>>` copy.
    data: Box<dyn Any + Send>,
    bytes: usize,
    last_use: u64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Entry>,
    bytes: usize,
    clock: u64,
}

impl Cache {
    /// Drops the least recently used entries until `bytes` more fit.
    fn make_room(&mut self, bytes: usize) {
        while self.bytes + bytes > CAPACITY_BYTES {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_use)
                .map(|(k, _)| *k)
            else {
                return;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
    }
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &HostParam<f32>) -> Vec<f32> {
        p.to_vec()
    }

    fn shared(a: &HostParam<f32>, b: &HostParam<f32>) -> bool {
        matches!((a, b), (HostParam::Shared(a), HostParam::Shared(b)) if Arc::ptr_eq(a, b))
    }

    fn weights(dev: &Cpu, seed: f32) -> Tensor<Rank2<3, 4>, f32, Cpu> {
        let v: Vec<f32> = (0..12).map(|i| seed + i as f32).collect();
        dev.tensor_from_vec(v, (Const, Const))
    }

    #[test]
    fn an_unchanged_buffer_is_copied_once() {
        let dev = Cpu::default();
        let w = weights(&dev, 1.0);
        // Tests run in parallel and a training pass elsewhere empties the
        // cache, so a pair of calls may miss now and then; most must hit.
        let hits = (0..20)
            .filter(|_| {
                let (a, b) = (host_param(&w, true), host_param(&w.clone(), true));
                assert_eq!(data(&a), w.as_vec());
                assert_eq!(data(&b), w.as_vec());
                shared(&a, &b)
            })
            .count();
        assert!(hits > 0, "no call was answered from the cache");
    }

    #[test]
    fn every_write_after_caching_is_seen() {
        let dev = Cpu::default();
        type Write = fn(&mut Tensor<Rank2<3, 4>, f32, Cpu>);
        let writes: [(&str, Write); 5] = [
            ("copy_from", |w| w.copy_from(&[7.0; 12])),
            ("index_mut", |w| w[[1, 2]] = -3.0),
            ("fill_with_zeros", |w| w.fill_with_zeros()),
            ("fill_with_ones", |w| w.fill_with_ones()),
            ("axpy", |w| {
                let other = w.clone() * 2.0;
                w.axpy(0.5, &other, 1.0)
            }),
        ];
        for (name, write) in writes {
            // Only the cache shares `w`'s buffer when it is written.
            let mut w = weights(&dev, 2.0);
            let before = host_param(&w, true);
            write(&mut w);
            let after = host_param(&w, true);
            assert_eq!(data(&after), w.as_vec(), "{name}: the new data");
            assert_ne!(data(&after), data(&before), "{name}: the data changed");
            // A clone taken before a write still reads the old data.
            let mut w = weights(&dev, 2.0);
            let kept = w.clone();
            let before = host_param(&kept, true);
            write(&mut w);
            assert_eq!(data(&host_param(&kept, true)), data(&before), "{name}");
            assert_eq!(data(&host_param(&w, true)), w.as_vec(), "{name}");
        }
    }

    #[test]
    fn a_new_tensor_in_a_freed_buffer_is_not_confused_with_the_old_one() {
        let dev = Cpu::default();
        for seed in 0..50 {
            let w = weights(&dev, seed as f32);
            assert_eq!(data(&host_param(&w, true)), w.as_vec(), "seed {seed}");
            drop(w);
        }
    }

    #[test]
    fn a_training_pass_returns_a_fresh_copy() {
        let dev = Cpu::default();
        let w = weights(&dev, 3.0);
        let _ = host_param(&w, true);
        let fresh = host_param(&w, false);
        assert!(matches!(fresh, HostParam::Copied(_)));
        assert_eq!(fresh.to_vec(), w.as_vec());
    }
}
