//! Open connections per source address, so one address cannot hold every
//! file descriptor of the edge.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Live connections per source address.
#[derive(Debug, Clone, Default)]
pub struct AddressConnections {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in [`AddressConnections`]; freed on drop.
#[derive(Debug)]
pub struct AddressSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    address: IpAddr,
}

impl AddressConnections {
    /// A slot for one more connection from `address`, or `None` when it holds
    /// `max` already (`max` 0: no limit).
    pub fn acquire(&self, address: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut counts = lock(&self.counts);
        let count = counts.entry(address).or_default();
        if max != 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: Arc::clone(&self.counts),
            address,
        })
    }

    /// Live connections from `address`.
    pub fn count(&self, address: IpAddr) -> usize {
        lock(&self.counts).get(&address).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

fn lock(
    counts: &Mutex<HashMap<IpAddr, usize>>,
) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    counts.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn an_address_gets_at_most_max_slots() {
        let connections = AddressConnections::default();
        let first = connections.acquire(HOME, 2);
        let second = connections.acquire(HOME, 2);
        assert!(first.is_some() && second.is_some());
        assert!(connections.acquire(HOME, 2).is_none());
        drop(first);
        assert!(connections.acquire(HOME, 2).is_some());
    }

    #[test]
    fn a_freed_address_leaves_no_entry() {
        let connections = AddressConnections::default();
        drop(connections.acquire(HOME, 1));
        assert_eq!(connections.count(HOME), 0);
        assert!(lock(&connections.counts).is_empty());
    }

    #[test]
    fn zero_means_no_limit() {
        let connections = AddressConnections::default();
        let slots: Vec<_> = (0..100)
            .filter_map(|_| connections.acquire(HOME, 0))
            .collect();
        assert_eq!(slots.len(), 100);
    }
}
