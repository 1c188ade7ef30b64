//! Host copies of parameter tensors, kept from one pass to the next while
//! the tensor still holds the same buffer.
//!
//! Code outside dfdx 0.13 can read a `Cpu` tensor only by copying it
//! (`copy_into`). Without this cache a training step copied every weight
//! three times (the forward's copy, and the optimizer's copy out and back),
//! and every inference pass copied it again: for the MLP at batch 1 that copy
//! took longer than the product itself. With it, the optimizer writes each
//! parameter back once and keeps its host copy here, and the passes that
//! follow read that copy.
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
//! sxima's optimizers ([`take`] then [`put`]) remove a parameter's entry
//! before they write it, so the write happens in place, and enter the new
//! values after it. At most [`CAPACITY_BYTES`] of copies are kept; the least
//! recently used go first.

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

/// The data of `t` (its whole buffer, like [`host_copy`]): the kept copy
/// when there is one, else a new copy, which is kept.
pub(crate) fn host_param<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>) -> HostParam<E> {
    let Some(key) = Key::of(t) else {
        return HostParam::Copied(host_copy(t));
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
    let mut copy = vec![E::zero(); key.len];
    t.copy_into(&mut copy);
    let data = Arc::new(copy);
    cache.insert(key, t, data.clone());
    HostParam::Shared(data)
}

/// The data of `t` read as a row-major `rows x (len / rows)` matrix,
/// transposed (`(len / rows) x rows`, row-major): kept beside `t`'s host copy
/// (see [`host_param`]) and made once per buffer.
///
/// Panics if `rows` does not divide `t`'s length.
pub(crate) fn host_param_t<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>, rows: usize) -> HostParam<E> {
    let Some(key) = Key::of(t) else {
        return HostParam::Copied(Scratch::uninit(0));
    };
    let len = key.len;
    assert!(
        rows > 0 && len.is_multiple_of(rows),
        "param_cache: {len} values in {rows} rows"
    );
    let plain = host_param(t);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(Cache::default);
    let bytes = len * std::mem::size_of::<E>();
    let fits = cache.bytes + bytes <= CAPACITY_BYTES;
    let Some(entry) = cache.entries.get_mut(&key) else {
        // Not kept (too large for the cache): transposed for this call.
        return HostParam::Shared(Arc::new(transposed(&plain, rows)));
    };
    if let Some((r, data)) = &entry.transposed {
        if let (true, Some(data)) = (*r == rows, data.downcast_ref::<Arc<Vec<E>>>()) {
            return HostParam::Shared(data.clone());
        }
    }
    let data = Arc::new(transposed(&plain, rows));
    if fits && entry.transposed.is_none() {
        entry.transposed = Some((rows, Box::new(data.clone())));
        entry.bytes += bytes;
        cache.bytes += bytes;
    }
    HostParam::Shared(data)
}

/// `m` (row-major, `rows` rows) transposed, in tiles of 16 x 16 so that
/// reads and writes both stay in a few cache lines.
pub(crate) fn transposed<E: Elem>(m: &[E], rows: usize) -> Vec<E> {
    const TILE: usize = 16;
    let cols = m.len().checked_div(rows).unwrap_or(0);
    let mut t = vec![E::zero(); rows * cols];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    t[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    t
}

/// Takes `t`'s kept copy out of the cache (unpinning its buffer, so that a
/// write to `t` right after happens in place): the data of `t`, or `None`
/// when no copy was kept.
pub(crate) fn take<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>) -> Option<Vec<E>> {
    let key = Key::of(t)?;
    let entry = {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = cache.as_mut()?;
        let entry = cache.entries.remove(&key)?;
        cache.bytes -= entry.bytes;
        entry
    };
    let data = *entry.data.downcast::<Arc<Vec<E>>>().ok()?;
    // A pass that still reads the copy shares it: then it is copied.
    Some(Arc::try_unwrap(data).unwrap_or_else(|shared| shared.to_vec()))
}

/// Keeps `data`, which must be the data of `t` (as just written to it).
pub(crate) fn put<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>, data: Vec<E>) {
    let Some(key) = Key::of(t) else {
        return;
    };
    debug_assert_eq!(data.len(), key.len, "param_cache::put: length");
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(Cache::default);
    cache.clock += 1;
    cache.insert(key, t, Arc::new(data));
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    addr: usize,
    len: usize,
    ty: TypeId,
}

impl Key {
    /// `t`'s key; `None` for an empty tensor.
    fn of<S: Shape, E: Elem>(t: &Tensor<S, E, Cpu>) -> Option<Key> {
        let len = t.shape().num_elements();
        (len > 0).then(|| Key {
            // The address of element 0 is the buffer's start (dfdx tensors
            // have no offset); only compared, never dereferenced.
            addr: &t[Default::default()] as *const E as usize,
            len,
            ty: TypeId::of::<E>(),
        })
    }
}

