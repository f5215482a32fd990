//! Published ports (`-p [IP:]HOST_PORT:CONTAINER_PORT[/tcp]`): the supervisor listens on the
//! host and, for each connection, opens one to the container's port from inside the
//! container's network namespace, then copies bytes both ways (Docker's userland proxy,
//! without iptables). The listeners are bound before the container starts, so a taken port
//! fails `run` cleanly, and they close with the supervisor, which releases them on exit,
//! `rm` or a kill. The host address defaults to 127.0.0.1: a port is reachable from this
//! machine only, unless an address such as `0.0.0.0` is given.

use std::fmt;
use std::fs::File;
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsFd as _;
use std::str::FromStr;
use std::sync::Arc;

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::error::NetworkError;
use super::netlink::in_namespace;

/// One `-p` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

impl FromStr for PublishedPort {
    type Err = NetworkError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| NetworkError::invalid("published port", spec, reason);
        let (numbers, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
        if protocol != "tcp" {
            return Err(invalid("only `tcp` ports can be published"));
        }
        let parts: Vec<&str> = numbers.split(':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [host, container] => ("127.0.0.1", *host, *container),
            [ip, host, container] => (*ip, *host, *container),
            _ => return Err(invalid("write it as [IP:]HOST_PORT:CONTAINER_PORT[/tcp]")),
        };
        let port = |text: &str| {
            text.parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| invalid(&format!("`{text}` is not a port number (1 to 65535)")))
        };
        Ok(Self {
            host_ip: host_ip
                .parse()
                .map_err(|_| invalid(&format!("`{host_ip}` is not an IPv4 address")))?,
            host_port: port(host_port)?,
            container_port: port(container_port)?,
        })
    }
}

impl fmt::Display for PublishedPort {
    /// Docker's `port` format: `80/tcp -> 127.0.0.1:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/tcp -> {}:{}",
            self.container_port, self.host_ip, self.host_port
        )
    }
}

/// The host's listening sockets, bound before the container starts.
pub(crate) struct Listeners(Vec<(PublishedPort, TcpListener)>);

impl Listeners {
    pub(crate) fn bind(ports: &[PublishedPort]) -> Result<Self, NetworkError> {
        let mut listeners = Vec::new();
        for port in ports {
            let address = SocketAddrV4::new(port.host_ip, port.host_port);
            let listener = TcpListener::bind(address).map_err(|source| NetworkError::Publish {
                address: address.to_string(),
                source,
            })?;
            listeners.push((*port, listener));
        }
        Ok(Self(listeners))
    }

    /// Serve every port on its own thread, for as long as this process lives. Connections go
    /// to `127.0.0.1:CONTAINER_PORT` inside the network namespace of `init`, which works for
    /// a container on a user network and for one with `--network none` alike.
    pub(crate) fn serve(self, init: Pid) -> Result<(), NetworkError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let path = format!("/proc/{init}/ns/net");
        let namespace = Arc::new(File::open(&path).map_err(|source| {
            NetworkError::Io(crate::error::IoError::new("open", &path, source))
        })?);
        for (port, listener) in self.0 {
            let namespace = Arc::clone(&namespace);
            std::thread::spawn(move || accept_loop(&listener, &namespace, port.container_port));
        }
        Ok(())
    }
}

fn accept_loop(listener: &TcpListener, namespace: &Arc<File>, container_port: u16) {
    for client in listener.incoming().flatten() {
        let namespace = Arc::clone(namespace);
        std::thread::spawn(move || {
            let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, container_port);
            // The socket belongs to the namespace of the thread that creates it.
            if let Ok(Ok(upstream)) = in_namespace(namespace.as_fd(), || TcpStream::connect(target))
            {
                relay(client, upstream);
            }
        });
    }
}

/// Copy both ways until each side has said all it will.
fn relay(client: TcpStream, upstream: TcpStream) {
    let (Ok(client_read), Ok(upstream_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let forward = std::thread::spawn(move || copy_then_close(client_read, upstream_write));
    copy_then_close(upstream, client);
    let _ = forward.join();
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let port: PublishedPort = "8080:80".parse().unwrap();
        assert_eq!(port.to_string(), "80/tcp -> 127.0.0.1:8080");
        let port: PublishedPort = "0.0.0.0:9000:9000/tcp".parse().unwrap();
        assert_eq!(port.to_string(), "9000/tcp -> 0.0.0.0:9000");
        insta::assert_snapshot!("53:53/udp".parse::<PublishedPort>().unwrap_err(), @"invalid published port `53:53/udp`: only `tcp` ports can be published");
        insta::assert_snapshot!("80".parse::<PublishedPort>().unwrap_err(), @"invalid published port `80`: write it as [IP:]HOST_PORT:CONTAINER_PORT[/tcp]");
    }
}
