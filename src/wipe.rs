//! Collections that leave no secret in freed or spare heap memory (spec §9.6).
//!
//! The standard collections move their elements with plain memory copies: a
//! `Vec` or `VecDeque` that grows copies its elements into a new buffer and
//! frees the old one as it is; `remove`, `drain` and `retain` shift elements
//! and leave stale copies in slots that are no longer part of the collection,
//! to be freed later with the buffer. Dropping every element in place (as
//! [`Secret`](crate::Secret) does) cannot wipe those copies: they are no
//! longer elements.
//!
//! This module keeps keys out of such slots, without `unsafe` code:
//!
//! * [`SecretDeque`] grows by moving its elements into a new buffer and then
//!   zeroing the whole old buffer before it is freed; it removes an element by
//!   zeroizing it where it lies and swapping it to the nearer end, so that every
//!   slot outside the deque holds zeros (or was never written); its `Drop`
//!   zeroizes every element.
//! * [`push`] grows a `Vec` the same way; [`remove`] zeroizes the element in
//!   place first and zeroes the slot its removal frees; [`wipe_spare`] zeroes
//!   a `Vec`'s spare capacity.
//!
//! What stays best-effort: copies the compiler makes in registers and on the
//! stack while a value moves, and the primitive libraries' internal copies.

use alloc::collections::{vec_deque, VecDeque};
use alloc::vec::Vec;
use core::ops::Deref;
use zeroize::Zeroize;

/// The smallest capacity a growing collection allocates.
const MIN_CAPACITY: usize = 4;

/// Zeroes a `Vec`'s spare capacity (the slots past its length), where moves
/// and removals leave stale copies.
pub(crate) fn wipe_spare<T>(v: &mut Vec<T>) {
    v.spare_capacity_mut().zeroize();
}

/// Makes room for `additional` more elements. When the buffer must grow, the
/// elements move into a new allocation and the old buffer is zeroed before it
/// is freed (`Vec::reserve` would free it as it is).
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len().saturating_add(additional);
    if needed <= v.capacity() {
        return;
    }
    let capacity = needed.max(v.capacity().saturating_mul(2)).max(MIN_CAPACITY);
    let mut old = core::mem::replace(v, Vec::with_capacity(capacity));
    v.append(&mut old);
    // `old` is empty: its spare capacity is its whole buffer.
    wipe_spare(&mut old);
}

/// `v.push(value)`, growing as [`reserve`] does.
pub(crate) fn push<T>(v: &mut Vec<T>, value: T) {
    reserve(v, 1);
    v.push(value);
}

/// Removes and drops element `index` (if any): zeroized in place first, then
/// removed, then the slot the shift left behind is zeroed.
pub(crate) fn remove<T: Zeroize>(v: &mut Vec<T>, index: usize) {
    let Some(element) = v.get_mut(index) else {
        return;
    };
    element.zeroize();
    drop(v.remove(index));
    if let Some(freed) = v.spare_capacity_mut().first_mut() {
        freed.zeroize();
    }
}

/// A `VecDeque` of secrets that leaves no copy in freed or spare memory.
///
/// Reading goes through `Deref` to the inner `VecDeque` (lookups, binary
/// search, iteration); every operation that moves or removes elements is a
/// method here. Invariant: every slot of the buffer outside the deque holds
/// zeros or was never written.
pub(crate) struct SecretDeque<T: Zeroize> {
    inner: VecDeque<T>,
}

impl<T: Zeroize> SecretDeque<T> {
    /// An empty deque (no allocation).
    pub(crate) const fn new() -> Self {
        Self {
            inner: VecDeque::new(),
        }
    }