struct Entry {
    /// A clone of the tensor: keeps its buffer alive and unwritten.
    _pin: Box<dyn Any + Send>,
    /// The `Arc<Vec<E>>` copy.
    data: Box<dyn Any + Send>,
    /// The copy transposed (an `Arc<Vec<E>>`), as a matrix of the given
    /// number of rows, once asked for.
    transposed: Option<(usize, Box<dyn Any + Send>)>,
    /// Bytes of both copies.
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
    /// Keeps `data` as the data of `t` (replacing an older entry of the key).
    fn insert<S: Shape, E: Elem>(&mut self, key: Key, t: &Tensor<S, E, Cpu>, data: Arc<Vec<E>>) {
        let bytes = key.len * std::mem::size_of::<E>();
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.bytes;
        }
        if bytes > CAPACITY_BYTES {
            return;
        }
        self.make_room(bytes);
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                _pin: Box::new(t.clone()),
                data: Box::new(data),
                transposed: None,
                bytes,
                last_use: self.clock,
            },
        );
    }

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
                let (a, b) = (host_param(&w), host_param(&w.clone()));
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
            let before = host_param(&w);
            write(&mut w);
            let after = host_param(&w);
            assert_eq!(data(&after), w.as_vec(), "{name}: the new data");
            assert_ne!(data(&after), data(&before), "{name}: the data changed");
            // A clone taken before a write still reads the old data.
            let mut w = weights(&dev, 2.0);
            let kept = w.clone();
            let before = host_param(&kept);
            write(&mut w);
            assert_eq!(data(&host_param(&kept)), data(&before), "{name}");
            assert_eq!(data(&host_param(&w)), w.as_vec(), "{name}");
        }
    }

    #[test]
    fn a_new_tensor_in_a_freed_buffer_is_not_confused_with_the_old_one() {
        let dev = Cpu::default();
        for seed in 0..50 {
            let w = weights(&dev, seed as f32);
            assert_eq!(data(&host_param(&w)), w.as_vec(), "seed {seed}");
            drop(w);
        }
    }

    #[test]
    fn the_transposed_copy_follows_the_data() {
        let dev = Cpu::default();
        let mut w = weights(&dev, 1.0);
        let want = |w: &Tensor<Rank2<3, 4>, f32, Cpu>| {
            let v = w.as_vec();
            (0..4)
                .flat_map(|c| (0..3).map(move |r| (r, c)))
                .map(|(r, c)| v[r * 4 + c])
                .collect::<Vec<f32>>()
        };
        assert_eq!(host_param_t(&w, 3).to_vec(), want(&w));
        assert_eq!(host_param_t(&w, 3).to_vec(), want(&w), "kept");
        w.copy_from(&(0..12).map(|i| -(i as f32)).collect::<Vec<_>>());
        assert_eq!(host_param_t(&w, 3).to_vec(), want(&w), "after a write");
        // As a matrix of another shape (the same buffer): transposed again.
        assert_eq!(host_param_t(&w, 2).to_vec(), transposed(&w.as_vec(), 2));
        // Through the optimizer's take and put.
        let mut data = take(&w).unwrap_or_else(|| w.as_vec());
        data[5] = 100.0;
        w.copy_from(&data);
        put(&w, data);
        assert_eq!(host_param_t(&w, 3).to_vec(), want(&w), "after take and put");
        for (rows, cols) in [(1, 1), (1, 7), (7, 1), (17, 33), (32, 16)] {
            let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let t = transposed(&m, rows);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], m[r * cols + c], "{rows}x{cols}");
                }
            }
        }
    }

    #[test]
    fn take_unpins_and_put_keeps_the_written_values() {
        let dev = Cpu::default();
        let mut w = weights(&dev, 3.0);
        let _ = host_param(&w);
        // Taken: the data (when no other test emptied the cache meanwhile).
        let mut data = take(&w).unwrap_or_else(|| w.as_vec());
        assert_eq!(data, w.as_vec());
        data.iter_mut().for_each(|v| *v *= 2.0);
        w.copy_from(&data);
        put(&w, data.clone());
        assert_eq!(host_param(&w).to_vec(), data);
        // Taking twice: the second finds nothing.
        let _ = take(&w);
        assert_eq!(take(&w), None);
        // A write after `put` without `take` is still seen.
        put(&w, w.as_vec());
        w.copy_from(&[1.5; 12]);
        assert_eq!(host_param(&w).to_vec(), vec![1.5; 12]);
    }
}
