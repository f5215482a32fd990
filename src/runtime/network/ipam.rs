//! Addresses on a user network: its IPv4 subnet, the gateway (the first host address), and
//! the choice of a free address for each container. The record of what is taken is the
//! network's endpoints ([`super::record::Network`]), kept in the store, so an address stays
//! reserved from `run` (or `network connect`) to `rm` (or `network disconnect`), across
//! restarts and a killed supervisor, and is never handed out twice meanwhile.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where automatic subnets come from: `10.89.N.0/24`, the range Podman's bridge networks
/// use, skipping any that overlaps another mlpack network or an address on the host.
const AUTO_FIRST: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 0);
const AUTO_PREFIX: u8 = 24;

/// An IPv4 network, `ADDRESS/PREFIX`, with its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    pub fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network)
    }

    pub fn overlaps(self, other: Self) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The first host address, given to the bridge.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    /// Why `address` cannot be a container's on this network, if it cannot.
    pub fn refuse(self, address: Ipv4Addr) -> Option<String> {
        if !self.contains(address) {
            Some(format!("it is not in the network's subnet {self}"))
        } else if address == self.network || address == self.broadcast() {
            Some("it is the subnet's network or broadcast address".to_string())
        } else if address == self.gateway() {
            Some("it is the network's gateway".to_string())
        } else {
            None
        }
    }

    /// The lowest address that is neither reserved nor `taken`.
    pub fn first_free(self, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let first = u32::from(self.gateway()) + 1;
        let last = u32::from(self.broadcast());
        (first..last)
            .map(Ipv4Addr::from)
            .find(|address| !taken.contains(address))
    }

    /// The first automatic subnet that overlaps none of `used`.
    pub fn automatic(used: &[Self]) -> Option<Self> {
        (0..=255_u32)
            .map(|n| Self {
                network: Ipv4Addr::from(u32::from(AUTO_FIRST) + (n << 8)),
                prefix: AUTO_PREFIX,
            })
            .find(|candidate| !used.iter().any(|other| candidate.overlaps(*other)))
    }

    /// The subnet an address with this prefix length is in (a host's interface address).
    pub fn of(address: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Self {
            network: Ipv4Addr::from(u32::from(address) & mask),
            prefix,
        }
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or("write it as ADDRESS/PREFIX, like `10.90.0.0/24`")?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|prefix| (8..=30).contains(prefix))
            .ok_or("the prefix length must be between 8 and 30")?;
        let subnet = Self::of(address, prefix);
        if subnet.network != address {
            return Err(format!(
                "the address has host bits set; the network is {subnet}"
            ));
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Subnet> for String {
    fn from(subnet: Subnet) -> Self {
        subnet.to_string()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_allocate() {
        let subnet: Subnet = "10.90.0.0/29".parse().unwrap();
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 90, 0, 1));
        let taken = [Ipv4Addr::new(10, 90, 0, 2), Ipv4Addr::new(10, 90, 0, 4)];
        assert_eq!(subnet.first_free(&taken), Some(Ipv4Addr::new(10, 90, 0, 3)));
        let full: Vec<Ipv4Addr> = (2..=6).map(|n| Ipv4Addr::new(10, 90, 0, n)).collect();
        assert_eq!(subnet.first_free(&full), None);
        insta::assert_snapshot!("10.90.0.1/24".parse::<Subnet>().unwrap_err(), @"the address has host bits set; the network is 10.90.0.0/24");
        insta::assert_snapshot!(subnet.refuse(Ipv4Addr::new(10, 91, 0, 2)).unwrap(), @"it is not in the network's subnet 10.90.0.0/29");
    }

    #[test]
    fn automatic_skips_used() {
        let used = [
            "10.89.0.0/24".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        assert_eq!(
            Subnet::automatic(&used[..1]).unwrap().to_string(),
            "10.89.1.0/24"
        );
        assert_eq!(Subnet::automatic(&used), None);
    }
}