    /// An empty deque with room for `capacity` elements.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: VecDeque::with_capacity(capacity),
        }
    }

    /// Makes room for `additional` more elements. When the buffer must grow,
    /// the elements move into a new buffer and the old one is zeroed before it
    /// is freed (`VecDeque::reserve` would free it as it is).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = self.inner.len().saturating_add(additional);
        if needed <= self.inner.capacity() {
            return;
        }
        let capacity = needed
            .max(self.inner.capacity().saturating_mul(2))
            .max(MIN_CAPACITY);
        let mut old = core::mem::replace(&mut self.inner, VecDeque::with_capacity(capacity));
        while let Some(x) = old.pop_front() {
            self.inner.push_back(x);
        }
        // An empty deque becomes a `Vec` on the same buffer, without moving
        // anything; its spare capacity is then the whole old buffer.
        let mut old = Vec::from(old);
        wipe_spare(&mut old);
    }

    /// Appends an element.
    pub(crate) fn push_back(&mut self, value: T) {
        self.reserve(1);
        self.inner.push_back(value);
    }

    /// Prepends an element.
    pub(crate) fn push_front(&mut self, value: T) {
        self.reserve(1);
        self.inner.push_front(value);
    }

    /// Moves every element of `v` to the back, then zeroes `v`'s buffer
    /// (consuming a `Vec` by value would free it with the moved-out copies).
    pub(crate) fn append_vec(&mut self, mut v: Vec<T>) {
        self.reserve(v.len());
        for x in v.drain(..) {
            self.inner.push_back(x);
        }
        wipe_spare(&mut v);
    }

    /// Mutable access to element `index`.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.inner.get_mut(index)
    }

    /// Mutable access to the first element.
    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        self.inner.front_mut()
    }

    /// Mutable iteration, front to back.
    pub(crate) fn iter_mut(&mut self) -> vec_deque::IterMut<'_, T> {
        self.inner.iter_mut()
    }

    /// Zeroizes and drops the first element: O(1).
    pub(crate) fn pop_front(&mut self) {
        if let Some(x) = self.inner.front_mut() {
            x.zeroize();
        }
        drop(self.inner.pop_front());
    }

    /// Zeroizes and drops the last element: O(1).
    pub(crate) fn pop_back(&mut self) {
        if let Some(x) = self.inner.back_mut() {
            x.zeroize();
        }
        drop(self.inner.pop_back());
    }

    /// Zeroizes and drops the first `count` elements (or all).
    pub(crate) fn remove_front(&mut self, count: usize) {
        for _ in 0..count.min(self.inner.len()) {
            self.pop_front();
        }
    }

    /// Zeroizes and drops element `index` (if any). It is wiped where it lies,
    /// then swapped to the nearer end and popped, so the others keep their
    /// order and no slot keeps a copy: O(min(index, len - index)), as
    /// `VecDeque::remove`.
    pub(crate) fn remove(&mut self, index: usize) {
        let len = self.inner.len();
        let Some(x) = self.inner.get_mut(index) else {
            return;
        };
        x.zeroize();
        if index < len - index {
            for i in (0..index).rev() {
                self.inner.swap(i, i + 1);
            }
            drop(self.inner.pop_front());
        } else {
            for i in index..len - 1 {
                self.inner.swap(i, i + 1);
            }
            drop(self.inner.pop_back());
        }
    }

    /// Keeps the elements for which `keep` holds, in order; the others are
    /// zeroized in place, swapped to the back and popped.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let len = self.inner.len();
        let mut kept = 0;
        for i in 0..len {
            let k = self.inner.get(i).is_some_and(&mut keep);
            if k {
                self.inner.swap(kept, i);
                kept += 1;
            } else if let Some(x) = self.inner.get_mut(i) {
                x.zeroize();
            }
        }
        self.truncate(kept);
    }

    /// Zeroizes and drops the elements from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.inner.len() > len {
            self.pop_back();
        }
    }
}

impl<T: Zeroize> Deref for SecretDeque<T> {
    type Target = VecDeque<T>;

    fn deref(&self) -> &VecDeque<T> {
        &self.inner
    }
}

impl<'a, T: Zeroize> IntoIterator for &'a SecretDeque<T> {
    type Item = &'a T;
    type IntoIter = vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.inner.iter()
    }
}

impl<T: Zeroize> Default for SecretDeque<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Zeroize + Clone> Clone for SecretDeque<T> {
    /// Allocates exactly the length: the copy never regrows while filled.
    fn clone(&self) -> Self {
        let mut c = Self::with_capacity(self.inner.len());
        for x in &self.inner {
            c.inner.push_back(x.clone());
        }
        c
    }
}

impl<T: Zeroize> From<Vec<T>> for SecretDeque<T> {
    /// Takes over the vector's buffer (no copy), after zeroing its spare capacity.
    fn from(mut v: Vec<T>) -> Self {
        wipe_spare(&mut v);
        Self {
            inner: VecDeque::from(v),
        }
    }
}

impl<T: Zeroize> Zeroize for SecretDeque<T> {
    /// Zeroizes every element in place, then drops them; the buffer stays.
    fn zeroize(&mut self) {
        for x in self.inner.iter_mut() {
            x.zeroize();
        }
        self.inner.clear();
    }
}

impl<T: Zeroize> Drop for SecretDeque<T> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A zeroizable element whose wipes are visible.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct E(u32);

    impl Zeroize for E {
        fn zeroize(&mut self) {
            self.0 = 0;
        }
    }

    fn items(d: &SecretDeque<E>) -> Vec<u32> {
        d.iter().map(|e| e.0).collect()
    }

    #[test]
    fn keeps_order_through_growth_and_removal() {
        let mut d = SecretDeque::new();
        for i in 1..=100 {
            d.push_back(E(i));
        }
        d.push_front(E(0));
        assert_eq!(items(&d), (0..=100).collect::<Vec<_>>());
        d.remove(10);
        d.remove(90);
        d.pop_front();
        d.remove_front(2);
        d.retain(|e| e.0 % 2 == 0);
        d.truncate(5);
        assert_eq!(items(&d), vec![4, 6, 8, 12, 14]);
        d.remove(4);
        d.remove(0);
        d.remove(7);
        assert_eq!(items(&d), vec![6, 8, 12]);
        let c = d.clone();
        assert_eq!(items(&c), items(&d));
        d.append_vec(vec![E(20), E(21)]);
        assert_eq!(items(&d), vec![6, 8, 12, 20, 21]);
        assert!(d.binary_search_by_key(&12, |e| e.0).is_ok());
    }

    #[test]
    fn vec_helpers() {
        let mut v = Vec::new();
        for i in 1..=20 {
            push(&mut v, E(i));
        }
        remove(&mut v, 0);
        remove(&mut v, 18);
        remove(&mut v, 99);
        assert_eq!(
            v.iter().map(|e| e.0).collect::<Vec<_>>(),
            (2..=19).collect::<Vec<_>>()
        );
    }
}
