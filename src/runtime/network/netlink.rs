//! A thin, synchronous rtnetlink client: the few link, address and route requests a bridge
//! network needs (`rtnetlink(7)`). Synchronous on purpose: it runs in the supervisor and in
//! init, processes that must never have had tokio threads (`unshare(2)`), and each request
//! is one message and one acknowledgement. A socket talks to the network namespace it was
//! opened in, which is how the container's side is configured ([`in_namespace`]).

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd as _, BorrowedFd};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A failed request: what was asked, and the kernel's answer.
#[derive(Debug, thiserror::Error)]
#[error("could not {action}: {source}")]
pub struct NetlinkError {
    action: String,
    #[source]
    source: std::io::Error,
}

impl NetlinkError {
    fn new(action: impl Into<String>, source: std::io::Error) -> Self {
        Self {
            action: action.into(),
            source,
        }
    }

    /// The request failed because the link or address is not there.
    pub(crate) fn is_not_found(&self) -> bool {
        self.source.raw_os_error() == Some(libc::ENODEV)
    }

    pub(crate) fn is_exists(&self) -> bool {
        self.source.raw_os_error() == Some(libc::EEXIST)
    }
}

type Result<T> = std::result::Result<T, NetlinkError>;

/// A route netlink socket bound to the namespace it was opened in.
pub(crate) struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    pub(crate) fn open() -> Result<Self> {
        let fail = |source| NetlinkError::new("open a netlink socket", source);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(fail)?;
        socket.bind_auto().map_err(fail)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(fail)?;
        Ok(Self {
            socket,
            sequence: 0,
        })
    }

    /// `ip link add NAME type bridge`, then up.
    pub(crate) fn create_bridge(&mut self, name: &str) -> Result<u32> {
        let mut message = LinkMessage::default();
        message.attributes = vec![
            LinkAttribute::IfName(name.to_string()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.request(
            &format!("create the bridge `{name}`"),
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        let index = self.link_index(name)?.ok_or_else(|| {
            NetlinkError::new(
                format!("find the bridge `{name}`"),
                std::io::Error::from_raw_os_error(libc::ENODEV),
            )
        })?;
        self.set_up(index, name)?;
        Ok(index)
    }

    /// A veth pair: `host` here, attached to `bridge` and up; `peer` created straight in the
    /// network namespace of process `pid`, where it is configured later.
    pub(crate) fn create_veth(
        &mut self,
        host: &str,
        bridge: u32,
        peer: &str,
        pid: u32,
    ) -> Result<()> {
        let mut peer_message = LinkMessage::default();
        peer_message.attributes = vec![
            LinkAttribute::IfName(peer.to_string()),
            LinkAttribute::NetNsPid(pid),
        ];
        let mut message = LinkMessage::default();
        message.attributes = vec![
            LinkAttribute::IfName(host.to_string()),
            LinkAttribute::Controller(bridge),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
            ]),
        ];
        self.request(
            &format!("create the veth pair `{host}`"),
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        let index = self.link_index(host)?.ok_or_else(|| {
            NetlinkError::new(
                format!("find the link `{host}`"),
                std::io::Error::from_raw_os_error(libc::ENODEV),
            )
        })?;
        self.set_up(index, host)
    }

    /// `ip link del NAME`; a link that is already gone is no error.
    pub(crate) fn delete_link(&mut self, name: &str) -> Result<()> {
        let Some(index) = self.link_index(name)? else {
            return Ok(());
        };
        let mut message = LinkMessage::default();
        message.header.index = index;
        match self.request(
            &format!("delete the link `{name}`"),
            RouteNetlinkMessage::DelLink(message),
            0,
        ) {
            Err(error) if error.is_not_found() => Ok(()),
            result => result,
        }
    }

    pub(crate) fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.request(
            &format!("bring up `{name}`"),
            RouteNetlinkMessage::SetLink(message),
            0,
        )
    }

    /// `ip addr add ADDRESS/PREFIX dev NAME`.
    pub(crate) fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(address)),
            AddressAttribute::Address(IpAddr::V4(address)),
        ];
        match self.request(
            &format!("add the address {address}/{prefix}"),
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(error) if error.is_exists() => Ok(()),
            result => result,
        }
    }

    /// `ip route add default via GATEWAY`.
    pub(crate) fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway))];
        match self.request(
            &format!("add the default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(error) if error.is_exists() => Ok(()),
            result => result,
        }
    }

    /// The index of the link `name`, if there is one.
    pub(crate) fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self
            .links()?
            .into_iter()
            .find(|(_, link)| link == name)
            .map(|(index, _)| index))
    }

    /// Every link's index and name.
    pub(crate) fn links(&mut self) -> Result<Vec<(u32, String)>> {
        let replies = self.dump(
            "list the links",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => {
                    link.attributes
                        .iter()
                        .find_map(|attribute| match attribute {
                            LinkAttribute::IfName(name) => Some((link.header.index, name.clone())),
                            _ => None,
                        })
                }
                _ => None,
            })
            .collect())
    }

    /// Every IPv4 address on this namespace's links, with its prefix length.
    pub(crate) fn addresses(&mut self) -> Result<Vec<(Ipv4Addr, u8)>> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        let replies = self.dump(
            "list the addresses",
            RouteNetlinkMessage::GetAddress(message),
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewAddress(address) => {
                    address
                        .attributes
                        .iter()
                        .find_map(|attribute| match attribute {
                            AddressAttribute::Address(IpAddr::V4(ip)) => {
                                Some((*ip, address.header.prefix_len))
                            }
                            _ => None,
                        })
                }
                _ => None,
            })
            .collect())
    }

    /// Send one request and wait for its acknowledgement.
    fn request(&mut self, action: &str, message: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.send(action, message, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        self.receive(action).map(drop)
    }

    /// Send a dump request and collect every reply up to `NLMSG_DONE`.
    fn dump(
        &mut self,
        action: &str,
        message: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.send(action, message, NLM_F_REQUEST | NLM_F_DUMP)?;
        self.receive(action)
    }

    fn send(&mut self, action: &str, message: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .map(drop)
            .map_err(|source| NetlinkError::new(action, source))
    }

    /// Read replies to the last request until its ACK, error or end of dump.
    fn receive(&mut self, action: &str) -> Result<Vec<RouteNetlinkMessage>> {
        let invalid = |text: String| {
            NetlinkError::new(
                action,
                std::io::Error::new(std::io::ErrorKind::InvalidData, text),
            )
        };
        let mut replies = Vec::new();
        loop {
            let (buffer, _) = self
                .socket
                .recv_from_full()
                .map_err(|source| NetlinkError::new(action, source))?;
            let mut offset = 0;
            while offset < buffer.len() {
                let packet = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buffer[offset..])
                    .map_err(|error| invalid(error.to_string()))?;
                let length = usize::try_from(packet.header.length).unwrap_or(usize::MAX);
                if length == 0 {
                    return Err(invalid("an empty netlink message".to_string()));
                }
                offset += length.next_multiple_of(4);
                if packet.header.sequence_number != self.sequence {
                    continue;
                }
                match packet.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            None => Ok(replies),
                            Some(code) => Err(NetlinkError::new(
                                action,
                                std::io::Error::from_raw_os_error(-code.get()),
                            )),
                        };
                    }
                    NetlinkPayload::InnerMessage(message) => replies.push(message),
                    _ => {}
                }
            }
        }
    }
}

/// Run `work` on a thread that has entered the network namespace `namespace` (an open
/// `/proc/PID/ns/net`): `setns(CLONE_NEWNET)` changes only the calling thread, and is allowed
/// in a multithreaded process, unlike a user namespace.
pub(crate) fn in_namespace<T: Send>(
    namespace: BorrowedFd<'_>,
    work: impl FnOnce() -> T + Send,
) -> std::result::Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(namespace.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|error| format!("enter the container's network namespace: {error}"))
                    .map(|()| work())
            })
            .join()
            .unwrap_or_else(|_| Err("the network thread panicked".to_string()))
    })
}
